"""Tests for nbsrc.pruning: kept neurons, pruned networks against masked ablation, fine-tuning, the study."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from nbsrc import pruning
from nbsrc.analysis import AnalysisSettings
from nbsrc.models import MLP
from nbsrc.train import TrainConfig, config_splits

pytestmark = pytest.mark.usefixtures("one_thread")

WIDTHS = (8, 6, 5)


def small_model(activation: str, batch_norm: bool = False) -> MLP:
    torch.manual_seed(3)
    model = MLP(12, WIDTHS, 3, activation, batch_norm=batch_norm)
    if batch_norm:  # running statistics away from their initial values
        model.train()
        with torch.no_grad():
            model(torch.randn(64, 12) * 2 + 1)
    return model.eval()


def removed_masks(kept: list[np.ndarray]) -> list[torch.Tensor]:
    masks = []
    for k, width in zip(kept, WIDTHS, strict=True):
        mask = torch.ones(width, dtype=torch.bool)
        mask[torch.as_tensor(k)] = False
        masks.append(mask)
    return masks


def test_kept_neurons_take_the_highest_values_of_every_layer():
    values = [np.array([0.1, 0.9, 0.5, 0.9, 0.0, 0.3, 0.2, 0.8]), np.arange(6.0), np.array([3, 1, 2, 5, 4.0])]
    kept = pruning.kept_neurons(values, WIDTHS, 0.5)
    assert [k.tolist() for k in kept] == [[1, 2, 3, 7], [3, 4, 5], [0, 3, 4]]  # ceil(0.5 * 5) = 3
    assert pruning.kept_widths(WIDTHS, 0.1) == (1, 1, 1)
    random = pruning.kept_neurons(None, WIDTHS, 0.5, np.random.default_rng(0))
    assert [len(k) for k in random] == [4, 3, 3] and all(np.all(np.diff(k) > 0) for k in random)
    with pytest.raises(ValueError, match="invalid kept=0"):
        pruning.kept_widths(WIDTHS, 0)
    with pytest.raises(ValueError, match="invalid rng=None"):
        pruning.kept_neurons(None, WIDTHS, 0.5)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_a_pruned_network_gives_the_masked_networks_outputs(activation, batch_norm):
    model = small_model(activation, batch_norm)
    x = torch.randn(40, 12)
    with torch.no_grad():
        means = [t.mean(0) for t in model.hidden_outputs(x)]
    kept = pruning.kept_neurons(None, WIDTHS, 0.5, np.random.default_rng(1))
    masks = removed_masks(kept)
    with torch.no_grad():
        balanced, zero = pruning.prune(model, kept, means), pruning.prune(model, kept)
        torch.testing.assert_close(balanced(x), model(x, ablate=masks, values=means), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(zero(x), model(x, ablate=masks), atol=1e-5, rtol=1e-5)
    assert balanced.widths == (4, 3, 3) and balanced.hidden[0].weight.shape == (4, 12)
    assert pruning.parameter_count(balanced) == (12 * 4 + 4) + (4 * 3 + 3) + (3 * 3 + 3) + (3 * 3 + 3)
    with pytest.raises(ValueError, match="one index array per hidden layer"):
        pruning.prune(model, kept[:2])


def test_bias_balancing_is_the_zero_network_plus_the_removed_mean_contribution():
    model = small_model("sigmoid")
    means = [torch.rand(w) for w in WIDTHS]
    kept = [np.array([0, 2]), np.array([1, 4, 5]), np.array([0])]
    balanced, zero = pruning.prune(model, kept, means), pruning.prune(model, kept)
    w2 = model.hidden[1].weight.detach()
    removed = [1, 3, 4, 5, 6, 7]
    expected = zero.hidden[1].bias + w2[[1, 4, 5]][:, removed] @ means[0][removed]
    torch.testing.assert_close(balanced.hidden[1].bias, expected)
    torch.testing.assert_close(balanced.hidden[0].bias, zero.hidden[0].bias)  # the first layer keeps its own


def test_fine_tuning_changes_the_kept_weights_and_is_seeded():
    config = TrainConfig("mnist", (16, 8), epochs=1, train_limit=500, val_size=1000, standardize=True, seed=4)
    splits = config_splits(config)
    torch.manual_seed(0)
    model = MLP(784, (16, 8), 10, "relu").eval()
    kept = [np.arange(0, 16, 2), np.arange(4)]
    first = pruning.fine_tune(pruning.prune(model, kept), splits, config, steps=20)
    second = pruning.fine_tune(pruning.prune(model, kept), splits, config, steps=20)
    start = pruning.prune(model, kept)
    assert not first.training
    for name, tensor in first.state_dict().items():
        assert tensor.shape == start.state_dict()[name].shape, name  # only the kept weights exist
        assert not torch.equal(tensor, start.state_dict()[name]), name
        assert torch.equal(tensor, second.state_dict()[name]), name


def test_recovered_share_by_hand():
    rows = [
        (0, "entropy", 0.5, v, a) for v, a in (("zero", 0.5), ("bias balancing", 0.7), ("fine-tuned", 0.9))
    ]
    rows += [
        (0, "entropy", 0.1, v, a) for v, a in (("zero", 0.8), ("bias balancing", 0.85), ("fine-tuned", 0.805))
    ]
    table = pd.DataFrame(rows, columns=["seed", "criterion", "kept", "variant", "accuracy"])
    share = pruning.recovered_share(table).set_index("kept")
    assert share.loc[0.5, "share"] == pytest.approx(0.5) and share.loc[0.5, "recovery"] == pytest.approx(0.4)
    assert np.isnan(share.loc[0.1, "share"])  # fine-tuning gains half a point: nothing to recover


def test_pruning_study_end_to_end(tmp_path, monkeypatch):
    configs = [
        TrainConfig("mnist", (16, 8), epochs=1, train_limit=1000, val_size=1000, standardize=True, seed=s)
        for s in (0, 1)
    ]
    settings = AnalysisSettings(val_limit=300, test_limit=400)
    kept = (0.5, 0.25)
    accuracy, sizes = pruning.pruning_study(configs, settings, kept, steps=5, cache=tmp_path, device="cpu",
                                            progress=False)  # fmt: skip
    assert set(accuracy.variant) == set(pruning.VARIANTS) and set(accuracy.criterion) == set(pruning.CRITERIA)
    assert len(accuracy) == 2 * len(pruning.CRITERIA) * len(kept) * len(pruning.VARIANTS)
    assert accuracy.accuracy.between(0, 1).all()
    assert list(sizes.kept) == [1.0, 0.5, 0.25] * 2 and (sizes.seconds > 0).all()
    assert sizes.parameters.is_monotonic_decreasing is False  # two seeds, each decreasing
    assert all(g.parameters.is_monotonic_decreasing for _, g in sizes.groupby("seed"))
    monkeypatch.setattr(pruning, "_network_pruning", lambda *a, **k: pytest.fail("computed again"))
    again, _ = pruning.pruning_study(
        configs, settings, kept, steps=5, cache=tmp_path, device="cpu", progress=False
    )
    pd.testing.assert_frame_equal(again, accuracy)


# ------------------------------------------------------------------------------------- C7 and the page


def shares_table(cells: dict[tuple[str, float], list[float]]) -> pd.DataFrame:
    """recovered_share-like rows: one per seed of every (criterion, kept) cell; NaN: nothing to recover."""
    rows = [
        {"seed": seed, "criterion": c, "kept": k, "recovery": 0.05, "share": v}
        for (c, k), values in cells.items()
        for seed, v in enumerate(values)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("cells", "verdict", "holding"),
    [
        ({("entropy", 0.5): [0.5, 0.6, 0.55], ("random", 0.1): [0.3, 0.35, 0.3]}, "agrees", 2),
        ({("entropy", 0.5): [0.5, 0.6, 0.55], ("random", 0.1): [0.1, 0.15, 0.1]}, "partly", 1),
        ({("entropy", 0.5): [0.5, -0.6, 0.55], ("random", 0.1): [0.1, 0.15, 0.1]}, "disagrees", 0),
        ({("entropy", 0.5): [0.5, np.nan, 0.55]}, "n/a", 0),  # a seed without a gain: not a case
    ],
)
def test_claim_c7_counts_the_cases_where_bias_balancing_recovers_a_quarter(cells, verdict, holding):
    from nbsrc.claims import claim_c7

    result = claim_c7(shares_table(cells))
    assert result["verdict"] == verdict
    if verdict != "n/a":
        assert result["measured"].startswith(f"{holding} of {len(cells)} cases")
        assert "keeping 50 %" in result["reason"] or "keeping 10 %" in result["reason"]


def test_pruning_claims_judge_each_network_kind():
    table = pd.concat(
        [
            shares_table({("entropy", 0.5): [0.5, 0.6, 0.55]}).assign(network="ReLU 8-6-5"),
            shares_table({("entropy", 0.5): [0.0, 0.1, -0.1]}).assign(network="sigmoid 8-6-5"),
        ]
    )
    claims = pruning.pruning_claims(table)
    assert list(claims.network) == ["ReLU 8-6-5", "sigmoid 8-6-5"]
    assert list(claims.verdict) == ["agrees", "disagrees"] and set(claims.claim) == {"C7"}


def test_pruning_share_table_and_paragraph_show_the_computed_numbers():
    from nbsrc.narrative import pruning_paragraph
    from nbsrc.report import pruning_share_table

    shares = shares_table({("mutual_information", 0.5): [0.2, 0.4], ("random", 0.5): [0.1, np.nan]})
    table = pruning_share_table(shares)
    assert "| MI " in table and f"0.30 ± {np.std([0.2, 0.4], ddof=1):.2f}" in table
    assert "| random      | –" in table
    rows = [
        ("n", s, c, 0.1, v, a)
        for s in (0, 1)
        for c, shift in (("entropy", 0.0), ("csi", 0.2))
        for v, a in (("zero", 0.1), ("bias balancing", 0.3 + shift), ("fine-tuned", 0.8))
    ]
    accuracy = pd.DataFrame(rows, columns=["network", "seed", "criterion", "kept", "variant", "accuracy"])
    intact = pd.DataFrame({"network": ["n", "n"], "seed": [0, 1], "accuracy": [0.95, 0.97]})
    text = pruning_paragraph(accuracy, intact)
    assert text.startswith(
        "**n** (intact 96.0 %), keeping 10 % of every layer: pruned by CSI (the best with bias balancing), "
        "zero"
    )
    assert (
        "by H (the worst with bias balancing), zero 10.0 %, bias balancing 30.0 %, fine-tuned 80.0 %." in text
    )
    at_chance = accuracy.assign(
        accuracy=np.where(
            accuracy.variant == "bias balancing", 0.1 + (accuracy.criterion == "csi") * 0.005, 0.5
        )
    )
    text = pruning_paragraph(at_chance, intact)
    assert (
        "pruned by any criterion, bias balancing leaves it at chance (10.0 % to 10.5 %), so none is best; by"
        in text
    )
    assert "(the best" not in text


def test_pruning_figures_are_readable_and_plot_the_means():
    import matplotlib

    matplotlib.use("Agg")
    from nbsrc import plotting as P

    rows = [
        (network, s, c, k, v, 0.5 + 0.3 * k + 0.01 * s + (0.05 if v == "fine-tuned" else 0))
        for network in ("ReLU 8-6-5", "sigmoid 8-6-5")
        for s in (0, 1)
        for c in pruning.CRITERIA
        for k in (0.5, 0.1)
        for v in pruning.VARIANTS
    ]
    accuracy = pd.DataFrame(rows, columns=["network", "seed", "criterion", "kept", "variant", "accuracy"])
    sizes = pd.DataFrame(
        [
            (n, s, k, int(1000 * k), 0.001 * k, np.nan)
            for n in ("ReLU 8-6-5", "sigmoid 8-6-5")
            for s in (0, 1)
            for k in (1.0, 0.5, 0.1)
        ],  # fmt: skip
        columns=["network", "seed", "kept", "parameters", "seconds", "accuracy"],
    )
    intact = pd.DataFrame(
        {"network": ["ReLU 8-6-5", "sigmoid 8-6-5"], "seed": [0, 0], "accuracy": [0.9, 0.8]}
    )
    for fig in (
        P.plot_pruning_accuracy(accuracy, intact),
        P.plot_pruning_cost(accuracy, sizes, intact, "csi"),
    ):
        assert P.min_font_px(fig) >= 9 and fig.get_size_inches()[0] == P.FIGURE_WIDTH
    fig = P.plot_pruning_accuracy(accuracy, intact)
    line = next(
        ln for ax in fig.axes for ln in ax.get_lines() if ln.get_gid() == "sigmoid 8-6-5/fine-tuned/csi"
    )
    np.testing.assert_allclose(line.get_xdata(), [10, 50])
    np.testing.assert_allclose(line.get_ydata(), 100 * (0.5 + 0.3 * np.array([0.1, 0.5]) + 0.005 + 0.05))


def test_pruning_setup_names_bad_parameters():
    from nbsrc.chapters import PRUNING_CHAPTERS, book_chapters, dataset_setup, pruning_setup

    configs, settings, options = pruning_setup(dataset="cifar10")
    assert configs["paper_v1"] == dataset_setup(dataset="cifar10", recipe="paper_v1")[0]
    assert options == {"scratch_recipes": ["book"], "kept": list(pruning.KEPT), "fine_tune_steps": 200}
    for bad, message in (
        ({"kept": [0.5, 1.5]}, "invalid kept=1.5"),
        ({"kept": []}, "invalid kept=[]"),
        ({"scratch_recipes": ["raw_constant"]}, "invalid scratch_recipes='raw_constant'"),
        ({"fine_tune_steps": 0}, "invalid fine_tune_steps=0"),
        ({"n_random": 3}, "invalid parameter='n_random'"),
    ):
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            pruning_setup(**bad)
    names = [c.name for c in book_chapters()]
    assert all(names.index(p) > names.index(p.removeprefix("pruning_")) for p in PRUNING_CHAPTERS)
    assert names[-1] == "summary"
