"""Figure helpers: structure, labels, colours and the numbers behind the lines."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from nbsrc import plotting as P  # noqa: E402

SEEDS = (0, 1)
LAYER_SIZES = {1: 5, 2: 4}
R = 5
SCOPES = {"network": sum(LAYER_SIZES.values()), **{f"layer {i}": n for i, n in LAYER_SIZES.items()}}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def histories() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    epochs = np.arange(1, 6)
    rows = [
        {"seed": s, "epoch": e, "train_loss": 2.0 / e + rng.uniform(0, 0.1), "val_accuracy": 0.9 - 0.3 / e}
        for s, e in itertools.product(SEEDS, epochs)
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def measures() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = [
        {"seed": s, "layer": layer, "neuron": i, "quantity": q, "value": rng.uniform(0, layer)}
        for s, q, (layer, n) in itertools.product(SEEDS, P.QUANTITIES, LAYER_SIZES.items())
        for i in range(n)
    ]
    return pd.DataFrame(rows)


def _curve(seed, scope, n, quantity, direction, order, rng) -> pd.DataFrame:
    k = np.arange(n + 1)
    acc = np.clip(0.95 - 0.8 * k / n + rng.normal(0, 0.05, n + 1), 0, 1)
    acc[0] = 0.95
    return pd.DataFrame(
        {
            "seed": seed,
            "scope": scope,
            "quantity": quantity,
            "direction": direction,
            "order": order,
            "k": k,
            "fraction": k / n,
            "accuracy": acc,
        }
    )


@pytest.fixture(scope="module")
def curves() -> pd.DataFrame:
    rng = np.random.default_rng(2)
    parts = []
    for seed, (scope, n) in itertools.product(SEEDS, SCOPES.items()):
        for q, d in itertools.product(P.QUANTITIES, P.DIRECTION_STYLE):
            parts.append(_curve(seed, scope, n, q, d, 0, rng))
        for order in range(R):
            parts.append(_curve(seed, scope, n, "random", "random", order, rng))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def auc(curves) -> pd.DataFrame:
    keys = ["seed", "scope", "quantity", "direction", "order"]
    out = (
        curves.groupby(keys)[["fraction", "accuracy"]]
        .apply(lambda g: np.trapezoid(g["accuracy"], g["fraction"]))
        .rename("auc")
        .reset_index()
    )
    return out.assign(threshold_fraction=0.5)


def _assert_labelled(fig: Figure, n_axes: int) -> None:
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    for ax in fig.axes:
        assert ax.get_xlabel().strip(), ax
        assert ax.get_ylabel().strip(), ax


def _line(ax, label):
    found = [ln for ln in ax.lines if ln.get_label() == label]
    assert len(found) == 1, [ln.get_label() for ln in ax.lines]
    return found[0]


def test_constants_consistent():
    assert set(P.QUANTITIES) | {"random"} == set(P.COLORS) == set(P.LABELS) == set(P.SHORT)
    rgba = [to_rgba(c) for c in P.COLORS.values()]
    assert len(set(rgba)) == len(rgba)
    r, g, b, _ = to_rgba(P.COLORS["random"])
    assert r == g == b  # grey
    assert P.DIRECTION_STYLE == {"ascending": "-", "descending": "--"}


def test_set_style_runs():
    with matplotlib.rc_context():
        P.set_style()
        assert not matplotlib.rcParams["axes.spines.top"]


def test_plot_training(histories):
    fig = P.plot_training(histories)
    _assert_labelled(fig, 2)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    assert len(loss_ax.lines) == len(SEEDS) == len(acc_ax.lines)
    seed0 = histories[histories["seed"] == 0].sort_values("epoch")
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), seed0["val_accuracy"] * 100)
    assert "%" in acc_ax.get_ylabel()


@pytest.mark.parametrize("kind", ["violin", "box"])
def test_plot_measure_distributions(measures, kind):
    fig = P.plot_measure_distributions(measures, kind=kind)
    _assert_labelled(fig, 4)
    for ax, q in zip(fig.axes, P.QUANTITIES[:4], strict=True):
        assert ax.get_xlabel() == "hidden layer"
        assert ax.get_ylabel() == P.LABELS[q]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]


def test_random_band_matches_numpy_quantiles(curves):
    band = P.random_band(curves, "layer 1")
    rnd = curves[(curves["scope"] == "layer 1") & (curves["direction"] == "random")]
    table = rnd.pivot_table(index="fraction", columns=["seed", "order"], values="accuracy")
    assert table.shape == (LAYER_SIZES[1] + 1, len(SEEDS) * R)
    values = table.to_numpy()
    np.testing.assert_allclose(band.index, table.index)
    np.testing.assert_allclose(band["lo"], np.quantile(values, 0.05, axis=1))
    np.testing.assert_allclose(band["hi"], np.quantile(values, 0.95, axis=1))
    np.testing.assert_allclose(band["mean"], values.mean(axis=1))
    assert (band["lo"] <= band["mean"]).all() and (band["mean"] <= band["hi"]).all()


def test_random_band_without_random_curves_raises(curves):
    with pytest.raises(ValueError, match="no random curves"):
        P.random_band(curves[curves["direction"] != "random"], "network")


def test_plot_cumulative_lines(curves):
    fig = P.plot_cumulative(curves, scope="network")
    _assert_labelled(fig, len(P.QUANTITIES))
    assert fig.legends
    legend_text = {t.get_text() for t in fig.legends[0].get_texts()}
    assert any(t.startswith("ascending") for t in legend_text)
    assert any(t.startswith("descending") for t in legend_text)
    assert "random 5–95 % band" in legend_text
    for ax, q in zip(fig.axes, P.QUANTITIES, strict=True):
        assert ax.get_title() == P.SHORT[q]
        asc, desc = _line(ax, "ascending"), _line(ax, "descending")
        assert to_rgba(asc.get_color()) == to_rgba(P.COLORS[q]) == to_rgba(desc.get_color())
        assert asc.get_linestyle() == "-" and desc.get_linestyle() == "--"
        assert to_rgba(_line(ax, "random mean").get_color()) == to_rgba(P.COLORS["random"])
        sel = curves[
            (curves["scope"] == "network") & (curves["quantity"] == q) & (curves["direction"] == "ascending")
        ]
        expected = sel.groupby("fraction")["accuracy"].mean()
        np.testing.assert_allclose(asc.get_xdata(), expected.index.to_numpy() * 100)
        np.testing.assert_allclose(asc.get_ydata(), expected.to_numpy() * 100)
    # the random mean line is the band's mean, in percent
    band = P.random_band(curves, "network")
    np.testing.assert_allclose(_line(fig.axes[0], "random mean").get_ydata(), band["mean"] * 100)


def test_plot_cumulative_into_given_axes(curves):
    fig, axes = plt.subplots(1, 2)
    out = P.plot_cumulative(curves, scope="layer 2", quantities=["csi", "entropy"], axes=axes)
    assert out is fig
    _assert_labelled(fig, 2)
    assert to_rgba(_line(axes[0], "descending").get_color()) == to_rgba(P.COLORS["csi"])
    assert axes[0].get_legend() is not None
    with pytest.raises(ValueError, match="one per quantity"):
        P.plot_cumulative(curves, scope="layer 2", quantities=["csi"], axes=axes)


def test_plot_cumulative_rejects_bad_input(curves):
    with pytest.raises(ValueError, match="quantity"):
        P.plot_cumulative(curves, quantities=["bogus"])
    with pytest.raises(ValueError, match="scope"):
        P.plot_cumulative(curves, scope="layer 9")


def test_plot_layer_grid(curves):
    qs = P.QUANTITIES[:3]
    fig = P.plot_layer_grid(curves, quantities=qs)
    _assert_labelled(fig, len(LAYER_SIZES) * len(qs))
    rows = np.array(fig.axes).reshape(len(LAYER_SIZES), len(qs))
    for i, row in enumerate(rows, start=1):
        assert row[0].get_ylabel().startswith(f"layer {i}")
        for ax, q in zip(row, qs, strict=True):
            assert to_rgba(_line(ax, "ascending").get_color()) == to_rgba(P.COLORS[q])
    # the second row draws layer 2's curves
    sel = curves[
        (curves["scope"] == "layer 2") & (curves["quantity"] == qs[1]) & (curves["direction"] == "descending")
    ]
    np.testing.assert_allclose(
        _line(rows[1, 1], "descending").get_ydata(), sel.groupby("fraction")["accuracy"].mean() * 100
    )


def test_plot_auc_summary(auc):
    fig = P.plot_auc_summary(auc)
    _assert_labelled(fig, len(SCOPES))
    assert [ax.get_title() for ax in fig.axes] == ["network", "layer 1", "layer 2"]
    ax = fig.axes[0]
    assert ax.get_ylabel() == "AUC of accuracy vs fraction ablated"
    pts = next(c for c in ax.collections if c.get_gid() == "network/ascending")
    sel = auc[(auc["scope"] == "network") & (auc["direction"] == "ascending")]
    expected = sel.groupby("quantity")["auc"].mean().reindex(list(P.QUANTITIES))
    np.testing.assert_allclose(pts.get_offsets()[:, 1], expected.to_numpy())
    np.testing.assert_allclose(pts.get_facecolors(), [to_rgba(P.COLORS[q]) for q in P.QUANTITIES])
    # the random band: mean over seeds of per-seed 5 / 95 % quantiles
    rnd = auc[(auc["scope"] == "network") & (auc["direction"] == "random")]
    lo = np.mean([np.quantile(g["auc"], 0.05) for _, g in rnd.groupby("seed")])
    hi = np.mean([np.quantile(g["auc"], 0.95) for _, g in rnd.groupby("seed")])
    band = next(p for p in ax.patches if p.get_gid() == "network/random")
    np.testing.assert_allclose([band.get_y(), band.get_y() + band.get_height()], [lo, hi])


def test_plot_auc_summary_scopes(auc):
    fig = P.plot_auc_summary(auc, scopes=["layer 2"])
    _assert_labelled(fig, 1)
    assert fig.axes[0].get_title() == "layer 2"
    with pytest.raises(ValueError, match="scope"):
        P.plot_auc_summary(auc, scopes=["layer 7"])
