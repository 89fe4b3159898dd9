"""Figure helpers: structure, labels, colours, the numbers behind the lines, and the layout rules of the
book's content column (width, panels per row, on-screen font size)."""

from __future__ import annotations

import io
import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgb, to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from nbsrc import plotting as P  # noqa: E402
from nbsrc.analysis import network_order_layers  # noqa: E402
from nbsrc.claims import indicator_table  # noqa: E402

SEEDS = (0, 1)
LAYER_SIZES = {1: 5, 2: 4}
R = 5
SCOPES = {"network": sum(LAYER_SIZES.values()), **{f"layer {i}": n for i, n in LAYER_SIZES.items()}}
DATASETS = ("MNIST", "Fashion-MNIST", "CIFAR-10")
MIN_PX = 9.0
TIGHT_TOLERANCE_IN = 0.02


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


@pytest.fixture(scope="module")
def composition(measures) -> pd.DataFrame:
    return network_order_layers(measures)


@pytest.fixture(scope="module")
def indicators(auc) -> pd.DataFrame:
    """The indicator table of three datasets (the same AUCs, shifted per dataset)."""
    table = indicator_table(auc)
    return pd.concat(
        [table.assign(dataset=d, asc_gap_mean=table.asc_gap_mean + 0.01 * i) for i, d in enumerate(DATASETS)],
        ignore_index=True,
    )


def _panels(fig: Figure) -> list:
    """The figure's data panels (a legend cell is an axes without axis)."""
    return [ax for ax in fig.axes if ax.axison]


def _assert_labelled(fig: Figure, n_axes: int) -> None:
    assert isinstance(fig, Figure)
    panels = _panels(fig)
    assert len(panels) == n_axes
    for ax in panels:
        assert ax.get_xlabel().strip(), ax
        assert ax.get_ylabel().strip(), ax


def _legend_texts(fig: Figure) -> set[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends, "the figure has no legend"
    return {t.get_text() for legend in legends for t in legend.get_texts()}


def _line(ax, label):
    found = [ln for ln in ax.lines if ln.get_label() == label]
    assert len(found) == 1, [ln.get_label() for ln in ax.lines]
    return found[0]


def _lab(color) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour."""
    rgb = np.asarray(to_rgb(color))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = m @ linear / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _delta_e(a, b) -> float:
    """CIE76 colour difference: about 2.3 is just noticeable, above 30 the colours are clearly apart."""
    return float(np.linalg.norm(_lab(a) - _lab(b)))


# ------------------------------------------------------------------------------------------------ layout


def _tight_width_in(fig: Figure, dpi: int = 150) -> float:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    buf.seek(0)
    with Image.open(buf) as image:
        return image.size[0] / dpi


def _row_counts(fig: Figure) -> list[int]:
    """Axes per row, rows told apart by the bottom of the axes' laid-out positions."""
    fig.draw_without_rendering()
    bottoms = [round(ax.get_position().y0, 2) for ax in fig.axes]
    return [bottoms.count(b) for b in sorted(set(bottoms))]


def _layout_problems(fig: Figure) -> list[str]:
    problems = []
    width = fig.get_size_inches()[0]
    if width > P.FIGURE_WIDTH:
        problems.append(f"figure width {width:.2f} in")
    tight = _tight_width_in(fig)
    if tight > P.FIGURE_WIDTH + TIGHT_TOLERANCE_IN:
        problems.append(f"tight-bbox width {tight:.2f} in")
    if max(_row_counts(fig)) > P.MAX_COLS:
        problems.append(f"axes per row {_row_counts(fig)}")
    px = P.min_font_px(fig)
    if px < MIN_PX:
        problems.append(f"smallest text {px:.1f} px")
    return problems


FIGURES = {
    "training": lambda d: P.plot_training(d["histories"]),
    "distributions": lambda d: P.plot_measure_distributions(d["measures"]),
    "distributions-5": lambda d: P.plot_measure_distributions(d["measures"], quantities=P.QUANTITIES),
    "distributions-box-1": lambda d: P.plot_measure_distributions(d["measures"], ["csi"], kind="box"),
    "cumulative": lambda d: P.plot_cumulative(d["curves"]),
    "cumulative-4": lambda d: P.plot_cumulative(d["curves"], "layer 1", P.QUANTITIES[:4]),
    "cumulative-1": lambda d: P.plot_cumulative(d["curves"], quantities=["entropy"]),
    "layer-grid": lambda d: P.plot_layer_grid(d["curves"]),
    "rows-network": lambda d: P.plot_cumulative_rows(
        {"ReLU": d["curves"], "tanh": d["curves"]}, ["network"], P.QUANTITIES[1:3]
    ),
    "rows-layers": lambda d: P.plot_cumulative_rows(
        {"ReLU": d["curves"], "sigmoid": d["curves"], "tanh": d["curves"]},
        ["layer 1", "layer 2"],
        P.QUANTITIES[1:3],
    ),
    "auc-summary": lambda d: P.plot_auc_summary(d["auc"]),
    "auc-summary-1": lambda d: P.plot_auc_summary(d["auc"], scopes=["layer 1"]),
    "composition": lambda d: P.plot_network_composition(d["composition"]),
    "auc-gaps": lambda d: P.plot_auc_gaps(d["indicators"]),
    "auc-gaps-1": lambda d: P.plot_auc_gaps(d["indicators"][d["indicators"].dataset == "CIFAR-10"]),
    "damage": lambda d: P.plot_damage_correlations(d["correlations"]),
    "pair-contrasts": lambda d: P.plot_pair_contrasts(d["contrasts"]),
}


def contrasts_table() -> pd.DataFrame:
    """Pair-test contrasts (nbsrc.redundancy.pair_contrasts) for three layers, four quantities, two groups."""
    rng = np.random.default_rng(5)
    rows = [
        {
            "scope": f"layer {layer}",
            "layer": layer,
            "quantity": q,
            "group": group,
            "synergy_mean": float(rng.normal(0, 0.01)),
            "synergy_std": 0.002,
            "synergy_p": 0.5,
            "interaction_mean": float(rng.normal(0, 1e-4)),
            "interaction_std": 1e-5,
            "interaction_p": 0.5,
        }
        for layer in (1, 2, 3)
        for q in P.QUANTITIES[:4]
        for group in ("top", "bottom")
    ]
    return pd.DataFrame(rows)


def test_plot_pair_contrasts_puts_each_group_at_its_differences():
    table = contrasts_table()
    fig = P.plot_pair_contrasts(table)
    panels = [ax for ax in fig.axes if ax.get_gid() != "legend"]
    assert [ax.get_title() for ax in panels] == ["layer 1", "layer 2", "layer 3"]
    for ax, layer in zip(panels, (1, 2, 3), strict=True):
        assert "bits" in ax.get_xlabel() and "points" in ax.get_ylabel()
        for r in table[table.layer == layer].itertuples():
            (bars,) = [
                c for c in ax.containers if c.lines[0].get_gid() == f"layer {layer}/{r.quantity}/{r.group}"
            ]
            x, y = bars.lines[0].get_data()
            assert (x[0], y[0]) == (pytest.approx(r.synergy_mean), pytest.approx(100 * r.interaction_mean))
            assert bars.lines[0].get_marker() == P.PAIR_MARKER[r.group]


def correlations_table() -> pd.DataFrame:
    """Spearman rho per seed, scope and quantity (two seeds, the network and three layers)."""
    rng = np.random.default_rng(2)
    rows = [
        {"seed": seed, "scope": scope, "quantity": q, "rho": float(rng.uniform(-1, 1))}
        for seed in (0, 1)
        for scope in ("network", "layer 1", "layer 2", "layer 3")
        for q in P.QUANTITIES
    ]
    return pd.DataFrame(rows)


def test_plot_damage_correlations_draws_the_mean_of_each_scope_and_quantity():
    table = correlations_table()
    fig = P.plot_damage_correlations(table)
    assert [ax.get_title() for ax in fig.axes] == ["network", "layer 1", "layer 2", "layer 3"]
    for ax in fig.axes:
        for i, q in enumerate(P.QUANTITIES):
            (bars,) = [c for c in ax.containers if c.lines[0].get_gid() == f"{ax.get_title()}/{q}"]
            x, y = bars.lines[0].get_data()
            expected = table[(table.scope == ax.get_title()) & (table.quantity == q)].rho.mean()
            assert (x[0], y[0]) == (i, pytest.approx(expected))
        assert "Spearman" in ax.get_ylabel()


@pytest.fixture(scope="module")
def tables(histories, measures, curves, auc, composition, indicators) -> dict:
    return {
        "contrasts": contrasts_table(),
        "correlations": correlations_table(),
        "histories": histories,
        "measures": measures,
        "curves": curves,
        "auc": auc,
        "composition": composition,
        "indicators": indicators,
    }


@pytest.mark.parametrize("style", ["book", "matplotlib"])
@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_fits_the_content_column(tables, name, style):
    with matplotlib.rc_context():
        if style == "book":
            P.set_style()
        else:
            matplotlib.rcdefaults()
        fig = FIGURES[name](tables)
        assert _layout_problems(fig) == []


def test_plot_cumulative_rows_gives_each_network_its_rows_of_panels(curves):
    networks = {"ReLU": curves, "tanh": curves[curves.seed == curves.seed.min()]}
    layers = [s for s in SCOPES if s != "network"]
    fig = P.plot_cumulative_rows(networks, layers, ["mutual_information", "kl_selectivity"])
    panels = _panels(fig)
    assert len(panels) == 2 * 2 * len(layers)
    titles = [ax.get_title() for ax in panels]
    assert titles[0] == f"ReLU · MI · {layers[0]}" and titles[-1] == f"tanh · KL sel. · {layers[-1]}"
    assert _line(panels[0], "descending").get_color() == P.COLORS["mutual_information"]
    network = P.plot_cumulative_rows(networks, ["network"], ["kl_selectivity"])
    assert [ax.get_title() for ax in _panels(network)] == ["ReLU · KL sel.", "tanh · KL sel."]
    with pytest.raises(ValueError, match="curves"):
        P.plot_cumulative_rows({}, ["network"])


def test_layout_check_catches_a_wide_row():
    """The checks above do fail: five panels in a row, 2,000 px wide, tiny legend text."""
    with matplotlib.rc_context():
        P.set_style()
        fig, axes = plt.subplots(1, 5, figsize=(13.5, 3), layout="constrained")
        for ax in axes:
            ax.set(xlabel="x [1]", ylabel="y [1]")
        fig.legend(handles=[plt.Line2D([], [], label="a very long legend entry " * 3)], loc="center right")
        axes[0].legend(handles=[plt.Line2D([], [], label="small")], fontsize=6)
        problems = " | ".join(_layout_problems(fig))
    for what in ("figure width", "tight-bbox width", "axes per row", "smallest text"):
        assert what in problems


def test_min_font_px():
    fig = plt.figure(figsize=(7.5, 3), dpi=100)
    fig.text(0.5, 0.5, "seven points", fontsize=7)
    fig.text(0.5, 0.2, "", fontsize=2)  # empty and invisible texts do not count
    fig.text(0.5, 0.3, "hidden", fontsize=3, visible=False)
    # saved at 150 dpi: 1125 px wide, shown at 780 px: 7 pt -> 7 / 72 * 150 * 780 / 1125 px
    assert P.min_font_px(fig, dpi=150) == pytest.approx(7 * 780 / (7.5 * 72))
    # saved narrower than the column: shown at its own size
    assert P.min_font_px(fig, dpi=50) == pytest.approx(7 * 50 / 72)
    assert P.min_font_px(fig, column_px=540, dpi=150) == pytest.approx(7.0)
    ax = fig.add_subplot()
    ax.tick_params(labelsize=5)
    assert P.min_font_px(fig, dpi=150) == pytest.approx(5 * 780 / (7.5 * 72))


def test_set_style_runs():
    with matplotlib.rc_context():
        P.set_style()
        assert not matplotlib.rcParams["axes.spines.top"]
        assert matplotlib.rcParams["figure.dpi"] == matplotlib.rcParams["savefig.dpi"] == 150
        assert matplotlib.rcParams["savefig.bbox"] == "tight"
        assert matplotlib.rcParams["figure.figsize"][0] <= P.FIGURE_WIDTH


# ------------------------------------------------------------------------------------------------ colours


def test_constants_consistent():
    assert set(P.QUANTITIES) | {"random"} == set(P.COLORS) == set(P.LABELS) == set(P.SHORT)
    rgba = [to_rgba(c) for c in P.COLORS.values()]
    assert len(set(rgba)) == len(rgba)
    r, g, b, _ = to_rgba(P.COLORS["random"])
    assert r == g == b  # grey
    assert P.DIRECTION_STYLE == {"ascending": "-", "descending": "--"}


@pytest.mark.parametrize("a, b", list(itertools.combinations(P.COLORS, 2)))
def test_colours_clearly_distinct(a, b):
    assert _delta_e(P.COLORS[a], P.COLORS[b]) > 30, (a, b, P.COLORS[a], P.COLORS[b])


def test_delta_e_flags_similar_colours():
    assert _delta_e("#0173b2", "#0a6aa8") < 10  # two blues
    assert _delta_e("#000000", "#ffffff") == pytest.approx(100, abs=0.1)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_layer_colours_are_greys_light_to_dark(n):
    colors = [to_rgb(c) for c in P.layer_colors(n)]
    assert len(colors) == n
    for r, g, b in colors:
        assert r == pytest.approx(g) == pytest.approx(b)  # neutral: never a quantity's hue
    lightness = [c[0] for c in colors]
    assert lightness == sorted(lightness, reverse=True) and len(set(lightness)) == n


# ------------------------------------------------------------------------------------------------ figures


def test_plot_training(histories):
    fig = P.plot_training(histories)
    _assert_labelled(fig, 2)
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_yscale() == "log"
    assert len(loss_ax.lines) == len(SEEDS) == len(acc_ax.lines)
    seed0 = histories[histories["seed"] == 0].sort_values("epoch")
    np.testing.assert_allclose(acc_ax.lines[0].get_ydata(), seed0["val_accuracy"] * 100)
    assert "%" in acc_ax.get_ylabel()
    assert tuple(fig.get_size_inches()) == (P.FIGURE_WIDTH, pytest.approx(2.7))


@pytest.mark.parametrize("kind", ["violin", "box"])
def test_plot_measure_distributions(measures, kind):
    fig = P.plot_measure_distributions(measures, kind=kind)
    _assert_labelled(fig, 4)
    assert _row_counts(fig) == [2, 2]
    for ax, q in zip(fig.axes, P.QUANTITIES[:4], strict=True):
        assert ax.get_xlabel() == "hidden layer"
        assert ax.get_ylabel() == P.LABELS[q]
        assert ax.get_title() == P.SHORT[q]
        assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]


def test_random_band_matches_numpy_quantiles(curves):
    rnd = curves[(curves["scope"] == "layer 1") & (curves["direction"] == "random")]
    band = P.random_band(curves[curves["scope"] == "layer 1"], ["fraction"], "accuracy").set_index("fraction")
    table = rnd.pivot_table(index="fraction", columns=["seed", "order"], values="accuracy")
    assert table.shape == (LAYER_SIZES[1] + 1, len(SEEDS) * R)
    values = table.to_numpy()
    np.testing.assert_allclose(band.index, table.index)
    np.testing.assert_allclose(band["random_lo"], np.quantile(values, 0.05, axis=1))
    np.testing.assert_allclose(band["random_hi"], np.quantile(values, 0.95, axis=1))
    np.testing.assert_allclose(band["random_mean"], values.mean(axis=1))
    assert (band["random_lo"] <= band["random_mean"]).all()
    assert (band["random_mean"] <= band["random_hi"]).all()


def test_random_band_without_random_curves_raises(curves):
    with pytest.raises(ValueError, match="random"):
        P.random_band(curves[curves["direction"] != "random"], ["fraction"], "accuracy")


def test_plot_cumulative_lines(curves):
    fig = P.plot_cumulative(curves, scope="network")
    _assert_labelled(fig, len(P.QUANTITIES))
    # five panels: 3 + 2, the legend in the sixth cell
    assert _row_counts(fig) == [3, 3]
    legend_axes = [ax for ax in fig.axes if not ax.axison]
    assert len(legend_axes) == 1 and legend_axes[0].get_gid() == "legend"
    legend_text = _legend_texts(fig)
    assert any(t.startswith("ascending") for t in legend_text)
    assert any(t.startswith("descending") for t in legend_text)
    assert "random 5–95 % band" in legend_text
    for ax, q in zip(_panels(fig), P.QUANTITIES, strict=True):
        assert ax.get_title() == P.SHORT[q]
        assert ax.get_xlabel() == "neurons ablated [%]" and ax.get_ylabel() == "test accuracy [%]"
        asc, desc = _line(ax, "ascending"), _line(ax, "descending")
        assert to_rgba(asc.get_color()) == to_rgba(P.COLORS[q]) == to_rgba(desc.get_color())
        assert asc.get_linestyle() == "-" and desc.get_linestyle() == "--"
        assert asc.get_gid() == f"{q}/ascending" and desc.get_gid() == f"{q}/descending"
        assert to_rgba(_line(ax, "random mean").get_color()) == to_rgba(P.COLORS["random"])
        sel = curves[
            (curves["scope"] == "network") & (curves["quantity"] == q) & (curves["direction"] == "ascending")
        ]
        expected = sel.groupby("fraction")["accuracy"].mean()
        np.testing.assert_allclose(asc.get_xdata(), expected.index.to_numpy() * 100)
        np.testing.assert_allclose(asc.get_ydata(), expected.to_numpy() * 100)
    # the random mean line is the band's mean, in percent
    band = P.random_band(curves[curves["scope"] == "network"], ["fraction"], "accuracy")
    np.testing.assert_allclose(_line(fig.axes[0], "random mean").get_ydata(), band["random_mean"] * 100)


def test_plot_cumulative_legend_cell_or_below(curves):
    fig = P.plot_cumulative(curves, scope="layer 1", quantities=P.QUANTITIES[:4])
    _assert_labelled(fig, 4)
    assert _row_counts(fig) == [2, 3]  # bottom row first: CSI + legend; then H, MI, KL sel.
    assert not fig.legends and fig.axes[-1].get_gid() == "legend"
    fig = P.plot_cumulative(curves, scope="layer 1", quantities=P.QUANTITIES[:3])
    _assert_labelled(fig, 3)
    assert _row_counts(fig) == [3]
    assert len(fig.legends) == 1 and len(fig.axes) == 3


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
    # rows = quantities, columns = layers
    assert _row_counts(fig) == [len(LAYER_SIZES)] * len(qs)
    grid = np.array(fig.axes).reshape(len(qs), len(LAYER_SIZES))
    for q, row in zip(qs, grid, strict=True):
        for layer, ax in enumerate(row, start=1):
            assert ax.get_title() == f"{P.SHORT[q]} · layer {layer}"
            assert to_rgba(_line(ax, "ascending").get_color()) == to_rgba(P.COLORS[q])
    # the second column draws layer 2's curves
    sel = curves[
        (curves["scope"] == "layer 2") & (curves["quantity"] == qs[1]) & (curves["direction"] == "descending")
    ]
    np.testing.assert_allclose(
        _line(grid[1, 1], "descending").get_ydata(), sel.groupby("fraction")["accuracy"].mean() * 100
    )
    assert fig.legends


def test_plot_layer_grid_wraps_deep_networks():
    rng = np.random.default_rng(5)
    parts = [
        _curve(0, f"layer {i}", 3, q, d, 0, rng)
        for i in range(1, 6)
        for q, d in itertools.product(["entropy", "csi"], P.DIRECTION_STYLE)
    ]
    fig = P.plot_layer_grid(pd.concat(parts, ignore_index=True), quantities=["entropy", "csi"])
    # five layers per quantity: 3 + 2 in two rows each
    assert _row_counts(fig) == [2, 3, 2, 3]
    assert [ax.get_title() for ax in fig.axes[:5]] == [f"H · layer {i}" for i in range(1, 6)]


def test_plot_auc_summary(auc):
    fig = P.plot_auc_summary(auc)
    _assert_labelled(fig, len(SCOPES))
    # three scopes in rows of two, the legend in the fourth cell
    assert _row_counts(fig) == [2, 2]
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == ["network", "layer 1", "layer 2"]
    ax = panels[0]
    assert ax.get_ylabel() == P.Y_AUC and "[1]" in P.Y_AUC
    pts = next(c for c in ax.collections if c.get_gid() == "network/ascending")
    sel = auc[(auc["scope"] == "network") & (auc["direction"] == "ascending")]
    expected = sel.groupby("quantity")["auc"].mean().reindex(list(P.QUANTITIES))
    np.testing.assert_allclose(pts.get_offsets()[:, 1], expected.to_numpy())
    np.testing.assert_allclose(pts.get_facecolors(), [to_rgba(P.COLORS[q]) for q in P.QUANTITIES])
    assert [t.get_text() for t in ax.get_xticklabels()] == [P.SHORT[q] for q in P.QUANTITIES]
    # the random band: mean over seeds of per-seed 5 / 95 % quantiles
    rnd = auc[(auc["scope"] == "network") & (auc["direction"] == "random")]
    lo = np.mean([np.quantile(g["auc"], 0.05) for _, g in rnd.groupby("seed")])
    hi = np.mean([np.quantile(g["auc"], 0.95) for _, g in rnd.groupby("seed")])
    band = next(p for p in ax.patches if p.get_gid() == "network/random")
    np.testing.assert_allclose([band.get_y(), band.get_y() + band.get_height()], [lo, hi])
    assert "random 5–95 % band" in _legend_texts(fig)


def test_plot_auc_summary_scopes(auc):
    fig = P.plot_auc_summary(auc, scopes=["layer 2"])
    _assert_labelled(fig, 1)
    assert fig.axes[0].get_title() == "layer 2"
    with pytest.raises(ValueError, match="scope"):
        P.plot_auc_summary(auc, scopes=["layer 7"])


def test_plot_auc_summary_four_scopes_two_by_two():
    rng = np.random.default_rng(3)
    rows = [
        {"seed": s, "scope": sc, "quantity": q, "direction": d, "order": o, "auc": rng.uniform()}
        for s in SEEDS
        for sc in ["network", "layer 1", "layer 2", "layer 3"]
        for q, d, o in [*[(q, d, 0) for q in P.QUANTITIES for d in P.DIRECTION_STYLE]]
        + [("random", "random", o) for o in range(R)]
    ]
    fig = P.plot_auc_summary(pd.DataFrame(rows))
    _assert_labelled(fig, 4)
    assert _row_counts(fig) == [2, 2] and fig.legends


# ------------------------------------------------------------------------------------------------ composition


def test_composition_shares_sum_to_one(composition):
    keys = ["quantity", "direction", "k"]
    per_seed = composition.groupby(["seed", *keys])["share"].sum()
    np.testing.assert_allclose(per_seed, 1.0)
    mean = composition.groupby([*keys, "layer"])["share"].mean().groupby(keys).sum()
    np.testing.assert_allclose(mean, 1.0)
    n = sum(LAYER_SIZES.values())
    assert set(composition["k"]) == set(range(1, n + 1))


def test_plot_network_composition(composition):
    qs = ["entropy", "weight_norm"]
    fig = P.plot_network_composition(composition, quantities=qs)
    _assert_labelled(fig, 2 * len(qs))
    assert _row_counts(fig) == [2] * len(qs)
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == [
        f"{P.SHORT[q]} {d}" for q in qs for d in ("ascending", "descending")
    ]
    assert {t.get_text() for t in fig.legends[0].get_texts()} >= {f"layer {i}" for i in LAYER_SIZES}
    mean = composition.groupby(["quantity", "direction", "k", "layer"])["share"].mean()
    colors = [to_rgba(c) for c in P.layer_colors(len(LAYER_SIZES))]
    for ax, (q, d) in zip(panels, itertools.product(qs, ("ascending", "descending")), strict=True):
        areas = [c for c in ax.collections if str(c.get_gid()).startswith(f"{q}/{d}/")]
        assert [a.get_gid() for a in areas] == [f"{q}/{d}/layer {i}" for i in LAYER_SIZES]
        for area, color in zip(areas, colors, strict=True):
            np.testing.assert_allclose(area.get_facecolor()[0], color)
            assert all(_delta_e(color[:3], P.COLORS[x]) > 15 for x in P.QUANTITIES)
        # the stack: layer 1's upper edge is its mean share, the top layer's upper edge is 100 %
        y1 = areas[0].get_paths()[0].vertices[:, 1]
        expected = mean.loc[(q, d)].xs(1, level="layer").to_numpy() * 100
        assert np.isclose(y1[:, None], expected[None, :]).any(axis=0).all()
        top = areas[-1].get_paths()[0].vertices[:, 1]
        np.testing.assert_allclose(top.max(), 100)
        # the dashed reference: layer 1's size
        ref = [ln for ln in ax.lines if ln.get_gid() == "layer sizes"]
        assert len(ref) == len(LAYER_SIZES) - 1
        np.testing.assert_allclose(ref[0].get_ydata()[0], 100 * LAYER_SIZES[1] / sum(LAYER_SIZES.values()))


def test_plot_network_composition_rejects_missing_quantity(composition):
    with pytest.raises(ValueError, match="quantit"):
        P.plot_network_composition(composition[composition.quantity != "csi"])
    with pytest.raises(ValueError, match="missing columns"):
        P.plot_network_composition(composition.drop(columns="share"))


# ------------------------------------------------------------------------------------------------ AUC gaps


def test_plot_auc_gaps(indicators):
    fig = P.plot_auc_gaps(indicators)
    _assert_labelled(fig, 2 * len(DATASETS))
    assert _row_counts(fig) == [3, 3]
    panels = _panels(fig)
    top, bottom = panels[0::2], panels[1::2]
    assert [ax.get_title() for ax in top] == list(DATASETS) == [ax.get_title() for ax in bottom]
    assert all("ascending − random" in ax.get_ylabel() and "[1]" in ax.get_ylabel() for ax in top)
    assert all("random − descending" in ax.get_ylabel() for ax in bottom)
    scopes = list(SCOPES)
    for ax, (dataset, gap) in zip(panels, itertools.product(DATASETS, ["asc_gap", "desc_gap"]), strict=True):
        rows = indicators[indicators.dataset == dataset]
        points = [ln for ln in ax.lines if str(ln.get_gid()).startswith(f"{dataset}/{gap}/")]
        assert sum(len(ln.get_xdata()) for ln in points) == len(rows) == len(scopes) * len(P.QUANTITIES)
        for ln in points:
            q = ln.get_gid().rsplit("/", 1)[1]
            assert to_rgba(ln.get_color()) == to_rgba(P.COLORS[q])
            sel = rows[rows.quantity == q].set_index("scope").loc[scopes]
            np.testing.assert_allclose(ln.get_ydata(), sel[f"{gap}_mean"])
            # x: the scope's position, network first
            np.testing.assert_allclose(np.round(ln.get_xdata()), np.arange(len(scopes)))
        zero = [ln for ln in ax.lines if ln.get_gid() == "random/zero"]
        assert len(zero) == 1 and to_rgba(zero[0].get_color()) == to_rgba(P.COLORS["random"])
        assert [t.get_text() for t in ax.get_xticklabels()] == ["network", "1", "2"]
    legend = _legend_texts(fig)
    assert {P.SHORT[q] for q in P.QUANTITIES} <= legend
    assert any("random" in t for t in legend)


def test_plot_auc_gaps_error_bars_are_the_std(indicators):
    fig = P.plot_auc_gaps(indicators[indicators.dataset == "MNIST"])
    ax = _panels(fig)[0]
    line = next(ln for ln in ax.lines if ln.get_gid() == "MNIST/asc_gap/csi")
    bars = [c for c in ax.collections if to_rgba(c.get_colors()[0]) == to_rgba(P.COLORS["csi"])]
    segments = bars[0].get_segments()
    rows = indicators[(indicators.dataset == "MNIST") & (indicators.quantity == "csi")]
    rows = rows.set_index("scope").loc[list(SCOPES)]
    np.testing.assert_allclose([s[1, 1] - s[0, 1] for s in segments], 2 * rows["asc_gap_std"])
    np.testing.assert_allclose(line.get_ydata(), rows["asc_gap_mean"])


def test_plot_auc_gaps_wraps_beyond_three_datasets(indicators):
    four = pd.concat([indicators, indicators[indicators.dataset == "MNIST"].assign(dataset="MNIST-2")])
    fig = P.plot_auc_gaps(four)
    _assert_labelled(fig, 8)
    assert _row_counts(fig) == [1, 1, 3, 3]
    with pytest.raises(ValueError, match="missing columns"):
        P.plot_auc_gaps(indicators.drop(columns="desc_gap_std"))
