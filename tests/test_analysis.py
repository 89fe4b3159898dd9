"""Tests for nbsrc.analysis (measures, curves, summaries, the analysis cache) and the chapter set-up."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import nbsrc.analysis as analysis_mod
from nbsrc.ablation import cumulative_curve, neuron_orders
from nbsrc.analysis import (
    DIRECTIONS,
    QUANTITIES,
    AnalysisSettings,
    ablation_curves,
    analyse_network,
    auc,
    neuron_measures,
    threshold_fraction,
)
from nbsrc.chapters import DATASET_PARAMETERS, dataset_setup, parse_overrides
from nbsrc.data import Split, Splits
from nbsrc.measures import class_selectivity_index, information_measures
from nbsrc.models import MLP
from nbsrc.quantize import quantize
from nbsrc.train import DEFAULT_CONFIGS, TrainConfig, TrainedNetwork, accuracy, train

pytestmark = pytest.mark.usefixtures("one_thread")

N_FEATURES, WIDTHS, N_CLASSES = 12, (6, 5, 4), 3
SCOPES = ["network", "layer 1", "layer 2", "layer 3"]


# ---------------------------------------------------------------------------------------- fixtures


def synthetic_split(n: int, generator: torch.Generator) -> Split:
    """Gaussian blobs: class c has mean 2 on features 4c..4c+3, so a small MLP learns it well."""
    y = torch.randint(0, N_CLASSES, (n,), generator=generator)
    centres = torch.zeros(N_CLASSES, N_FEATURES)
    for c in range(N_CLASSES):
        centres[c, 4 * c : 4 * c + 4] = 2.0
    x = torch.randn(n, N_FEATURES, generator=generator) + centres[y]
    return Split(x=x, y=y)


@pytest.fixture(scope="module")
def splits() -> Splits:
    gen = torch.Generator().manual_seed(0)
    train_split, val, test = (synthetic_split(n, gen) for n in (300, 120, 60))
    return Splits(train_split, val, test, "synthetic", (N_FEATURES,), N_CLASSES, "synthetic")


@pytest.fixture(scope="module")
def trained(splits) -> TrainedNetwork:
    config = TrainConfig("mnist", WIDTHS, epochs=10, lr=1e-2, lr_schedule="constant", batch_size=32, seed=2)
    network = train(config, splits, device="cpu", progress=False)
    network.key = "k"
    return network


def tanh_model(seed: int = 0) -> MLP:
    torch.manual_seed(seed)
    return MLP(N_FEATURES, WIDTHS, N_CLASSES, activation="tanh").eval()


def reference(model, x, y, order, scope, mode="zero", means=None) -> np.ndarray:
    return cumulative_curve(model, x, y, order, scope, mode, means, engine="reference", device="cpu")


# --------------------------------------------------------------------------------- auc / threshold


def test_auc_is_the_trapezoid_over_the_fraction_ablated():
    assert auc(np.array([1.0, 0.5, 0.0])) == pytest.approx(0.5)
    assert auc(np.array([1.0, 1.0, 1.0, 0.0])) == pytest.approx((1 + 1 + 0.5) / 3)
    assert auc(np.array([0.0, 1.0])) == pytest.approx(0.5)
    for c in (0.0, 0.37, 1.0):
        assert auc(np.full(8, c)) == pytest.approx(c)
    rows = np.array([[1.0, 0.5, 0.0], [0.2, 0.2, 0.2], [0.0, 1.0, 0.0], [0.9, 0.9, 0.3]])
    expected = [0.5, 0.2, 0.5, 0.25 * (0.9 + 0.9) + 0.25 * (0.9 + 0.3)]
    result = auc(rows)
    assert result.shape == (4,)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result, [auc(r) for r in rows], rtol=0, atol=0)


def test_threshold_fraction_hand_examples():
    def one(curve, n_classes):
        return threshold_fraction(np.asarray(curve, dtype=float)[None], n_classes)[0]

    # intact 0.9, 10 classes: chance 0.1, threshold 0.1 + (0.9 - 0.1) / 2 = 0.5, strictly below
    assert one([0.9, 0.8, 0.6, 0.5, 0.3, 0.1], 10) == pytest.approx(4 / 5)
    assert one([0.9, 0.49, 0.9, 0.1], 10) == pytest.approx(1 / 3)  # the first k below, not the last
    assert math.isnan(one([0.9, 0.8, 0.7, 0.5], 10))  # never below
    assert one([1.0, 0.8, 0.74], 2) == pytest.approx(1.0)  # 2 classes, intact 1.0: threshold 0.75
    rows = np.array(
        [[0.9, 0.8, 0.6, 0.5, 0.3, 0.1], [0.9, 0.9, 0.9, 0.9, 0.9, 0.9], [0.7, 0.2, 0.1, 0.1, 0, 0]]
    )
    # third row: threshold 0.1 + 0.3 = 0.4, first below at k = 1
    result = threshold_fraction(rows, 10)
    assert result.shape == (3,)
    np.testing.assert_allclose(result, [0.8, np.nan, 0.2], rtol=0, atol=1e-12, equal_nan=True)
    batch = threshold_fraction(np.stack([rows, rows[::-1]]), 10)  # any leading shape, like auc
    np.testing.assert_allclose(batch, [[0.8, np.nan, 0.2], [0.2, np.nan, 0.8]], atol=1e-12, equal_nan=True)


def test_threshold_fraction_of_a_single_curve():
    assert threshold_fraction(np.array([0.9, 0.8, 0.6, 0.5, 0.3, 0.1]), 10) == pytest.approx(0.8)
    assert math.isnan(threshold_fraction(np.array([0.9, 0.8, 0.7, 0.5]), 10))


# ---------------------------------------------------------------------------------- neuron measures


@pytest.mark.parametrize(
    "settings",
    [
        AnalysisSettings(),
        AnalysisSettings(quantizer="equal_width", n_bins=4),
        AnalysisSettings(bias_correction="miller_madow"),
    ],
    ids=["binary", "equal_width-4", "miller_madow"],
)
def test_neuron_measures_equal_the_measures_computed_directly(settings):
    model = tanh_model()
    gen = torch.Generator().manual_seed(3)
    x, y = torch.randn(200, N_FEATURES, generator=gen), torch.randint(0, N_CLASSES, (200,), generator=gen)
    measures = neuron_measures(model, x, y, N_CLASSES, settings)
    assert set(measures) == set(QUANTITIES)
    outputs = model.hidden_outputs(x)
    next_weights = [model.hidden[1].weight, model.hidden[2].weight, model.out.weight]
    for layer, width in enumerate(WIDTHS):
        for quantity in QUANTITIES:
            assert isinstance(measures[quantity][layer], np.ndarray)
            assert measures[quantity][layer].shape == (width,), (quantity, layer)
        codes, n_values = quantize(outputs[layer], settings.quantizer, "tanh", settings.n_bins)
        info = information_measures(codes, y, n_values, N_CLASSES, settings.bias_correction)
        for quantity in ("entropy", "mutual_information", "kl_selectivity"):
            np.testing.assert_allclose(
                measures[quantity][layer], getattr(info, quantity).numpy(), rtol=0, atol=1e-12
            )
        np.testing.assert_allclose(
            measures["csi"][layer], class_selectivity_index(outputs[layer], y, N_CLASSES).numpy(), atol=1e-12
        )
        w = next_weights[layer].detach().double().numpy()
        by_hand = np.sqrt((w**2).sum(axis=0))
        np.testing.assert_allclose(measures["weight_norm"][layer], by_hand, rtol=1e-12, atol=0)
    entropies = np.concatenate(measures["entropy"])
    if settings.quantizer == "equal_width":
        assert entropies.max() > 1.0  # impossible with two values: the 4 bins were used
    else:
        assert entropies.max() <= 1.0 + 1e-9 + (settings.bias_correction is not None)


def test_neuron_measures_quantizer_setting_changes_the_result():
    model = tanh_model(1)
    gen = torch.Generator().manual_seed(4)
    x, y = torch.randn(150, N_FEATURES, generator=gen), torch.randint(0, N_CLASSES, (150,), generator=gen)
    binary = neuron_measures(model, x, y, N_CLASSES, AnalysisSettings())
    binned = neuron_measures(model, x, y, N_CLASSES, AnalysisSettings(quantizer="equal_width", n_bins=4))
    assert not np.allclose(np.concatenate(binary["entropy"]), np.concatenate(binned["entropy"]))
    # quantities that do not depend on the quantiser are unchanged
    for quantity in ("csi", "weight_norm"):
        np.testing.assert_array_equal(np.concatenate(binary[quantity]), np.concatenate(binned[quantity]))


# ---------------------------------------------------------------------------------- ablation curves


def test_ablation_curves_keys_shapes_and_values(trained, splits):
    model = trained.model
    settings = AnalysisSettings(n_random=3)
    measures = neuron_measures(model, splits.val.x, splits.val.y, N_CLASSES, settings)
    curves = ablation_curves(model, splits, measures, settings, seed=0, progress=False, device="cpu")
    expected_keys = {f"{s}|{q}|{d}" for s in SCOPES for q in QUANTITIES for d in DIRECTIONS}
    expected_keys |= {f"{s}|random|random" for s in SCOPES}
    assert set(curves) == expected_keys
    sizes = {"network": sum(WIDTHS), "layer 1": 6, "layer 2": 5, "layer 3": 4}
    x, y = splits.test.x, splits.test.y
    intact = accuracy(model, splits.test)
    assert intact > 0.8  # the network works: the curves below are not between two wrecks
    for name, curve in curves.items():
        scope, quantity, _ = name.split("|")
        n = sizes[scope]
        assert curve.shape == ((3, n + 1) if quantity == "random" else (n + 1,)), name
        assert np.all(np.atleast_2d(curve)[:, 0] == pytest.approx(intact)), name
    # the whole-network entropy curve, from the plain reference engine and an order computed here
    order = neuron_orders(np.concatenate(measures["entropy"]), "ascending")[0]
    np.testing.assert_array_equal(
        curves["network|entropy|ascending"], reference(model, x, y, order, "network")
    )
    order = neuron_orders(measures["kl_selectivity"][1], "descending")[0]
    np.testing.assert_array_equal(
        curves["layer 2|kl_selectivity|descending"], reference(model, x, y, order, 1)
    )
    order = neuron_orders(np.concatenate(measures["weight_norm"]), "descending")[0]
    np.testing.assert_array_equal(
        curves["network|weight_norm|descending"], reference(model, x, y, order, "network")
    )
    # every random row of layer 3 is the curve of one of its 4! orders
    all_orders = {tuple(reference(model, x, y, list(p), 2)) for p in itertools.permutations(range(4))}
    for row in curves["layer 3|random|random"]:
        assert tuple(row) in all_orders
    # the random orders of the network scope are different permutations (not one order repeated)
    rows = curves["network|random|random"]
    assert not (np.array_equal(rows[0], rows[1]) and np.array_equal(rows[1], rows[2]))


def test_ablation_curves_mean_mode_and_test_limit(trained, splits):
    model = trained.model
    settings = AnalysisSettings(mode="mean", n_random=1, test_limit=20, val_limit=50)
    measures = neuron_measures(model, splits.val.x, splits.val.y, N_CLASSES, settings)
    curves = ablation_curves(model, splits, measures, settings, seed=1, progress=False, device="cpu")
    means = [t.mean(0) for t in model.hidden_outputs(splits.val.x[:50])]
    x, y = splits.test.x[:20], splits.test.y[:20]
    order = neuron_orders(measures["csi"][0], "ascending")[0]
    expected = reference(model, x, y, order, 0, "mean", means)
    np.testing.assert_array_equal(curves["layer 1|csi|ascending"], expected)
    order = neuron_orders(np.concatenate(measures["mutual_information"]), "descending")[0]
    expected = reference(model, x, y, order, "network", "mean", means)
    np.testing.assert_array_equal(curves["network|mutual_information|descending"], expected)
    for curve in curves.values():
        np.testing.assert_allclose(np.asarray(curve) * 20, np.round(np.asarray(curve) * 20), atol=1e-9)


# ------------------------------------------------------------------------------------ analysis cache


def analysis_files(tmp_path):
    folder = tmp_path / "analysis"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_analyse_network_caches_atomically(trained, splits, tmp_path, monkeypatch):
    cache = tmp_path / "models"
    settings = AnalysisSettings(n_random=2)
    first = analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    files = analysis_files(tmp_path)
    assert len(files) == 1 and files[0].endswith(".npz") and files[0].startswith("k-"), files
    assert first.test_accuracy == pytest.approx(accuracy(trained.model, splits.test))
    for curve in first.curves.values():
        assert np.atleast_2d(curve)[0, 0] == pytest.approx(first.test_accuracy)

    def boom(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    with monkeypatch.context() as m:
        m.setattr(analysis_mod, "ablation_curves", boom)
        m.setattr(analysis_mod, "neuron_measures", boom)
        second = analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    assert second.test_accuracy == first.test_accuracy
    assert set(second.curves) == set(first.curves)
    for name, curve in first.curves.items():
        np.testing.assert_array_equal(second.curves[name], curve)
    assert set(second.measures) == set(QUANTITIES)
    for quantity in QUANTITIES:
        assert len(second.measures[quantity]) == len(WIDTHS)
        for a, b in zip(first.measures[quantity], second.measures[quantity], strict=True):
            np.testing.assert_array_equal(a, b)
    assert analysis_files(tmp_path) == files

    # other settings, or another network: a miss, a second entry
    with monkeypatch.context() as m:
        m.setattr(analysis_mod, "ablation_curves", boom)
        with pytest.raises(AssertionError, match="recomputed"):
            analyse_network(trained, splits, AnalysisSettings(n_random=3), cache=cache, progress=False)
        other = TrainedNetwork(trained.model, trained.config, trained.history, key="other")
        with pytest.raises(AssertionError, match="recomputed"):
            analyse_network(other, splits, settings, cache=cache, progress=False)
    third = analyse_network(trained, splits, AnalysisSettings(n_random=3), cache=cache, progress=False)
    assert third.curves["network|random|random"].shape[0] == 3
    assert len(analysis_files(tmp_path)) == 2


def test_analyse_network_crash_leaves_nothing(trained, splits, tmp_path, monkeypatch):
    cache = tmp_path / "models"
    settings = AnalysisSettings(n_random=2)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(analysis_mod, "ablation_curves", interrupted)
        with pytest.raises(KeyboardInterrupt):
            analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    assert analysis_files(tmp_path) == []

    # interrupted half-way through writing the file: no entry and no temporary file either
    def half_written(f, **arrays):
        f.write(b"PK\x03\x04 half an archive")
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(analysis_mod.np, "savez", half_written)
        with pytest.raises(KeyboardInterrupt):
            analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    assert analysis_files(tmp_path) == []
    result = analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    assert len(analysis_files(tmp_path)) == 1
    assert result.curves["layer 1|random|random"].shape == (2, WIDTHS[0] + 1)


# --------------------------------------------------------------------------------- settings / set-up


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("quantizer", "fuzzy"),
        ("n_bins", 1),
        ("n_bins", 2.0),
        ("mode", "half"),
        ("n_random", 0),
        ("bias_correction", "x"),
        ("test_limit", 3),
        ("val_limit", 9),
    ],
)
def test_analysis_settings_reject_bad_values(name, value):
    with pytest.raises(ValueError, match=rf"invalid {name}={value!r}"):
        AnalysisSettings(**{name: value})


def test_analysis_settings_key_depends_on_every_field():
    base = AnalysisSettings()
    assert base.key() == AnalysisSettings().key()
    others = [
        AnalysisSettings(quantizer="equal_mass", n_bins=4),
        AnalysisSettings(bias_correction="miller_madow"),
        AnalysisSettings(mode="mean"),
        AnalysisSettings(n_random=21),
        AnalysisSettings(val_limit=100),
        AnalysisSettings(test_limit=100),
    ]
    keys = {base.key(), *(s.key() for s in others)}
    assert len(keys) == len(others) + 1


def test_dataset_setup_defaults_and_overrides():
    configs, settings = dataset_setup()
    default = DEFAULT_CONFIGS["mnist"]
    assert [c.seed for c in configs] == DATASET_PARAMETERS["seeds"]
    for c in configs:
        assert (c.dataset, c.widths, c.epochs, c.lr, c.standardize) == (
            "mnist",
            default.widths,
            default.epochs,
            default.lr,
            True,
        )
    assert settings == AnalysisSettings()

    configs, settings = dataset_setup(
        dataset="cifar10",
        seeds=[3, 4],
        widths=[8, 4],
        epochs=2,
        activation="tanh",
        dropout=0.1,
        val_size=5000,
        train_limit=1000,
        n_random=5,
        quantizer="equal_mass",
        n_bins=8,
        bias_correction="miller_madow",
        ablation_mode="mean",
        val_limit=300,
        test_limit=400,
    )
    assert len(configs) == 2 and [c.seed for c in configs] == [3, 4]
    for c in configs:
        assert c.dataset == "cifar10" and c.widths == (8, 4) and c.epochs == 2
        assert c.activation == "tanh" and c.dropout == 0.1 and c.val_size == 5000 and c.train_limit == 1000
        assert c.lr == DEFAULT_CONFIGS["cifar10"].lr and c.batch_size == DEFAULT_CONFIGS["cifar10"].batch_size
        assert c.standardize is True
    assert settings == AnalysisSettings("equal_mass", 8, "miller_madow", "mean", 5, 300, 400)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"epoch": 3}, r"invalid parameter='epoch'; allowed values: 'dataset', 'widths', .*'epochs'"),
        ({"dataset": "svhn"}, r"invalid dataset='svhn'; allowed values: 'mnist', 'fashion_mnist', 'cifar10'"),
        ({"widths": [-1, 4]}, r"invalid widths=\(-1, 4\); every width must be a positive integer"),
        ({"widths": "[512, 256"}, r"invalid widths="),
        ({"seeds": []}, r"invalid seeds=\[\]; allowed values: 'a non-empty list of integers"),
        ({"seeds": "[0, 1"}, r"invalid seeds='\[0, 1'"),
        ({"seeds": [0, -1]}, r"invalid seed=-1; must be an integer >= 0"),
        ({"activation": "gelu"}, r"invalid activation='gelu'"),
        ({"epochs": 0}, r"invalid epochs=0; must be an integer >= 1"),
        ({"val_size": 60000}, r"invalid val_size=60000"),
        ({"n_random": 0}, r"invalid n_random=0"),
        ({"ablation_mode": "half"}, r"invalid mode='half'"),
        ({"test_limit": 5}, r"invalid test_limit=5"),
    ],
)
def test_dataset_setup_rejects_bad_parameters(parameters, message):
    with pytest.raises(ValueError, match=message):
        dataset_setup(**parameters)


def test_parse_overrides():
    pairs = [
        "--epochs",
        "3",
        "--seeds",
        "[0, 1]",
        "--activation",
        "tanh",
        "--lr",
        "0.01",
        "--batch-norm",
        "true",
    ]
    assert parse_overrides(pairs) == {
        "epochs": 3,
        "seeds": [0, 1],
        "activation": "tanh",
        "lr": 0.01,
        "batch_norm": True,
    }
    assert parse_overrides([]) == {}
    assert parse_overrides(["--bias-correction", "null"]) == {"bias_correction": None}
    for bad in (["--epochs"], ["epochs", "3"], ["--epochs", "3", "--seeds"], ["--a", "1", "b", "2"]):
        with pytest.raises(ValueError, match=r"expected pairs of --name value"):
            parse_overrides(bad)
    # a malformed list is not valid JSON: it stays a string, which the chapter set-up rejects before training
    for name, raw in (("seeds", "[0, 1"), ("widths", "[64, 32,]")):
        overrides = parse_overrides([f"--{name}", raw])
        with pytest.raises(ValueError, match=rf"invalid {name}="):
            dataset_setup(**overrides)


def test_dataset_setup_rejects_a_bare_int_width():
    with pytest.raises(ValueError, match=r"invalid widths=512"):
        dataset_setup(widths=512)


def test_analyse_network_does_not_mix_up_networks_without_a_key(splits, tmp_path):
    settings = AnalysisSettings(n_random=1)
    config = TrainConfig("mnist", WIDTHS, epochs=1, lr=1e-2, lr_schedule="constant", batch_size=64)
    first, second = (train(replace(config, seed=s), splits, device="cpu", progress=False) for s in (0, 1))
    assert first.key and second.key and first.key != second.key
    analyse_network(first, splits, settings, cache=tmp_path / "models", progress=False, device="cpu")
    result = analyse_network(
        second, splits, settings, cache=tmp_path / "models", progress=False, device="cpu"
    )
    own = second.model.out.weight.detach().double().norm(dim=0).numpy()
    np.testing.assert_allclose(result.measures["weight_norm"][2], own, rtol=1e-12)
