"""The paper's claims (METHOD.md section 5) as numbers, verdicts and reasons, computed from the tables.

A quantity is a *good indicator* of importance in a scope when, in every seed, ablating by it in
ascending order keeps the accuracy AUC above the random band (above the 95 % quantile of the random
orders' AUC) and descending order pushes it below the band (below the 5 % quantile). The gaps
(ascending - random mean, random mean - descending) are reported as mean +- std over seeds.

Every threshold here is fixed in code, before any result is looked at (``RULES`` states each rule,
why its thresholds, and which parts are this book's choices; ``rules_table`` shows them):

* C1 agrees when no quantity (H, MI, KL sel., CSI) is a good indicator over the whole network,
  partly when exactly one is.
* C2 (the book's strict reading; ReLU networks and the paper's first-version sigmoid setting, n/a
  otherwise) agrees when, for every layer and
  for MI and KL selectivity, the descending AUC lies below the band in every seed and the seed-mean
  ascending AUC is not below the band's (seed-mean) lower edge; partly for >= half of the cases.
* C2w (the paper's wording, "positively related"; the same networks) asks the descending part alone.
* C3 agrees when, for every quantity, one pair of layers has a two-sample Kolmogorov-Smirnov
  statistic whose mean over seeds is >= 0.5 (a strong difference of distributions); partly for >= half
  of the quantities; n/a with fewer than two hidden layers.
* C4 agrees when, in every layer, MI and KL selectivity both separate ascending from descending
  (AUC_asc - AUC_desc, seed mean) more than entropy does; partly for >= half of the cases.
* C5 (judged across the activation chapters' networks: ReLU, sigmoid, tanh of equal widths) has two
  parts. (a) The relation: per hidden layer and for MI and KL selectivity, the two C2 gaps (random −
  descending, ascending − random AUC; seed mean and std per activation). (b) Bias balancing: per scope
  (the whole network and each layer), ordering quantity (MI, KL selectivity) and direction, the AUC gain
  of mean over zero ablation of the ordered curve (paired per seed; seed mean and std per activation).
  A part depends on the activation when, for some case of it, two activations' means differ by more
  than twice the larger of their two seed std's and by more than ``C5_FLOOR`` AUC. Agrees when both
  parts do, partly when one does, disagrees when neither does; n/a with fewer than two activations.
* C6 agrees when the seed-mean random-order AUC increases strictly with depth; partly when only the
  last layer's exceeds the first's; n/a with fewer than two hidden layers.
* C9 (the book's extension, judged in the regulariser chapters: the book's ReLU networks without a
  regulariser and with dropout, batch norm or weight decay) has two parts, each comparing every regulariser
  with no regulariser. (a) The quantities: per hidden layer and quantity (H, MI, KL sel., CSI; the weight
  norm is left out), the mean over the layer's neurons, seed mean and std per variant. (b) The robustness:
  per scope, the random orders' mean AUC relative to the intact accuracy above chance, seed mean and std
  per variant. A case differs when the means differ by more than twice the larger of the two seed std's
  and by more than the floor (``C9_FLOORS`` for the quantities, ``C9_FLOOR`` for the robustness). Agrees
  when both parts have a differing case, partly when one does, disagrees when neither; n/a without the
  reference, without a regulariser, or with fewer than two seeds of a variant (no spread).

A claim with no case to judge (no scope, no layer pair) is "n/a", never "disagrees". Every claim also
gets a ``reason``: one generated sentence that names the failing part, where, and by how much (or the
margin when it agrees, or why it is n/a).
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from nbsrc.redundancy import curve_labels, label_checks, pair_contrasts
from nbsrc.vocabulary import (
    INDICATOR_QUANTITIES,
    NETWORK,
    QUANTITIES,
    SHORT,
    counted,
    layer_scope,
    num,
    ordered_scopes,
    random_band,
    scope_layer,
)

#: A quantity's distributions differ strongly between two layers from this mean KS statistic on.
STRONG_KS = 0.5
#: The quantities C2 is about.
C2_QUANTITIES = ("mutual_information", "kl_selectivity")

#: The paper's statement of each tested claim, in the claims table's order.
PAPER = {
    "C1": "Ranked across the whole network, none of the quantities is a good indicator of importance.",
    "C2": "Within a layer of a ReLU network, MI and KL selectivity are positively related to importance: "
    "descending clearly below random, ascending at or above it (this book's strict reading).",
    "C2w": "Within a layer of a ReLU network, MI and KL selectivity are positively correlated with "
    "importance (as the paper words it: ablating the most informative neurons first hurts more than random).",
    "C3": "The distributions of the quantities differ strongly between layers.",
    "C3e": "That difference explains C1: comparing the quantities across layers is ill-advised (tested here: "
    "ranked by their percentile within their own layer, the quantities become good indicators over the "
    "whole network).",
    "C4": "Class-dependent quantities (MI, KL selectivity) relate to accuracy more strongly than entropy.",
    "C5": "The relation of MI and KL selectivity to importance depends on the activation function (ReLU, "
    "sigmoid, tanh), and so does the benefit of bias balancing over zero ablation.",
    "C6": "Ablation in deeper layers costs less accuracy than in early layers.",
    "C7": "Pruning with bias balancing partly removes the need to retrain after pruning.",
    "C8": "Layer-wise curves outside the random band suggest redundancy (descending above it: informative "
    "neurons back each other up) and synergy (ascending below it: uninformative neurons matter jointly).",
    "C9": "Regularisers (dropout, batch norm, weight decay) change the quantities and the robustness to "
    "ablation (the book's extension, not the paper's claim: its third version names regularisers as future "
    "work).",
}
#: Claims whose computation needs more than the chapter's AUC and measures tables (claims_table's options).
OPTIONAL_CLAIMS = ("C3e", "C8")
#: Claims judged in chapters of their own, not in the dataset chapters' claims table.
ELSEWHERE = {
    "C5": "the activation chapters",
    "C7": "the pruning chapters",
    "C9": "the regulariser chapters",
}
#: C7: a cell (seed mean) holds from this share of the fine-tuning gain recovered by bias balancing alone.
C7_SHARE = 0.25
#: C5: two activations' seed means must differ by more than this many AUC (and by more than twice the larger
#: of their seed std's) for a case to count as depending on the activation.
C5_FLOOR = 0.01
#: C9: the variant every regulariser is compared with (the book's networks as they are).
C9_REFERENCE = "none"
#: C9 (a): the quantities compared and the floor a change of a layer's mean must exceed (besides twice the
#: larger seed std), in the quantity's own unit: 0.01 bits for H, MI and KL selectivity, 0.01 for the
#: class-selectivity index (a ratio in [-1, 1], for ReLU outputs in [0, 1]). The weight norm is left out:
#: weight decay shrinks it by construction, and behind batch norm its scale is arbitrary (the next layer's
#: normalisation undoes it), so a change of it says nothing about what the neurons carry.
C9_FLOORS = {"entropy": 0.01, "mutual_information": 0.01, "kl_selectivity": 0.01, "csi": 0.01}
#: C9 (a): the unit of each compared quantity, as the reasons print it.
C9_UNITS = {"entropy": "bits", "mutual_information": "bits", "kl_selectivity": "bits", "csi": "CSI"}
#: C9 (b): the floor a change of the random-order AUC relative to the intact accuracy above chance must
#: exceed (besides twice the larger seed std).
C9_FLOOR = 0.01
#: C5 (a): the two C2 gaps, by their column in :func:`indicator_table` and their name on the page.
C5_GAPS = {"desc_gap": "rand−desc", "asc_gap": "asc−rand"}

#: Each claim's operational rule, why its thresholds, and which parts are this book's choices.
RULES = {
    "C1": {
        "rule": "Over the whole network (all hidden neurons in one ranking), a quantity is a good indicator "
        "when, in every seed, its ascending AUC lies above the 95 % quantile of the random orders' AUC and "
        "its descending AUC below the 5 % quantile. Agrees when none of H, MI, KL sel., CSI is good; "
        "partly when exactly one is; disagrees otherwise.",
        "why": "The 5-95 % band is what random orders produce; asking both gaps in every seed makes 'good' "
        "a two-sided property that holds consistently, not by luck in one network.",
        "choices": "The band's quantiles, 'every seed' and the partly step (one good quantity) are this "
        "book's; the paper judges the curves by eye.",
    },
    "C2": {
        "rule": "In every layer, for MI and for KL sel.: the descending AUC lies below the band's 5 % "
        "quantile in every seed, and the seed-mean ascending AUC is not below the seed-mean 5 % quantile. "
        "Agrees when every layer × quantity case holds, partly when at least half do; n/a for non-ReLU "
        "networks other than the paper's first-version setting (its sigmoid 200-200 network, for which the "
        "first version states C2; the later versions state it for ReLU networks only).",
        "why": "'Clearly below random' asks descending to leave the band in every network; 'at or above' "
        "only asks ascending not to fall below the band on average, since the paper does not claim it helps.",
        "choices": "The ascending condition (the strict, two-sided reading), the band, 'every seed' and the "
        "half for partly are this book's.",
    },
    "C2w": {
        "rule": "As C2 without the ascending condition: in every layer, for MI and for KL sel., the "
        "descending AUC lies below the band's 5 % quantile in every seed. Agrees when every case holds, "
        "partly when at least half do; n/a for non-ReLU networks other than the paper's first-version "
        "setting, as C2.",
        "why": "This is the paper's 'positively related' read one-sidedly: ablating the most informative "
        "neurons first hurts more than random orders do.",
        "choices": "The one-sided reading follows the paper's words; the band, 'every seed' and the half for "
        "partly are this book's.",
    },
    "C3": {
        "rule": "Per quantity (H, MI, KL sel., CSI) and pair of layers, the two-sample Kolmogorov-Smirnov "
        "statistic between the two layers' neuron values, averaged over seeds. A quantity differs strongly "
        "when its largest pair mean is >= 0.5. Agrees when all four do, partly when at least two do; n/a "
        "with fewer than two hidden layers.",
        "why": "KS >= 0.5 means that below some value lies a share of one layer's neurons at least 50 "
        "percentage points larger than of the other's; asking it of one pair on average over seeds keeps a "
        "different pair in each seed from passing.",
        "choices": "The KS statistic, the 0.5 threshold and the mean over seeds are this book's; the paper "
        "shows violin plots.",
    },
    "C3e": {
        "rule": "Whole-network orders by each neuron's percentile within its layer, (rank − ½) / width, "
        "judged by C1's rule against the same random orders. Agrees when at least one of H, MI, KL sel., CSI "
        "that is not a good indicator on raw values becomes one; partly when none does but at least half of "
        "them gain on both gaps (seed means); disagrees otherwise; n/a when all four are good already.",
        "why": "Percentiles put every layer on one scale without changing any order within a layer; if the "
        "scales were what fails, the quantities should then pass the same two-sided test as within layers.",
        "choices": "Percentiles (not z-scores), the tie-break (lower layer first) and the partly step are "
        "this book's; the paper states the explanation without testing it.",
    },
    "C4": {
        "rule": "In every layer, the seed-mean separation AUC_asc − AUC_desc of MI and that of KL sel. each "
        "exceed that of H. Agrees when every layer × quantity case holds, partly when at least half do.",
        "why": "How far ascending and descending orders lie apart measures how strongly a quantity's order "
        "relates to accuracy; a strict '>' counts a tie against the claim.",
        "choices": "The separation as the measure of 'relate more strongly' and the half for partly are this "
        "book's.",
    },
    "C5": {
        "rule": "Networks of one shape with equal widths, one per activation (ReLU, sigmoid, tanh) and seed. "
        "(a) The relation: per hidden layer, for MI and for KL sel., the two C2 gaps (random − descending "
        "and ascending − random AUC, zero ablation), mean and std over seeds per activation. (b) Bias "
        "balancing: per scope (the whole network and each hidden layer), ordering quantity (MI, KL sel.) "
        "and direction, the gain AUC(bias balancing) − AUC(zero ablation) of the ordered curve, paired per "
        "seed, mean and std over seeds per activation. A case depends on the activation when two "
        "activations' means differ by more than twice the larger of their two seed std's and by more than "
        f"{C5_FLOOR} AUC. A part depends on the activation when at least one of its cases does. Agrees when "
        "both parts do, partly when one does, disagrees when neither does; n/a with fewer than two "
        "activations.",
        "why": "Twice the seed spread keeps differences that one retraining could produce from counting; "
        f"the {C5_FLOOR} AUC floor keeps differences too small to see on a curve from counting when the "
        "seeds happen to agree closely. One case is enough because the claim is that the activation "
        "matters somewhere, not everywhere.",
        "choices": "The equal widths (128 per layer, three layers, for the compute of 2 CPU cores), the two "
        "gaps as 'the relation', the MI- and KL-ordered curves for the gain (the paper compares bias "
        "balancing on curves ordered by its quantities; random orders under bias balancing are not computed, "
        "for the compute), the factor 2, the floor and 'one case' "
        "are this book's; the paper's first version compares the activations in figures.",
    },
    "C6": {
        "rule": "The seed-mean AUC of each layer's random-order ablation increases strictly from each layer "
        "to the next. Agrees when it does, partly when only the last layer's exceeds the first's; n/a with "
        "fewer than two hidden layers.",
        "why": "Random orders measure what ablating a layer costs without reference to any quantity; a "
        "higher AUC (fraction ablated on the x axis) is a cheaper layer, whatever its width.",
        "choices": "The random-order AUC as the cost and the partly step are this book's. The paper's "
        "network had equal widths; in the dataset chapters the layers narrow with depth (512-256-128), so "
        "deeper is mixed with narrower there; the activation chapters test it again on equal widths "
        "(128-128-128) for each activation.",
    },
    "C7": {
        "rule": "Every hidden layer keeps the same fraction of its neurons, chosen by each criterion (H, MI, "
        "KL sel., CSI, the outgoing weight norm, random). For every criterion and fraction where fine-tuning "
        "after bias balancing recovers at least 1 accuracy point over zero ablation in every seed, the share "
        "of that gain which bias balancing alone recovers, (acc_bb − acc_zero) / (acc_ft − acc_zero). A case "
        f"holds when its mean share over seeds is at least {C7_SHARE} and exceeds twice its std. Agrees "
        "when every case holds, partly when at least half do, disagrees otherwise; n/a without a case.",
        "why": "'Partly removes the need to retrain' asks for a real part of what retraining gives: a "
        "quarter of the fine-tuning gain, consistently over seeds; cases where fine-tuning gains less than "
        "a point have nothing to recover.",
        "choices": "The kept fractions, the fine-tuning (200 Adam steps at the recipe's learning rate), the "
        "1-point floor and the quarter are this book's; the paper's first version shows the effect in a "
        "figure for its own network.",
    },
    "C8": {
        "rule": "A layer-wise curve suggests redundancy when its descending AUC lies above the random band's "
        "95 % quantile in every seed, synergy when its ascending AUC lies below the 5 % quantile in every "
        "seed (H, MI, KL sel., CSI). Each suggestion is tested on 100 pairs per seed from the quantity's top "
        "(redundancy) or bottom (synergy) quarter of the layer against 100 random pairs of the layer, by "
        "the pairs' information synergy I(Tᵢ,Tⱼ;Y) − I(Tᵢ;Y) − I(Tⱼ;Y) (redundancy predicts lower, synergy "
        "higher) and their damage interaction, pair drop − both single drops (redundancy predicts higher, "
        "synergy lower). A test confirms when a two-sided Mann-Whitney U test (all seeds pooled) gives "
        "p < 0.05 in the predicted direction and contradicts when it does in the other; a suggestion is "
        "confirmed when one test confirms and none contradicts. Agrees when every suggestion is confirmed, "
        "partly when at least half are; n/a when no curve suggests either.",
        "why": "Redundant neurons carry the same information (negative synergy) and back each other up, so "
        "removing both costs more than the sum of removing each; synergistic neurons carry information only "
        "together, so removing one already breaks the pair. Random pairs of the same layer are the baseline "
        "for both tests.",
        "choices": "The band rule, the quarters, 100 pairs, the random-pair baseline, the two tests, the "
        "U test and its 0.05 level are this book's; the paper's fourth version reads the curves alone.",
    },
    "C9": {
        "rule": "The book's extension, not the paper's claim. The book's ReLU networks (its recipe and "
        "widths) trained without a regulariser ('none') and with each regulariser (dropout 0.2, dropout "
        "0.5, batch norm, weight decay 1e-4, weight decay 1e-3), three seeds each, zero ablation. (a) The "
        "quantities: per hidden layer and quantity (H, MI, KL sel., CSI), the mean of the quantity over the "
        "layer's neurons, then mean and std over seeds per variant. (b) The robustness: per scope (the "
        "whole network and each hidden layer), the mean over the 20 random orders of the AUC relative to the "
        "intact accuracy above chance, (AUC − 1/10) / (accuracy − 1/10) (1: no loss at any share ablated, "
        "0: at chance on average), then mean and std over seeds per variant. A case differs when a "
        "regulariser's mean differs from none's by more than twice the larger of their two seed std's and by "
        f"more than the floor: {C9_FLOORS['mutual_information']} bits for H, MI and KL sel., "
        f"{C9_FLOORS['csi']} for CSI, {C9_FLOOR} for the relative AUC. A part holds when at least one of its "
        "cases differs for at least one regulariser. Agrees when both parts hold, partly when one does, "
        "disagrees when neither does; n/a when the networks without a regulariser or every regularised "
        "variant are missing, or a variant has fewer than two seeds (no spread to compare with).",
        "why": "As C5: twice the seed spread keeps differences that one retraining could produce from "
        "counting, and the floors keep differences too small to matter from counting when the seeds agree "
        "closely. The layer's mean is the simplest summary of a distribution's shift; the random orders "
        "measure robustness without reference to any quantity, and relative to the intact accuracy above "
        "chance so that a regulariser that only changes the test accuracy does not change it from the "
        "curve's first point alone. One case is enough because the claim is that regularisers change these "
        "somewhere, not everywhere.",
        "choices": "The whole rule is this book's (the paper names regularisers as future work): the "
        "variants and their strengths, the layer mean as the summary, the relative AUC, the factor 2, the "
        "floors, 'one case', "
        "and leaving out the weight norm (weight decay shrinks it by construction and batch norm makes its "
        "scale arbitrary).",
    },
}


def rules_table() -> pd.DataFrame:
    """The claims' rules as a table for the method chapter: claim, rule, thresholds and why, the book's
    choices (one row per claim, in the claims table's order)."""
    return pd.DataFrame(
        [
            {
                "claim": claim,
                "rule": RULES[claim]["rule"],
                "thresholds and why": RULES[claim]["why"],
                "the book's choices": RULES[claim]["choices"],
            }
            for claim in PAPER
        ]
    )


# ------------------------------------------------------------------------------------------ helpers


def _pm(mean: float, std: float) -> str:
    return f"{mean:+.3f}±{std:.3f}"


def _verdict(holds: Iterable[bool], full: float = 1.0, half: float = 0.5) -> str:
    """Return "agrees" when the share of holding cases reaches ``full``, "partly" from ``half``, else
    "disagrees"; "n/a" when there is no case at all."""
    holds = np.asarray(list(holds), dtype=bool)
    if holds.size == 0:
        return "n/a"
    fraction = float(holds.mean())
    return "agrees" if fraction >= full else "partly" if fraction >= half else "disagrees"


def _result(measured: str, verdict: str, reason: str) -> dict:
    return {"measured": measured, "verdict": verdict, "reason": reason}


def _case(row) -> str:
    return f"{row.scope} {SHORT[row.quantity]}"


def _quantity_order(quantities: Iterable[str]) -> list[str]:
    return sorted(set(quantities), key=lambda q: QUANTITIES.index(q) if q in QUANTITIES else len(QUANTITIES))


# ------------------------------------------------------------------------------- indicators / C1


def indicator_table(auc: pd.DataFrame) -> pd.DataFrame:
    """Per (scope, quantity): the two gaps to the random band over seeds, and the verdict "good".

    Besides the gaps (to the random mean) and the shares of seeds above / below the band, the worst
    seed's margins to the band: ``asc_margin_min`` (min over seeds of ascending - 95 % quantile) and
    ``desc_margin_min`` (min over seeds of 5 % quantile - descending); both > 0 is "good"."""
    ordered = (
        auc[auc.direction != "random"]
        .pivot_table(index=["seed", "scope", "quantity"], columns="direction", values="auc")
        .reset_index()
    )
    table = ordered.merge(random_band(auc, by=["seed", "scope"], value="auc"), on=["seed", "scope"])
    table["asc_gap"] = table.ascending - table.random_mean
    table["desc_gap"] = table.random_mean - table.descending
    table["asc_margin"] = table.ascending - table.random_hi
    table["desc_margin"] = table.random_lo - table.descending
    table["asc_above"] = table.asc_margin > 0
    table["desc_below"] = table.desc_margin > 0
    grouped = table.groupby(["scope", "quantity"])
    summary = grouped.agg(
        asc_gap_mean=("asc_gap", "mean"),
        asc_gap_std=("asc_gap", "std"),
        desc_gap_mean=("desc_gap", "mean"),
        desc_gap_std=("desc_gap", "std"),
        asc_above=("asc_above", "mean"),
        desc_below=("desc_below", "mean"),
        asc_margin_min=("asc_margin", "min"),
        desc_margin_min=("desc_margin", "min"),
        ascending=("ascending", "mean"),
        descending=("descending", "mean"),
        random_lo=("random_lo", "mean"),
        random_hi=("random_hi", "mean"),
        n_seeds=("seed", "nunique"),
    ).reset_index()
    summary["good"] = (summary.asc_above == 1.0) & (summary.desc_below == 1.0)
    return summary.fillna({"asc_gap_std": 0.0, "desc_gap_std": 0.0})


def _seeds(share: float, n: int) -> str:
    return f"{round(share * n)}/{n} seeds"


def claim_c1(indicators: pd.DataFrame) -> dict:
    rows = indicators[(indicators.scope == NETWORK) & indicators.quantity.isin(INDICATOR_QUANTITIES)]
    if rows.empty:
        return _result("no network-wide ablation in the table", "n/a", "no network scope to judge C1 on.")
    rows = rows.set_index("quantity").loc[_quantity_order(rows.quantity)].reset_index()
    good = rows[rows.good]
    names = good.quantity.map(SHORT).tolist()
    gaps = "; ".join(
        f"{SHORT[r.quantity]}: asc−rand {_pm(r.asc_gap_mean, r.asc_gap_std)}, "
        f"rand−desc {_pm(r.desc_gap_mean, r.desc_gap_std)}"
        for r in rows.itertuples()
    )
    verdict = "agrees" if good.empty else "partly" if len(good) == 1 else "disagrees"
    if good.empty:
        # the closest quantity: the most seeds on the right side of the band, both gaps together; among
        # those alike in seeds, the largest sum of the mean gaps (asc - random and random - desc)
        score = np.minimum(rows.asc_above, rows.desc_below) + rows.asc_above + rows.desc_below
        most = score == score.max()
        r = rows.loc[(rows.asc_gap_mean + rows.desc_gap_mean)[most].fillna(-np.inf).idxmax()]
        tied = int(most.sum())
        others = f"{tied - 1} other{'s' if tied > 2 else ''}"
        by = f" (tied on seeds with {others}, ahead on the mean gaps)" if tied > 1 else ""
        reason = (
            f"No quantity is good in every seed; the closest{by}, {SHORT[r.quantity]}, has ascending above "
            f"the band in {_seeds(r.asc_above, r.n_seeds)} and descending below it in "
            f"{_seeds(r.desc_below, r.n_seeds)}."
        )
    else:
        parts = ", ".join(
            f"{SHORT[r.quantity]} (worst seed: ascending {r.asc_margin_min:.3f} above the band, "
            f"descending {r.desc_margin_min:.3f} below it)"
            for r in good.itertuples()
        )
        verb = "is a good indicator" if len(good) == 1 else "are good indicators"
        reason = f"{parts} {verb} over the whole network, in every seed."
    return _result(f"good indicators: {', '.join(names) or 'none'} (AUC gaps {gaps})", verdict, reason)


# ------------------------------------------------------------------------------------------- C2


def _c2_rows(indicators: pd.DataFrame) -> pd.DataFrame:
    rows = indicators[(indicators.scope != NETWORK) & indicators.quantity.isin(C2_QUANTITIES)].copy()
    rows["layer"] = rows.scope.map(scope_layer)
    rows["q_rank"] = rows.quantity.map(C2_QUANTITIES.index)
    rows = rows.sort_values(["layer", "q_rank"]).reset_index(drop=True)
    rows["desc_holds"] = rows.desc_below == 1.0
    rows["asc_margin_mean"] = rows.ascending - rows.random_lo  # seed means: >= 0 is "not below the band"
    rows["asc_holds"] = rows.asc_margin_mean >= 0
    return rows


def _descending_reason(rows: pd.DataFrame) -> tuple[str, bool]:
    failing = rows[~rows.desc_holds]
    if failing.empty:
        worst = rows.loc[rows.desc_margin_min.idxmin()]
        return (
            f"descending is below the band in every seed everywhere (smallest margin "
            f"{worst.desc_margin_min:.3f} AUC, {_case(worst)})"
        ), True
    parts = ", ".join(
        f"{_case(r)} (below in {_seeds(r.desc_below, r.n_seeds)}; worst seed {-r.desc_margin_min:.3f} AUC "
        f"above the band's lower edge)"
        for r in failing.itertuples()
    )
    return f"descending is not below the band in every seed in {parts}", False


def _ascending_reason(rows: pd.DataFrame) -> tuple[str, bool]:
    failing = rows[~rows.asc_holds]
    if failing.empty:
        worst = rows.loc[rows.asc_margin_mean.idxmin()]
        return (
            f"ascending is at or above the band everywhere (smallest margin {worst.asc_margin_mean:.3f} AUC, "
            f"{_case(worst)}, seed mean)"
        ), True
    parts = ", ".join(f"{_case(r)} by {-r.asc_margin_mean:.3f} AUC" for r in failing.itertuples())
    return f"ascending falls below the band in {parts} (seed mean)", False


def _c2_reading(indicators: pd.DataFrame, activation: str, strict: bool, first_version: bool) -> dict:
    rows = _c2_rows(indicators)
    holds = rows.desc_holds & rows.asc_holds if strict else rows.desc_holds
    if strict:
        detail = "; ".join(
            f"{_case(r)}: rand−desc {_pm(r.desc_gap_mean, r.desc_gap_std)}, "
            f"asc−rand {_pm(r.asc_gap_mean, r.asc_gap_std)}"
            for r in rows.itertuples()
        )
        measured = f"holds in {int(holds.sum())}/{len(rows)} layer×quantity cases ({detail})"
    else:
        detail = "; ".join(
            f"{_case(r)}: rand−desc {_pm(r.desc_gap_mean, r.desc_gap_std)}" for r in rows.itertuples()
        )
        measured = (
            f"descending below the band in every seed in {int(holds.sum())}/{len(rows)} layer×quantity cases "
            f"({detail})"
        )
    if activation != "relu" and not first_version:
        why = f"the paper's later versions state C2 for ReLU networks only; this network uses {activation}"
        return _result(f"{measured} ({why})", "n/a", f"T{why[1:]}.")
    if activation != "relu":
        measured += f" (the first version states C2 for its own {activation} network, this setting)"
    if rows.empty:
        return _result(measured, "n/a", "No layer scope with MI or KL sel. to judge.")
    parts = [_ascending_reason(rows), _descending_reason(rows)] if strict else [_descending_reason(rows)]
    parts.sort(key=lambda part: part[1])  # the failing part first
    reason = "; ".join(text for text, _ in parts)
    return _result(measured, _verdict(holds), f"{reason[0].upper()}{reason[1:]}.")


def claim_c2(indicators: pd.DataFrame, activation: str, first_version: bool = False) -> dict:
    """C2 in the book's strict reading: descending below the band in every seed AND the seed-mean
    ascending AUC not below the band's lower edge, for every layer × {MI, KL sel.}. Judged for ReLU
    networks (v3, v4), and for any activation in the first version's own setting (``first_version``)."""
    return _c2_reading(indicators, activation, strict=True, first_version=first_version)


def claim_c2w(indicators: pd.DataFrame, activation: str, first_version: bool = False) -> dict:
    """C2 as the paper words it ("positively related"): descending below the band in every seed, for
    every layer × {MI, KL sel.}; nothing asked of ascending."""
    return _c2_reading(indicators, activation, strict=False, first_version=first_version)


# ------------------------------------------------------------------------------------------- C3

KS_COLUMNS = ["seed", "quantity", "layer_a", "layer_b", "ks"]


def layer_ks(measures: pd.DataFrame) -> pd.DataFrame:
    """Per seed, quantity and pair of layers (layer_a < layer_b), the two-sample Kolmogorov-Smirnov
    statistic between the two layers' neuron values. Columns: seed, quantity, layer_a, layer_b, ks;
    empty with fewer than two layers."""
    stats = []
    for (seed, quantity), rows in measures.groupby(["seed", "quantity"]):
        per_layer = {layer: g.value.to_numpy() for layer, g in rows.groupby("layer")}
        for a, b in combinations(sorted(per_layer), 2):
            ks = float(ks_2samp(per_layer[a], per_layer[b]).statistic)
            stats.append({"seed": seed, "quantity": quantity, "layer_a": a, "layer_b": b, "ks": ks})
    return pd.DataFrame(stats, columns=KS_COLUMNS)


def layer_ks_pairs(measures: pd.DataFrame) -> pd.DataFrame:
    """Per quantity and pair of layers, the KS statistic's mean and std over seeds. Columns: quantity,
    layer_a, layer_b, ks_mean, ks_std, n_seeds (quantities in the book's order, then pairs)."""
    ks = layer_ks(measures)
    columns = ["quantity", "layer_a", "layer_b", "ks_mean", "ks_std", "n_seeds"]
    if ks.empty:
        return pd.DataFrame(columns=columns)
    pairs = (
        ks.groupby(["quantity", "layer_a", "layer_b"])
        .agg(ks_mean=("ks", "mean"), ks_std=("ks", "std"), n_seeds=("seed", "nunique"))
        .reset_index()
        .fillna({"ks_std": 0.0})
    )
    pairs["q_rank"] = pairs.quantity.map(_quantity_order(pairs.quantity).index)
    pairs = pairs.sort_values(["q_rank", "layer_a", "layer_b"]).reset_index(drop=True)
    return pairs[columns]


def largest_layer_ks(measures: pd.DataFrame) -> pd.DataFrame:
    """Per quantity, the pair of layers with the largest mean-over-seeds KS statistic, and whether it is
    strong (>= ``STRONG_KS``). Columns: quantity, layer_a, layer_b, ks_mean, ks_std, n_seeds, strong."""
    pairs = layer_ks_pairs(measures)
    if pairs.empty:
        return pairs.assign(strong=pd.Series(dtype=bool))
    largest = pairs.loc[pairs.groupby("quantity", sort=False).ks_mean.idxmax()].reset_index(drop=True)
    return largest.assign(strong=largest.ks_mean >= STRONG_KS)


def _pair(r) -> str:
    return f"{SHORT[r.quantity]}: layers {r.layer_a}–{r.layer_b}, {r.ks_mean:.3f}±{r.ks_std:.3f}"


def claim_c3(measures: pd.DataFrame) -> dict:
    if measures.layer.nunique() < 2:
        return _result(
            "fewer than two hidden layers: nothing to compare",
            "n/a",
            "Fewer than two hidden layers: no pair of layers to compare.",
        )
    largest = largest_layer_ks(measures[measures.quantity.isin(INDICATOR_QUANTITIES)])
    if largest.empty:
        return _result("no information quantity measured", "n/a", "No information quantity to compare.")
    detail = "; ".join(_pair(r) for r in largest.itertuples())
    measured = (
        f"largest between-layer KS statistic, mean±std over seeds of one pair of layers: {detail} "
        f"(strong: >= {STRONG_KS})"
    )
    verdict = _verdict(largest.strong)
    weak = largest[~largest.strong]
    if weak.empty:
        worst = largest.loc[largest.ks_mean.idxmin()]
        reason = (
            f"Every quantity has a pair of layers at or above {STRONG_KS}; the smallest largest pair mean is "
            f"{SHORT[worst.quantity]}'s, {worst.ks_mean:.3f} (layers {worst.layer_a}–{worst.layer_b})."
        )
    else:
        values = ", ".join(
            f"{SHORT[r.quantity]} {r.ks_mean:.3f} (layers {r.layer_a}–{r.layer_b}, "
            f"{STRONG_KS - r.ks_mean:.3f} short)"
            for r in weak.itertuples()
        )
        reason = (
            f"The largest pair mean stays below {STRONG_KS} for {len(weak)} of {len(largest)} quantities: "
            f"{values}."
        )
    return _result(measured, verdict, reason)


# ------------------------------------------------------------------------------------------- C4


def separation(auc: pd.DataFrame) -> pd.DataFrame:
    """Per (seed, scope, quantity): AUC ascending - AUC descending."""
    ordered = auc[auc.direction != "random"].pivot_table(
        index=["seed", "scope", "quantity"], columns="direction", values="auc"
    )
    return (ordered.ascending - ordered.descending).rename("separation").reset_index()


def claim_c4(auc: pd.DataFrame) -> dict:
    sep = separation(auc)
    sep = sep[sep.scope != NETWORK]
    if sep.empty or not {"entropy", *C2_QUANTITIES} <= set(sep.quantity):
        return _result(
            "no layer scope with H, MI and KL sel.",
            "n/a",
            "No layer scope with H, MI and KL sel. to compare.",
        )
    layers = sep.groupby(["scope", "quantity"]).separation.mean().unstack()
    layers = layers.loc[sorted(layers.index, key=scope_layer)]
    leads = pd.DataFrame(
        [
            {"scope": scope, "quantity": q, "lead": layers.loc[scope, q] - layers.loc[scope, "entropy"]}
            for scope in layers.index
            for q in C2_QUANTITIES
        ]
    )
    wins = leads.lead > 0
    stats = (
        sep.groupby(["seed", "quantity"])
        .separation.mean()
        .groupby("quantity")
        .agg(["mean", "std"])
        .fillna(0.0)
    )
    detail = ", ".join(
        f"{SHORT[q]} {_pm(stats.loc[q, 'mean'], stats.loc[q, 'std'])}" for q in (*C2_QUANTITIES, "entropy")
    )
    failing = leads[~wins]
    if failing.empty:
        worst = leads.loc[leads.lead.idxmin()]
        reason = (
            f"MI and KL sel. separate more than H in every layer; the smallest lead is {worst.lead:+.3f} AUC "
            f"({worst.scope} {SHORT[worst.quantity]}, seed mean)."
        )
    else:
        parts = ", ".join(f"{r.scope} {SHORT[r.quantity]} ({r.lead:+.3f})" for r in failing.itertuples())
        reason = (
            f"The separation does not exceed H's in {len(failing)} of {len(leads)} cases, by AUC (seed "
            f"mean): {parts}."
        )
    return _result(
        f"MI and KL sel. separate asc from desc more than H in {int(wins.sum())}/{len(wins)} "
        f"layer cases (mean AUC_asc−AUC_desc over layers: {detail})",
        _verdict(wins),
        reason,
    )


# ------------------------------------------------------------------------------------------- C6


def claim_c6(auc: pd.DataFrame) -> dict:
    band = random_band(auc, by=["seed", "scope"], value="auc")
    layers = band[band.scope != NETWORK]
    stats = layers.groupby("scope").random_mean.agg(["mean", "std"]).fillna(0.0)
    stats = stats.loc[sorted(stats.index, key=scope_layer)]
    means = stats["mean"].to_numpy()
    if len(means) < 2:
        return _result(
            "fewer than two hidden layers: nothing to compare",
            "n/a",
            "Fewer than two hidden layers: no depth to compare.",
        )
    detail = ", ".join(f"{scope} {m:.3f}±{s:.3f}" for scope, (m, s) in stats.iterrows())
    steps = np.diff(means)
    names = stats.index.tolist()
    increasing = bool(np.all(steps > 0))
    verdict = "agrees" if increasing else "partly" if means[-1] > means[0] else "disagrees"
    if increasing:
        i = int(np.argmin(steps))
        reason = (
            f"The random-order AUC rises at every step; the smallest rise is {steps[i]:+.3f} "
            f"({names[i]} → {names[i + 1]})."
        )
    else:
        breaks = ", ".join(
            f"{names[i]} → {names[i + 1]} ({steps[i]:+.3f})" for i in np.flatnonzero(steps <= 0)
        )
        overall = f"the last layer is {means[-1] - means[0]:+.3f} against the first"
        reason = f"The random-order AUC does not increase at {breaks}; {overall}."
    return _result(f"random-order AUC per layer: {detail}", verdict, reason)


# ------------------------------------------------------------------------------------------- C5


def activation_gaps(aucs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """C5 (a): per activation, hidden layer, MI / KL sel. and gap (``C5_GAPS``), the gap's mean and std
    over seeds, from each activation's AUC table (zero ablation). Columns: activation, scope, quantity,
    gap, mean, std, n_seeds."""
    rows = []
    for activation, auc in aucs.items():
        table = _c2_rows(indicator_table(auc))
        for r in table.itertuples():
            for column, gap in C5_GAPS.items():
                mean, std = getattr(r, f"{column}_mean"), getattr(r, f"{column}_std")
                rows.append((activation, r.scope, r.quantity, gap, mean, std, r.n_seeds))
    return pd.DataFrame(rows, columns=["activation", "scope", "quantity", "gap", "mean", "std", "n_seeds"])


def activation_gains(gains: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """C5 (b): per activation, scope, ordering quantity and direction, the ordered curve's AUC gain of mean
    over zero ablation, mean and std over seeds, from each activation's
    :func:`nbsrc.analysis.paired_auc_gain` table (random orders, if any, are left out). Columns:
    activation, scope, quantity, direction, mean, std, n_seeds."""
    case = ["scope", "quantity", "direction"]
    rows = []
    for activation, table in gains.items():
        ordered = table[table.direction != "random"]
        for (scope, quantity, direction), g in ordered.groupby(case, sort=False):
            std = float(g.gain.std()) if len(g) > 1 else 0.0
            rows.append((activation, scope, quantity, direction, float(g.gain.mean()), std, g.seed.nunique()))
    frame = pd.DataFrame(rows, columns=["activation", *case, "mean", "std", "n_seeds"])
    order = {s: i for i, s in enumerate(ordered_scopes(frame.scope.unique()))}
    return frame.sort_values(["scope"], key=lambda c: c.map(order), kind="stable").reset_index(drop=True)


def variant_contrasts(
    table: pd.DataFrame,
    case: list[str],
    by: str = "activation",
    reference: str | None = None,
    floor: float = C5_FLOOR,
) -> pd.DataFrame:
    """Pairs of variants (the values of column ``by``: activations, regularisers) within each ``case`` group
    of ``table`` (columns ``by``, mean, std): every pair in table order, or, with ``reference``, each other
    variant against the reference (first = the reference). The difference of their means (second −
    first), the threshold max(2 × larger std, floor) and whether the difference exceeds it; the floor is
    ``floor``, or the group's ``floor`` column when the table has one (a unit per quantity). Columns:
    ``case``, first, second, difference, threshold, differs (and unit, when the table has one)."""
    rows = []
    extra = [c for c in ("unit",) if c in table]
    for key, group in table.groupby(case, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        stats = group.set_index(by)
        low = float(stats["floor"].iloc[0]) if "floor" in stats else floor
        if reference is None:
            pairs = list(combinations(stats.index, 2))
        else:
            pairs = (
                [(reference, v) for v in stats.index if v != reference] if reference in stats.index else []
            )
        for a, b in pairs:
            difference = float(stats.loc[b, "mean"] - stats.loc[a, "mean"])
            threshold = max(2 * max(float(stats.loc[a, "std"]), float(stats.loc[b, "std"])), low)
            units = [stats[c].iloc[0] for c in extra]
            rows.append((*key, a, b, difference, threshold, abs(difference) > threshold, *units))
    return pd.DataFrame(
        rows, columns=[*case, "first", "second", "difference", "threshold", "differs", *extra]
    )


def _contrast_case(r, case: list[str]) -> str:
    where = " ".join(SHORT.get(getattr(r, c), getattr(r, c)) for c in case)
    unit = getattr(r, "unit", "AUC")
    return f"{where}: {r.second} − {r.first} {r.difference:+.3f} {unit} (threshold {r.threshold:.3f})"


def _contrast_part(
    contrasts: pd.DataFrame,
    case: list[str],
    name: str,
    pairs: str = "activation pairs",
    on: str = "activation",
) -> tuple[bool, str, str]:
    """Whether a part has a differing case (it depends on the ``on``), its measured text and its reason."""
    if contrasts.empty:
        return False, f"{name}: no case", f"{name} has no case to compare"
    margin = contrasts.difference.abs() - contrasts.threshold
    largest = contrasts.loc[margin.idxmax()]
    n = int(contrasts.differs.sum())
    measured = (
        f"{name}: {n} of {len(contrasts)} {pairs} × cases differ; largest {_contrast_case(largest, case)}"
    )
    if n:
        reason = f"{name} depends on the {on} in {n} of {len(contrasts)} comparisons (largest: " + (
            f"{_contrast_case(largest, case)})"
        )
    else:
        reason = (
            f"{name} does not depend on the {on}: no difference exceeds its threshold (closest: "
            f"{_contrast_case(largest, case)})"
        )
    return n > 0, measured, reason


def claim_c5(gaps: pd.DataFrame, gains: pd.DataFrame) -> dict:
    """C5 from :func:`activation_gaps` (the relation, part a) and :func:`activation_gains` (bias balancing,
    part b) of the same networks: agrees when both parts depend on the activation (some case where two
    activations' seed means differ by more than twice the larger seed std and more than ``C5_FLOOR``),
    partly when one does, disagrees when neither; n/a with fewer than two activations."""
    activations = sorted(set(gaps.activation) | set(gains.activation))
    if len(activations) < 2:
        why = f"only {', '.join(activations) or 'no activation'}: no two activations to compare"
        return _result(why, "n/a", f"{why[0].upper()}{why[1:]}.")
    relation = variant_contrasts(gaps, ["scope", "quantity", "gap"])
    cases = ["scope", "quantity", "direction"]
    balancing = variant_contrasts(gains, cases)
    a, a_measured, a_reason = _contrast_part(
        relation, ["scope", "quantity", "gap"], "(a) the relation (C2 gaps)"
    )
    b, b_measured, b_reason = _contrast_part(
        balancing, cases, "(b) the gain of bias balancing (ordered curves)"
    )
    verdict = "agrees" if a and b else "partly" if a or b else "disagrees"
    return _result(
        f"{a_measured}; {b_measured}", verdict, f"{a_reason[0].upper()}{a_reason[1:]}; {b_reason}."
    )


# ------------------------------------------------------------------------------------------- C9


def _seed_stats(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per ``by`` group: mean, std (0 for one seed) and number of seeds of ``value`` (a row per seed)."""
    grouped = frame.groupby(by, sort=False)
    stats = grouped.value.agg(["mean", "std"]).fillna({"std": 0.0})
    return stats.assign(n_seeds=grouped.seed.nunique()).reset_index()


def variant_quantities(measures: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """C9 (a): per variant (``{variant: measures}``), hidden layer and quantity of ``C9_FLOORS``, the mean
    over the layer's neurons per seed, then mean and std over seeds, with the quantity's floor and unit.
    Columns: variant, scope, quantity, mean, std, n_seeds, floor, unit."""
    frames = []
    for variant, table in measures.items():
        rows = table[table.quantity.isin(list(C9_FLOORS))]
        per_seed = rows.groupby(["seed", "layer", "quantity"], sort=False).value.mean().reset_index()
        per_seed = per_seed.assign(scope=per_seed.layer.map(layer_scope), variant=variant)
        per_seed["q"] = per_seed.quantity.map(list(C9_FLOORS).index)
        frames.append(per_seed.sort_values(["layer", "q"], kind="stable"))
    columns = ["variant", "scope", "quantity", "mean", "std", "n_seeds", "floor", "unit"]
    if not frames:
        return pd.DataFrame(columns=columns)
    stats = _seed_stats(pd.concat(frames, ignore_index=True), ["variant", "scope", "quantity"])
    stats = stats.assign(floor=stats.quantity.map(C9_FLOORS), unit=stats.quantity.map(C9_UNITS))
    return stats[columns]


def variant_robustness(aucs: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """C9 (b): per variant (``{variant: auc table}``, relative AUCs in the book:
    :func:`nbsrc.analysis.relative_auc`) and scope, the random orders' mean AUC per seed, then mean and
    std over seeds. Columns: variant, scope, mean, std, n_seeds (scopes: network, then layers)."""
    frames = []
    for variant, auc in aucs.items():
        band = random_band(auc, by=["seed", "scope"], value="auc")
        frames.append(band.assign(variant=variant, value=band.random_mean))
    columns = ["variant", "scope", "mean", "std", "n_seeds"]
    if not frames:
        return pd.DataFrame(columns=columns)
    stats = _seed_stats(pd.concat(frames, ignore_index=True), ["variant", "scope"])
    order = {s: i for i, s in enumerate(ordered_scopes(stats.scope.unique()))}
    stats = stats.sort_values("scope", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
    return stats[columns]


def claim_c9(quantities: pd.DataFrame, robustness: pd.DataFrame) -> dict:
    """C9 (the book's extension) from :func:`variant_quantities` (part a) and :func:`variant_robustness`
    (part b) of the same networks: each regulariser against ``C9_REFERENCE``; a case differs when the
    seed means differ by more than twice the larger seed std and more than its floor. Agrees when both
    parts have a differing case, partly when one does, disagrees when neither; n/a without the reference,
    without a regulariser, or with fewer than two seeds of a variant (no spread)."""
    variants = list(dict.fromkeys([*quantities.variant, *robustness.variant]))
    others = [v for v in variants if v != C9_REFERENCE]
    if C9_REFERENCE not in variants or not others:
        missing = "no networks without a regulariser" if C9_REFERENCE not in variants else "no regulariser"
        why = f"{missing} ({', '.join(variants) or 'no variant'}): nothing to compare"
        return _result(why, "n/a", f"{why[0].upper()}{why[1:]}.")
    seeds = pd.concat([quantities, robustness]).groupby("variant", sort=False).n_seeds.min()
    if (seeds < 2).any():
        few = ", ".join(f"{v} ({n})" for v, n in seeds[seeds < 2].items())
        why = f"fewer than two seeds for {few}: no seed spread to compare with"
        return _result(why, "n/a", f"{why[0].upper()}{why[1:]}.")
    pairs, on = "regulariser comparisons", "regulariser"
    changed = variant_contrasts(quantities, ["scope", "quantity"], by="variant", reference=C9_REFERENCE)
    robust = variant_contrasts(
        robustness.assign(unit="rel. AUC"), ["scope"], by="variant", reference=C9_REFERENCE, floor=C9_FLOOR
    )
    a, a_measured, a_reason = _contrast_part(
        changed, ["scope", "quantity"], "(a) the distribution of the quantities (layer means)", pairs, on
    )
    b, b_measured, b_reason = _contrast_part(
        robust, ["scope"], "(b) the robustness (relative random-order AUC)", pairs, on
    )
    verdict = "agrees" if a and b else "partly" if a or b else "disagrees"
    return _result(
        f"{a_measured}; {b_measured}", verdict, f"{a_reason[0].upper()}{a_reason[1:]}; {b_reason}."
    )


# ------------------------------------------------------------------------------------------ C3e


def _gaps(r) -> str:
    return f"asc−rand {_pm(r.asc_gap_mean, r.asc_gap_std)}, rand−desc {_pm(r.desc_gap_mean, r.desc_gap_std)}"


def claim_c3e(indicators: pd.DataFrame, ranked_indicators: pd.DataFrame) -> dict:
    """C3's explanation of C1: ``indicators`` from the raw whole-network orders, ``ranked_indicators`` from
    the per-layer-percentile orders (both :func:`indicator_table`; only their network scope is read)."""

    def network(table: pd.DataFrame) -> pd.DataFrame:
        rows = table[(table.scope == NETWORK) & table.quantity.isin(INDICATOR_QUANTITIES)]
        return rows.set_index("quantity").loc[_quantity_order(rows.quantity)]

    raw, ranked = network(indicators), network(ranked_indicators)
    if raw.empty or ranked.empty:
        return _result("no whole-network ablation to compare", "n/a", "No network scope to judge C3e on.")
    candidates = [q for q in raw.index if not raw.loc[q, "good"] and q in ranked.index]
    measured = "; ".join(
        f"{SHORT[q]}: {_gaps(r)}" for q, r in zip(ranked.index, ranked.itertuples(), strict=True)
    )
    good_ranked = [SHORT[q] for q in ranked.index if ranked.loc[q, "good"]]
    measured = f"good with per-layer ranks: {', '.join(good_ranked) or 'none'} (AUC gaps {measured})"
    if not candidates:
        return _result(measured, "n/a", "Every quantity is a good indicator on raw values already.")
    became = [q for q in candidates if ranked.loc[q, "good"]]
    gained = [
        q
        for q in candidates
        if ranked.loc[q, "asc_gap_mean"] > raw.loc[q, "asc_gap_mean"]
        and ranked.loc[q, "desc_gap_mean"] > raw.loc[q, "desc_gap_mean"]
    ]
    verdict = "agrees" if became else "partly" if 2 * len(gained) >= len(candidates) else "disagrees"
    changes = ", ".join(
        f"{SHORT[q]} {ranked.loc[q, 'asc_gap_mean'] - raw.loc[q, 'asc_gap_mean']:+.3f} / "
        f"{ranked.loc[q, 'desc_gap_mean'] - raw.loc[q, 'desc_gap_mean']:+.3f}"
        for q in candidates
    )
    if became:
        reason = (
            f"With per-layer ranks, {_names_of(became)} {'is' if len(became) == 1 else 'are'} now good over "
            f"the whole network; change of the two gaps (asc−rand / rand−desc): {changes}."
        )
    else:
        reason = (
            f"No quantity becomes a good indicator with per-layer ranks; {len(gained)} of {len(candidates)} "
            f"gain on both gaps (change asc−rand / rand−desc: {changes})."
        )
    return _result(measured, verdict, reason)


def _names_of(quantities: list[str]) -> str:
    names = [SHORT[q] for q in quantities]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# ------------------------------------------------------------------------------------------- C8


def claim_c8(labels: pd.DataFrame, checks: pd.DataFrame) -> dict:
    """C8 from :func:`nbsrc.redundancy.curve_labels` and :func:`nbsrc.redundancy.label_checks`."""
    counts = labels.label.value_counts()
    n_red, n_syn = int(labels.redundancy.sum()), int(labels.synergy.sum())

    def tally(test: str) -> str:
        outcomes = checks[test].value_counts()
        return ", ".join(
            f"{int(outcomes.get(o, 0))} {o}" for o in ("confirms", "contradicts", "inconclusive")
        )

    measured = (
        f"{counted(len(checks), 'suggestion')} from {len(labels)} layer × quantity curves ({n_red} "
        f"redundancy, {n_syn} synergy, {int(counts.get('neither', 0))} curves neither); information test: "
        f"{tally('information')}; damage test: {tally('damage')}; confirmed: {int(checks.confirmed.sum())}"
    )
    if checks.empty:
        return _result(
            measured,
            "n/a",
            "No layer-wise curve lies outside the random band in every seed (descending above it or "
            "ascending below it): the curves suggest neither redundancy nor synergy.",
        )
    verdict = _verdict(checks.confirmed)
    failed = checks[~checks.confirmed]
    cases = "; ".join(
        f"{r.scope} {SHORT[r.quantity]} {r.label}: synergy {num(r.synergy_mean, 4, signed=True)} bits "
        f"(p = {r.synergy_p:.2g}, {r.information}), interaction "
        f"{num(100 * r.interaction_mean, 3, signed=True)} points "
        f"(p = {r.interaction_p:.2g}, {r.damage}) against random pairs"
        for r in (failed if not failed.empty else checks).itertuples()
    )
    if failed.empty:
        reason = f"Every suggestion is confirmed: {cases}."
    else:
        verb = "is" if len(failed) == 1 else "are"
        reason = f"{len(failed)} of {counted(len(checks), 'suggestion')} {verb} not confirmed: {cases}."
    return _result(measured, verdict, reason)


# ------------------------------------------------------------------------------------------- table


def claim_c7(shares: pd.DataFrame) -> dict:
    """C7 from :func:`nbsrc.pruning.recovered_share` of one network kind (seed, criterion, kept, recovery,
    share): the cases (criterion, kept fraction) where fine-tuning recovers at least the floor in every
    seed, and whether bias balancing recovers at least ``C7_SHARE`` of it, consistently."""
    cases = shares.groupby(["criterion", "kept"], sort=False).share.agg(["mean", "std", "count", "size"])
    cases = cases[cases["count"] == cases["size"]].fillna({"std": 0.0})
    holds = (cases["mean"] >= C7_SHARE) & (cases["mean"] > 2 * cases["std"])
    measured = (
        f"{int(holds.sum())} of {len(cases)} cases (criterion × kept fraction with a fine-tuning gain of at "
        f"least 1 point) hold; median share recovered by bias balancing "
        f"{num(float(cases['mean'].median()) if len(cases) else float('nan'), 2)}"
    )
    if cases.empty:
        return _result(
            measured, "n/a", "Fine-tuning recovers less than a point everywhere: nothing to recover."
        )
    best, worst = cases["mean"].idxmax(), cases["mean"].idxmin()

    def case(key: tuple[str, float]) -> str:
        mean, std = cases.loc[key, "mean"], cases.loc[key, "std"]
        return f"{SHORT[key[0]]} keeping {100 * key[1]:g} % ({num(mean, 2)} ± {num(std, 2)})"

    reason = (
        f"Bias balancing alone recovers, of the fine-tuning gain, between {case(worst)} and {case(best)} "
        f"(share, mean ± std over seeds)."
    )
    return _result(measured, _verdict(holds), reason)


def claims_table(
    auc: pd.DataFrame,
    measures: pd.DataFrame,
    activation: str,
    first_version: bool = False,
    ranked_auc: pd.DataFrame | None = None,
    pairs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per tested claim: the paper's statement, the number computed here, the verdict and the
    reason for it. C1, C2, C2w, C3, C4 and C6 always; C3e when ``ranked_auc`` (the AUC table of the
    per-layer-percentile orders, :func:`nbsrc.normalized.normalized_curves`) is given; C8 when ``pairs``
    (the sampled neuron pairs, :func:`nbsrc.redundancy.pair_tests`) are: the layer-wise curves' labels
    checked against them (:func:`nbsrc.redundancy.label_checks`). Every argument table has a ``seed``
    column, so :func:`nbsrc.stability.judge_with_stability` can judge it again without a seed.
    ``first_version``: the networks are the paper's first-version setting, for which it states C2 whatever
    the activation (its network is sigmoid)."""
    indicators = indicator_table(auc)
    computed = {
        "C1": claim_c1(indicators),
        "C2": claim_c2(indicators, activation, first_version),
        "C2w": claim_c2w(indicators, activation, first_version),
        "C3": claim_c3(measures),
        "C4": claim_c4(auc),
        "C6": claim_c6(auc),
    }
    if ranked_auc is not None:
        computed["C3e"] = claim_c3e(indicators, indicator_table(ranked_auc))
    if pairs is not None:
        labels = curve_labels(auc)
        computed["C8"] = claim_c8(labels, label_checks(labels, pair_contrasts(pairs)))
    columns = ["claim", "paper", "measured", "verdict", "reason"]
    rows = [{"claim": c, "paper": PAPER[c], **computed[c]} for c in PAPER if c in computed]
    return pd.DataFrame(rows, columns=columns)
