"""Figure helpers for the book's chapters.

Every function takes the long-format DataFrames produced by the analysis module and returns a
:class:`matplotlib.figure.Figure` (it never calls ``plt.show()``). Each measure has ONE colour across the
whole book (:data:`COLORS`, from seaborn's colour-blind-safe palette); ablation direction is shown by line
style (:data:`DIRECTION_STYLE`) or marker, the random baseline is always grey. Accuracies are fractions in
the data and shown in percent on the axes. Call :func:`set_style` once at the top of a notebook.

Input formats
-------------
``histories``: [seed, epoch, train_loss, val_accuracy]
``measures``:  [seed, layer, neuron, quantity, value]          (layer is 1-based)
``curves``:    [seed, scope, quantity, direction, order, k, fraction, accuracy]
``auc``:       [seed, scope, quantity, direction, order, auc, threshold_fraction]
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from nbsrc.checks import check_choice, fail
from nbsrc.vocabulary import (
    COLORS,
    LABELS,
    QUANTITIES,
    RANDOM_BAND_LABEL,
    SHORT,
    layer_scopes,
    ordered_scopes,
    random_band,
)

DIRECTION_STYLE = {"ascending": "-", "descending": "--"}
DIRECTION_MARKER = {"ascending": "^", "descending": "v"}

X_ABLATED = "neurons ablated [%]"
Y_ACCURACY = "test accuracy [%]"
Y_AUC = "AUC of accuracy vs fraction ablated"
_SEED_CMAP = "mako"


def set_style() -> None:
    """Set the book's seaborn theme (white grid, colour-blind palette, readable sizes). Call once."""
    sns.set_theme(
        context="notebook",
        style="whitegrid",
        palette="colorblind",
        rc={
            "figure.dpi": 110,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "legend.frameon": False,
        },
    )


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


def _cumulative_handles() -> list:
    """Legend proxies: colour-neutral, since each panel has its own quantity colour."""
    return [
        Line2D([], [], color="black", ls=DIRECTION_STYLE["ascending"], label="ascending (mean over seeds)"),
        Line2D([], [], color="black", ls=DIRECTION_STYLE["descending"], label="descending (mean over seeds)"),
        Patch(color="black", alpha=0.15, lw=0, label="min–max over seeds"),
        Line2D([], [], color=COLORS["random"], label="random (mean)"),
        Patch(color=COLORS["random"], alpha=0.35, lw=0, label=RANDOM_BAND_LABEL),
    ]


# ------------------------------------------------------------------------------------------------ figures


def plot_training(histories: pd.DataFrame) -> Figure:
    """Training loss (log scale) and validation accuracy [%] against epoch, one line per seed."""
    _require(histories, "histories", ["seed", "epoch", "train_loss", "val_accuracy"])
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
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
    ax_acc.legend([f"seed {s}" for s in acc.columns], title=None, fontsize="small")
    return fig


def plot_measure_distributions(
    measures: pd.DataFrame, quantities: Sequence[str] = QUANTITIES[:4], kind: str = "violin"
) -> Figure:
    """One panel per quantity: its distribution over neurons per hidden layer (pooled over seeds)."""
    _require(measures, "measures", ["seed", "layer", "neuron", "quantity", "value"])
    quantities = _check_quantities(quantities)
    check_choice("kind", kind, ("violin", "box"))
    fig, axes = plt.subplots(
        1, len(quantities), figsize=(3.4 * len(quantities), 3.6), layout="constrained", squeeze=False
    )
    layers = sorted(measures["layer"].unique())
    for ax, q in zip(axes[0], quantities, strict=True):
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
    ``"{quantity}/{direction}"``. If ``axes`` is given, draw into them (one per quantity) and return their
    figure; the legend then goes on the first of them (pass ``legend=False`` to leave it out).
    """
    _require(curves, "curves", ["seed", "scope", "quantity", "direction", "fraction", "accuracy"])
    quantities = _check_quantities(quantities)
    own_figure = axes is None
    if own_figure:
        fig, grid = plt.subplots(
            1,
            len(quantities),
            figsize=(3.2 * len(quantities), 3.4),
            sharex=True,
            sharey=True,
            layout="constrained",
            squeeze=False,
        )
        axes = list(grid[0])
    else:
        axes = list(np.ravel(axes))
        if len(axes) != len(quantities):
            fail("axes", f"{len(axes)} axes", f"needs one per quantity ({len(quantities)})")
        fig = axes[0].figure

    sub = curves[curves["scope"] == scope]
    if sub.empty:
        fail("scope", scope, f"has no curves; scopes present: {sorted(curves['scope'].unique())}")
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
            ax.plot(x, s["mean"], color=COLORS[q], ls=style, lw=1.8, label=direction, gid=f"{q}/{direction}")
            drawn += 1
        if not drawn:
            fail("quantities", q, f"has no ascending or descending curve in scope {scope!r}")
        ax.set(title=SHORT[q], xlabel=X_ABLATED, ylabel=Y_ACCURACY, xlim=(0, 100))

    if legend:
        if own_figure:
            fig.legend(
                handles=_cumulative_handles(),
                loc="outside lower center",
                ncols=5,
                fontsize="small",
                frameon=False,
            )
            fig.suptitle(f"cumulative ablation, {scope}")
        else:
            axes[0].legend(handles=_cumulative_handles(), loc="best", fontsize="x-small")
    return fig


def plot_layer_grid(curves: pd.DataFrame, quantities: Sequence[str] = QUANTITIES) -> Figure:
    """Layer-wise cumulative ablation: rows = the "layer N" scopes present, columns = quantities."""
    _require(curves, "curves", ["scope"])
    quantities = _check_quantities(quantities)
    scopes = layer_scopes(curves["scope"].unique())
    if not scopes:
        fail("curves", "without 'layer N' scopes", "needs layer-wise curves")
    fig, grid = plt.subplots(
        len(scopes),
        len(quantities),
        figsize=(2.9 * len(quantities), 2.5 * len(scopes)),
        sharex=True,
        sharey=True,
        layout="constrained",
        squeeze=False,
    )
    for row, scope in zip(grid, scopes, strict=True):
        plot_cumulative(curves, scope=scope, quantities=quantities, axes=row, legend=False)
        row[0].set_ylabel(f"{scope}\n{Y_ACCURACY}")
    for ax in grid[1:].ravel():
        ax.set_title("")
    fig.legend(
        handles=_cumulative_handles(), loc="outside lower center", ncols=5, fontsize="small", frameon=False
    )
    fig.suptitle("layer-wise cumulative ablation")
    return fig


def plot_auc_summary(auc: pd.DataFrame, scopes: Sequence[str] | None = None) -> Figure:
    """AUC per quantity and direction (mean ± std over seeds) against the random band, one panel per scope.

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
    band = random_band(auc, ["scope", "seed"], "auc").groupby("scope")[["random_lo", "random_hi"]].mean()
    rnd_mean = auc[auc["direction"] == "random"].groupby("scope")["auc"].mean()

    width = max(3.0, 0.75 * len(quantities) + 1.2)
    fig, axes = plt.subplots(
        1, len(scopes), figsize=(width * len(scopes), 3.8), sharey=True, layout="constrained", squeeze=False
    )
    pos = {q: i for i, q in enumerate(quantities)}
    offset = {"ascending": -0.15, "descending": 0.15}
    for ax, scope in zip(axes[0], scopes, strict=True):
        if scope in band.index:
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
                s=55,
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
    fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize="small", frameon=False)
    return fig
