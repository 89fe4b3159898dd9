"""Redundancy and synergy (C8): what the layer-wise curves suggest, and direct tests on neuron pairs.

The curves' reading (the paper's fourth version): in a layer, a quantity's *descending* order above the
random band means that the most informative neurons back each other up (redundancy: removing the first
few costs little, since the others still carry their information); its *ascending* order below the band
means that individually uninformative neurons matter jointly (synergy). A label holds when it holds in
every seed.

Direct tests on pairs (i, j) of neurons of one layer, each against pairs drawn at random from the layer:

* information: S = I(T_i, T_j; Y) - I(T_i; Y) - I(T_j; Y) on the quantised validation outputs (bits);
  S < 0 for redundant pairs, S > 0 for synergistic ones;
* damage: the accuracy drop of ablating both minus the sum of their single drops, on the test split
  (accuracy points as a fraction); redundant neurons back each other up, so ablating both costs more
  than the sum (> 0), while a synergistic pair is already broken by one of them (< 0).

Each test compares the group's pairs with the random pairs (all seeds pooled) by a two-sided Mann-Whitney
U test: it *confirms* a label when p < ``ALPHA`` and the difference of the means has the predicted sign,
*contradicts* it when p < ``ALPHA`` with the other sign, and is *inconclusive* otherwise. A redundancy
label is tested on the pairs among the layer's top quarter by the quantity, a synergy label on its bottom
quarter; a label is confirmed when at least one test confirms it and neither contradicts it.
"""

from __future__ import annotations

from math import ceil
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch

from nbsrc.ablation import subset_ablation_accuracy
from nbsrc.analysis import AnalysisSettings, ablation_means, chapter_networks, test_data, validation_data
from nbsrc.checks import check_choice, check_int
from nbsrc.data import Splits
from nbsrc.measures import pair_synergy
from nbsrc.models import MLP, resolve_device
from nbsrc.quantize import quantize
from nbsrc.storage import cache_root, load_or_discard, write_atomic
from nbsrc.train import TrainConfig
from nbsrc.vocabulary import INDICATOR_QUANTITIES, NETWORK, layer_scope, random_band, scope_layer

#: Pair groups: among a quantity's top or bottom quarter of a layer, or anywhere in the layer.
PAIR_GROUPS = ("top", "bottom", "random")
#: The share of a layer's neurons a top or bottom group draws its pairs from.
GROUP_FRACTION = 0.25
#: Pairs per group, layer and seed.
N_PAIRS = 100
#: Significance level of the pair tests (two-sided Mann-Whitney U, group against random pairs).
ALPHA = 0.05
#: What each curve label predicts for its group against random pairs: (group, sign of S - S_random,
#: sign of interaction - interaction_random).
PREDICTIONS = {"redundancy": ("top", -1, +1), "synergy": ("bottom", +1, -1)}


def curve_labels(auc: pd.DataFrame) -> pd.DataFrame:
    """Per hidden layer and quantity (H, MI, KL sel., CSI): does the layer-wise curve suggest redundancy
    (descending AUC above the random band's 95 % quantile in every seed) or synergy (ascending below its
    5 % quantile in every seed)? Columns: scope, layer, quantity, desc_excess_mean/std (descending - 95 %
    quantile), asc_deficit_mean/std (5 % quantile - ascending), redundancy, synergy (bools), label
    ("redundancy", "synergy", "both" or "neither")."""
    layers = auc[(auc.scope != NETWORK)]
    ordered = (
        layers[layers.quantity.isin(INDICATOR_QUANTITIES) & (layers.direction != "random")]
        .pivot_table(index=["seed", "scope", "quantity"], columns="direction", values="auc")
        .reset_index()
        .merge(random_band(layers, by=["seed", "scope"], value="auc"), on=["seed", "scope"])
    )
    ordered["desc_excess"] = ordered.descending - ordered.random_hi
    ordered["asc_deficit"] = ordered.random_lo - ordered.ascending
    table = (
        ordered.groupby(["scope", "quantity"], sort=False)
        .agg(
            desc_excess_mean=("desc_excess", "mean"),
            desc_excess_std=("desc_excess", "std"),
            asc_deficit_mean=("asc_deficit", "mean"),
            asc_deficit_std=("asc_deficit", "std"),
            redundancy=("desc_excess", lambda v: bool((v > 0).all())),
            synergy=("asc_deficit", lambda v: bool((v > 0).all())),
        )
        .reset_index()
        .fillna({"desc_excess_std": 0.0, "asc_deficit_std": 0.0})
    )
    table.insert(1, "layer", table.scope.map(scope_layer))
    names = {(True, False): "redundancy", (False, True): "synergy", (True, True): "both"}
    table["label"] = [names.get(key, "neither") for key in zip(table.redundancy, table.synergy, strict=True)]
    order = {q: i for i, q in enumerate(INDICATOR_QUANTITIES)}
    return table.sort_values(["layer", "quantity"], key=lambda c: c.map(order) if c.name == "quantity" else c)


def sample_pairs(
    scores: np.ndarray | None, group: str, n_pairs: int, rng: np.random.Generator, n: int | None = None
) -> np.ndarray:
    """Distinct neuron pairs [P, 2] (i < j) from one layer: among the top or bottom ``GROUP_FRACTION`` of
    its neurons by ``scores`` (stable ranking, ties by index), or among all ``n`` (group "random", no
    scores needed). All pairs of the pool when it has at most ``n_pairs``, else ``n_pairs`` drawn
    without replacement."""
    check_choice("group", group, PAIR_GROUPS)
    check_int("n_pairs", n_pairs, 1)
    if group == "random":
        pool = np.arange(n if n is not None else len(scores))
    else:
        size = max(2, ceil(GROUP_FRACTION * len(scores)))
        ranked = np.argsort(-scores if group == "top" else scores, kind="stable")
        pool = np.sort(ranked[:size])
    first, second = np.triu_indices(len(pool), 1)
    if len(first) > n_pairs:
        pick = np.sort(rng.choice(len(first), n_pairs, replace=False))
        first, second = first[pick], second[pick]
    return np.stack([pool[first], pool[second]], axis=1)


def pair_tests(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    measures: pd.DataFrame,
    damage: pd.DataFrame,
    n_pairs: int = N_PAIRS,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Information synergy and damage interaction of sampled neuron pairs, every seed and hidden layer.

    Groups: the top and bottom quarter of each quantity (H, MI, KL sel., CSI) and random pairs of the
    layer (quantity "random"), ``n_pairs`` each, drawn from ``default_rng(1000 * seed + layer)``.
    ``measures`` and ``damage`` are the chapter's tables (the single drops come from ``damage``).
    Columns: seed, layer (1-based), quantity, group, i, j, synergy [bits], interaction (pair drop - the
    two single drops, as a fraction). Cached per network next to its analysis (same key)."""
    check_int("n_pairs", n_pairs, 1)
    frames = []
    for trained, splits in chapter_networks(configs, cache, device, progress, "neuron pairs"):
        key = settings.key(trained.key, resolve_device(device))
        path = cache_root(cache) / "analysis" / f"{key}-pairs-v{PAIRS_VERSION}-{n_pairs}.csv"
        frame = load_or_discard(path, _read_pairs)
        if frame is None:
            seed = trained.config.seed
            frame = _network_pairs(
                trained.model, splits, settings, measures[measures.seed == seed], damage[damage.seed == seed],
                n_pairs, device,
            ).assign(seed=seed)[list(PAIR_COLUMNS)]  # fmt: skip
            write_atomic(path, lambda f, frame=frame: f.write(frame.to_csv(index=False).encode()))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


#: Bump when the pair tests' computation changes (part of their cache name).
PAIRS_VERSION = 1
PAIR_COLUMNS = ("seed", "layer", "quantity", "group", "i", "j", "synergy", "interaction")


def _read_pairs(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path)
    if list(frame.columns) != list(PAIR_COLUMNS) or frame.empty:
        raise ValueError(f"unexpected columns {list(frame.columns)[:8]}")
    return frame


def _network_pairs(
    model: MLP,
    splits: Splits,
    settings: AnalysisSettings,
    measures: pd.DataFrame,
    damage: pd.DataFrame,
    n_pairs: int,
    device: str | torch.device | None,
) -> pd.DataFrame:
    """The pair tests of one network (``measures`` and ``damage`` of its seed only)."""
    seed = int(damage.seed.iloc[0])
    x_val, y_val = validation_data(splits, settings)
    x_test, y_test = test_data(splits, settings)
    means = ablation_means(model, splits, settings)
    with torch.no_grad():
        outputs = model.hidden_outputs(x_val.to(next(model.parameters()).device))
    frames = []
    for layer, t in enumerate(outputs, start=1):
        codes, n_values = quantize(t, settings.quantizer, model.activation, settings.n_bins)
        single = damage[damage.layer == layer].sort_values("neuron")
        drops = single["drop"].to_numpy()
        intact = float(single.accuracy.iloc[0] + single["drop"].iloc[0])
        rng = np.random.default_rng(1000 * seed + layer)
        groups = [("random", "random")] + [(q, g) for q in INDICATOR_QUANTITIES for g in ("top", "bottom")]
        for quantity, group in groups:
            rows = measures[(measures.layer == layer) & (measures.quantity == quantity)]
            scores = None if group == "random" else rows.sort_values("neuron").value.to_numpy()
            pairs = sample_pairs(scores, group, n_pairs, rng, n=len(drops))
            synergy = pair_synergy(codes, y_val, pairs, n_values, splits.n_classes).cpu().numpy()
            accuracy = subset_ablation_accuracy(
                model, x_test, y_test, layer - 1, pairs, settings.mode, means, device=device
            )
            interaction = (intact - accuracy) - drops[pairs[:, 0]] - drops[pairs[:, 1]]
            frames.append(
                pd.DataFrame(
                    {
                        "layer": layer,
                        "quantity": quantity,
                        "group": group,
                        "i": pairs[:, 0],
                        "j": pairs[:, 1],
                        "synergy": synergy,
                        "interaction": interaction,
                    }
                )  # fmt: skip
            )
    return pd.concat(frames, ignore_index=True)


def pair_contrasts(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per layer, quantity and group (top, bottom): the group's mean synergy and damage interaction minus
    the random pairs' of the same seed and layer (mean and std over seeds), and the two-sided Mann-Whitney
    U p-value of the group's pairs against the random pairs (all seeds pooled). Columns: scope, layer,
    quantity, group, synergy_mean, synergy_std, synergy_p, interaction_mean, interaction_std,
    interaction_p."""
    keys = ["seed", "layer", "quantity", "group"]
    per_seed = pairs.groupby(keys, sort=False)[["synergy", "interaction"]].mean().reset_index()
    random = per_seed[per_seed.group == "random"].drop(columns=["quantity", "group"])
    grouped = per_seed[per_seed.group != "random"].merge(
        random, on=["seed", "layer"], suffixes=("", "_random")
    )
    rows = []
    for (layer, quantity, group), seeds in grouped.groupby(["layer", "quantity", "group"], sort=False):
        row = {"scope": layer_scope(layer), "layer": layer, "quantity": quantity, "group": group}
        in_group = pairs[(pairs.layer == layer) & (pairs.quantity == quantity) & (pairs.group == group)]
        baseline = pairs[(pairs.layer == layer) & (pairs.group == "random")]
        for value in ("synergy", "interaction"):
            difference = seeds[value] - seeds[f"{value}_random"]
            row[f"{value}_mean"] = float(difference.mean())
            row[f"{value}_std"] = float(difference.std()) if len(difference) > 1 else 0.0
            row[f"{value}_p"] = _p_value(in_group[value].to_numpy(), baseline[value].to_numpy())
        rows.append(row)
    return pd.DataFrame(rows)


def _p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value; 1 when every value of both samples is the same (no difference)."""
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(scipy.stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def pair_test_outcome(difference: float, p_value: float, predicted_sign: int) -> str:
    """ "confirms" / "contradicts" (p < ALPHA, the difference with / against the predicted sign) or
    "inconclusive"."""
    if not (p_value < ALPHA and abs(difference) > 0):  # NaN in either is inconclusive too
        return "inconclusive"
    return "confirms" if np.sign(difference) == predicted_sign else "contradicts"


def label_checks(labels: pd.DataFrame, contrasts: pd.DataFrame) -> pd.DataFrame:
    """Every label a curve suggests (a "both" label counts as one of each), with what the pair tests say:
    columns scope, quantity, label, group, synergy_mean, synergy_p, interaction_mean, interaction_p
    (differences to random pairs), information and damage (each test's outcome, :func:`pair_test_outcome`),
    confirmed (one test confirms, neither contradicts)."""
    rows = []
    for r in labels.itertuples():
        for label in ("redundancy", "synergy"):
            if not getattr(r, label):
                continue
            group, synergy_sign, interaction_sign = PREDICTIONS[label]
            match = (
                (contrasts.scope == r.scope) & (contrasts.quantity == r.quantity) & (contrasts.group == group)
            )
            c = contrasts[match].iloc[0]
            outcomes = {
                "information": pair_test_outcome(c.synergy_mean, c.synergy_p, synergy_sign),
                "damage": pair_test_outcome(c.interaction_mean, c.interaction_p, interaction_sign),
            }
            confirmed = "confirms" in outcomes.values() and "contradicts" not in outcomes.values()
            rows.append(
                {"scope": r.scope, "quantity": r.quantity, "label": label, "group": group,
                 "synergy_mean": c.synergy_mean, "synergy_p": c.synergy_p,
                 "interaction_mean": c.interaction_mean, "interaction_p": c.interaction_p,
                 **outcomes, "confirmed": confirmed}
            )  # fmt: skip
    columns = ["scope", "quantity", "label", "group", "synergy_mean", "synergy_p", "interaction_mean"]
    return pd.DataFrame(rows, columns=[*columns, "interaction_p", "information", "damage", "confirmed"])
