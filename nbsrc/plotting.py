"""Figure helpers for the book's chapters.

Every function takes the long-format DataFrames produced by the analysis module and returns a
:class:`matplotlib.figure.Figure` (it never calls ``plt.show()``). Each measure has ONE colour and one short
name across the whole book (:data:`COLORS`, :data:`SHORT`, from :mod:`nbsrc.vocabulary`); ablation direction
is shown by line style (:data:`DIRECTION_STYLE`) or marker, the random baseline is always grey. Accuracies
are fractions in the data and shown in percent on the axes. Call :func:`set_style` once at the top of a
notebook.

Layout rules (the book's content column is about 780 px wide): every figure is :data:`FIGURE_WIDTH` inches
wide (a one-panel figure :data:`SINGLE_WIDTH`), has at most :data:`MAX_COLS` panels per row (more wrap into
further rows), keeps its legend inside the figure (in a spare grid cell, or below the panels with constrained
layout) so that ``bbox_inches="tight"`` never widens it, and uses no text below 8 pt (tick labels and
legends), so that every text stays >= 9 px on screen (:func:`min_font_px`: 8 pt is 11.6 px).

Input formats
-------------
``histories``:   [seed, epoch, train_loss, val_accuracy]
``measures``:    [seed, layer, neuron, quantity, value]          (layer is 1-based)
``curves``:      [seed, scope, quantity, direction, order, k, fraction, accuracy]
``auc``:         [seed, scope, quantity, direction, order, auc, threshold_fraction]
``composition``: [seed, quantity, direction, k, fraction, layer, share]
                 (:func:`nbsrc.analysis.network_order_layers`)
``indicators``:  [dataset, scope, quantity, asc_gap_mean, asc_gap_std, desc_gap_mean, desc_gap_std]
                 (:func:`nbsrc.claims.indicator_table` with the dataset's title added)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.gridspec import SubplotSpec
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

from nbsrc.analysis import spearman
from nbsrc.checks import check_choice, fail
from nbsrc.vocabulary import (
    COLORS,
    DIRECTIONS,
    LABELS,
    NETWORK,
    QUANTITIES,
    RANDOM_BAND_LABEL,
    SHORT,
    layer_scope,
    layer_scopes,
    num,
    ordered_scopes,
    random_band,
    scope_layer,
)

__all__ = [
    "COLORS",
    "LABELS",
    "QUANTITIES",
    "SHORT",
    "FIGURE_WIDTH",
    "DIRECTION_STYLE",
    "random_band",
    "layer_colors",
    "min_font_px",
    "set_style",
    "plot_training",
    "plot_measure_distributions",
    "plot_cumulative",
    "plot_layer_grid",
    "plot_auc_summary",
    "plot_network_composition",
    "plot_auc_gaps",
    "plot_damage_correlations",
    "plot_pair_contrasts",
    "plot_quantization_agreement",
    "plot_quantization_auc",
    "plot_sample_size",
    "plot_information_plane",
    "plot_information_time",
    "plot_pruning_accuracy",
    "plot_pruning_cost",
    "plot_variant_distributions",
    "plot_random_curves",
    "plot_accuracy_robustness",
]

#: Width of every figure [in]: the content column (~780 px) shows it at ~104 px per inch.
FIGURE_WIDTH = 7.5
#: Width of a figure with a single column of panels [in].
SINGLE_WIDTH = 4.5
#: At most this many panels side by side.
MAX_COLS = 3
#: Legend text [pt].
LEGEND_FONT = 8.0
#: The content column's width [px] that figures are scaled down to.
COLUMN_PX = 780

DIRECTION_STYLE = {"ascending": "-", "descending": "--"}
DIRECTION_MARKER = {"ascending": "^", "descending": "v"}
#: The pair groups of C8's tests: the top quarter of a quantity up, the bottom quarter down.
PAIR_MARKER = {"top": "^", "bottom": "v"}

X_ABLATED = "neurons ablated [%]"
Y_ACCURACY = "test accuracy [%]"
Y_AUC = "AUC of accuracy vs\nfraction ablated [1]"
Y_SHARE = "share of ablated\nneurons [%]"
X_SYNERGY = "Δ synergy vs random pairs [bits]"
Y_INTERACTION = "Δ damage interaction\nvs random pairs [points]"
#: Per gap column of the indicator table: its row label (the AUC is accuracy × fraction ablated, in [0, 1]).
GAP_LABELS = {
    "asc_gap": "ascending − random\nAUC gap [1]",
    "desc_gap": "random − descending\nAUC gap [1]",
}
_SEED_CMAP = "mako"
#: Hidden layers, shallow (light) to deep (dark): greys, apart from every quantity colour.
_LAYER_LIGHT, _LAYER_DARK = "#d0d0d0", "#262626"


def set_style() -> None:
    """Set the book's theme: white grid, the colour-blind palette, fonts sized for :data:`FIGURE_WIDTH`
    figures shown in the content column, inline and saved images at 150 dpi with a tight bounding box.
    Call once per notebook."""
    sns.set_theme(
        context="paper",
        style="whitegrid",
        palette="colorblind",
        rc={
            "figure.dpi": 150,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "savefig.pad_inches": 0.04,
            "figure.figsize": (FIGURE_WIDTH, 3.2),
            "font.size": 9.0,
            "axes.labelsize": 9.0,
            "axes.titlesize": 9.5,
            "xtick.labelsize": 8.0,
            "ytick.labelsize": 8.0,
            "legend.fontsize": LEGEND_FONT,
            "legend.title_fontsize": 8.5,
            "figure.titlesize": 10.5,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "legend.frameon": False,
        },
    )


def min_font_px(fig: Figure, column_px: float = COLUMN_PX, dpi: float | None = None) -> float:
    """The smallest text of ``fig`` in screen pixels when the image, saved at ``dpi`` (default: the
    ``savefig.dpi`` setting), is shown at min(``column_px``, its saved width) pixels wide.

    Every visible, non-empty :class:`~matplotlib.text.Text` counts (tick labels, axis labels, titles,
    legends, annotations); the figure is laid out first so that tick labels exist.
    """
    fig.draw_without_rendering()
    if dpi is None:
        dpi = mpl.rcParams["savefig.dpi"]
        if dpi == "figure":
            dpi = fig.dpi
    saved_px = fig.get_size_inches()[0] * dpi
    shown_px = min(column_px, saved_px)
    px_per_pt = dpi / 72 * shown_px / saved_px
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    if not sizes:
        fail("fig", "without text", "needs at least one visible text")
    return min(sizes) * px_per_pt


# ------------------------------------------------------------------------------------------------ helpers


def _require(df: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        fail(name, f"DataFrame with columns {list(df.columns)}", f"missing columns {missing}")


def _check_quantities(quantities: Sequence[str]) -> list[str]:
    quantities = list(quantities)
    if not quantities:
        fail("quantities", quantities, "must name at least one quantity")
    for q in quantities:
        check_choice("quantity", q, QUANTITIES)
    return quantities


def _grid_shape(n: int, max_cols: int = MAX_COLS) -> tuple[int, int]:
    """Rows and columns for ``n`` cells, at most ``max_cols`` wide; four cells make a 2 × 2 grid."""
    ncols = 2 if n == 4 and max_cols >= 2 else min(max_cols, n)
    return math.ceil(n / ncols), ncols


def _figure(nrows: int, ncols: int, row_height: float, extra: float = 0.0):
    """A constrained-layout figure of the book's width with a ``nrows`` × ``ncols`` grid."""
    width = FIGURE_WIDTH if ncols > 1 else SINGLE_WIDTH
    fig = plt.figure(figsize=(width, nrows * row_height + extra), layout="constrained")
    # side margins that any savefig pad up to matplotlib's default fills: a tight bbox never widens it
    side = mpl.rcParamsDefault["savefig.pad_inches"] / width
    fig.get_layout_engine().set(rect=(side, 0, 1 - 2 * side, 1))
    return fig, fig.add_gridspec(nrows, ncols)


def _panels(
    fig: Figure, cells: Sequence[SubplotSpec], sharex: bool = False, sharey: bool = False
) -> list[Axes]:
    """One axes per cell, sharing x / y with the first; every panel keeps its own tick labels."""
    axes: list[Axes] = []
    for cell in cells:
        first = axes[0] if axes else None
        axes.append(fig.add_subplot(cell, sharex=first if sharex else None, sharey=first if sharey else None))
    return axes


def _legend(fig: Figure, handles: list, spare: SubplotSpec | None, ncols: int, title: str | None = None):
    """The figure's legend: centred in a spare grid cell (an axes without axis, gid "legend"), else
    below the panels, inside the figure."""
    if spare is not None:
        ax = fig.add_subplot(spare)
        ax.set_axis_off()
        ax.set_gid("legend")
        return ax.legend(handles=handles, loc="center", fontsize=LEGEND_FONT, title=title, frameon=False)
    return fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=ncols,
        fontsize=LEGEND_FONT,
        title=title,
        frameon=False,
    )


def _legend_cols(fig: Figure, n_handles: int, wide: int) -> int:
    """Legend columns below the panels: ``wide`` on a full-width figure, two on a narrow one."""
    return min(n_handles, wide if fig.get_size_inches()[0] >= FIGURE_WIDTH else 2)


def _cumulative_handles(random: bool = True) -> list:
    """Legend proxies: colour-neutral, since each panel has its own quantity colour; the random orders'
    only when the figure has them."""
    handles = [
        Line2D([], [], color="black", ls=DIRECTION_STYLE["ascending"], label="ascending (mean over seeds)"),
        Line2D([], [], color="black", ls=DIRECTION_STYLE["descending"], label="descending (mean over seeds)"),
        Patch(color="black", alpha=0.15, lw=0, label="min–max over seeds"),
    ]
    if random:
        handles += [
            Line2D([], [], color=COLORS["random"], label="random (mean)"),
            Patch(color=COLORS["random"], alpha=0.35, lw=0, label=RANDOM_BAND_LABEL),
        ]
    return handles


def layer_colors(n_layers: int) -> list:
    """One grey per hidden layer, light (layer 1) to dark (layer L); none is a quantity's colour."""
    if n_layers == 1:
        return [sns.blend_palette([_LAYER_LIGHT, _LAYER_DARK], 3)[1]]
    return sns.blend_palette([_LAYER_LIGHT, _LAYER_DARK], n_layers)


# ------------------------------------------------------------------------------------------------ figures


def plot_training(histories: pd.DataFrame) -> Figure:
    """Training loss (log scale) and validation accuracy [%] against epoch, one line per seed (1 × 2)."""
    _require(histories, "histories", ["seed", "epoch", "train_loss", "val_accuracy"])
    fig, gs = _figure(1, 2, 2.7)
    ax_loss, ax_acc = _panels(fig, [gs[0, 0], gs[0, 1]], sharex=True)
    loss = histories.pivot(index="epoch", columns="seed", values="train_loss")
    acc = histories.pivot(index="epoch", columns="seed", values="val_accuracy") * 100
    colors = sns.color_palette(_SEED_CMAP, n_colors=max(len(loss.columns), 1))
    for ax, table in ((ax_loss, loss), (ax_acc, acc)):
        ax.set_prop_cycle(color=colors)
        ax.plot(table.index, table.to_numpy(), marker="o", ms=3, lw=1.3)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_loss.set_yscale("log")
    ax_loss.set(ylabel="training loss [nats, cross-entropy]", title="training loss")
    ax_acc.set(ylabel="validation accuracy [%]", title="validation accuracy")
    ax_acc.legend([f"seed {s}" for s in acc.columns], loc="lower right", fontsize=LEGEND_FONT)
    return fig


def plot_measure_distributions(
    measures: pd.DataFrame, quantities: Sequence[str] = QUANTITIES[:4], kind: str = "violin"
) -> Figure:
    """One panel per quantity (≤ 3 per row; four make 2 × 2): its distribution over neurons per hidden
    layer, pooled over seeds."""
    _require(measures, "measures", ["seed", "layer", "neuron", "quantity", "value"])
    quantities = _check_quantities(quantities)
    check_choice("kind", kind, ("violin", "box"))
    nrows, ncols = _grid_shape(len(quantities))
    fig, gs = _figure(nrows, ncols, 2.4)
    axes = _panels(fig, [gs[i // ncols, i % ncols] for i in range(len(quantities))])
    layers = sorted(measures["layer"].unique())
    for ax, q in zip(axes, quantities, strict=True):
        sub = measures[measures["quantity"] == q]
        if sub.empty:
            fail("quantities", q, "has no rows in measures")
        if kind == "violin":
            sns.violinplot(
                data=sub,
                x="layer",
                y="value",
                order=layers,
                color=COLORS[q],
                cut=0,
                inner="quart",
                density_norm="width",
                linewidth=1,
                ax=ax,
            )
        else:
            sns.boxplot(data=sub, x="layer", y="value", order=layers, color=COLORS[q], fliersize=2, ax=ax)
        ax.set(xlabel="hidden layer", ylabel=LABELS[q], title=SHORT[q])
    return fig


def plot_cumulative(
    curves: pd.DataFrame,
    scope: str = "network",
    quantities: Sequence[str] = QUANTITIES,
    axes: Sequence[Axes] | None = None,
    legend: bool = True,
) -> Figure:
    """Cumulative-ablation curves of one scope, one panel per quantity, against the random band.

    Per panel: the quantity's ascending (solid) and descending (dashed) curves in its colour, mean over
    seeds as a line and min–max over seeds as a light fill; the random 5–95 % band (grey fill) and the
    random mean (grey line). Lines carry ``label`` "ascending" / "descending" / "random mean" and ``gid``
    ``"{quantity}/{direction}"``. Own figure: ≤ 3 panels per row, the legend in the cell after the last
    panel (five quantities: 3 + 2 + legend; four: 3 + 1 + legend), below the panels when the rows are
    full. If ``axes`` is given, draw into them (one per quantity) and return their figure; the legend then
    goes on the first of them (pass ``legend=False`` to leave it out).
    """
    _require(curves, "curves", ["seed", "scope", "quantity", "direction", "fraction", "accuracy"])
    quantities = _check_quantities(quantities)
    sub = curves[curves["scope"] == scope]
    if sub.empty:
        fail("scope", scope, f"has no curves; scopes present: {sorted(curves['scope'].unique())}")

    own_figure = axes is None
    spare = None
    if own_figure:
        # the legend takes the cell after the last panel, unless the rows are full
        nrows, ncols = _grid_shape(len(quantities) + (len(quantities) % MAX_COLS != 0))
        fig, gs = _figure(nrows, ncols, 2.3, extra=0.3)
        cells = [gs[i // ncols, i % ncols] for i in range(nrows * ncols)]
        axes = _panels(fig, cells[: len(quantities)], sharex=True, sharey=True)
        spare = cells[len(quantities)] if len(cells) > len(quantities) else None
    else:
        axes = list(np.ravel(axes))
        if len(axes) != len(quantities):
            fail("axes", f"{len(axes)} axes", f"needs one per quantity ({len(quantities)})")
        fig = axes[0].figure

    band = (
        random_band(sub, ["fraction"], "accuracy").set_index("fraction")
        if (sub["direction"] == "random").any()
        else None
    )
    ordered = sub[sub["direction"].isin(list(DIRECTION_STYLE))]
    by = ordered.groupby(["quantity", "direction", "fraction"])["accuracy"]
    stats = by.agg(["mean", "min", "max"]) * 100

    for ax, q in zip(axes, quantities, strict=True):
        if band is not None:
            x = band.index.to_numpy() * 100
            ax.fill_between(
                x,
                band["random_lo"] * 100,
                band["random_hi"] * 100,
                color=COLORS["random"],
                alpha=0.35,
                lw=0,
                label=RANDOM_BAND_LABEL,
            )
            ax.plot(
                x,
                band["random_mean"] * 100,
                color=COLORS["random"],
                lw=1.2,
                label="random mean",
                gid="random/mean",
            )
        drawn = 0
        for direction, style in DIRECTION_STYLE.items():
            if (q, direction) not in stats.index.droplevel("fraction"):
                continue
            s = stats.loc[(q, direction)]
            x = s.index.to_numpy() * 100
            ax.fill_between(x, s["min"], s["max"], color=COLORS[q], alpha=0.18, lw=0)
            ax.plot(x, s["mean"], color=COLORS[q], ls=style, lw=1.6, label=direction, gid=f"{q}/{direction}")
            drawn += 1
        if not drawn:
            fail("quantities", q, f"has no ascending or descending curve in scope {scope!r}")
        ax.set(title=SHORT[q], xlabel=X_ABLATED, ylabel=Y_ACCURACY, xlim=(0, 100))

    if legend:
        if own_figure:
            _legend(fig, _cumulative_handles(), spare, ncols=_legend_cols(fig, 5, 3))
            fig.suptitle(f"cumulative ablation, {scope}")
        else:
            axes[0].legend(handles=_cumulative_handles(), loc="best", fontsize=LEGEND_FONT)
    return fig


def plot_layer_grid(curves: pd.DataFrame, quantities: Sequence[str] = QUANTITIES) -> Figure:
    """Layer-wise cumulative ablation: rows = quantities, columns = the "layer N" scopes present (at most
    three per row: deeper networks wrap, each quantity's layers in consecutive rows). Each panel is titled
    "<SHORT> · layer N"; the legend sits below the grid."""
    _require(curves, "curves", ["scope"])
    quantities = _check_quantities(quantities)
    scopes = layer_scopes(curves["scope"].unique())
    if not scopes:
        fail("curves", "without 'layer N' scopes", "needs layer-wise curves")
    ncols = min(MAX_COLS, len(scopes))
    blocks = math.ceil(len(scopes) / ncols)
    fig, gs = _figure(len(quantities) * blocks, ncols, 1.85, extra=0.7)
    cells = {
        (q, scope): gs[qi * blocks + j // ncols, j % ncols]
        for qi, q in enumerate(quantities)
        for j, scope in enumerate(scopes)
    }
    panels = dict(zip(cells, _panels(fig, list(cells.values()), sharex=True, sharey=True), strict=True))
    for scope in scopes:
        column = [panels[(q, scope)] for q in quantities]
        plot_cumulative(curves, scope=scope, quantities=quantities, axes=column, legend=False)
    for (q, scope), ax in panels.items():
        ax.set_title(f"{SHORT[q]} · {scope}")
    _legend(fig, _cumulative_handles(), None, ncols=_legend_cols(fig, 5, 3))
    fig.suptitle("layer-wise cumulative ablation")
    return fig


def plot_cumulative_rows(
    curves: dict[str, pd.DataFrame], scopes: Sequence[str], quantities: Sequence[str] = QUANTITIES
) -> Figure:
    """Cumulative-ablation curves of several networks (``{label: curves}``, e.g. one per activation), one
    block of rows per network: a panel per quantity and scope (quantity-major, at most three a row: one
    quantity's layers share a row), each drawn by :func:`plot_cumulative` and titled "<label> · <SHORT>"
    (plus " · layer N" for a layer). The legend sits below the grid."""
    quantities = _check_quantities(quantities)
    scopes = list(scopes)
    if not curves or not scopes:
        fail("curves", f"{len(curves)} networks, {len(scopes)} scopes", "needs at least one of each")
    cells_per_block = len(quantities) * len(scopes)
    ncols = min(MAX_COLS, cells_per_block)
    rows_per_block = math.ceil(cells_per_block / ncols)
    fig, gs = _figure(len(curves) * rows_per_block, ncols, 1.85, extra=0.7)
    cells = {}
    for b, label in enumerate(curves):
        for i, (q, scope) in enumerate((q, scope) for q in quantities for scope in scopes):
            cells[(label, q, scope)] = gs[b * rows_per_block + i // ncols, i % ncols]
    panels = dict(zip(cells, _panels(fig, list(cells.values()), sharex=True, sharey=True), strict=True))
    for label, table in curves.items():
        for scope in scopes:
            column = [panels[(label, q, scope)] for q in quantities]
            plot_cumulative(table, scope=scope, quantities=quantities, axes=column, legend=False)
    for (label, q, scope), ax in panels.items():
        ax.set_title(f"{label} · {SHORT[q]}" + ("" if scope == NETWORK else f" · {scope}"))
    handles = _cumulative_handles(any((t["direction"] == "random").any() for t in curves.values()))
    _legend(fig, handles, None, ncols=_legend_cols(fig, len(handles), 3))
    return fig


def plot_auc_summary(auc: pd.DataFrame, scopes: Sequence[str] | None = None) -> Figure:
    """AUC per quantity and direction (mean ± std over seeds) against the random band, one panel per scope.

    Panels in rows of two (network + three layers: 2 × 2); the legend takes a spare cell, else sits below.
    The random band is the mean over seeds of the 5 and 95 % quantiles of the random orders' AUC; the grey
    line is the mean random AUC.
    """
    _require(auc, "auc", ["seed", "scope", "quantity", "direction", "auc"])
    present = ordered_scopes(auc["scope"].unique())
    scopes = present if scopes is None else [check_choice("scope", s, present) for s in scopes]
    if not scopes:
        fail("auc", "without scopes", "needs at least one scope")
    ordered = auc[auc["direction"].isin(list(DIRECTION_STYLE))]
    quantities = [q for q in QUANTITIES if q in set(ordered["quantity"])]
    stats = ordered.groupby(["scope", "direction", "quantity"])["auc"].agg(["mean", "std"]).fillna({"std": 0})
    has_random = (auc["direction"] == "random").any()
    if has_random:
        band = random_band(auc, ["scope", "seed"], "auc").groupby("scope")[["random_lo", "random_hi"]].mean()
        rnd_mean = auc[auc["direction"] == "random"].groupby("scope")["auc"].mean()

    nrows, ncols = _grid_shape(len(scopes), max_cols=2)
    fig, gs = _figure(nrows, ncols, 2.5, extra=0.35)
    cells = [gs[i // ncols, i % ncols] for i in range(nrows * ncols)]
    axes = _panels(fig, cells[: len(scopes)], sharey=True)
    spare = cells[len(scopes)] if len(cells) > len(scopes) else None
    pos = {q: i for i, q in enumerate(quantities)}
    offset = {"ascending": -0.15, "descending": 0.15}
    for ax, scope in zip(axes, scopes, strict=True):
        if has_random and scope in band.index:
            lo, hi = band.loc[scope, "random_lo"], band.loc[scope, "random_hi"]
            ax.axhspan(
                lo,
                hi,
                color=COLORS["random"],
                alpha=0.35,
                lw=0,
                label=RANDOM_BAND_LABEL,
                gid=f"{scope}/random",
            )
            ax.axhline(rnd_mean[scope], color=COLORS["random"], lw=1.2, label="random (mean)")
        for direction in DIRECTION_STYLE:
            if (scope, direction) not in stats.index.droplevel("quantity"):
                continue
            s = stats.loc[(scope, direction)]
            s = s.reindex([q for q in quantities if q in s.index])
            x = s.index.map(pos).to_numpy() + offset[direction]
            cols = [COLORS[q] for q in s.index]
            ax.vlines(x, s["mean"] - s["std"], s["mean"] + s["std"], colors=cols, lw=1.5)
            ax.scatter(
                x,
                s["mean"],
                c=cols,
                marker=DIRECTION_MARKER[direction],
                s=40,
                edgecolors="black",
                linewidths=0.6,
                zorder=3,
                label=direction,
                gid=f"{scope}/{direction}",
            )
        ax.set_xticks(range(len(quantities)), [SHORT[q] for q in quantities])
        ax.set_xlim(-0.6, len(quantities) - 0.4)
        ax.set(title=scope, xlabel="ordering quantity", ylabel=Y_AUC)
    handles = [
        Line2D(
            [], [], ls="none", marker=DIRECTION_MARKER[d], color="black", label=f"{d} (mean ± std over seeds)"
        )
        for d in DIRECTION_STYLE
    ] + [
        Line2D([], [], color=COLORS["random"], label="random (mean)"),
        Patch(color=COLORS["random"], alpha=0.35, lw=0, label=RANDOM_BAND_LABEL),
    ]
    _legend(fig, handles, spare, ncols=2)
    return fig


def plot_network_composition(composition: pd.DataFrame, quantities: Sequence[str] = QUANTITIES) -> Figure:
    """Which hidden layers the whole-network orders ablate first.

    Rows = quantities, columns = ascending / descending (panel titles "<SHORT> ascending" / "<SHORT>
    descending"). Per panel, a stacked area of each hidden layer's share of the first k ablated neurons
    (mean over seeds; one grey per layer, light = layer 1) against the neurons ablated [%]; the dashed lines
    mark the layers' sizes, where a random order's shares lie. Each layer's area has ``gid``
    ``"{quantity}/{direction}/layer {N}"``. ``composition`` is :func:`nbsrc.analysis.network_order_layers`.
    """
    _require(composition, "composition", ["seed", "quantity", "direction", "k", "fraction", "layer", "share"])
    quantities = _check_quantities(quantities)
    for q in quantities:
        if not (composition["quantity"] == q).any():
            fail("quantities", q, "has no rows in composition")
    layers = sorted(int(x) for x in composition["layer"].unique())
    mean = composition.groupby(["quantity", "direction", "k", "layer"])[["fraction", "share"]].mean()
    # the layers' sizes: their shares once every neuron is ablated
    last = composition[composition["k"] == composition.groupby("seed")["k"].transform("max")]
    sizes = last.groupby("layer")["share"].mean().reindex(layers).fillna(0).to_numpy()
    colors = layer_colors(len(layers))

    nrows, ncols = len(quantities), len(DIRECTIONS)
    fig, gs = _figure(nrows, ncols, 1.75, extra=0.6)
    cells = [gs[i, j] for i in range(nrows) for j in range(ncols)]
    axes = iter(_panels(fig, cells, sharex=True, sharey=True))
    for q in quantities:
        for direction in DIRECTIONS:
            ax = next(axes)
            if (q, direction) not in mean.index.droplevel(["k", "layer"]):
                fail("composition", f"{q} {direction}", "has no rows for this quantity and direction")
            panel = mean.loc[(q, direction)]
            shares = panel["share"].unstack("layer").reindex(columns=layers).fillna(0)
            x = panel["fraction"].groupby("k").mean().reindex(shares.index).to_numpy() * 100
            areas = ax.stackplot(
                x, shares.to_numpy().T * 100, colors=colors, edgecolor="white", linewidth=0.3
            )
            for area, layer in zip(areas, layers, strict=True):
                area.set_gid(f"{q}/{direction}/layer {layer}")
            for level in np.cumsum(sizes)[:-1] * 100:
                ax.axhline(level, color="black", gapcolor="white", ls="--", lw=1.0, gid="layer sizes")
            ax.set(title=f"{SHORT[q]} {direction}", xlabel=X_ABLATED, ylabel=Y_SHARE)
            ax.set(xlim=(0, 100), ylim=(0, 100))
            ax.grid(False)
    handles = [
        Patch(facecolor=c, edgecolor="white", label=layer_scope(layer))
        for c, layer in zip(colors, layers, strict=True)
    ] + [Line2D([], [], color="black", gapcolor="white", ls="--", lw=1.0, label="layer sizes (random order)")]
    _legend(fig, handles, None, ncols=_legend_cols(fig, len(handles), 4))
    fig.suptitle("whole-network orders: hidden layers of the neurons ablated first")
    return fig


def plot_auc_gaps(indicators: pd.DataFrame) -> Figure:
    """The indicators across datasets: each quantity's AUC gap to the random mean per scope.

    Two rows per dataset group — ascending − random (top) and random − descending (bottom) — by up to
    three datasets per row (more wrap into further row pairs); x = scope (network, layer 1..L), points with
    error bars (mean ± std over seeds) coloured by quantity, the grey zero line is the random mean. A good
    indicator sits above zero in both rows. Each quantity's points are one line with ``gid``
    ``"{dataset}/{gap}/{quantity}"`` (gap "asc_gap" or "desc_gap").
    """
    _require(
        indicators,
        "indicators",
        ["dataset", "scope", "quantity", "asc_gap_mean", "asc_gap_std", "desc_gap_mean", "desc_gap_std"],
    )
    if indicators.empty:
        fail("indicators", "empty table", "needs at least one row")
    datasets = list(pd.unique(indicators["dataset"]))
    scopes = ordered_scopes(indicators["scope"].unique())
    quantities = [q for q in QUANTITIES if q in set(indicators["quantity"])]
    for q in set(indicators["quantity"]) - set(quantities):
        check_choice("quantity", q, QUANTITIES)
    xpos = {s: i for i, s in enumerate(scopes)}
    dodge = 0.62 / max(len(quantities), 1)
    offset = {q: (i - (len(quantities) - 1) / 2) * dodge for i, q in enumerate(quantities)}
    ticks = [s if scope_layer(s) is None else str(scope_layer(s)) for s in scopes]

    ncols = min(MAX_COLS, len(datasets))
    blocks = math.ceil(len(datasets) / ncols)
    fig, gs = _figure(2 * blocks, ncols, 2.05, extra=0.7)
    rows: dict[str, list[Axes]] = {"asc_gap": [], "desc_gap": []}
    for i, dataset in enumerate(datasets):
        for r, gap in enumerate(GAP_LABELS):
            share = rows[gap][0] if rows[gap] else None
            ax = fig.add_subplot(gs[2 * (i // ncols) + r, i % ncols], sharey=share)
            rows[gap].append(ax)
            ax.axhline(0, color=COLORS["random"], lw=1.2, gid="random/zero", zorder=1)
            table = indicators[indicators["dataset"] == dataset]
            for q in quantities:
                sel = table[table["quantity"] == q]
                if sel.empty:
                    continue
                sel = sel.iloc[np.argsort(sel["scope"].map(xpos).to_numpy(), kind="stable")]
                x = sel["scope"].map(xpos).to_numpy() + offset[q]
                drawn = ax.errorbar(
                    x,
                    sel[f"{gap}_mean"].to_numpy(),
                    yerr=sel[f"{gap}_std"].fillna(0).to_numpy(),
                    fmt="o",
                    ms=4,
                    color=COLORS[q],
                    elinewidth=1.1,
                    capsize=0,
                    label=SHORT[q],
                    zorder=3,
                )
                drawn.lines[0].set_gid(f"{dataset}/{gap}/{q}")
            ax.set_xticks(range(len(scopes)), ticks)
            ax.set_xlim(-0.5, len(scopes) - 0.5)
            ax.set(title=str(dataset), xlabel="scope: network / layer", ylabel=GAP_LABELS[gap])
            ax.grid(False, axis="x")
    handles = [
        Line2D([], [], ls="none", marker="o", ms=4, color=COLORS[q], label=SHORT[q]) for q in quantities
    ] + [
        Line2D([], [], color="black", lw=1.1, marker="|", ms=6, label="± std over seeds"),
        Line2D([], [], color=COLORS["random"], lw=1.2, label="random (mean), gap 0"),
    ]
    _legend(fig, handles, None, ncols=_legend_cols(fig, len(handles), 4))
    fig.suptitle("AUC gap to random; good: > 0 in both rows")
    return fig


Y_RHO = "Spearman ρ with the\nsingle-neuron drop [1]"


def plot_damage_correlations(correlations: pd.DataFrame) -> Figure:
    """Spearman ρ between each quantity and the accuracy drop of ablating that neuron alone (mean ± std
    over seeds; each seed a dot), one panel per scope: the whole network and each hidden layer."""
    _require(correlations, "correlations", ["seed", "scope", "quantity", "rho"])
    scopes = ordered_scopes(correlations["scope"].unique())
    quantities = [q for q in QUANTITIES if q in set(correlations["quantity"])]
    nrows, ncols = _grid_shape(len(scopes), max_cols=2)
    fig, gs = _figure(nrows, ncols, 2.4)
    axes = _panels(fig, [gs[i // ncols, i % ncols] for i in range(len(scopes))], sharey=True)
    stats = correlations.groupby(["scope", "quantity"])["rho"].agg(["mean", "std"]).fillna({"std": 0})
    for ax, scope in zip(axes, scopes, strict=True):
        ax.axhline(0, color="black", lw=0.8)
        for i, quantity in enumerate(quantities):
            color = COLORS[quantity]
            seeds = correlations[(correlations.scope == scope) & (correlations.quantity == quantity)]
            ax.scatter(np.full(len(seeds), i + 0.18), seeds["rho"], s=10, color=color, alpha=0.6, lw=0)
            mean, std = stats.loc[(scope, quantity)]
            ax.errorbar(
                i,
                mean,
                yerr=std,
                fmt="o",
                color=color,
                mec="black",
                mew=0.6,
                ms=6,
                capsize=2,
                gid=f"{scope}/{quantity}",
            )
        ax.set_xticks(range(len(quantities)), [SHORT[q] for q in quantities])
        ax.set_xlim(-0.6, len(quantities) - 0.4)
        ax.set(title=scope, xlabel="quantity", ylabel=Y_RHO)
    return fig


def plot_pair_contrasts(contrasts: pd.DataFrame) -> Figure:
    """The pair tests of C8, one panel per hidden layer: for each quantity's top and bottom quarter, the
    pairs' information synergy (x) and damage interaction (y), each minus that of random pairs of the
    layer (mean ± std over seeds). Redundancy predicts top-quarter pairs up and to the left of the origin,
    synergy bottom-quarter pairs down and to the right.

    ``contrasts``: :func:`nbsrc.redundancy.pair_contrasts`."""
    _require(contrasts, "contrasts", ["layer", "quantity", "group", "synergy_mean", "interaction_mean"])
    layers = sorted(contrasts["layer"].unique())
    quantities = [q for q in QUANTITIES if q in set(contrasts["quantity"])]
    nrows, ncols = _grid_shape(len(layers) + 1)
    fig, gs = _figure(nrows, ncols, 2.5)
    cells = [gs[i // ncols, i % ncols] for i in range(len(layers) + 1)]
    axes = _panels(fig, cells[:-1])
    for ax, layer in zip(axes, layers, strict=True):
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(0, color="black", lw=0.8)
        rows = contrasts[contrasts["layer"] == layer]
        for r in rows.itertuples():
            ax.errorbar(
                r.synergy_mean,
                100 * r.interaction_mean,
                xerr=r.synergy_std,
                yerr=100 * r.interaction_std,
                fmt=PAIR_MARKER[r.group],
                color=COLORS[r.quantity],
                mec="black",
                mew=0.5,
                ms=6,
                elinewidth=0.8,
                capsize=1.5,
                gid=f"layer {layer}/{r.quantity}/{r.group}",
            )
        ax.xaxis.set_major_locator(MaxNLocator(4))  # bits to four decimals: few ticks, or they collide
        ax.set(title=layer_scope(layer), xlabel=X_SYNERGY, ylabel=Y_INTERACTION)
    handles = [Patch(color=COLORS[q], label=SHORT[q]) for q in quantities] + [
        Line2D([], [], ls="", marker=PAIR_MARKER[g], color="black", label=f"{g} quarter pairs")
        for g in ("top", "bottom")
    ]
    _legend(fig, handles, cells[-1], ncols=1)
    return fig


def _quantization_axis(ax: Axes, labels: Sequence[str]) -> None:
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.5, len(labels) - 0.5)
    ax.set_xlabel("quantisation")


def plot_quantization_agreement(agreement: pd.DataFrame, labels: Sequence[str]) -> Figure:
    """Spearman ρ of each quantity's ranking under every quantisation (x, in ``labels`` order) with its
    ranking under the binary code, one line per hidden layer (mean ± std over seeds), one panel per
    quantity. ``agreement``: :func:`nbsrc.estimators.ranking_agreement`."""
    _require(agreement, "agreement", ["seed", "layer", "quantization", "quantity", "rho"])
    quantities = [q for q in QUANTITIES if q in set(agreement["quantity"])]
    layers = sorted(agreement["layer"].unique())
    fig, gs = _figure(1, len(quantities), 2.9, extra=0.5)
    axes = _panels(fig, [gs[0, i] for i in range(len(quantities))], sharey=True)
    stats = (
        agreement.groupby(["quantity", "layer", "quantization"])["rho"]
        .agg(["mean", "std"])
        .fillna({"std": 0})
    )
    for ax, quantity in zip(axes, quantities, strict=True):
        for layer, color in zip(layers, layer_colors(len(layers)), strict=True):
            s = stats.loc[(quantity, layer)].reindex(labels)
            ax.errorbar(range(len(labels)), s["mean"], yerr=s["std"], color=color, marker="o", ms=3, lw=1.2,
                        capsize=1.5, gid=f"{quantity}/layer {layer}")  # fmt: skip
        _quantization_axis(ax, labels)
        ax.set(title=SHORT[quantity], ylabel="Spearman ρ with the\nbinary ranking [1]")
    handles = [Line2D([], [], color=c, marker="o", label=layer_scope(layer)) for layer, c in
               zip(layers, layer_colors(len(layers)), strict=True)]  # fmt: skip
    _legend(fig, handles, None, _legend_cols(fig, len(handles), len(handles)))
    return fig


def plot_quantization_auc(auc: pd.DataFrame, labels: Sequence[str], quantity: str) -> Figure:
    """AUC of the curves ordered by ``quantity`` under every quantisation (x): ascending (up) and
    descending (down) triangles, mean ± std over seeds, against the random orders' 5-95 % band and mean
    (grey), one panel per scope. ``auc``: :func:`nbsrc.estimators.quantization_study`'s."""
    _require(auc, "auc", ["seed", "scope", "quantization", "direction", "auc"])
    scopes = ordered_scopes(auc["scope"].unique())
    nrows, ncols = _grid_shape(len(scopes), max_cols=2)
    fig, gs = _figure(nrows, ncols, 2.9, extra=0.4)
    axes = _panels(fig, [gs[i // ncols, i % ncols] for i in range(len(scopes))])
    band = random_band(auc, by=["seed", "scope"], value="auc").groupby("scope").mean(numeric_only=True)
    ordered = auc[auc.direction != "random"]
    stats = (
        ordered.groupby(["scope", "direction", "quantization"])["auc"].agg(["mean", "std"]).fillna({"std": 0})
    )
    color = COLORS[quantity]
    for ax, scope in zip(axes, scopes, strict=True):
        ax.axhspan(
            band.loc[scope, "random_lo"],
            band.loc[scope, "random_hi"],
            color=COLORS["random"],
            alpha=0.3,
            lw=0,
        )
        ax.axhline(band.loc[scope, "random_mean"], color=COLORS["random"], lw=1)
        for direction in DIRECTIONS:
            s = stats.loc[(scope, direction)].reindex(labels)
            ax.errorbar(
                range(len(labels)), s["mean"], yerr=s["std"], fmt=DIRECTION_MARKER[direction], color=color,
                mec="black", mew=0.5, ms=5, capsize=1.5, gid=f"{scope}/{direction}",
            )  # fmt: skip
        _quantization_axis(ax, labels)
        ax.set(title=scope, ylabel=Y_AUC)
    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker=DIRECTION_MARKER[d],
            color=color,
            mec="black",
            label=f"{d} by {SHORT[quantity]}",
        )
        for d in DIRECTIONS
    ] + [Patch(color=COLORS["random"], alpha=0.3, lw=0, label=RANDOM_BAND_LABEL)]
    _legend(fig, handles, None, _legend_cols(fig, len(handles), len(handles)))
    return fig


#: The y axis of each value of :func:`plot_sample_size`.
SAMPLE_SIZE_Y = {
    "rho": "Spearman ρ with the\nfull-split ranking [1]",
    "width": "median 5–95 % bootstrap\ninterval width [bits]",
    "bias": "mean error against the\nfull-split value [bits]",
}
ESTIMATOR_STYLE = {"plug-in": "-", "Miller-Madow": "--"}


def plot_sample_size(summary: pd.DataFrame, value: str = "rho") -> Figure:
    """One value of the sample-size study (``rho``, ``width`` or ``bias``) against the number of validation
    samples (log scale), one line per hidden layer (mean over seeds; solid plug-in, dashed Miller-Madow),
    one panel per quantity. ``summary``: :func:`nbsrc.estimators.sample_size_summary`."""
    check_choice("value", value, list(SAMPLE_SIZE_Y))
    _require(summary, "summary", ["seed", "layer", "n", "estimator", "quantity", value])
    quantities = [q for q in QUANTITIES if q in set(summary["quantity"])]
    layers = sorted(summary["layer"].unique())
    fig, gs = _figure(1, len(quantities), 2.7, extra=0.4)
    axes = _panels(fig, [gs[0, i] for i in range(len(quantities))], sharey=value == "rho")
    means = summary.groupby(["quantity", "estimator", "layer", "n"])[value].mean()
    for ax, quantity in zip(axes, quantities, strict=True):
        for estimator, style in ESTIMATOR_STYLE.items():
            for layer, color in zip(layers, layer_colors(len(layers)), strict=True):
                if (quantity, estimator, layer) not in means.index.droplevel("n"):
                    continue
                s = means.loc[(quantity, estimator, layer)]
                ax.plot(s.index, s.to_numpy(), ls=style, color=color, marker="o", ms=3, lw=1.2,
                        gid=f"{quantity}/{estimator}/layer {layer}")  # fmt: skip
        ax.set_xscale("log")
        sizes = sorted(summary["n"].unique())
        ax.set_xticks(sizes, [f"{n:,}" for n in sizes], rotation=60, ha="right", rotation_mode="anchor")
        ax.minorticks_off()
        ax.set(title=SHORT[quantity], xlabel="validation samples", ylabel=SAMPLE_SIZE_Y[value])
    handles = [Line2D([], [], color=c, label=layer_scope(layer)) for layer, c in
               zip(layers, layer_colors(len(layers)), strict=True)]  # fmt: skip
    handles += [Line2D([], [], color="black", ls=s, label=e) for e, s in ESTIMATOR_STYLE.items()]
    _legend(fig, handles, None, _legend_cols(fig, len(handles), len(handles)))
    return fig


X_ENTROPY = "H(T) = I(T; X) [bits]"
Y_INFORMATION = "I(T; Y) [bits]"
X_TRAINING = "training time [epochs]"
#: The information plane's markers: the first checkpoint, the epoch of best validation accuracy, the last.
PLANE_MARKERS = {"start (epoch 0)": "o", "best validation accuracy": "*", "end of training": "s"}


def _layer_palette(paths: pd.DataFrame) -> dict[int, str]:
    """One grey per layer number over every network kind of ``paths``, so that a layer has the same grey
    in every panel and in the legend (a two-layer network's layer 2 is not the three-layer one's layer 3)."""
    layers = sorted(paths["layer"].unique())
    return dict(zip(layers, layer_colors(len(layers)), strict=True))


def _network_panels(paths: pd.DataFrame, nrows: int, row_height: float, extra: float):
    networks = list(dict.fromkeys(paths["network"]))
    fig, gs = _figure(nrows, len(networks), row_height, extra)
    return fig, gs, networks


def plot_information_plane(paths: pd.DataFrame, best: pd.DataFrame) -> Figure:
    """Each hidden layer's path through the information plane during training, one panel per network
    kind: the layer's mean H(T) (x) and I(T; Y) (y) over its neurons at every checkpoint, averaged over
    seeds; marked at the start, at the epoch of best validation accuracy (median over seeds) and at the
    end, where bars show the neurons' spread (standard deviation over the layer, mean over seeds).
    ``paths``: :func:`nbsrc.infoplane.layer_paths` with a ``network`` column; ``best``:
    :func:`nbsrc.infoplane.best_epochs` with a ``network`` column."""
    _require(paths, "paths", ["network", "seed", "layer", "epoch", "entropy_mean", "mutual_information_mean"])
    _require(best, "best", ["network", "seed", "epoch"])
    fig, gs, networks = _network_panels(paths, 1, 3.3, 0.5)
    palette = _layer_palette(paths)
    axes = _panels(fig, [gs[0, i] for i in range(len(networks))], sharex=True, sharey=True)
    columns = ["entropy_mean", "entropy_std", "mutual_information_mean", "mutual_information_std"]
    top = float(paths["entropy_mean"].max() + paths["entropy_std"].max())
    for ax, network in zip(axes, networks, strict=True):
        mean = paths[paths.network == network].groupby(["layer", "epoch"])[columns].mean()
        best_epoch = float(np.floor(best[best.network == network].epoch.median()))
        layers = sorted(mean.index.get_level_values("layer").unique())
        ax.plot([0, top], [0, top], color="black", lw=0.8, ls=":", zorder=0)
        for layer in layers:
            m, color = mean.loc[layer], palette[layer]
            ax.plot(m.entropy_mean, m.mutual_information_mean, color=color, lw=1.4, marker=".", ms=3,
                    gid=f"{network}/layer {layer}")  # fmt: skip
            end = m.iloc[-1]
            bars = {"xerr": end.entropy_std, "yerr": end.mutual_information_std}
            ax.errorbar(
                end.entropy_mean, end.mutual_information_mean, **bars, fmt="none", ecolor=color, lw=0.9
            )
            moments = (m.index[0], best_epoch, m.index[-1])
            for epoch, marker in zip(moments, PLANE_MARKERS.values(), strict=True):
                row = m.loc[epoch]
                ax.plot(row.entropy_mean, row.mutual_information_mean, marker=marker, color=color,
                        mec="black", mew=0.6, ms=9 if marker == "*" else 5, ls="")  # fmt: skip
        ax.set(title=network, xlabel=X_ENTROPY, ylabel=Y_INFORMATION, xlim=(0, top), ylim=(0, top))
    handles = [Line2D([], [], color=c, lw=1.4, label=layer_scope(layer)) for layer, c in palette.items()]
    handles += [Line2D([], [], ls="", marker=m, color="white", mec="black", label=label)
                for label, m in PLANE_MARKERS.items()]  # fmt: skip
    handles.append(Line2D([], [], color="black", lw=0.8, ls=":", label="I(T; Y) = H(T), the bound"))
    _legend(fig, handles, None, _legend_cols(fig, len(handles), 4))
    return fig


def plot_information_time(paths: pd.DataFrame, checkpoints: pd.DataFrame, best: pd.DataFrame) -> Figure:
    """H(T), I(T; Y) and the validation accuracy against training time (symmetric log scale: linear
    within the first epoch), one column per network kind: per layer the mean over its neurons (mean over
    seeds) with a band of ± the neurons' standard deviation; the dotted line marks the epoch of best
    validation accuracy (median over seeds). ``checkpoints``: :func:`nbsrc.infoplane.Trajectories`'
    checkpoints with a ``network`` column."""
    _require(checkpoints, "checkpoints", ["network", "seed", "epoch", "val_accuracy"])
    fig, gs, networks = _network_panels(paths, 3, 2.0, 0.5)
    palette = _layer_palette(paths)
    rows = (("entropy", "H(T) [bits]"), ("mutual_information", Y_INFORMATION), ("val_accuracy", None))
    axes = [_panels(fig, [gs[r, c] for r in range(3)], sharex=True) for c in range(len(networks))]
    for column, network in zip(axes, networks, strict=True):
        p = paths[paths.network == network]
        best_epoch = float(np.floor(best[best.network == network].epoch.median()))
        layers = sorted(p["layer"].unique())
        for ax, (quantity, label) in zip(column, rows, strict=True):
            if quantity == "val_accuracy":
                acc = checkpoints[checkpoints.network == network]
                for seed, g in acc.groupby("seed"):
                    ax.plot(g.epoch, g.val_accuracy * 100, color="black", lw=1.0, alpha=0.7,
                            gid=f"{network}/val_accuracy/seed {seed}")  # fmt: skip
                ax.set(ylabel="validation\naccuracy [%]", xlabel=X_TRAINING)
            else:
                mean = p.groupby(["layer", "epoch"])[[f"{quantity}_mean", f"{quantity}_std"]].mean()
                for layer in layers:
                    m, color = mean.loc[layer], palette[layer]
                    centre, spread = m[f"{quantity}_mean"], m[f"{quantity}_std"]
                    ax.plot(m.index, centre, color=color, lw=1.4, gid=f"{network}/{quantity}/layer {layer}")
                    low = (centre - spread).clip(lower=0)  # both quantities are >= 0 bits
                    ax.fill_between(m.index, low, centre + spread, color=color, alpha=0.15, lw=0)
                ax.set(ylabel=label)
            ax.axvline(best_epoch, color="black", lw=0.8, ls=":")
            ax.set_xscale("symlog", linthresh=1.0)
            ax.xaxis.set_major_locator(mpl.ticker.FixedLocator([0, 0.5, 1, 2, 5, 10, 20]))
            ax.xaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.minorticks_off()
        column[0].set_title(network)
    handles = [Line2D([], [], color=c, lw=1.4, label=layer_scope(layer)) for layer, c in palette.items()]
    handles += [
        Patch(color="grey", alpha=0.3, lw=0, label="± std over the layer's neurons (from 0)"),
        Line2D([], [], color="black", lw=1.0, alpha=0.7, label="validation accuracy, one line per seed"),
        Line2D([], [], color="black", lw=0.8, ls=":", label="best validation accuracy"),
    ]
    _legend(fig, handles, None, _legend_cols(fig, len(handles), 3))
    return fig


X_KEPT = "neurons kept per layer [%]"
#: The pruning variants' line styles (the criterion is the colour); "from scratch" is black.
VARIANT_STYLE = {"zero": ":", "bias balancing": "--", "fine-tuned": "-"}


def _intact_line(ax: Axes, intact: float) -> None:
    ax.axhline(100 * intact, color="black", lw=0.8, ls=(0, (1, 3)))


def plot_pruning_accuracy(accuracy: pd.DataFrame, intact: pd.DataFrame) -> Figure:
    """Test accuracy of the pruned networks against the fraction of neurons kept per layer, one row per
    network kind and one panel per variant (zero, bias balancing, fine-tuned): one line per criterion
    (mean over seeds), the same small networks trained from scratch in black where computed, and the
    intact networks' mean accuracy (dotted). ``accuracy``: :func:`nbsrc.pruning.pruning_study`'s with a
    ``network`` column; ``intact``: network, seed, accuracy."""
    _require(accuracy, "accuracy", ["network", "seed", "criterion", "kept", "variant", "accuracy"])
    networks = list(dict.fromkeys(accuracy["network"]))
    variants = list(VARIANT_STYLE)
    fig, gs = _figure(len(networks), len(variants), 2.4, 0.5)
    means = accuracy.groupby(["network", "variant", "criterion", "kept"])["accuracy"].mean()
    criteria = list(dict.fromkeys(accuracy["criterion"]))
    for row, network in enumerate(networks):
        axes = _panels(fig, [gs[row, c] for c in range(len(variants))], sharey=True)
        level = float(intact[intact.network == network].accuracy.mean())
        for ax, variant in zip(axes, variants, strict=True):
            for criterion in criteria:
                s = means.loc[(network, variant, criterion)]
                ax.plot(100 * s.index, 100 * s.to_numpy(), color=COLORS[criterion], marker="o", ms=3, lw=1.3,
                        gid=f"{network}/{variant}/{criterion}")  # fmt: skip
            if (network, "from scratch") in means.index.droplevel(["criterion", "kept"]):
                s = means.loc[(network, "from scratch", criteria[0])]
                ax.plot(100 * s.index, 100 * s.to_numpy(), color="black", ls="--", marker="s", ms=3, lw=1.0,
                        gid=f"{network}/from scratch")  # fmt: skip
            _intact_line(ax, level)
            ax.set(title=variant, xlabel=X_KEPT, ylabel=f"{network}\n{Y_ACCURACY}", xlim=(0, 100))
    handles = [Line2D([], [], color=COLORS[c], marker="o", ms=3, label=SHORT[c]) for c in criteria]
    handles += [
        Line2D([], [], color="black", ls="--", marker="s", ms=3, label="trained from scratch"),
        Line2D([], [], color="black", lw=0.8, ls=(0, (1, 3)), label="intact network"),
    ]
    _legend(fig, handles, None, _legend_cols(fig, len(handles), 4))
    return fig


def plot_pruning_cost(
    accuracy: pd.DataFrame, sizes: pd.DataFrame, intact: pd.DataFrame, criterion: str
) -> Figure:
    """Test accuracy of the networks pruned by ``criterion`` (one line per variant, mean over seeds) and
    of the small networks trained from scratch, against their parameter count (left, log scale) and the
    measured time of a forward pass over the test images (right, points only: timings are noisy), one row
    per network kind; the star is the intact network. ``sizes``: :func:`nbsrc.pruning.pruning_study`'s,
    with a ``network`` column."""
    _require(sizes, "sizes", ["network", "seed", "kept", "parameters", "seconds"])
    networks = list(dict.fromkeys(accuracy["network"]))
    fig, gs = _figure(len(networks), 2, 2.5, 0.5)
    cost = sizes.groupby(["network", "kept"])[["parameters", "seconds"]].median()
    means = (
        accuracy[accuracy.criterion == criterion].groupby(["network", "variant", "kept"])["accuracy"].mean()
    )
    for row, network in enumerate(networks):
        axes = _panels(fig, [gs[row, 0], gs[row, 1]], sharey=True)
        c = cost.loc[network]
        level = float(intact[intact.network == network].accuracy.mean())
        for ax, column in zip(axes, ("parameters", "seconds"), strict=True):
            scale = 1000 if column == "seconds" else 1
            ax.plot(scale * c.loc[1.0, column], 100 * level, marker="*", ms=9, color="black", ls="",
                    gid=f"{network}/{column}/intact")  # fmt: skip
            for variant in [*VARIANT_STYLE, "from scratch"]:
                if (network, variant) not in means.index.droplevel("kept"):
                    continue
                s = means.loc[(network, variant)]
                scratch = variant not in VARIANT_STYLE
                color, style = ("black", "-") if scratch else (COLORS[criterion], VARIANT_STYLE[variant])
                # measured times are noisy: points only, no line through them
                style = style if column == "parameters" else ""
                ax.plot(scale * c.loc[s.index, column].to_numpy(), 100 * s.to_numpy(), color=color, ls=style,
                        marker="o", ms=4, lw=1.3, gid=f"{network}/{column}/{variant}")  # fmt: skip
            if column == "parameters":
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(mpl.ticker.NullFormatter())
            xlabel = "parameters [count]" if column == "parameters" else "forward pass, test set [ms]"
            ax.set(title=network, xlabel=xlabel, ylabel=Y_ACCURACY)
    handles = [Line2D([], [], color=COLORS[criterion], ls=s, label=f"{v} ({SHORT[criterion]})")
               for v, s in VARIANT_STYLE.items()]  # fmt: skip
    handles += [
        Line2D([], [], color="black", label="trained from scratch"),
        Line2D([], [], color="black", marker="*", ls="", label="intact network"),
    ]
    _legend(fig, handles, None, _legend_cols(fig, len(handles), 3))
    return fig


# -------------------------------------------------------------------------------- variants of a network

X_RELATIVE_AUC = "relative random-order AUC,\nwhole network [1]"


#: Scatter markers and line styles of the variants (regulariser, chapter), in the order of their colours:
#: some of the palette's colours (orange, vermillion) look alike when small or thin, so each variant has
#: a second cue.
VARIANT_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
VARIANT_LINESTYLES = ("-", "--", ":", "-.", (0, (3, 1, 1, 1, 1, 1)), (0, (8, 2)), (0, (1, 1)), (0, (5, 2)))


def _variant_palette(labels: Sequence[str]) -> dict[str, tuple]:
    """One colour per variant (regulariser, chapter), in the given order (seaborn's colorblind palette)."""
    return dict(zip(labels, sns.color_palette("colorblind", len(labels)), strict=True))


def plot_variant_distributions(
    measures: dict[str, pd.DataFrame], quantities: Sequence[str] = QUANTITIES[:4]
) -> Figure:
    """Each quantity's distribution over the neurons of each hidden layer, per variant of a network
    (``{label: measures}``, e.g. one per regulariser): one row per quantity, one panel per hidden layer, one
    violin per variant (all seeds pooled), in the quantity's colour."""
    quantities = _check_quantities(quantities)
    if not measures:
        fail("measures", "no variant", "needs at least one variant's measures")
    for label, table in measures.items():
        _require(table, f"measures of {label}", ["seed", "layer", "neuron", "quantity", "value"])
    labels = list(measures)
    pooled = pd.concat([t.assign(variant=label) for label, t in measures.items()], ignore_index=True)
    layers = sorted(pooled["layer"].unique())
    ncols = min(MAX_COLS, len(layers))
    nrows = len(quantities) * math.ceil(len(layers) / ncols)
    fig, gs = _figure(nrows, ncols, 2.3)
    for qi, q in enumerate(quantities):
        first = None
        for li, layer in enumerate(layers):
            row = qi * math.ceil(len(layers) / ncols) + li // ncols
            ax = fig.add_subplot(gs[row, li % ncols], sharey=first)
            first = first or ax
            sub = pooled[(pooled["quantity"] == q) & (pooled["layer"] == layer)]
            if sub.empty:
                fail("quantities", q, "has no rows in measures")
            sns.violinplot(
                data=sub, x="variant", y="value", order=labels, color=COLORS[q], cut=0, inner="quart",
                density_norm="width", linewidth=1, ax=ax,
            )  # fmt: skip
            ax.set(
                xlabel="",
                ylabel=LABELS[q] if li % ncols == 0 else "",
                title=f"{SHORT[q]} · {layer_scope(layer)}",
            )
            ax.tick_params(axis="x", labelrotation=90)
    return fig


def plot_random_curves(curves: dict[str, pd.DataFrame], scopes: Sequence[str] | None = None) -> Figure:
    """Robustness to ablation per variant of a network (``{label: curves}``): one panel per scope (the whole
    network, then each hidden layer), one line per variant (its colour and line style), the mean over seeds
    and random orders of the test accuracy against the share of the scope's neurons ablated in random order
    (zero ablation in the book). Lines carry ``gid`` ``"{label}/{scope}"``."""
    if not curves:
        fail("curves", "no variant", "needs at least one variant's curves")
    for label, table in curves.items():
        _require(table, f"curves of {label}", ["seed", "scope", "direction", "fraction", "accuracy"])
    first = next(iter(curves.values()))
    scopes = ordered_scopes(first["scope"].unique()) if scopes is None else list(scopes)
    nrows, ncols = _grid_shape(len(scopes))
    fig, gs = _figure(nrows, ncols, 2.4, extra=0.5)
    axes = _panels(fig, [gs[i // ncols, i % ncols] for i in range(len(scopes))], sharex=True, sharey=True)
    colors = _variant_palette(list(curves))
    styles = dict(zip(colors, itertools.cycle(VARIANT_LINESTYLES)))
    for ax, scope in zip(axes, scopes, strict=True):
        for label, table in curves.items():
            sub = table[(table["scope"] == scope) & (table["direction"] == "random")]
            if sub.empty:
                fail("scope", scope, f"has no random orders for {label}")
            mean = sub.groupby("fraction")["accuracy"].mean()
            ax.plot(
                100 * mean.index, 100 * mean.to_numpy(), color=colors[label], ls=styles[label], lw=1.4,
                gid=f"{label}/{scope}",
            )  # fmt: skip
        ax.set(title="whole network" if scope == NETWORK else scope, xlabel=X_ABLATED, ylabel=Y_ACCURACY)
    handles = [Line2D([], [], color=c, ls=styles[label], lw=1.4, label=label) for label, c in colors.items()]
    _legend(fig, handles, None, ncols=_legend_cols(fig, len(handles), 3))
    return fig


def plot_accuracy_robustness(points: pd.DataFrame, hue: str, panel: str | None = None) -> Figure:
    """Morcos et al.'s comparison: one point per network, its test accuracy against the mean AUC of its
    whole-network random orders relative to its intact accuracy above chance (``relative_network_auc``),
    coloured by ``hue`` (a column: the regulariser, the chapter), one panel per value of ``panel`` (a column:
    the dataset; one panel without), each titled with Spearman's ρ between the two numbers and the number
    of networks. Points carry ``gid`` ``"{panel}/{hue}"``."""
    _require(points, "points", ["test_accuracy", "relative_network_auc", hue, *([panel] if panel else [])])
    if points.empty:
        fail("points", "empty table", "needs at least one network")
    groups = list(points.groupby(panel, sort=False)) if panel else [("", points)]
    nrows, ncols = _grid_shape(len(groups))
    fig, gs = _figure(nrows, ncols, 2.8 if ncols > 1 else 3.2, extra=0.6)
    axes = _panels(fig, [gs[i // ncols, i % ncols] for i in range(len(groups))])
    colors = _variant_palette(list(pd.unique(points[hue])))
    markers = dict(zip(colors, itertools.cycle(VARIANT_MARKERS)))
    for ax, (name, group) in zip(axes, groups, strict=True):
        for label, sub in group.groupby(hue, sort=False):
            ax.scatter(
                sub["relative_network_auc"], 100 * sub["test_accuracy"], s=24, color=colors[label],
                marker=markers[label], edgecolor="white", linewidth=0.5, gid=f"{name}/{label}",
            )  # fmt: skip
        rho = spearman(group["test_accuracy"].to_numpy(), group["relative_network_auc"].to_numpy())
        text = "ρ undefined" if np.isnan(rho) else f"ρ = {num(rho, 2, signed=True)}"
        text = f"{text}, {len(group)} networks"
        ax.set(title=f"{name}\n{text}" if name else text, xlabel=X_RELATIVE_AUC, ylabel=Y_ACCURACY)
    handles = [
        Line2D([], [], ls="none", marker=markers[label], ms=5, color=c, label=str(label))
        for label, c in colors.items()
    ]
    _legend(fig, handles, None, ncols=_legend_cols(fig, len(handles), 3))
    return fig
