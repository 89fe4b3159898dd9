"""Tests for nbsrc.analysis (measures, curves, summaries, the analysis cache) and the chapter set-up."""

from __future__ import annotations

import itertools
import math
import re
import warnings
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import nbsrc.analysis as analysis_mod
from nbsrc.ablation import cumulative_curve, neuron_orders
from nbsrc.analysis import (
    ANALYSIS_CODE_VERSION,
    DIRECTIONS,
    QUANTITIES,
    AnalysisSettings,
    ablation_curves,
    analyse_network,
    auc,
    damage_correlations,
    neuron_measures,
    paired_auc_gain,
    run_chapter,
    spearman,
    threshold_fraction,
    validation_data,
)
from nbsrc.chapters import DATASET_PARAMETERS, dataset_setup, parse_overrides
from nbsrc.data import Split, Splits, fingerprint
from nbsrc.measures import class_selectivity_index, information_measures
from nbsrc.models import MLP
from nbsrc.quantize import quantize
from nbsrc.train import DEFAULT_CONFIGS, TrainConfig, TrainedNetwork, accuracy, train, train_or_load

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


def small_model(seed: int = 0, activation: str = "tanh", batch_norm: bool = False) -> MLP:
    torch.manual_seed(seed)
    return MLP(N_FEATURES, WIDTHS, N_CLASSES, activation=activation, batch_norm=batch_norm).eval()


def reference(model, x, y, order, scope, mode="zero", means=None) -> np.ndarray:
    return cumulative_curve(
        model, x, y, order, scope=scope, mode=mode, means=means, engine="reference", device="cpu"
    )


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


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize(
    "settings",
    [
        AnalysisSettings(),
        AnalysisSettings(quantizer="equal_width", n_bins=4),
        AnalysisSettings(bias_correction="miller_madow"),
    ],
    ids=["binary", "equal_width-4", "miller_madow"],
)
def test_neuron_measures_equal_the_measures_computed_directly(settings, activation):
    model = small_model(activation=activation)
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
        codes, n_values = quantize(outputs[layer], settings.quantizer, activation, settings.n_bins)
        info = information_measures(codes, y, n_values, N_CLASSES, settings.bias_correction)
        for quantity in ("entropy", "mutual_information", "kl_selectivity"):
            np.testing.assert_allclose(
                measures[quantity][layer], getattr(info, quantity).numpy(), rtol=0, atol=1e-12
            )
        # float32 class means: a GPU (the default device where there is one) sums in another order (seen on
        # an H200: 3e-9 absolute, which is 2e-5 relative where a sigmoid neuron's CSI is near 0)
        np.testing.assert_allclose(
            measures["csi"][layer],
            class_selectivity_index(outputs[layer], y, N_CLASSES).numpy(),
            rtol=1e-7,
            atol=1e-7 if torch.cuda.is_available() else 1e-12,
        )
        w = next_weights[layer].detach().double().numpy()
        by_hand = np.sqrt((w**2).sum(axis=0))
        np.testing.assert_allclose(measures["weight_norm"][layer], by_hand, rtol=1e-12, atol=0)
    entropies = np.concatenate(measures["entropy"])
    if settings.quantizer == "equal_width":
        assert entropies.max() > 1.0  # impossible with two values: the 4 bins were used
    else:
        assert entropies.max() <= 1.0 + 1e-9 + (settings.bias_correction is not None)


BINARY_THRESHOLD = {"tanh": 0.0, "sigmoid": 0.5}


def entropy_bits(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_binary_measures_by_hand(activation):
    """The binary code is T > 0 for tanh and T > 0.5 for sigmoid: H(T), I(T;Y), KL selectivity from the
    joint counts, computed here with numpy."""
    model = small_model(5, activation)
    gen = torch.Generator().manual_seed(6)
    x, y = torch.randn(300, N_FEATURES, generator=gen), torch.randint(0, N_CLASSES, (300,), generator=gen)
    with torch.no_grad():  # centre the deeper layers' pre-activations, so that every layer straddles
        for layer in range(1, len(WIDTHS)):  # the threshold (an untrained sigmoid net's would not)
            inputs = model.hidden_outputs(x)[layer - 1]
            linear = model.hidden[layer]
            linear.weight.mul_(4)
            linear.bias.copy_(-linear.weight @ inputs.mean(0))
    measures = neuron_measures(model, x, y, N_CLASSES, AnalysisSettings())
    labels = y.numpy()
    for layer, t in enumerate(model.hidden_outputs(x)):
        t = t.double().numpy()
        if activation == "sigmoid":
            assert t.min() > 0  # a threshold of 0 would give every sigmoid neuron one code and H = 0
        codes = (t > BINARY_THRESHOLD[activation]).astype(np.int64)
        for i in range(t.shape[1]):
            joint = np.zeros((2, N_CLASSES))
            np.add.at(joint, (codes[:, i], labels), 1)
            h_t, h_y, h_ty = entropy_bits(joint.sum(1)), entropy_bits(joint.sum(0)), entropy_bits(joint)
            p_t = joint.sum(1) / joint.sum()
            p_t_given_y = joint / joint.sum(0)
            with np.errstate(divide="ignore", invalid="ignore"):
                terms = np.where(p_t_given_y > 0, p_t_given_y * np.log2(p_t_given_y / p_t[:, None]), 0.0)
            kl_sel = terms.sum(0).max()
            assert measures["entropy"][layer][i] == pytest.approx(h_t, abs=1e-12), (layer, i)
            assert measures["mutual_information"][layer][i] == pytest.approx(h_t + h_y - h_ty, abs=1e-12)
            assert measures["kl_selectivity"][layer][i] == pytest.approx(kl_sel, abs=1e-12)
    # every neuron's outputs straddle the threshold: the codes are not constant
    entropies = np.concatenate(measures["entropy"])
    assert entropies.min() > 0.8, entropies


def test_weight_norm_folds_the_next_layers_batch_norm():
    """With batch norm, layer l's outgoing weights are the *folded* W_{l+1}: BN(W h + b) = (s W) h + ...
    with s = gamma / sqrt(running_var + eps), so neuron i's norm is ||s * W_{l+1}[:, i]||; the output
    layer has no batch norm, so the last hidden layer keeps the plain column norm."""
    model = small_model(7, "relu", batch_norm=True)
    gen = torch.Generator().manual_seed(8)
    with torch.no_grad():
        for norm in model.norms:
            n = norm.num_features
            norm.running_mean.copy_(torch.randn(n, generator=gen))
            norm.running_var.copy_(torch.rand(n, generator=gen) * 4 + 0.05)  # in [0.05, 4.05]
            gamma = torch.rand(n, generator=gen) * 3 + 0.1
            gamma[0] = -gamma[0]  # a negative scale: the norm takes |s|
            norm.weight.copy_(gamma)
            norm.bias.copy_(torch.randn(n, generator=gen))
    model.eval()
    x, y = torch.randn(100, N_FEATURES, generator=gen), torch.randint(0, N_CLASSES, (100,), generator=gen)
    measures = neuron_measures(model, x, y, N_CLASSES, AnalysisSettings())

    def folded(layer: int) -> np.ndarray:  # the weights of hidden layer `layer` (0-based), BN folded in
        w = model.hidden[layer].weight.detach().double().numpy()
        norm = model.norms[layer]
        gamma, var = norm.weight.detach().double().numpy(), norm.running_var.double().numpy()
        s = gamma / np.sqrt(var + norm.eps)
        return s[:, None] * w

    for layer in range(len(WIDTHS) - 1):
        by_hand = np.sqrt((folded(layer + 1) ** 2).sum(axis=0))
        np.testing.assert_allclose(measures["weight_norm"][layer], by_hand, rtol=1e-12, atol=0)
        raw = model.hidden[layer + 1].weight.detach().double().norm(dim=0).numpy()
        assert np.abs(by_hand - raw).min() > 1e-3  # the folding changes every neuron's norm
        # and the ranking: ordering by the raw weights would ablate other neurons first
        assert not np.array_equal(np.argsort(by_hand), np.argsort(raw))
    w_out = model.out.weight.detach().double().numpy()
    np.testing.assert_allclose(measures["weight_norm"][-1], np.sqrt((w_out**2).sum(axis=0)), rtol=1e-12)
    # the fold is exact: the folded affine maps give the network's own pre-activations
    with torch.no_grad():
        z = model.norms[0](model.hidden[0](x)).double().numpy()
    np.testing.assert_allclose(
        x.double().numpy() @ folded(0).T + model.affine_layers(torch.float64).biases[0].numpy(),
        z,
        rtol=1e-5,
        atol=1e-5,
    )


def test_neuron_measures_quantizer_setting_changes_the_result():
    model = small_model(1)
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


def analysis_files(root: Path) -> list[str]:
    """The entries of the analysis cache under the cache root ``root``."""
    folder = root / "analysis"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def no_recomputation(*args, **kwargs):
    raise AssertionError("recomputed although cached")


def assert_same_analysis(a, b) -> None:
    assert b.test_accuracy == a.test_accuracy
    assert set(b.curves) == set(a.curves)
    for name, curve in a.curves.items():
        np.testing.assert_array_equal(b.curves[name], curve)
    assert set(b.measures) == set(a.measures) == set(QUANTITIES)
    for quantity in QUANTITIES:
        assert len(b.measures[quantity]) == len(WIDTHS)
        for x, y in zip(a.measures[quantity], b.measures[quantity], strict=True):
            np.testing.assert_array_equal(x, y)


def test_analyse_network_caches_atomically(trained, splits, tmp_path, monkeypatch):
    cache = tmp_path  # the cache root: the entry goes to <root>/analysis/<key>.npz
    settings = AnalysisSettings(n_random=2)
    first = analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    files = analysis_files(tmp_path)
    assert files == [f"{settings.key(trained.key, 'cpu')}.npz"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis"]  # nothing else, no models/
    assert first.test_accuracy == pytest.approx(accuracy(trained.model, splits.test))
    for curve in first.curves.values():
        assert np.atleast_2d(curve)[0, 0] == pytest.approx(first.test_accuracy)

    with monkeypatch.context() as m:
        m.setattr(analysis_mod, "ablation_curves", no_recomputation)
        m.setattr(analysis_mod, "neuron_measures", no_recomputation)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a good entry loads without a warning
            second = analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    assert_same_analysis(first, second)
    assert analysis_files(tmp_path) == files

    # other settings, another network, another code version: a miss, a new entry
    with monkeypatch.context() as m:
        m.setattr(analysis_mod, "ablation_curves", no_recomputation)
        with pytest.raises(AssertionError, match="recomputed"):
            analyse_network(trained, splits, AnalysisSettings(n_random=3), cache=cache, progress=False)
        other = TrainedNetwork(trained.model, trained.config, trained.history, key="other")
        with pytest.raises(AssertionError, match="recomputed"):
            analyse_network(other, splits, settings, cache=cache, progress=False)
        m.setattr(analysis_mod, "ANALYSIS_CODE_VERSION", ANALYSIS_CODE_VERSION + 1)
        with pytest.raises(AssertionError, match="recomputed"):
            analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    third = analyse_network(trained, splits, AnalysisSettings(n_random=3), cache=cache, progress=False)
    assert third.curves["network|random|random"].shape[0] == 3
    assert len(analysis_files(tmp_path)) == 2


def test_analyse_network_crash_leaves_nothing(trained, splits, tmp_path, monkeypatch):
    cache = tmp_path
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
    assert (tmp_path / "analysis").is_dir()  # the crash was inside the folder, not before it
    result = analyse_network(trained, splits, settings, cache=cache, progress=False, device="cpu")
    assert len(analysis_files(tmp_path)) == 1
    assert result.curves["layer 1|random|random"].shape == (2, WIDTHS[0] + 1)


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncate_tail":  # the end of the archive (its central directory) is missing
        path.write_bytes(data[:-10])
    elif how == "flip":  # one bit in the middle: a member's CRC no longer matches
        damaged = bytearray(data)
        damaged[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(damaged))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "incomplete":  # a readable archive without the measures
        with np.load(path) as stored:
            kept = {name: stored[name] for name in stored.files if not name.startswith("measure|")}
        with path.open("wb") as f:
            np.savez(f, **kept)
    else:
        raise ValueError(how)


@pytest.mark.parametrize("how", ["truncate", "truncate_tail", "flip", "empty", "incomplete"])
def test_analyse_network_recomputes_a_corrupted_entry(trained, splits, tmp_path, monkeypatch, how):
    settings = AnalysisSettings(n_random=2)
    first = analyse_network(trained, splits, settings, cache=tmp_path, progress=False, device="cpu")
    (name,) = analysis_files(tmp_path)
    path = tmp_path / "analysis" / name
    good = path.read_bytes()
    _damage(path, how)
    assert path.read_bytes() != good

    calls = []
    real_curves = analysis_mod.ablation_curves

    def counted(*args, **kwargs):
        calls.append(1)
        return real_curves(*args, **kwargs)

    monkeypatch.setattr(analysis_mod, "ablation_curves", counted)
    with pytest.warns(UserWarning, match=rf"(?s)corrupted cache entry .*{re.escape(name)}.*recomputing"):
        second = analyse_network(trained, splits, settings, cache=tmp_path, progress=False, device="cpu")
    assert calls == [1]  # recomputed, once
    assert_same_analysis(first, second)
    assert analysis_files(tmp_path) == [name]  # replaced under the same name, nothing left beside it
    assert path.read_bytes() == good  # the recomputation wrote the same entry again

    # and the rewritten entry is a plain hit again: no warning, no recomputation
    monkeypatch.setattr(analysis_mod, "ablation_curves", no_recomputation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = analyse_network(trained, splits, settings, cache=tmp_path, progress=False, device="cpu")
    assert_same_analysis(first, third)


def test_analyse_network_recomputes_an_entry_without_a_curve(trained, splits, tmp_path):
    settings = AnalysisSettings(n_random=2)
    first = analyse_network(trained, splits, settings, cache=tmp_path, progress=False, device="cpu")
    (name,) = analysis_files(tmp_path)
    path = tmp_path / "analysis" / name
    with np.load(path) as stored:
        kept = {n: stored[n] for n in stored.files if n != "curve|layer 2|csi|descending"}
    with path.open("wb") as f:
        np.savez(f, **kept)
    with pytest.warns(UserWarning, match="corrupted cache entry"):
        second = analyse_network(trained, splits, settings, cache=tmp_path, progress=False, device="cpu")
    assert_same_analysis(first, second)


def test_nbsrc_cache_is_the_root_of_models_and_analysis(splits, tmp_path, monkeypatch):
    """NBSRC_CACHE=<root>: a chapter's networks go to <root>/models, its analyses to <root>/analysis, and
    nothing lands beside the root (the analysis cache used to sit in the parent of NBSRC_CACHE)."""
    root = tmp_path / "root"
    monkeypatch.setenv("NBSRC_CACHE", str(root))
    # synthetic data under MNIST's fingerprint, so that train_or_load accepts it as MNIST's splits
    mnist_like = replace(splits, fingerprint=fingerprint("mnist"))
    monkeypatch.setattr(analysis_mod, "config_splits", lambda config: mnist_like)
    config = TrainConfig("mnist", WIDTHS, epochs=2, lr=1e-2, lr_schedule="constant", batch_size=64, seed=1)
    settings = AnalysisSettings(n_random=1)
    results = run_chapter([config], settings, progress=False, device="cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
    assert sorted(p.name for p in root.iterdir()) == ["analysis", "models"]
    network_key = config.key(mnist_like.fingerprint, "cpu")
    assert sorted(p.name for p in (root / "models").iterdir()) == [f"mnist-{network_key}.pt"]
    assert analysis_files(root) == [f"{settings.key(network_key, 'cpu')}.npz"]

    # the same root given as the argument: both caches hit
    monkeypatch.delenv("NBSRC_CACHE")
    monkeypatch.setattr(analysis_mod, "ablation_curves", no_recomputation)
    monkeypatch.setattr("nbsrc.train.train", no_recomputation)
    loaded = train_or_load(config, mnist_like, cache=root, progress=False, device="cpu")
    assert loaded.from_cache and loaded.key == network_key
    again = run_chapter([config], settings, cache=root, progress=False, device="cpu")
    for name in ("accuracies", "measures", "curves", "auc"):
        assert getattr(again, name).equals(getattr(results, name)), name


# --------------------------------------------------------------------------------------- analysis key

NET = "0123456789abcdef01234567"

# One change per field of AnalysisSettings (test_the_key_tests_cover_every_setting keeps this complete).
SETTING_CHANGES = {
    "quantizer": "equal_width",
    "n_bins": 4,
    "bias_correction": "miller_madow",
    "mode": "mean",
    "n_random": 21,
    "val_limit": 100,
    "test_limit": 100,
    "ordered": ("mutual_information",),
    "random_orders": False,
}
# One change per module constant that the key covers.
CONSTANT_CHANGES = {
    "QUANTITIES": QUANTITIES[:-1],
    "QUANTITIES-order": QUANTITIES[::-1],
    "DIRECTIONS": DIRECTIONS[::-1],
    "RANDOM_SEEDING": "default_rng(training seed + scope position)",
    "ENGINE": "reference",
    "ENGINE_DTYPE": torch.float64,
    "ANALYSIS_CODE_VERSION": ANALYSIS_CODE_VERSION + 1,
}


def test_the_key_tests_cover_every_setting():
    assert set(SETTING_CHANGES) == {f.name for f in fields(AnalysisSettings)}
    for name, value in SETTING_CHANGES.items():
        assert getattr(AnalysisSettings(), name) != value, name


def test_analysis_key_is_equal_for_equal_inputs(monkeypatch):
    key = AnalysisSettings().key(NET, "cpu")
    assert re.fullmatch(r"[0-9a-f]{24}", key)
    assert AnalysisSettings().key(NET, "cpu") == key
    assert AnalysisSettings(n_random=20, quantizer="binary").key(NET, "cpu") == key
    assert AnalysisSettings().key(NET) == key  # the CPU by default
    assert AnalysisSettings().key(NET, torch.device("cpu")) == key
    # the device kind counts, not its index
    cuda = AnalysisSettings().key(NET, "cuda")
    assert (
        AnalysisSettings().key(NET, "cuda:1") == cuda == AnalysisSettings().key(NET, torch.device("cuda", 0))
    )
    # equal constants (other objects, same values) give the same key
    monkeypatch.setattr(analysis_mod, "QUANTITIES", tuple(list(QUANTITIES)))
    monkeypatch.setattr(analysis_mod, "DIRECTIONS", tuple(list(DIRECTIONS)))
    assert AnalysisSettings().key(NET, "cpu") == key


@pytest.mark.parametrize("field", sorted(SETTING_CHANGES))
def test_analysis_key_changes_with_each_setting(field):
    base = AnalysisSettings()
    changed = replace(base, **{field: SETTING_CHANGES[field]})
    assert changed.key(NET, "cpu") != base.key(NET, "cpu")
    assert changed.key(NET, "cpu") == replace(base, **{field: SETTING_CHANGES[field]}).key(NET, "cpu")


@pytest.mark.parametrize("constant", sorted(CONSTANT_CHANGES))
def test_analysis_key_changes_with_each_module_constant(constant, monkeypatch):
    base = AnalysisSettings().key(NET, "cpu")
    monkeypatch.setattr(analysis_mod, constant.split("-")[0], CONSTANT_CHANGES[constant])
    assert AnalysisSettings().key(NET, "cpu") != base


def test_analysis_key_changes_with_the_network_and_the_device_kind():
    settings = AnalysisSettings()
    base = settings.key(NET, "cpu")
    assert settings.key(NET[:-1] + "8", "cpu") != base
    assert settings.key("other", "cpu") != base
    assert settings.key(NET, "cuda") != base
    assert settings.key(NET, "mps") != base
    assert settings.key(NET, "mps") != settings.key(NET, "cuda")


def test_analysis_keys_of_all_changes_are_distinct(monkeypatch):
    """No two of the single changes above collide (each is a distinct input to the hash)."""
    keys = {"base": AnalysisSettings().key(NET, "cpu")}
    for field, value in SETTING_CHANGES.items():
        keys[field] = replace(AnalysisSettings(), **{field: value}).key(NET, "cpu")
    for constant, value in CONSTANT_CHANGES.items():
        with monkeypatch.context() as m:
            m.setattr(analysis_mod, constant.split("-")[0], value)
            keys[constant] = AnalysisSettings().key(NET, "cpu")
    keys["network"] = AnalysisSettings().key("other", "cpu")
    keys["cuda"] = AnalysisSettings().key(NET, "cuda")
    keys["mps"] = AnalysisSettings().key(NET, "mps")
    assert len(set(keys.values())) == len(keys), keys


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
        (
            {"epoch": 3},
            r"invalid parameter='epoch'; allowed values: 'dataset', 'recipe', 'widths', .*'epochs'",
        ),
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
    analyse_network(first, splits, settings, cache=tmp_path, progress=False, device="cpu")
    result = analyse_network(second, splits, settings, cache=tmp_path, progress=False, device="cpu")
    assert len(analysis_files(tmp_path)) == 2
    own = second.model.out.weight.detach().double().norm(dim=0).numpy()
    np.testing.assert_allclose(result.measures["weight_norm"][2], own, rtol=1e-12)


def test_paired_auc_gain_pairs_orders_and_averages_random_orders_first():
    base = pd.DataFrame(
        {
            "seed": [0, 0, 0, 1, 1, 1],
            "scope": "network",
            "quantity": ["entropy", "random", "random", "entropy", "random", "random"],
            "direction": ["ascending", "random", "random", "ascending", "random", "random"],
            "order": [0, 0, 1, 0, 0, 1],
            "auc": [0.5, 0.4, 0.6, 0.7, 0.2, 0.2],
        }
    )
    other = base.assign(auc=[0.6, 0.5, 0.9, 0.6, 0.3, 0.5])
    gains = paired_auc_gain(base, other).set_index(["seed", "quantity"])
    assert gains.loc[(0, "entropy"), "gain"] == pytest.approx(0.1)
    assert gains.loc[(0, "random"), "auc_base"] == pytest.approx(0.5)
    assert gains.loc[(0, "random"), "gain"] == pytest.approx(0.2)
    assert gains.loc[(1, "entropy"), "gain"] == pytest.approx(-0.1)
    assert gains.loc[(1, "random"), "gain"] == pytest.approx(0.2)
    assert len(gains) == 4
    subset = paired_auc_gain(base, other[other.quantity == "entropy"])  # e.g. no random orders
    assert subset.quantity.tolist() == ["entropy", "entropy"]
    np.testing.assert_allclose(subset.gain, [0.1, -0.1])
    with pytest.raises(ValueError, match=r"invalid auc_other=.*must hold curves of auc_base"):
        paired_auc_gain(base[base.seed == 0], other)


def test_damage_correlations_are_spearman_per_layer_and_over_the_network():
    rng = np.random.default_rng(3)
    widths = {1: 6, 2: 4}
    keys = [(seed, layer, i) for seed in (0, 1) for layer, n in widths.items() for i in range(n)]
    damage = pd.DataFrame(keys, columns=["seed", "layer", "neuron"]).assign(drop=rng.normal(size=len(keys)))
    measures = pd.concat(
        [
            damage[["seed", "layer", "neuron"]].assign(quantity=q, value=rng.integers(0, 3, len(keys)) * 1.0)
            for q in ("entropy", "csi")
        ]
    )
    measures.loc[(measures.quantity == "csi") & (measures.layer == 2), "value"] = 1.0  # constant: no rho
    table = damage_correlations(measures, damage).set_index(["seed", "scope", "quantity"]).rho

    def spearman(a, b):  # Pearson correlation of average ranks
        return np.corrcoef(pd.Series(a).rank(), pd.Series(b).rank())[0, 1]

    for seed in (0, 1):
        for quantity in ("entropy", "csi"):
            m = measures[(measures.seed == seed) & (measures.quantity == quantity)].merge(damage)
            assert table[(seed, "network", quantity)] == pytest.approx(spearman(m["value"], m["drop"]))
            for layer in widths:
                g = m[m.layer == layer]
                got = table[(seed, f"layer {layer}", quantity)]
                if quantity == "csi" and layer == 2:
                    assert np.isnan(got)
                else:
                    assert got == pytest.approx(spearman(g["value"], g["drop"]))
    assert len(table) == 2 * 2 * 3


def test_validation_and_test_data_take_the_first_samples_up_to_the_limits(splits):
    settings = AnalysisSettings(val_limit=50, test_limit=20)
    x_val, y_val = validation_data(splits, settings)
    x_test, y_test = analysis_mod.test_data(splits, settings)  # imported, it would be collected as a test
    assert torch.equal(x_val, splits.val.x[:50]) and torch.equal(y_val, splits.val.y[:50])
    assert torch.equal(x_test, splits.test.x[:20]) and torch.equal(y_test, splits.test.y[:20])
    x_all, y_all = validation_data(splits, AnalysisSettings(val_limit=10_000))
    assert torch.equal(x_all, splits.val.x) and torch.equal(y_all, splits.val.y)


def test_spearman_matches_scipy_and_is_nan_for_a_constant_ranking():
    import scipy.stats

    a, b = np.array([3.0, 1.0, 2.0, 5.0, 4.0]), np.array([1.0, 0.5, 0.7, 0.9, 2.0])
    assert spearman(a, b) == pytest.approx(scipy.stats.spearmanr(a, b).statistic)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert math.isnan(spearman(a, np.ones(5))) and math.isnan(spearman(np.zeros(5), b))
