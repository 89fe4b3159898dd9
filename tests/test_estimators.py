"""Tests for nbsrc.estimators (quantisation and sample-size studies) and the figures, table and prose built
on them (plotting, report, narrative) and the estimator chapter's parameters (chapters)."""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402
import torch  # noqa: E402
from helpers import TINY_CONFIGS, TINY_SEEDS, TINY_SETTINGS, TINY_WIDTHS  # noqa: E402
from PIL import Image  # noqa: E402

import nbsrc.analysis as analysis_mod  # noqa: E402
from nbsrc import plotting as P  # noqa: E402
from nbsrc.ablation import cumulative_curve, neuron_orders  # noqa: E402
from nbsrc.analysis import AnalysisSettings, auc  # noqa: E402
from nbsrc.chapters import dataset_setup, estimator_setup  # noqa: E402
from nbsrc.estimators import (  # noqa: E402
    INFORMATION_QUANTITIES,
    N_BOOT,
    QUANTIZATION_LABELS,
    QUANTIZATION_VERSION,
    QUANTIZATIONS,
    SIZES,
    check_sizes,
    layer_information,
    quantization_label,
    quantization_study,
    ranking_agreement,
    sample_size_study,
    sample_size_summary,
    stable_size,
)
from nbsrc.measures import information_measures  # noqa: E402
from nbsrc.narrative import quantization_paragraph, sample_size_paragraph  # noqa: E402
from nbsrc.quantize import quantize  # noqa: E402
from nbsrc.report import stable_size_table  # noqa: E402
from nbsrc.train import config_splits, train_or_load  # noqa: E402
from nbsrc.vocabulary import DIRECTIONS  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

LN2 = math.log(2)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ---------------------------------------------------------------------------------- information by hand


def information_by_hand(
    codes: np.ndarray, labels: np.ndarray, n_classes: int, miller_madow: bool = False
) -> dict[str, np.ndarray]:
    """H, MI and KL selectivity (bits) of every column of ``codes``, from the joint counts by numpy:
    D_y = sum_t p(t|y) log2(p(t|y) / p(t)) over present classes, MI = sum_y p(y) D_y, KL = max_y D_y;
    Miller-Madow: H + (m - 1) / (2 N ln 2) and max(MI + (m - 1 - sum_y (m_y - 1)) / (2 N ln 2), 0)."""
    codes = np.asarray(codes)
    labels = np.asarray(labels)
    n = len(labels)
    out = {q: [] for q in INFORMATION_QUANTITIES}
    for column in codes.T:
        values = np.unique(column)
        joint = np.array(
            [[np.sum((column == v) & (labels == c)) for c in range(n_classes)] for v in values], dtype=float
        )
        p_t = joint.sum(1) / n
        n_y = joint.sum(0)
        entropy = float(-np.sum(p_t * np.log2(p_t)))
        d = {}
        for c in np.flatnonzero(n_y):
            p = joint[:, c] / n_y[c]
            nz = p > 0
            d[c] = float(np.sum(p[nz] * np.log2(p[nz] / p_t[nz])))
        mi = sum(n_y[c] / n * d[c] for c in d)
        kl = max(d.values())
        if miller_madow:
            m = len(values)
            excess = sum((joint[:, c] > 0).sum() - 1 for c in d)
            entropy += (m - 1) / (2 * n * LN2)
            mi = max(mi + (m - 1 - excess) / (2 * n * LN2), 0.0)
        out["entropy"].append(entropy)
        out["mutual_information"].append(mi)
        out["kl_selectivity"].append(kl)
    return {q: np.array(v) for q, v in out.items()}


def equal_mass_by_hand(t: np.ndarray, n_bins: int) -> np.ndarray:
    """Per column: the number of numpy quantile edges j / B (j = 1..B-1) strictly below each value."""
    edges = np.quantile(t, np.arange(1, n_bins) / n_bins, axis=0)  # [B-1, n]
    return (edges[None, :, :] < t[:, None, :]).sum(1)


def equal_width_by_hand(t: np.ndarray, n_bins: int) -> np.ndarray:
    lo, hi = t.min(0), t.max(0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return np.clip(np.floor((t - lo) / span * n_bins), 0, n_bins - 1).astype(int)


# ------------------------------------------------------------------------------------------ the labels


def test_quantization_labels():
    assert quantization_label("binary", 2) == "binary"
    assert quantization_label("equal_width", 8) == "width 8"
    assert quantization_label("equal_mass", 32) == "mass 32"
    assert QUANTIZATION_LABELS == (
        "binary", "width 2", "width 4", "width 8", "width 16", "width 32",
        "mass 2", "mass 4", "mass 8", "mass 16", "mass 32",
    )  # fmt: skip
    assert len(QUANTIZATION_LABELS) == len(set(QUANTIZATION_LABELS)) == len(QUANTIZATIONS) == 11
    assert QUANTIZATIONS[0] == ("binary", 2)
    assert INFORMATION_QUANTITIES == ("entropy", "mutual_information", "kl_selectivity")


# ---------------------------------------------------------------------------------- layer_information


def fake_outputs(seed: int = 0, n: int = 400, widths=(7, 5), n_classes: int = 4):
    """ReLU-like float64 outputs (many exact zeros) that depend on the label, and the labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    outputs = []
    for width in widths:
        shift = rng.normal(0, 1.5, (n_classes, width))
        outputs.append(torch.as_tensor(np.maximum(rng.normal(0, 1, (n, width)) + shift[y], 0.0)))
    return outputs, torch.as_tensor(y)


@pytest.mark.parametrize(
    ("method", "n_bins"), [("binary", 2), ("equal_mass", 4), ("equal_width", 8), ("equal_mass", 8)]
)
def test_layer_information_equals_the_measures_of_each_layer_by_hand(method, n_bins):
    outputs, y = fake_outputs()
    result = layer_information(outputs, y, 4, "relu", method, n_bins)
    assert list(result) == list(INFORMATION_QUANTITIES)
    by_hand = {
        "binary": lambda t: (t > 0).astype(int),
        "equal_mass": lambda t: equal_mass_by_hand(t, n_bins),
        "equal_width": lambda t: equal_width_by_hand(t, n_bins),
    }[method]
    for layer, t in enumerate(outputs):
        codes = by_hand(t.numpy())
        # the bins are used (equal mass: the many zeros share bin 0, so some bins may stay empty)
        assert len(np.unique(codes)) == 2 if method == "binary" else len(np.unique(codes)) >= 4
        np.testing.assert_array_equal(quantize(t, method, "relu", n_bins)[0].numpy(), codes)
        expected = information_by_hand(codes, y.numpy(), 4)
        module_codes, n_values = quantize(t, method, "relu", n_bins)
        module = information_measures(module_codes, y, n_values, 4)
        for q in INFORMATION_QUANTITIES:
            assert len(result[q]) == len(outputs)
            assert result[q][layer].shape == (t.shape[1],)
            np.testing.assert_allclose(result[q][layer], expected[q], rtol=0, atol=1e-12)
            np.testing.assert_array_equal(result[q][layer], getattr(module, q).numpy())
        assert expected["mutual_information"].max() > 0.05  # the neurons carry information about y


def test_layer_information_miller_madow_changes_h_and_mi_not_kl():
    outputs, y = fake_outputs(seed=3, n=120)
    for method, n_bins in (("binary", 2), ("equal_mass", 8)):
        plug = layer_information(outputs, y, 4, "relu", method, n_bins)
        mm = layer_information(outputs, y, 4, "relu", method, n_bins, bias_correction="miller_madow")
        for layer, t in enumerate(outputs):
            codes = quantize(t, method, "relu", n_bins)[0].numpy()
            expected = information_by_hand(codes, y.numpy(), 4, miller_madow=True)
            for q in INFORMATION_QUANTITIES:
                np.testing.assert_allclose(mm[q][layer], expected[q], rtol=0, atol=1e-12)
            assert (mm["entropy"][layer] > plug["entropy"][layer]).all()  # every neuron has >= 2 values
            assert (mm["mutual_information"][layer] != plug["mutual_information"][layer]).any()
            np.testing.assert_array_equal(mm["kl_selectivity"][layer], plug["kl_selectivity"][layer])


# ---------------------------------------------------------------------------------- ranking_agreement

MEASURE_COLUMNS = ["seed", "layer", "neuron", "quantization", "quantity", "value"]


def hand_measures() -> pd.DataFrame:
    """Two seeds, three layers (6, 5 and 4 neurons), four quantisations, two quantities, rows shuffled.

    Layer 3 under "mass 4" is constant (no ranking); layer 2's binary MI is constant (no reference)."""
    rng = np.random.default_rng(7)
    rows = []
    for seed in (0, 1):
        for layer, width in ((1, 6), (2, 5), (3, 4)):
            for quantity in ("entropy", "mutual_information"):
                base = rng.normal(size=width)
                for label in ("binary", "width 4", "mass 4", "mass 8"):
                    if label == "binary":
                        values = base
                    else:  # a monotone transform plus noise: Spearman differs from Pearson
                        values = np.exp(3 * base) + rng.normal(0, 2, width)
                    if layer == 3 and label == "mass 4":
                        values = np.full(width, 0.25)
                    if layer == 2 and quantity == "mutual_information" and label == "binary":
                        values = np.zeros(width)
                    rows += [(seed, layer, i, label, quantity, float(v)) for i, v in enumerate(values)]
    table = pd.DataFrame(rows, columns=MEASURE_COLUMNS)
    return table.sample(frac=1.0, random_state=3).reset_index(drop=True)


def test_ranking_agreement_is_spearman_with_the_binary_values_of_the_same_neurons():
    measures = hand_measures()
    agreement = ranking_agreement(measures)
    assert list(agreement.columns) == ["seed", "layer", "quantization", "quantity", "rho"]
    keys = list(zip(agreement.seed, agreement.layer, agreement.quantization, agreement.quantity, strict=True))
    assert len(keys) == len(set(keys)) == 2 * 3 * 4 * 2
    nan, ones, checked, misaligned = 0, 0, 0, 0
    for r in agreement.itertuples():
        g = measures[
            (measures.seed == r.seed) & (measures.layer == r.layer) & (measures.quantity == r.quantity)
        ]
        values = g[g.quantization == r.quantization].sort_values("neuron").value.to_numpy()
        binary = g[g.quantization == "binary"].sort_values("neuron").value.to_numpy()
        if np.ptp(values) == 0 or np.ptp(binary) == 0:
            assert np.isnan(r.rho), r
            nan += 1
            continue
        expected = scipy.stats.spearmanr(values, binary).statistic
        assert r.rho == pytest.approx(expected, abs=1e-12), r
        if r.quantization == "binary":
            assert r.rho == pytest.approx(1.0, abs=1e-12)
            ones += 1
        else:
            checked += 1
            # the rows are shuffled: pairing the values in row order gives another correlation
            in_row_order = scipy.stats.spearmanr(
                g[g.quantization == r.quantization].value.to_numpy(), g[g.quantization == "binary"].value
            ).statistic
            misaligned += abs(in_row_order - expected) > 0.1
    # layer 3 "mass 4" (2 seeds x 2 quantities) and layer 2 MI (2 seeds x 4 quantisations)
    assert nan == 4 + 8
    assert ones == 2 * 3 * 2 - 2
    assert checked > 20
    assert misaligned > checked / 2


# ------------------------------------------------------------------------------ the studies end to end

WIDTHS, SEEDS, CONFIGS, SETTINGS = TINY_WIDTHS, TINY_SEEDS, TINY_CONFIGS, TINY_SETTINGS
N_HIDDEN = sum(WIDTHS)
N_VAL = SETTINGS.val_limit
SCOPES = ["network", "layer 1", "layer 2", "layer 3"]
STUDY_SIZES = (50, 120, 300, 1000)  # 1000 > the 300 validation samples: left out
STUDY_BOOT = 6


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("estimators-cache")


@pytest.fixture(scope="module")
def study(cache) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The quantisation study of the tiny chapter, computed into an empty cache."""
    return quantization_study(CONFIGS, SETTINGS, cache=cache, device="cpu", progress=False)


@pytest.fixture(scope="module")
def networks(cache, study) -> dict:
    """Per seed: the trained model (from the cache), its validation outputs, test data, means, analysis."""
    splits = config_splits(CONFIGS[0])
    x_val, y_val = splits.val.x[:N_VAL], splits.val.y[:N_VAL]
    out = {}
    for config in CONFIGS:
        trained = train_or_load(config, splits, cache=cache, device="cpu", progress=False)
        assert trained.from_cache
        with torch.no_grad():
            hidden = trained.model.hidden_outputs(x_val)
        out[config.seed] = {
            "trained": trained,
            "hidden": hidden,
            "y_val": y_val,
            "x": splits.test.x[: SETTINGS.test_limit],
            "y": splits.test.y[: SETTINGS.test_limit],
            "means": [t.mean(0) for t in hidden],
            "analysis": analysis_mod.analyse_network(
                trained, splits, SETTINGS, cache=cache, progress=False, device="cpu"
            ),
        }
    return out


@pytest.fixture(scope="module")
def samples(cache) -> pd.DataFrame:
    return sample_size_study(CONFIGS, SETTINGS, STUDY_SIZES, STUDY_BOOT, cache, "cpu", progress=False)


def reference_curve(network: dict, order: np.ndarray, scope: str) -> np.ndarray:
    layer = None if scope == "network" else int(scope.split()[1])
    return cumulative_curve(
        network["trained"].model, network["x"], network["y"], order,
        scope="network" if layer is None else layer - 1, mode="mean", means=network["means"],
        engine="reference", dtype=torch.float64, device="cpu",
    )  # fmt: skip


def test_quantization_measures_hold_every_quantization_quantity_and_neuron(study, networks):
    measures, _ = study
    assert list(measures.columns) == MEASURE_COLUMNS
    assert len(measures) == len(SEEDS) * N_HIDDEN * len(QUANTIZATION_LABELS) * len(INFORMATION_QUANTITIES)
    expected = {
        (layer, i, label, q)
        for layer, width in enumerate(WIDTHS, start=1)
        for i in range(width)
        for label in QUANTIZATION_LABELS
        for q in INFORMATION_QUANTITIES
    }
    for seed, network in networks.items():
        rows = measures[measures.seed == seed]
        keys = list(zip(rows.layer, rows.neuron, rows.quantization, rows.quantity, strict=True))
        assert len(keys) == len(set(keys)) == len(expected)
        assert set(keys) == expected
        # every quantisation's values are those of its codes on the limited validation split
        for method, n_bins in QUANTIZATIONS:
            label = quantization_label(method, n_bins)
            for layer, t in enumerate(network["hidden"], start=1):
                codes = quantize(t, method, "relu", n_bins)[0].numpy()
                by_hand = information_by_hand(codes, network["y_val"].numpy(), 10)
                for q in INFORMATION_QUANTITIES:
                    got = rows[(rows.quantization == label) & (rows.layer == layer) & (rows.quantity == q)]
                    got = got.sort_values("neuron").value.to_numpy()
                    np.testing.assert_allclose(got, by_hand[q], rtol=0, atol=1e-12, err_msg=f"{label} {q}")
    assert set(measures.seed) == set(SEEDS)


def test_binary_measures_are_the_analysis_measures(study, networks):
    measures, _ = study
    binary = measures[measures.quantization == "binary"]
    for seed, network in networks.items():
        for q in INFORMATION_QUANTITIES:
            for layer in range(1, len(WIDTHS) + 1):
                got = binary[(binary.seed == seed) & (binary.layer == layer) & (binary.quantity == q)]
                expected = network["analysis"].measures[q][layer - 1]
                np.testing.assert_allclose(got.sort_values("neuron").value, expected, rtol=0, atol=1e-12)
    # and the finer quantisations do give other values (the study is not binary eleven times)
    mass = measures[(measures.quantization == "mass 8") & (measures.quantity == "entropy")]
    assert mass.value.max() > 1.5  # up to 3 bits with 8 bins, at most 1 bit binary


def test_quantization_auc_holds_every_scope_direction_and_the_random_orders(study, networks):
    _, table = study
    assert list(table.columns) == [
        "seed", "scope", "quantization", "direction", "order", "auc", "threshold_fraction",
    ]  # fmt: skip
    expected = {(s, label, d, 0) for s in SCOPES for label in QUANTIZATION_LABELS for d in DIRECTIONS}
    expected |= {(s, "random", "random", r) for s in SCOPES for r in range(SETTINGS.n_random)}
    for seed, network in networks.items():
        rows = table[table.seed == seed]
        keys = list(zip(rows.scope, rows.quantization, rows.direction, rows.order, strict=True))
        assert len(keys) == len(set(keys)) == len(expected)
        assert set(keys) == expected
        for scope in SCOPES:
            random = rows[(rows.scope == scope) & (rows.quantization == "random")].sort_values("order")
            curves = network["analysis"].curves[f"{scope}|random|random"]
            np.testing.assert_allclose(random.auc, auc(curves), rtol=0, atol=1e-12)
    assert set(table.seed) == set(SEEDS)


def stored_curves(cache: Path, network: dict) -> dict[str, np.ndarray]:
    key = SETTINGS.key(network["trained"].key, "cpu")
    with np.load(cache / "analysis" / f"{key}-quantizations-v{QUANTIZATION_VERSION}.npz") as stored:
        return {name: stored[name] for name in stored.files}


@pytest.mark.parametrize("label", ["mass 4", "width 8"])
def test_ordered_curves_equal_the_reference_engine_with_the_quantizations_mi_orders(
    cache, study, networks, label
):
    _, table = study
    method, n_bins = QUANTIZATIONS[QUANTIZATION_LABELS.index(label)]
    n_samples = SETTINGS.test_limit
    discriminating = 0  # cases where the binary MI order gives another curve
    for seed, network in networks.items():
        per_layer = layer_information(network["hidden"], network["y_val"], 10, "relu", method, n_bins)
        binary = layer_information(network["hidden"], network["y_val"], 10, "relu")
        stored = stored_curves(cache, network)
        for scope in SCOPES:
            layer = None if scope == "network" else int(scope.split()[1])

            def pick(per_layer_values: list[np.ndarray], layer: int | None = layer) -> np.ndarray:
                return np.concatenate(per_layer_values) if layer is None else per_layer_values[layer - 1]

            scores = pick(per_layer["mutual_information"])
            for direction in DIRECTIONS:
                order = neuron_orders(scores, direction)[0]
                expected = reference_curve(network, order, scope)
                row = table[(table.seed == seed) & (table.scope == scope) & (table.quantization == label)
                            & (table.direction == direction)]  # fmt: skip
                assert len(row) == 1
                # the fast float32 engine against the float64 reference: a handful of near ties may flip
                assert abs(row.auc.iloc[0] - auc(expected)) <= 5 / n_samples
                curve = stored[f"{scope}|{label}|{direction}"]
                assert curve.shape == expected.shape
                assert np.abs(curve - expected).max() * n_samples <= 5
                assert row.auc.iloc[0] == pytest.approx(float(auc(curve)), abs=1e-12)
                other = neuron_orders(pick(binary["mutual_information"]), direction)[0]
                if not np.array_equal(other, order):
                    discriminating += (
                        abs(auc(reference_curve(network, other, scope)) - auc(expected)) > 5 / n_samples
                    )
    assert discriminating >= 2  # the check tells this quantisation's orders from the binary ones


def no_recomputation(*args, **kwargs):
    raise AssertionError("recomputed although cached")


def test_quantization_curves_are_cached_per_network(cache, study, networks, monkeypatch):
    files = sorted(p.name for p in (cache / "analysis").iterdir() if "quantizations" in p.name)
    keys = [SETTINGS.key(networks[seed]["trained"].key, "cpu") for seed in SEEDS]
    assert files == sorted(f"{key}-quantizations-v{QUANTIZATION_VERSION}.npz" for key in keys)
    names = {f"{s}|{label}|{d}" for s in SCOPES for label in QUANTIZATION_LABELS for d in DIRECTIONS}
    assert set(stored_curves(cache, networks[0])) == names
    monkeypatch.setattr(analysis_mod, "cumulative_curve", no_recomputation)
    monkeypatch.setattr(analysis_mod, "ablation_curves", no_recomputation)
    monkeypatch.setattr("nbsrc.train.train", no_recomputation)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = quantization_study(CONFIGS, SETTINGS, cache=cache, device="cpu", progress=False)
    pd.testing.assert_frame_equal(again[0], study[0], check_exact=True)
    pd.testing.assert_frame_equal(again[1], study[1], check_exact=True)
    # a missing entry is recomputed: the patched engine is called
    (cache / "analysis" / files[0]).rename(cache / "analysis" / "moved.npz")
    try:
        with pytest.raises(AssertionError, match="recomputed"):
            quantization_study(CONFIGS, SETTINGS, cache=cache, device="cpu", progress=False)
    finally:
        (cache / "analysis" / "moved.npz").rename(cache / "analysis" / files[0])


# ---------------------------------------------------------------------------------- sample_size_study

SAMPLE_COLUMNS = ["seed", "layer", "neuron", "n", "estimator", "quantity", "value", "lo", "hi", "full"]


def sample_rows(samples: pd.DataFrame, seed: int, n: int, estimator: str, quantity: str) -> pd.DataFrame:
    rows = samples[(samples.seed == seed) & (samples.n == n) & (samples.estimator == estimator)
                   & (samples.quantity == quantity)]  # fmt: skip
    assert len(rows) == N_HIDDEN
    return rows.sort_values(["layer", "neuron"])


def binary_codes(network: dict) -> np.ndarray:
    return np.concatenate([(t > 0).numpy().astype(int) for t in network["hidden"]], axis=1)


def test_sample_size_study_columns_and_rows(samples):
    assert list(samples.columns) == SAMPLE_COLUMNS
    assert sorted(samples.n.unique()) == [50, 120, 300]  # 1000 > 300 validation samples: left out
    assert set(samples.estimator) == {"plug-in", "Miller-Madow"}
    assert set(samples.quantity) == set(INFORMATION_QUANTITIES)
    assert set(samples.seed) == set(SEEDS)
    assert len(samples) == len(SEEDS) * 3 * 2 * 3 * N_HIDDEN
    layers = np.repeat(np.arange(1, len(WIDTHS) + 1), WIDTHS)
    neurons = np.concatenate([np.arange(w) for w in WIDTHS])
    for seed in SEEDS:
        rows = sample_rows(samples, seed, 120, "Miller-Madow", "entropy")
        np.testing.assert_array_equal(rows.layer, layers)
        np.testing.assert_array_equal(rows.neuron, neurons)
    assert (samples.lo <= samples.hi).all()
    assert samples[["value", "lo", "hi", "full"]].notna().all().all()


def test_sample_size_full_is_the_plug_in_value_on_the_whole_limited_split(samples, networks):
    for seed, network in networks.items():
        full = information_by_hand(binary_codes(network), network["y_val"].numpy(), 10)
        for estimator in ("plug-in", "Miller-Madow"):
            for q in INFORMATION_QUANTITIES:
                for n in (50, 120, 300):
                    rows = sample_rows(samples, seed, n, estimator, q)
                    np.testing.assert_allclose(rows.full, full[q], rtol=0, atol=1e-12)
                # n = the whole split: a permutation of it, the same counts
                whole = sample_rows(samples, seed, N_VAL, "plug-in", q)
                np.testing.assert_array_equal(whole.value.to_numpy(), whole.full.to_numpy())
                analysis = np.concatenate(network["analysis"].measures[q])  # the settings' binary code
                np.testing.assert_allclose(whole.full, analysis, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("seed", "n"), [(1, 120), (0, 50)])
def test_sample_size_values_and_intervals_by_hand(samples, networks, seed, n):
    network = networks[seed]
    codes, labels = binary_codes(network), network["y_val"].numpy()
    rng = np.random.default_rng(1000 * seed + n)
    subset = rng.choice(N_VAL, n, replace=False)
    resamples = [subset[rng.integers(0, n, n)] for _ in range(STUDY_BOOT)]
    for estimator, mm in (("plug-in", False), ("Miller-Madow", True)):
        point = information_by_hand(codes[subset], labels[subset], 10, miller_madow=mm)
        boot = [information_by_hand(codes[r], labels[r], 10, miller_madow=mm) for r in resamples]
        for q in INFORMATION_QUANTITIES:
            rows = sample_rows(samples, seed, n, estimator, q)
            np.testing.assert_allclose(rows.value, point[q], rtol=0, atol=1e-12, err_msg=f"{estimator} {q}")
            draws = np.stack([b[q] for b in boot])
            lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
            np.testing.assert_allclose(rows.lo, lo, rtol=0, atol=1e-12)
            np.testing.assert_allclose(rows.hi, hi, rtol=0, atol=1e-12)
    # the subset is not the first n samples: that would give other values
    first = information_by_hand(codes[:n], labels[:n], 10)["entropy"]
    assert np.abs(first - sample_rows(samples, seed, n, "plug-in", "entropy").value.to_numpy()).max() > 1e-3


def test_sample_size_miller_madow_against_plug_in(samples):
    def pair(q):
        keys = ["seed", "layer", "neuron", "n"]
        plug = samples[(samples.estimator == "plug-in") & (samples.quantity == q)].set_index(keys).value
        mm = samples[(samples.estimator == "Miller-Madow") & (samples.quantity == q)].set_index(keys).value
        return plug, mm.reindex(plug.index)

    plug, mm = pair("entropy")
    assert (mm >= plug).all() and (mm > plug).any()  # + (m - 1) / (2 n ln 2) >= 0
    plug, mm = pair("kl_selectivity")
    np.testing.assert_array_equal(mm.to_numpy(), plug.to_numpy())  # KL sel. stays plug-in
    plug, mm = pair("mutual_information")
    assert (mm != plug).any()
    # the MI correction (m - 1 - sum_y (m_y - 1)) / (2 n ln 2) is negative when every class sees every
    # value of a binary neuron (1 - 10 < 0): Miller-Madow MI is then below the plug-in MI, not above it
    assert (mm < plug).any()
    assert (mm >= 0).all()


def test_sample_size_study_uses_the_settings_quantizer(cache, samples, networks):
    settings = AnalysisSettings(quantizer="equal_mass", n_bins=4, mode="mean", n_random=3, val_limit=N_VAL,
                                test_limit=400)  # fmt: skip
    table = sample_size_study(CONFIGS[:1], settings, (N_VAL,), 2, cache, "cpu", progress=False)
    network = networks[CONFIGS[0].seed]
    expected = layer_information(network["hidden"], network["y_val"], 10, "relu", "equal_mass", 4)
    for q in INFORMATION_QUANTITIES:
        rows = sample_rows(table, CONFIGS[0].seed, N_VAL, "plug-in", q)
        np.testing.assert_allclose(rows.full, np.concatenate(expected[q]), rtol=0, atol=1e-12)
    assert table.full.max() > 1.01  # equal mass, 4 bins: entropies above the binary code's 1 bit


@pytest.mark.parametrize("sizes", [[], [5], [500.0], "500", None, [500, 9], (True,)])
def test_bad_sizes_raise_naming_sizes(sizes):
    with pytest.raises(ValueError, match=r"invalid sizes="):
        check_sizes(sizes)
    with pytest.raises(ValueError, match=r"invalid sizes="):
        sample_size_study(CONFIGS, SETTINGS, sizes, 5, progress=False)


def test_sizes_that_all_exceed_the_validation_samples_raise_naming_sizes(networks, cache):
    with pytest.raises(ValueError, match=rf"invalid sizes=.*fit the {N_VAL} validation samples"):
        sample_size_study(CONFIGS[:1], SETTINGS, (N_VAL + 1,), 2, cache, "cpu", progress=False)


@pytest.mark.parametrize("n_boot", [1, 0, 2.5, "5", None, True])
def test_bad_n_boot_raises_naming_n_boot(n_boot):
    with pytest.raises(ValueError, match=r"invalid n_boot="):
        sample_size_study(CONFIGS, SETTINGS, (100,), n_boot, progress=False)


def test_check_sizes_accepts_lists_and_tuples_of_integers_from_10():
    for sizes in ([10], (500, 1000), list(SIZES)):
        check_sizes(sizes)


# ------------------------------------------------------------------------- sample_size_summary, stable_size


def hand_samples() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    rows = []
    for seed in (0, 1):
        for layer, width in ((1, 6), (2, 4)):
            for q in ("entropy", "mutual_information"):
                full = rng.uniform(0, 1, width)
                for n in (100, 1000):
                    for estimator in ("plug-in", "Miller-Madow"):
                        value = full + rng.normal(0.05, 0.2, width)
                        if (seed, layer, n) == (1, 2, 100) and q == "entropy":
                            value = np.full(width, 0.5)  # constant: no ranking
                        lo = value - rng.uniform(0, 0.1, width)
                        hi = value + rng.uniform(0, 0.3, width)
                        rows += [
                            (seed, layer, i, n, estimator, q, value[i], lo[i], hi[i], full[i])
                            for i in range(width)
                        ]
    table = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    return table.sample(frac=1.0, random_state=5).reset_index(drop=True)


def test_sample_size_summary_by_hand():
    table = hand_samples()
    summary = sample_size_summary(table)
    assert list(summary.columns) == ["seed", "layer", "n", "estimator", "quantity", "rho", "width", "bias"]
    assert len(summary) == 2 * 2 * 2 * 2 * 2
    for r in summary.itertuples():
        g = table[(table.seed == r.seed) & (table.layer == r.layer) & (table.n == r.n)
                  & (table.estimator == r.estimator) & (table.quantity == r.quantity)]  # fmt: skip
        g = g.sort_values("neuron")
        if np.ptp(g.value) == 0:
            assert np.isnan(r.rho)
        else:
            assert r.rho == pytest.approx(scipy.stats.spearmanr(g.value, g.full).statistic, abs=1e-12)
        assert r.width == pytest.approx(float(np.median(g.hi - g.lo)), abs=1e-12)
        assert r.bias == pytest.approx(float(np.mean(g.value - g.full)), abs=1e-12)
    assert summary.rho.isna().sum() == 2  # the constant group, under both estimators


SUMMARY_COLUMNS = ["seed", "layer", "n", "estimator", "quantity", "rho", "width", "bias"]


def summary_from(rhos: dict) -> pd.DataFrame:
    """``{(layer, estimator, quantity): {n: (rho seed 0, rho seed 1)}}`` as a summary table."""
    rows = [
        (seed, layer, n, estimator, q, rho[seed], 0.1, 0.0)
        for (layer, estimator, q), per_n in rhos.items()
        for n, rho in per_n.items()
        for seed in (0, 1)
    ]
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS).sample(frac=1.0, random_state=2).reset_index(drop=True)


STABLE_CASES = {
    # (layer, estimator, quantity): ({n: rho per seed}, the smallest n with seed-mean rho >= 0.9)
    (1, "plug-in", "entropy"): ({500: (0.8, 0.9), 1000: (0.95, 0.85), 2000: (0.95, 0.95)}, 2000.0),
    (1, "plug-in", "mutual_information"): ({500: (0.9, 0.9), 1000: (0.8, 0.8), 2000: (0.95, 1.0)}, 500.0),
    (2, "plug-in", "entropy"): ({500: (0.5, 0.6), 1000: (0.7, 0.8), 2000: (0.88, 0.9)}, np.nan),
    (2, "Miller-Madow", "entropy"): ({500: (0.2, 1.0), 1000: (1.0, 0.82), 2000: (0.9, 0.9)}, 1000.0),
    (2, "plug-in", "mutual_information"): ({500: (0.1, 0.2), 2000: (0.99, 0.99)}, 2000.0),
}


def test_stable_size_is_the_smallest_n_whose_seed_mean_rho_reaches_the_threshold():
    summary = summary_from({k: v[0] for k, v in STABLE_CASES.items()})
    stable = stable_size(summary)
    assert list(stable.columns) == ["scope", "layer", "estimator", "quantity", "n"]
    assert len(stable) == len(STABLE_CASES)
    for r in stable.itertuples():
        expected = STABLE_CASES[(r.layer, r.estimator, r.quantity)][1]
        assert r.scope == f"layer {r.layer}"
        np.testing.assert_equal(r.n, expected)
    # another threshold
    lower = stable_size(summary, threshold=0.55).set_index(["layer", "estimator", "quantity"]).n
    assert lower[(2, "plug-in", "entropy")] == 500.0  # mean 0.55
    assert lower[(1, "plug-in", "entropy")] == 500.0
    assert lower[(2, "plug-in", "mutual_information")] == 2000.0


# ---------------------------------------------------------------------------------------- estimator_setup


def test_estimator_setup_is_the_dataset_setup_plus_sizes_and_n_boot():
    configs, settings, sizes, n_boot = estimator_setup()
    assert (configs, settings) == dataset_setup()
    assert sizes == SIZES and n_boot == N_BOOT
    params = {"dataset": "fashion_mnist", "seeds": [3, 4], "val_limit": 300, "quantizer": "equal_mass",
              "n_bins": 4, "ablation_mode": "mean"}  # fmt: skip
    configs, settings, sizes, n_boot = estimator_setup(**params, sizes=[100, 200], n_boot=7)
    assert (configs, settings) == dataset_setup(**params)
    assert [c.seed for c in configs] == [3, 4] and configs[0].dataset == "fashion_mnist"
    assert settings.quantizer == "equal_mass" and settings.val_limit == 300
    assert sizes == (100, 200) and n_boot == 7


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"n_boots": 5}, "parameter"),
        ({"size": [100]}, "parameter"),
        ({"sizes": [5]}, "sizes"),
        ({"sizes": []}, "sizes"),
        ({"sizes": 500}, "sizes"),
        ({"n_boot": 1}, "n_boot"),
        ({"n_boot": 2.0}, "n_boot"),
        ({"quantizer": "bogus"}, "quantizer"),
    ],
)
def test_estimator_setup_rejects_bad_parameters(params, name):
    with pytest.raises(ValueError, match=rf"invalid {name}=") as info:
        estimator_setup(**params)
    if name == "parameter":
        assert repr(next(iter(params))) in str(info.value)


# ---------------------------------------------------------------------------------------- stable_size_table


def parse_markdown(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [line for line in text.strip().splitlines() if not set(line) <= set("|-: ")]
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    return cells[0], cells[1:]


def test_stable_size_table_rows_per_quantity_and_estimator_columns_per_layer():
    rows = []
    for layer in (2, 10, 1):
        for q in ("mutual_information", "entropy", "kl_selectivity"):
            for estimator in ("Miller-Madow", "plug-in"):
                n = 500.0 * layer * (2 if estimator == "plug-in" else 1)
                if q == "kl_selectivity" and layer == 10:
                    n = np.nan
                rows.append((f"layer {layer}", layer, estimator, q, n))
    stable = pd.DataFrame(rows, columns=["scope", "layer", "estimator", "quantity", "n"])
    header, body = parse_markdown(stable_size_table(stable, 10000))
    assert header == ["quantity, estimator", "layer 1", "layer 2", "layer 10"]
    assert [r[0] for r in body] == [
        "H, plug-in", "H, Miller-Madow", "MI, plug-in", "MI, Miller-Madow", "KL sel., plug-in",
        "KL sel., Miller-Madow",
    ]  # fmt: skip
    by_row = {r[0]: r[1:] for r in body}
    assert by_row["H, plug-in"] == ["1,000", "2,000", "10,000"]
    assert by_row["MI, Miller-Madow"] == ["500", "1,000", "5,000"]
    assert by_row["KL sel., plug-in"] == ["1,000", "2,000", "> 10,000"]
    assert by_row["KL sel., Miller-Madow"] == ["500", "1,000", "> 10,000"]


# ---------------------------------------------------------------------------------------------- figures

FIG_LABELS = ("binary", "width 4", "mass 4", "mass 8")


def hand_agreement() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    rows = [
        (seed, layer, label, q, 1.0 if label == "binary" else float(rng.uniform(0.2, 1)))
        for seed in (0, 1, 2)
        for layer in (1, 2, 3)
        for label in FIG_LABELS
        for q in INFORMATION_QUANTITIES
    ]
    return pd.DataFrame(rows, columns=["seed", "layer", "quantization", "quantity", "rho"])


def hand_auc(seeds=(0, 1), scopes=("layer 1", "network", "layer 2"), labels=FIG_LABELS) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    rows = []
    for seed in seeds:
        for scope in scopes:
            for label in labels:
                for d in DIRECTIONS:
                    rows.append((seed, scope, label, d, 0, float(rng.uniform(0.3, 0.9)), 0.5))
            for order, value in enumerate(rng.uniform(0.55, 0.65, 20)):
                rows.append((seed, scope, "random", "random", order, float(value), 0.5))
    return pd.DataFrame(
        rows, columns=["seed", "scope", "quantization", "direction", "order", "auc", "threshold_fraction"]
    )


def hand_summary() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    rows = [
        (seed, layer, n, estimator, q, float(rng.uniform(0.3, 1)), float(rng.uniform(0, 0.2)),
         float(rng.normal(0, 0.05)))
        for seed in (0, 1)
        for layer in (1, 2)
        for n in (100, 500, 2000)
        for estimator in ("plug-in", "Miller-Madow")
        for q in INFORMATION_QUANTITIES
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def tight_width_in(fig, dpi: int = 100) -> float:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    buf.seek(0)
    with Image.open(buf) as image:
        return image.size[0] / dpi


def assert_fits(fig) -> None:
    assert fig.get_size_inches()[0] <= P.FIGURE_WIDTH
    assert tight_width_in(fig) <= P.FIGURE_WIDTH + 0.02
    assert P.min_font_px(fig) >= 9


def panels(fig) -> list:
    return [ax for ax in fig.axes if ax.get_gid() != "legend"]


def errorbar_data(ax, gid: str) -> tuple[np.ndarray, np.ndarray]:
    """The x and y of the data line of the errorbar with ``gid`` (errorbar stores them as objects)."""
    (container,) = [c for c in ax.containers if c.lines[0].get_gid() == gid]
    x, y = container.lines[0].get_data()
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def test_plot_quantization_agreement_draws_the_seed_means():
    table = hand_agreement()
    with matplotlib.rc_context():
        P.set_style()
        fig = P.plot_quantization_agreement(table, FIG_LABELS)
        axes = panels(fig)
        assert [ax.get_title() for ax in axes] == ["H", "MI", "KL sel."]
        for ax, q in zip(axes, INFORMATION_QUANTITIES, strict=True):
            assert ax.get_xlabel() == "quantisation"
            assert "Spearman" in ax.get_ylabel() and "[1]" in ax.get_ylabel()
            assert [t.get_text() for t in ax.get_xticklabels()] == list(FIG_LABELS)
            for layer in (1, 2, 3):
                x, y = errorbar_data(ax, f"{q}/layer {layer}")
                rows = table[(table.quantity == q) & (table.layer == layer)]
                expected = [rows[rows.quantization == label].rho.mean() for label in FIG_LABELS]
                np.testing.assert_array_equal(x, range(len(FIG_LABELS)))
                np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
        assert_fits(fig)


def test_plot_quantization_auc_draws_the_seed_means_and_the_random_band():
    table = hand_auc()
    with matplotlib.rc_context():
        P.set_style()
        fig = P.plot_quantization_auc(table, FIG_LABELS, "mutual_information")
        axes = panels(fig)
        assert [ax.get_title() for ax in axes] == ["network", "layer 1", "layer 2"]
        for ax in axes:
            scope = ax.get_title()
            assert ax.get_xlabel() == "quantisation"
            assert "AUC" in ax.get_ylabel() and "[1]" in ax.get_ylabel()
            rows = table[table.scope == scope]
            for d in DIRECTIONS:
                x, y = errorbar_data(ax, f"{scope}/{d}")
                expected = [rows[(rows.quantization == label) & (rows.direction == d)].auc.mean()
                            for label in FIG_LABELS]  # fmt: skip
                np.testing.assert_array_equal(x, range(len(FIG_LABELS)))
                np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
            random = rows[rows.direction == "random"]
            per_seed = [random[random.seed == s].auc.to_numpy() for s in (0, 1)]
            mean = np.mean([v.mean() for v in per_seed])
            lo = np.mean([np.quantile(v, 0.05) for v in per_seed])
            hi = np.mean([np.quantile(v, 0.95) for v in per_seed])
            flat = [ln for ln in ax.lines if ln.get_gid() is None and len(set(ln.get_ydata())) == 1]
            assert any(ln.get_ydata()[0] == pytest.approx(mean, abs=1e-12) for ln in flat)
            spans = [(p.get_y(), p.get_y() + p.get_height()) for p in ax.patches if hasattr(p, "get_y")]
            assert any(a == pytest.approx(lo, abs=1e-12) and b == pytest.approx(hi, abs=1e-12)
                       for a, b in spans)  # fmt: skip
        assert_fits(fig)


@pytest.mark.parametrize("value", ["rho", "width", "bias"])
def test_plot_sample_size_draws_the_seed_means(value):
    table = hand_summary()
    units = {"rho": "[1]", "width": "[bits]", "bias": "[bits]"}[value]
    with matplotlib.rc_context():
        P.set_style()
        fig = P.plot_sample_size(table, value)
        axes = panels(fig)
        assert [ax.get_title() for ax in axes] == ["H", "MI", "KL sel."]
        for ax, q in zip(axes, INFORMATION_QUANTITIES, strict=True):
            assert ax.get_xlabel() == "validation samples"
            assert ax.get_xscale() == "log"
            assert units in ax.get_ylabel()
            for estimator in ("plug-in", "Miller-Madow"):
                for layer in (1, 2):
                    (line,) = [ln for ln in ax.lines if ln.get_gid() == f"{q}/{estimator}/layer {layer}"]
                    x, y = line.get_data()
                    rows = table[
                        (table.quantity == q) & (table.estimator == estimator) & (table.layer == layer)
                    ]
                    expected = [rows[rows.n == n][value].mean() for n in (100, 500, 2000)]
                    np.testing.assert_array_equal(x, [100, 500, 2000])
                    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
            assert {ln.get_linestyle() for ln in ax.lines if ln.get_gid()} == {"-", "--"}
        assert_fits(fig)
    with pytest.raises(ValueError, match="invalid value="):
        P.plot_sample_size(table, "median")


# ---------------------------------------------------------------------------------------------- the prose


def test_quantization_paragraph_names_the_lowest_agreement_and_the_auc_ranges():
    rows = []
    # seed means per (quantity, layer, quantisation); binary 1 everywhere (not counted)
    means = {
        ("entropy", 1): {"width 4": 0.9, "mass 4": 0.8, "mass 8": 0.7},
        ("entropy", 2): {"width 4": 0.6, "mass 4": 0.95, "mass 8": 0.85},  # lowest H: layer 2, width 4
        ("mutual_information", 1): {"width 4": 0.5, "mass 4": -0.2, "mass 8": 0.4},  # lowest MI: layer 1
        ("mutual_information", 2): {"width 4": 0.3, "mass 4": 0.1, "mass 8": 0.45},
    }
    for (q, layer), per_label in means.items():
        for label, m in {"binary": 1.0, **per_label}.items():
            for seed, delta in ((0, -0.05), (1, 0.05)):
                rows.append((seed, layer, label, q, m + delta))
    agreement = pd.DataFrame(rows, columns=["seed", "layer", "quantization", "quantity", "rho"])
    # the AUC table: random orders 0.50..0.70 (band 0.51-0.69 in both seeds), ordered curves per scope
    random = np.linspace(0.5, 0.7, 21)
    ordered = {
        "network": {"binary": (0.55, 0.45), "width 4": (0.75, 0.40), "mass 4": (0.65, 0.55)},
        "layer 1": {"binary": (0.72, 0.30), "width 4": (0.80, 0.35), "mass 4": (0.71, 0.25)},
    }
    rows = []
    for seed in (0, 1):
        for scope, per_label in ordered.items():
            for label, (asc, desc) in per_label.items():
                rows.append((seed, scope, label, "ascending", 0, asc + (0.01 if seed else -0.01), 0.5))
                rows.append((seed, scope, label, "descending", 0, desc, 0.5))
            rows += [(seed, scope, "random", "random", r, v, 0.5) for r, v in enumerate(random[::-1])]
    table = pd.DataFrame(rows, columns=["seed", "scope", "quantization", "direction", "order", "auc",
                                        "threshold_fraction"])  # fmt: skip
    text = quantization_paragraph(agreement, table, "mutual_information")
    assert "H median +0.82, lowest +0.60 (layer 2, width 4)" in text  # median of 0.9 .8 .7 .6 .95 .85
    assert "MI median +0.35, lowest -0.20 (layer 1, mass 4)" in text  # median of .5 -.2 .4 .3 .1 .45
    assert "KL sel." not in text.split("Ordered by")[0]
    assert "Ordered by MI" in text
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert [line.split(":")[0] for line in lines] == ["- network", "- layer 1"]
    # network: descending 0.40-0.55 (binary 0.45), below 0.51 under 2 of 3 (0.55 is below the random mean
    # 0.60, not below the band); ascending above 0.69 under 1 (0.65 is above the mean only)
    assert "descending AUC 0.400–0.550 (binary 0.450), below the band under 2 of 3 quantisations" in lines[0]
    assert lines[0].endswith("ascending above it under 1")
    assert "descending AUC 0.250–0.350 (binary 0.300), below the band under 3 of 3" in lines[1]
    assert lines[1].endswith("ascending above it under 3")


def stable_table(cases: dict) -> pd.DataFrame:
    rows = [(f"layer {layer}", layer, e, q, n) for (layer, e, q), n in cases.items()]
    return pd.DataFrame(rows, columns=["scope", "layer", "estimator", "quantity", "n"])


def paragraph_summary() -> pd.DataFrame:
    rows = []
    mi = {  # at n = 500: (bias, width) per seed and layer
        "plug-in": [(0.01, 0.03), (0.02, 0.05), (0.015, 0.04), (0.005, 0.04)],
        "Miller-Madow": [(-0.001, 0.07), (0.001, 0.07), (0.002, 0.07), (0.002, 0.07)],
    }
    for estimator, values in mi.items():
        for (seed, layer), (bias, width) in zip([(0, 1), (0, 2), (1, 1), (1, 2)], values, strict=True):
            rows.append((seed, layer, 500, estimator, "mutual_information", 0.9, width, bias))
            rows.append((seed, layer, 500, estimator, "entropy", 0.9, 1.0, 0.5))  # not MI: not read
            # not the smallest n: not read
            rows.append((seed, layer, 5000, estimator, "mutual_information", 0.99, 0.001, 0.3))
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def test_sample_size_paragraph_by_hand():
    stable = stable_table({
        (1, "plug-in", "entropy"): 500.0, (2, "plug-in", "entropy"): 2000.0,
        (1, "Miller-Madow", "entropy"): 10000.0, (2, "Miller-Madow", "entropy"): 10000.0,  # not read
        (1, "plug-in", "mutual_information"): np.nan, (2, "plug-in", "mutual_information"): np.nan,
        (1, "Miller-Madow", "mutual_information"): 500.0, (2, "Miller-Madow", "mutual_information"): 500.0,
    })  # fmt: skip
    text = sample_size_paragraph(paragraph_summary(), stable)
    assert "H from 2,000 samples" in text  # the largest over layers: every layer agrees from there
    assert "MI not within the sizes studied" in text
    assert "With 500 samples" in text
    assert "by +0.0125 bits on average (Miller-Madow: +0.0010 bits)" in text
    assert "0.0400 bits wide" in text


def test_sample_size_paragraph_a_layer_that_never_agrees_is_not_within_the_sizes():
    """One layer reaches rho >= 0.9 from 1,000 samples, the other never: the rankings do not agree in every
    layer within the sizes studied."""
    stable = stable_table({
        (1, "plug-in", "entropy"): 1000.0, (2, "plug-in", "entropy"): np.nan,
        (1, "plug-in", "mutual_information"): 500.0, (2, "plug-in", "mutual_information"): 500.0,
    })  # fmt: skip
    text = sample_size_paragraph(paragraph_summary(), stable)
    assert "MI from 500 samples" in text
    assert "H not within the sizes studied" in text, text
