"""The book's vocabulary, defined once: quantities and their names and colours, scopes, the random
band, the verdict words. Analysis, claims, plotting and report all take their words from here."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from nbsrc.checks import fail

#: Every per-neuron quantity, in the book's order.
QUANTITIES = ("entropy", "mutual_information", "kl_selectivity", "csi", "weight_norm")
#: The quantities whose claims the paper makes (the weight norm is a pruning baseline).
INDICATOR_QUANTITIES = QUANTITIES[:4]
#: Directions of an ordered ablation; random orders carry the direction "random".
DIRECTIONS = ("ascending", "descending")

#: One short name per quantity, used in figures, tables and prose alike.
SHORT = {
    "entropy": "H",
    "mutual_information": "MI",
    "kl_selectivity": "KL sel.",
    "csi": "CSI",
    "weight_norm": "L2 norm",
    "random": "random",
}
#: The long name with its unit, for axes.
LABELS = {
    "entropy": "entropy H(T) [bits]",
    "mutual_information": "mutual information I(T;Y) [bits]",
    "kl_selectivity": "KL selectivity [bits]",
    "csi": "class-selectivity index [1]",
    "weight_norm": "outgoing weight L2 norm [1]",
    "random": "random order",
}
#: One colour per quantity for the whole book (colour-blind safe, no two alike); random is grey.
COLORS = {
    "entropy": "#0173b2",  # blue
    "mutual_information": "#de8f05",  # orange
    "kl_selectivity": "#029e73",  # green
    "csi": "#cc78bc",  # pink-purple
    "weight_norm": "#5d3a1a",  # dark brown
    "random": "#949494",  # grey
}

#: The random baseline: mean and the 5-95 % quantile band of the random orders.
RANDOM_QUANTILES = (0.05, 0.95)
RANDOM_BAND_LABEL = "random 5–95 % band"

#: Verdict words; "n/a" when the claim cannot be tested on a setting (no case to judge).
VERDICTS = ("agrees", "partly", "disagrees", "n/a")

NETWORK = "network"

#: The datasets' names as readers see them.
TITLES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


def layer_scope(layer: int) -> str:
    """The scope name of hidden layer ``layer`` (1-based): "layer 1".."layer L"."""
    return f"layer {layer}"


def scope_names(n_layers: int) -> list[str]:
    """Scopes as readers see them: "network", then "layer 1".."layer L"."""
    return [NETWORK, *[layer_scope(i + 1) for i in range(n_layers)]]


def scope_layer(scope: str) -> int | None:
    """The 1-based layer of a "layer N" scope; None for "network"."""
    if scope == NETWORK:
        return None
    words = str(scope).split()
    if len(words) != 2 or words[0] != "layer" or not words[1].isdigit() or int(words[1]) < 1:
        fail("scope", scope, "must be 'network' or 'layer N' with N >= 1")
    return int(words[1])


def layer_scopes(scopes: Iterable[str]) -> list[str]:
    """The "layer N" scopes among ``scopes``, once each, sorted by N."""
    return sorted({s for s in scopes if s != NETWORK}, key=scope_layer)


def ordered_scopes(scopes: Iterable[str]) -> list[str]:
    """ "network" first (when present), then the layers by depth."""
    scopes = list(scopes)
    return ([NETWORK] if NETWORK in scopes else []) + layer_scopes(scopes)


def random_band(table: pd.DataFrame, by: Sequence[str], value: str) -> pd.DataFrame:
    """The random baseline: per group ``by``, the mean and the 5 / 95 % quantiles of ``value`` over
    the rows whose direction is "random". Columns: ``by``, random_mean, random_lo, random_hi."""
    rows = table[table["direction"] == "random"]
    if rows.empty:
        fail("table", "without random rows", "needs the random orders (direction 'random')")
    grouped = rows.groupby(list(by))[value]
    return pd.DataFrame(
        {
            "random_mean": grouped.mean(),
            "random_lo": grouped.quantile(RANDOM_QUANTILES[0]),
            "random_hi": grouped.quantile(RANDOM_QUANTILES[1]),
        }
    ).reset_index()


def num(x: float, digits: int = 3, signed: bool = False) -> str:
    """``x`` rounded to ``digits`` decimals, without a minus sign on a value that rounds to zero."""
    text = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    if float(text) == 0:
        text = f"{0.0:+.{digits}f}" if signed else f"{0.0:.{digits}f}"
    return text


def counted(n: int, noun: str = "chapter") -> str:
    """``"1 chapter"``, ``"5 chapters"``: a count with its noun in the right number."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
