"""Tests for the recorder in nbsrc.train, nbsrc.infoplane (the single-neuron information plane during
training, C10) and the figures, table, prose and chapter parameters built on it."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import nbsrc.train as train_mod  # noqa: E402
from nbsrc import infoplane  # noqa: E402
from nbsrc import plotting as P  # noqa: E402
from nbsrc.analysis import AnalysisSettings  # noqa: E402
from nbsrc.chapters import (  # noqa: E402
    INFOPLANE_CHAPTERS,
    INFOPLANE_PARAMETERS,
    book_chapters,
    dataset_setup,
    infoplane_chapter,
    infoplane_setup,
)
from nbsrc.narrative import information_plane_paragraph  # noqa: E402
from nbsrc.report import phase_table  # noqa: E402
from nbsrc.train import (  # noqa: E402
    TrainConfig,
    config_splits,
    first_epoch_steps,
    train,
    train_observed,
    train_or_load,
)

pytestmark = pytest.mark.usefixtures("one_thread")

WIDTHS = (16, 8)
TINY = {"epochs": 3, "lr": 3e-3, "lr_schedule": "constant", "batch_size": 64, "train_limit": 2000}
CONFIGS = [
    TrainConfig("mnist", WIDTHS, seed=seed, val_size=1000, standardize=True, **TINY) for seed in (0, 1)
]
SETTINGS = AnalysisSettings(val_limit=400)
POINTS = 3


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def by_hand(active: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """H(T) and I(T; Y) in bits of every column of a boolean matrix, from counts:
    H = -sum_t p(t) log2 p(t), I = sum_{t,y} p(t, y) log2(p(t, y) / (p(t) p(y)))."""
    entropies, informations = [], []
    for column in active.T:
        joint = np.array([[np.mean((column == t) & (labels == y)) for y in range(n_classes)] for t in (0, 1)])
        p_t, p_y = joint.sum(1), joint.sum(0)
        entropies.append(-sum(p * math.log2(p) for p in p_t if p > 0))
        informations.append(
            sum(
                joint[t, y] * math.log2(joint[t, y] / (p_t[t] * p_y[y]))
                for t in range(2)
                for y in range(n_classes)
                if joint[t, y] > 0
            )
        )
    return np.array(entropies), np.array(informations)


# --------------------------------------------------------------------------------------------- recorder


def test_first_epoch_steps_spreads_the_points_evenly_within_the_first_epoch():
    assert first_epoch_steps(100, 4) == {20: 0.2, 40: 0.4, 60: 0.6, 80: 0.8}
    assert first_epoch_steps(10, 0) == {}
    assert first_epoch_steps(3, 5) == {1: 1 / 3, 2: 2 / 3}  # at most one point per step, never the last
    with pytest.raises(ValueError, match="first_epoch_points"):
        first_epoch_steps(10, -1)


def test_a_checkpoint_sees_every_moment_in_eval_mode_and_changes_no_weight():
    config = CONFIGS[0]
    splits = config_splits(config)
    seen: list[tuple[float, bool, bool]] = []

    def checkpoint(model, time: float) -> None:
        seen.append((time, model.training, torch.is_grad_enabled()))
        model(splits.val.x[:50])  # a forward pass, as a recorder makes

    plain = train(config, splits, "cpu", progress=False)
    observed = train(config, splits, "cpu", progress=False, checkpoint=checkpoint, first_epoch_points=POINTS)
    steps = -(-config.train_limit // config.batch_size)
    expected = [0.0, *first_epoch_steps(steps, POINTS).values(), 1.0, 2.0, 3.0]
    assert [time for time, _, _ in seen] == pytest.approx(expected)
    assert not any(training or grad for _, training, grad in seen)
    for name, tensor in plain.model.state_dict().items():
        assert torch.equal(tensor, observed.model.state_dict()[name]), name
    assert plain.history == observed.history


def test_train_observed_stores_the_network_where_train_or_load_finds_it(tmp_path, monkeypatch):
    config = CONFIGS[1]
    times = []
    trained = train_observed(
        config, lambda model, t: times.append(t), 1, cache=tmp_path, device="cpu", progress=False
    )
    assert times == pytest.approx([0.0, 0.5, 1.0, 2.0, 3.0])
    monkeypatch.setattr(train_mod, "train", lambda *a, **k: pytest.fail("trained again"))
    loaded = train_or_load(config, cache=tmp_path, device="cpu", progress=False)
    assert loaded.from_cache
    for name, tensor in trained.model.state_dict().items():
        assert torch.equal(tensor, loaded.model.state_dict()[name]), name


# ------------------------------------------------------------------------------------------- trajectories


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("infoplane-cache")


@pytest.fixture(scope="module")
def recorded(cache) -> infoplane.Trajectories:
    return infoplane.information_plane(CONFIGS, SETTINGS, POINTS, cache=cache, device="cpu", progress=False)


def test_the_last_checkpoint_holds_the_trained_networks_information_by_hand(recorded, cache):
    splits = config_splits(CONFIGS[0])
    x_val, y_val = splits.val.x[: SETTINGS.val_limit], splits.val.y[: SETTINGS.val_limit].numpy()
    last = recorded.neurons[recorded.neurons.epoch == recorded.neurons.epoch.max()]
    for config in CONFIGS:
        model = train_or_load(config, cache=cache, device="cpu", progress=False).model
        with torch.no_grad():
            hidden = model.hidden_outputs(x_val)
            accuracy = float((model(x_val).argmax(1).numpy() == y_val).mean())
        for layer, t in enumerate(hidden, start=1):
            entropy, information = by_hand((t > 0).numpy(), y_val, splits.n_classes)
            got = last[(last.seed == config.seed) & (last.layer == layer)].sort_values("neuron")
            np.testing.assert_allclose(got.entropy, entropy, atol=1e-9)
            np.testing.assert_allclose(got.mutual_information, information, atol=1e-9)
        checkpoints = recorded.checkpoints[recorded.checkpoints.seed == config.seed]
        assert checkpoints.val_accuracy.iloc[-1] == pytest.approx(accuracy)
    assert (recorded.neurons.mutual_information <= recorded.neurons.entropy + 1e-9).all()
    expected_rows = len(CONFIGS) * sum(WIDTHS) * (1 + POINTS + TINY["epochs"])
    assert len(recorded.neurons) == expected_rows


def test_trajectories_come_from_the_cache_and_change_with_the_measurement(recorded, cache, monkeypatch):
    monkeypatch.setattr(infoplane, "train_observed", lambda *a, **k: pytest.fail("recorded again"))
    again = infoplane.information_plane(CONFIGS, SETTINGS, POINTS, cache=cache, device="cpu", progress=False)
    pd.testing.assert_frame_equal(again.neurons, recorded.neurons)
    key = CONFIGS[0].key(config_splits(CONFIGS[0]).fingerprint)
    base = infoplane.trajectory_key(key, SETTINGS, POINTS)
    assert infoplane.trajectory_key(key, AnalysisSettings(val_limit=400, n_random=7), POINTS) == base
    assert infoplane.trajectory_key(key, AnalysisSettings(val_limit=300), POINTS) != base
    assert (
        infoplane.trajectory_key(key, AnalysisSettings(val_limit=400, quantizer="equal_width"), POINTS)
        != base
    )
    assert infoplane.trajectory_key(key, SETTINGS, POINTS + 1) != base


# --------------------------------------------------------------------------------------- derived tables


def hand_neurons() -> pd.DataFrame:
    """Two seeds, one layer of two neurons, checkpoints 0, 0.5, 1, 2: H rises then falls, I rises."""
    rows = []
    h = {0: [0.2, 0.8, 0.6, 0.3], 1: [0.4, 0.6, 0.5, 0.4]}
    i = {0: [0.0, 0.1, 0.2, 0.25], 1: [0.0, 0.2, 0.3, 0.35]}
    for seed in (0, 1):
        for k, epoch in enumerate((0.0, 0.5, 1.0, 2.0)):
            for neuron in (0, 1):
                values = {"entropy": h[neuron][k] + 0.02 * seed, "mutual_information": i[neuron][k]}
                rows.append({"seed": seed, "epoch": epoch, "layer": 1, "neuron": neuron, **values})
    return pd.DataFrame(rows)


def test_layer_paths_best_epochs_and_phases_by_hand():
    paths = infoplane.layer_paths(hand_neurons())
    row = paths[(paths.seed == 0) & (paths.epoch == 0.5)].iloc[0]
    assert row.entropy_mean == pytest.approx(0.7) and row.entropy_std == pytest.approx(
        np.std([0.8, 0.6], ddof=1)
    )
    checkpoints = pd.DataFrame(
        {
            "seed": [0, 0, 0, 0, 1, 1, 1, 1],
            "epoch": [0, 0.5, 1, 2] * 2,
            "val_accuracy": [0.1, 0.99, 0.8, 0.9, 0.1, 0.5, 0.95, 0.9],
        }  # fmt: skip
    )
    best = infoplane.best_epochs(
        checkpoints
    )  # whole epochs only: 0.5 is not an epoch's end, 0 is no training
    assert list(best.epoch) == [2.0, 1.0]
    phases = infoplane.phases(paths, best)
    seed0 = phases[phases.seed == 0].iloc[0]
    assert seed0["H start"] == pytest.approx(0.3) and seed0["H peak"] == pytest.approx(0.7)
    assert seed0["H peak epoch"] == 0.5 and seed0["H fall"] == pytest.approx(0.35)
    assert seed0["I peak epoch"] == 2.0 and seed0["I fall"] == pytest.approx(0.0)
    assert phases[phases.seed == 1].iloc[0]["I at best"] == pytest.approx(0.25)
    summary = infoplane.phase_summary(phases.assign(network="n"))
    assert bool(summary["H falls"].iloc[0]) and not bool(summary["I falls"].iloc[0])
    assert summary["H fall std"].iloc[0] == pytest.approx(0.0, abs=1e-12)


def test_a_fall_must_exceed_twice_its_spread_over_seeds():
    phases = pd.DataFrame(
        {
            "network": "n",
            "seed": [0, 1, 2],
            "layer": 1,
            **{c: 0.5 for c in infoplane.PHASES},
            "H peak epoch": 1.0,
            "I peak epoch": 1.0,
            "best epoch": 2.0,
            "H fall": [0.0, 0.1, 0.2],
            "I fall": [0.3, 0.31, 0.29],
        }  # fmt: skip
    )
    summary = infoplane.phase_summary(phases)
    assert not bool(summary["H falls"].iloc[0])  # 0.1 mean, 0.1 std
    assert bool(summary["I falls"].iloc[0])


# ------------------------------------------------------------------------------- figures, table, prose


@pytest.fixture(scope="module")
def chapter_tables(cache) -> tuple[pd.DataFrame, ...]:
    configs = {
        "book": CONFIGS,
        "other": [TrainConfig(**{**c.__dict__, "activation": "sigmoid"}) for c in CONFIGS],
    }
    return infoplane.recipe_trajectories(configs, SETTINGS, POINTS, cache=cache, device="cpu", progress=False)


def test_recipe_trajectories_label_each_network_kind(chapter_tables):
    paths, checkpoints, best, phases = chapter_tables
    for table in chapter_tables:
        assert list(dict.fromkeys(table.network)) == ["ReLU 16-8", "sigmoid 16-8"]
    assert set(best.seed) == {0, 1} and len(phases) == 2 * 2 * len(WIDTHS)


def test_information_plane_figures_are_readable(chapter_tables):
    paths, checkpoints, best, _ = chapter_tables
    for fig in (P.plot_information_plane(paths, best), P.plot_information_time(paths, checkpoints, best)):
        assert P.min_font_px(fig) >= 9
        assert fig.get_size_inches()[0] == P.FIGURE_WIDTH
        gids = {line.get_gid() for ax in fig.axes for line in ax.get_lines()}
        assert {"ReLU 16-8/layer 1", "sigmoid 16-8/layer 2"} <= gids or {
            "ReLU 16-8/entropy/layer 1",
            "sigmoid 16-8/mutual_information/layer 2",
        } <= gids
    plane = P.plot_information_plane(paths, best)
    line = next(ln for ax in plane.axes for ln in ax.get_lines() if ln.get_gid() == "ReLU 16-8/layer 2")
    expected = paths[(paths.network == "ReLU 16-8") & (paths.layer == 2)].groupby("epoch")
    np.testing.assert_allclose(line.get_xdata(), expected.entropy_mean.mean().to_numpy())
    np.testing.assert_allclose(line.get_ydata(), expected.mutual_information_mean.mean().to_numpy())


def test_phase_table_and_paragraph_state_the_computed_numbers(chapter_tables):
    summary = infoplane.phase_summary(chapter_tables[3])
    table = phase_table(summary)
    assert table.count("\n") == 1 + len(summary)
    first = summary.iloc[0]
    assert f"{first['H start mean']:.2f} → {first['H peak mean']:.2f} → {first['H end mean']:.2f}" in table
    text = information_plane_paragraph(summary)
    assert text.count("**ReLU 16-8**") == 1 and text.count("**sigmoid 16-8**") == 1
    relu = summary[summary.network == "ReLU 16-8"]
    assert f"H falls after its peak in {int(relu['H falls'].sum())} of 2 layers" in text
    assert f"layer 1: H {relu['H start mean'].iloc[0]:.2f} → {relu['H end mean'].iloc[0]:.2f} bits" in text


# ------------------------------------------------------------------------------------------------ chapter


def test_infoplane_setup_records_the_networks_of_the_dataset_and_paper_chapters():
    configs, settings, points = infoplane_setup(dataset="fashion_mnist")
    assert list(configs) == ["book", "paper_v1"] and points == infoplane.FIRST_EPOCH_POINTS
    assert configs["book"] == dataset_setup(dataset="fashion_mnist")[0]
    assert configs["paper_v1"] == dataset_setup(dataset="fashion_mnist", recipe="paper_v1")[0]
    assert settings == dataset_setup(dataset="fashion_mnist")[1]
    with pytest.raises(ValueError, match=r"invalid parameter='n_random'"):
        infoplane_setup(n_random=3)
    with pytest.raises(ValueError, match=r"invalid recipe='v2'"):
        infoplane_setup(recipes=["book", "v2"])
    with pytest.raises(ValueError, match=r"invalid recipes=\[\]"):
        infoplane_setup(recipes=[])
    with pytest.raises(ValueError, match=r"invalid first_epoch_points=-2"):
        infoplane_setup(first_epoch_points=-2)


def test_the_infoplane_chapters_run_before_the_chapters_whose_networks_they_train():
    chapters = book_chapters()
    names = [c.name for c in chapters]
    assert set(INFOPLANE_CHAPTERS) <= set(names)
    for name in INFOPLANE_CHAPTERS:
        dataset = name.removeprefix("infoplane_")
        assert names.index(name) < min(names.index(dataset), names.index(f"paper_{dataset}"))
        assert chapters[names.index(name)] == infoplane_chapter(dataset)
    smoke = {c.name: c for c in book_chapters(smoke=True)}["infoplane_mnist"].parameters
    assert set(smoke) == set(INFOPLANE_PARAMETERS) and smoke["epochs"] == 1 and smoke["seeds"] == [0]


def test_a_layer_has_one_grey_in_every_panel_and_the_legend():
    rows = [
        {"network": n, "seed": 0, "layer": layer, "epoch": e, "entropy_mean": 0.5, "entropy_std": 0.1,
         "mutual_information_mean": 0.2, "mutual_information_std": 0.05}
        for n, layers in (("three", (1, 2, 3)), ("two", (1, 2))) for layer in layers for e in (0.0, 1.0)
    ]  # fmt: skip
    paths = pd.DataFrame(rows)
    best = pd.DataFrame({"network": ["three", "two"], "seed": [0, 0], "epoch": [1.0, 1.0]})
    fig = P.plot_information_plane(paths, best)
    colors = {ln.get_gid(): ln.get_color() for ax in fig.axes for ln in ax.get_lines() if ln.get_gid()}
    assert colors["three/layer 2"] == colors["two/layer 2"] != colors["three/layer 3"]
    texts, handles = fig.legends[0].get_texts(), fig.legends[0].legend_handles
    legend = {t.get_text(): h.get_color() for t, h in zip(texts, handles, strict=True)}
    assert legend["layer 2"] == colors["two/layer 2"]
