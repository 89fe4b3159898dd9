"""Tests for nbsrc.normalized: per-layer percentiles and the whole-network curves ordered by them."""

from __future__ import annotations

import io
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch
from helpers import TINY_CONFIGS, TINY_SEEDS, TINY_SETTINGS, TINY_WIDTHS

import nbsrc.analysis as analysis_mod
from nbsrc.ablation import cumulative_curve, neuron_orders
from nbsrc.analysis import neuron_measures
from nbsrc.normalized import NORMALIZED_VERSION, layer_percentiles, normalized_curves
from nbsrc.train import config_splits, train_or_load
from nbsrc.vocabulary import DIRECTIONS, QUANTITIES

pytestmark = pytest.mark.usefixtures("one_thread")

# A tiny chapter (as in test_analysis / test_train: a few small layers, a few thousand training examples,
# limited validation and test samples, few random orders), trained into a temporary cache.
WIDTHS, SEEDS, CONFIGS, SETTINGS = TINY_WIDTHS, TINY_SEEDS, TINY_CONFIGS, TINY_SETTINGS
N_HIDDEN = sum(WIDTHS)


# ------------------------------------------------------------------------------------ layer percentiles


def test_layer_percentiles_hand_example_with_ties():
    layers = [np.array([3.0, 1.0, 2.0, 2.0]), np.array([5.0, 5.0]), np.array([-1.0, 7.0, 0.0])]
    # ranks [4, 1, 2.5, 2.5] of 4, [1.5, 1.5] of 2, [1, 3, 2] of 3; (rank - 1/2) / n_l
    expected = [3.5 / 4, 0.5 / 4, 2 / 4, 2 / 4, 1 / 2, 1 / 2, 0.5 / 3, 2.5 / 3, 1.5 / 3]
    result = layer_percentiles(layers)
    assert result.shape == (9,)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-15)
    # equal percentiles across layers: the lower layer first, in both directions
    np.testing.assert_array_equal(neuron_orders(result, "ascending")[0], [1, 6, 2, 3, 4, 5, 8, 7, 0])
    np.testing.assert_array_equal(neuron_orders(result, "descending")[0], [0, 7, 2, 3, 4, 5, 8, 6, 1])


def test_layer_percentiles_single_neuron_and_constant_layers():
    np.testing.assert_array_equal(layer_percentiles([np.array([4.2])]), [0.5])
    np.testing.assert_array_equal(layer_percentiles([np.zeros(5), np.array([1.0])]), [0.5] * 6)
    # a layer of two: 1/4 and 3/4, whatever the scale
    np.testing.assert_array_equal(layer_percentiles([np.array([1e9, -1e9])]), [0.75, 0.25])


def brute_force_percentiles(values: np.ndarray) -> np.ndarray:
    """(average rank - 1/2) / n by counting: rank = #smaller + (#equal + 1) / 2."""
    smaller = (values[None, :] < values[:, None]).sum(1)
    equal = (values[None, :] == values[:, None]).sum(1)
    return (smaller + (equal + 1) / 2 - 0.5) / len(values)


@pytest.mark.parametrize("seed", range(4))
def test_layer_percentiles_equal_scipy_rankdata_and_brute_force(seed):
    rng = np.random.default_rng(seed)
    widths = rng.integers(1, 40, size=4)
    # integer-valued layers (many ties) and continuous ones on very different scales
    layers = [
        rng.integers(0, 5, n).astype(float) if i % 2 == 0 else rng.normal(10.0**i, 10.0**i, n)
        for i, n in enumerate(widths)
    ]
    result = layer_percentiles(layers)
    assert result.shape == (widths.sum(),)
    by_scipy = np.concatenate([(scipy.stats.rankdata(v) - 0.5) / len(v) for v in layers])
    by_hand = np.concatenate([brute_force_percentiles(v) for v in layers])
    np.testing.assert_allclose(result, by_scipy, rtol=0, atol=1e-14)
    np.testing.assert_allclose(result, by_hand, rtol=0, atol=1e-14)
    assert ((result > 0) & (result < 1)).all()
    offsets = np.concatenate([[0], np.cumsum(widths)])
    for lo, hi in zip(offsets[:-1], offsets[1:], strict=True):
        assert result[lo:hi].mean() == pytest.approx(0.5, abs=1e-12)  # ranks sum to n(n+1)/2


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("direction", DIRECTIONS)
def test_percentile_order_ranks_within_a_layer_as_the_raw_values(seed, direction):
    rng = np.random.default_rng(100 + seed)
    widths = [7, 12, 3, 9]
    layers = [rng.integers(0, 4, n) * 10.0 ** (3 * i) for i, n in enumerate(widths)]  # ties, other scales
    order = neuron_orders(layer_percentiles(layers), direction)[0]
    assert sorted(order) == list(range(sum(widths)))
    offsets = np.concatenate([[0], np.cumsum(widths)])
    for layer, values in enumerate(layers):
        lo, hi = offsets[layer], offsets[layer + 1]
        within = [i - lo for i in order if lo <= i < hi]
        np.testing.assert_array_equal(within, neuron_orders(values, direction)[0])
    # and the raw values would order the layers very differently: the top layer's values dwarf the others
    raw = neuron_orders(np.concatenate(layers), direction)[0]
    assert not np.array_equal(raw, order)


# ---------------------------------------------------------------------------------- normalized_curves


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("normalized-cache")


@pytest.fixture(scope="module")
def first(cache) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The chapter's per-layer-rank curves, computed into an empty cache."""
    return normalized_curves(CONFIGS, SETTINGS, cache=cache, device="cpu", progress=False)


@pytest.fixture(scope="module")
def networks(cache, first) -> dict:
    """Per seed: the model (from the cache that ``first`` filled), its test data, means and measures."""
    splits = config_splits(CONFIGS[0])
    x_val = splits.val.x[: SETTINGS.val_limit]
    y_val = splits.val.y[: SETTINGS.val_limit]
    out = {}
    for config in CONFIGS:
        trained = train_or_load(config, splits, cache=cache, device="cpu", progress=False)
        assert trained.from_cache
        model = trained.model
        with torch.no_grad():
            means = [t.mean(0) for t in model.hidden_outputs(x_val)]
        out[config.seed] = {
            "trained": trained,
            "x": splits.test.x[: SETTINGS.test_limit],
            "y": splits.test.y[: SETTINGS.test_limit],
            "means": means,
            "measures": neuron_measures(model, x_val, y_val, splits.n_classes, SETTINGS, device="cpu"),
        }
    return out


def reference_curve(network: dict, order: np.ndarray) -> np.ndarray:
    return cumulative_curve(
        network["trained"].model, network["x"], network["y"], order, scope="network", mode="mean",
        means=network["means"], engine="reference", dtype=torch.float64, device="cpu",
    )  # fmt: skip


def curve_of(curves: pd.DataFrame, seed: int, quantity: str, direction: str, order: int = 0) -> np.ndarray:
    rows = curves[
        (curves.seed == seed)
        & (curves.quantity == quantity)
        & (curves.direction == direction)
        & (curves.order == order)
    ].sort_values("k")
    np.testing.assert_array_equal(rows.k, np.arange(N_HIDDEN + 1))
    np.testing.assert_allclose(rows.fraction, np.arange(N_HIDDEN + 1) / N_HIDDEN, rtol=0, atol=1e-15)
    return rows.accuracy.to_numpy()


def assert_engine_close(curve: np.ndarray, expected: np.ndarray, n_samples: int) -> None:
    """The fast float32 engine against the float64 reference: at most a handful of near ties flip (as in
    test_ablation's fast-vs-reference test)."""
    assert curve.shape == expected.shape
    assert np.abs(curve - expected).max() * n_samples <= 5, np.abs(curve - expected).max() * n_samples


def test_normalized_curves_hold_the_network_scope_every_quantity_and_the_random_orders(first):
    curves, auc = first
    keys = ["seed", "scope", "quantity", "direction", "order"]
    assert list(curves.columns) == [*keys, "k", "fraction", "accuracy"]
    assert list(auc.columns) == [*keys, "auc", "threshold_fraction"]
    assert set(curves.scope) == set(auc.scope) == {"network"}
    expected = {(q, d, 0) for q in QUANTITIES for d in DIRECTIONS}
    expected |= {("random", "random", r) for r in range(SETTINGS.n_random)}
    for seed in SEEDS:
        rows = auc[auc.seed == seed]
        assert len(rows) == len(expected)
        assert set(zip(rows.quantity, rows.direction, rows.order, strict=True)) == expected
        assert len(curves[curves.seed == seed]) == len(expected) * (N_HIDDEN + 1)
    assert set(auc.seed) == set(SEEDS)


def test_normalized_curves_equal_the_reference_engine_with_percentile_orders(first, networks):
    curves, _ = first
    n_samples = SETTINGS.test_limit
    discriminating = 0  # cases where the raw-value order would give another curve
    for seed, network in networks.items():
        for quantity in QUANTITIES:
            per_layer = network["measures"][quantity]
            for direction in DIRECTIONS:
                order = neuron_orders(layer_percentiles(per_layer), direction)[0]
                got = curve_of(curves, seed, quantity, direction)
                expected = reference_curve(network, order)
                assert_engine_close(got, expected, n_samples)
                raw_order = neuron_orders(np.concatenate(per_layer), direction)[0]
                if not np.array_equal(raw_order, order):
                    raw = reference_curve(network, raw_order)
                    discriminating += np.abs(raw - expected).max() * n_samples > 5
        # k = 0 is the intact network (mean ablation of nothing)
        with torch.no_grad():
            predicted = network["trained"].model(network["x"]).argmax(1)
        intact = float((predicted == network["y"]).double().mean())
        assert curve_of(curves, seed, "entropy", "ascending")[0] == pytest.approx(intact, abs=1e-12)
        assert intact > 0.5  # the network works: its curves are not those of a wreck
    assert discriminating >= 5  # the test tells the percentile orders from the raw ones


def test_normalized_random_rows_are_the_networks_own_random_orders(cache, first, networks):
    curves, _ = first
    splits = config_splits(CONFIGS[0])
    for seed, network in networks.items():
        orders = neuron_orders(None, "random", SETTINGS.n_random, seed=1000 * seed, n=N_HIDDEN)
        analysis = analysis_mod.analyse_network(
            network["trained"], splits, SETTINGS, cache=cache, progress=False, device="cpu"
        )
        for r, order in enumerate(orders):
            got = curve_of(curves, seed, "random", "random", r)
            assert_engine_close(got, reference_curve(network, order), SETTINGS.test_limit)
            np.testing.assert_array_equal(got, analysis.curves["network|random|random"][r])


def test_normalized_auc_rows_are_the_trapezoid_and_threshold_of_each_curve(first):
    curves, auc = first
    n_classes = 10
    for r in auc.itertuples():
        curve = curve_of(curves, r.seed, r.quantity, r.direction, r.order)
        fraction = np.arange(N_HIDDEN + 1) / N_HIDDEN
        assert r.auc == pytest.approx(float(np.trapezoid(curve, fraction)), abs=1e-12)
        threshold = 1 / n_classes + (curve[0] - 1 / n_classes) / 2
        below = np.flatnonzero(curve < threshold)
        expected = below[0] / N_HIDDEN if len(below) else np.nan
        np.testing.assert_allclose(r.threshold_fraction, expected, rtol=0, atol=1e-12, equal_nan=True)


# ------------------------------------------------------------------------------------------ the cache


def percentile_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "analysis").iterdir() if "layer-percentiles" in p.name)


def no_recomputation(*args, **kwargs):
    raise AssertionError("recomputed although cached")


def assert_same(a: tuple[pd.DataFrame, pd.DataFrame], b: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    pd.testing.assert_frame_equal(a[0], b[0], check_exact=True)
    pd.testing.assert_frame_equal(a[1], b[1], check_exact=True)


def test_normalized_curves_are_cached_per_network(cache, first, networks, monkeypatch):
    files = percentile_files(cache)
    keys = [SETTINGS.key(networks[seed]["trained"].key, "cpu") for seed in SEEDS]
    assert files == sorted(f"{key}-layer-percentiles-v{NORMALIZED_VERSION}.npz" for key in keys)
    with np.load(cache / "analysis" / files[0]) as stored:
        assert set(stored.files) == {f"network|{q}|{d}" for q in QUANTITIES for d in DIRECTIONS}
    monkeypatch.setattr(analysis_mod, "cumulative_curve", no_recomputation)
    monkeypatch.setattr(analysis_mod, "ablation_curves", no_recomputation)
    monkeypatch.setattr("nbsrc.train.train", no_recomputation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good entry loads without a warning
        second = normalized_curves(CONFIGS, SETTINGS, cache=cache, device="cpu", progress=False)
    assert_same(first, second)
    assert percentile_files(cache) == files


def _damage(path: Path, how: str) -> None:
    if how == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif how == "incomplete":  # a readable archive without one of the curves
        with np.load(path) as stored:
            kept = {name: stored[name] for name in stored.files if name != "network|csi|descending"}
        with path.open("wb") as f:
            np.savez(f, **kept)
    else:
        raise ValueError(how)


@pytest.mark.parametrize("how", ["truncate", "incomplete"])
def test_a_corrupted_cache_entry_is_recomputed(cache, first, networks, tmp_path, monkeypatch, how):
    root = tmp_path / "cache"
    shutil.copytree(cache, root)
    key = SETTINGS.key(networks[SEEDS[1]]["trained"].key, "cpu")
    path = root / "analysis" / f"{key}-layer-percentiles-v{NORMALIZED_VERSION}.npz"
    good = path.read_bytes()
    _damage(path, how)
    calls = []

    def counted(*args, **kwargs):
        calls.append(kwargs.get("scope"))
        return cumulative_curve(*args, **kwargs)

    monkeypatch.setattr(analysis_mod, "cumulative_curve", counted)
    with pytest.warns(UserWarning, match=r"(?s)corrupted cache entry .*layer-percentiles.*recomputing"):
        second = normalized_curves(CONFIGS, SETTINGS, cache=root, device="cpu", progress=False)
    assert calls == ["network"] * (len(QUANTITIES) * len(DIRECTIONS))  # one network's curves, once
    assert_same(first, second)
    assert percentile_files(root) == percentile_files(cache)
    with np.load(path) as stored, np.load(io.BytesIO(good)) as original:
        assert set(stored.files) == set(original.files)
        for name in original.files:
            np.testing.assert_array_equal(stored[name], original[name])
    # the rewritten entry is a plain hit again
    monkeypatch.setattr(analysis_mod, "cumulative_curve", no_recomputation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = normalized_curves(CONFIGS, SETTINGS, cache=root, device="cpu", progress=False)
    assert_same(first, third)
