"""The paper's claims (METHOD.md section 5) turned into numbers and verdicts, computed from the tables.

A quantity is a *good indicator* of importance in a scope when, in every seed, ablating by it in
ascending order keeps the accuracy AUC above the random band (above the 95 % quantile of the random
orders' AUC) and descending order pushes it below the band (below the 5 % quantile). The gaps
(ascending - random mean, random mean - descending) are reported as mean +- std over seeds.

Every threshold here is fixed in code, before any result is looked at:

* C1 agrees when no quantity is a good indicator over the whole network, partly when one is.
* C2 (ReLU networks only; n/a otherwise) agrees when for every layer and for MI and KL
  selectivity the descending AUC lies below the band in every seed and the seed-mean ascending
  AUC is not below the band; partly for >= half.
* C3 agrees when, for every quantity, some pair of layers has a two-sample Kolmogorov-Smirnov
  statistic >= 0.5 (mean over seeds; a strong difference of distributions); partly for >= half
  of the quantities.
* C4 agrees when, in every layer, MI and KL selectivity both separate ascending from descending
  (AUC_asc - AUC_desc, seed mean) more than entropy does; partly for >= half of the pairs.
* C6 agrees when the random-order AUC increases strictly with depth; partly when only the last
  layer's exceeds the first's.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from nbsrc.vocabulary import INDICATOR_QUANTITIES, NETWORK, SHORT, random_band, scope_layer

STRONG_KS = 0.5

PAPER = {
    "C1": "Ranked across the whole network, none of the quantities is a good indicator of importance.",
    "C2": "Within a layer of a ReLU network, MI and KL selectivity are positively related to importance: "
    "descending clearly below random, ascending at or above it.",
    "C3": "The distributions of the quantities differ strongly between layers.",
    "C4": "Class-dependent quantities (MI, KL selectivity) relate to accuracy more strongly than entropy.",
    "C6": "Ablation in deeper layers costs less accuracy than in early layers.",
}


def indicator_table(auc: pd.DataFrame) -> pd.DataFrame:
    """Per (scope, quantity): the two gaps to the random band over seeds, and the verdict "good"."""
    ordered = (
        auc[auc.direction != "random"]
        .pivot_table(index=["seed", "scope", "quantity"], columns="direction", values="auc")
        .reset_index()
    )
    table = ordered.merge(random_band(auc, ["seed", "scope"], "auc"), on=["seed", "scope"])
    table["asc_gap"] = table.ascending - table.random_mean
    table["desc_gap"] = table.random_mean - table.descending
    table["asc_above"] = table.ascending > table.random_hi
    table["desc_below"] = table.descending < table.random_lo
    grouped = table.groupby(["scope", "quantity"])
    summary = grouped.agg(
        asc_gap_mean=("asc_gap", "mean"),
        asc_gap_std=("asc_gap", "std"),
        desc_gap_mean=("desc_gap", "mean"),
        desc_gap_std=("desc_gap", "std"),
        asc_above=("asc_above", "mean"),
        desc_below=("desc_below", "mean"),
        ascending=("ascending", "mean"),
        descending=("descending", "mean"),
        random_lo=("random_lo", "mean"),
        random_hi=("random_hi", "mean"),
        n_seeds=("seed", "nunique"),
    ).reset_index()
    summary["good"] = (summary.asc_above == 1.0) & (summary.desc_below == 1.0)
    return summary.fillna({"asc_gap_std": 0.0, "desc_gap_std": 0.0})


def _pm(mean: float, std: float) -> str:
    return f"{mean:+.3f}±{std:.3f}"


def _verdict(fraction: float, full: float = 1.0, half: float = 0.5) -> str:
    return "agrees" if fraction >= full else "partly" if fraction >= half else "disagrees"


def claim_c1(indicators: pd.DataFrame) -> dict:
    rows = indicators[(indicators.scope == NETWORK) & indicators.quantity.isin(INDICATOR_QUANTITIES)]
    good = rows[rows.good].quantity.map(SHORT).tolist()
    gaps = "; ".join(
        f"{SHORT[r.quantity]}: asc−rand {_pm(r.asc_gap_mean, r.asc_gap_std)}, "
        f"rand−desc {_pm(r.desc_gap_mean, r.desc_gap_std)}"
        for r in rows.itertuples()
    )
    verdict = "agrees" if not good else "partly" if len(good) == 1 else "disagrees"
    return {"measured": f"good indicators: {', '.join(good) or 'none'} (AUC gaps {gaps})", "verdict": verdict}


def claim_c2(indicators: pd.DataFrame, activation: str) -> dict:
    rows = indicators[
        (indicators.scope != NETWORK) & indicators.quantity.isin(["mutual_information", "kl_selectivity"])
    ]
    holds = (rows.desc_below == 1.0) & (rows.ascending >= rows.random_lo)
    detail = "; ".join(
        f"{r.scope} {SHORT[r.quantity]}: rand−desc {_pm(r.desc_gap_mean, r.desc_gap_std)}, "
        f"asc−rand {_pm(r.asc_gap_mean, r.asc_gap_std)}"
        for r in rows.itertuples()
    )
    note = (
        ""
        if activation == "relu"
        else f" (the paper states C2 for ReLU only; this network uses {activation})"
    )
    return {
        "measured": f"holds in {int(holds.sum())}/{len(rows)} layer×quantity cases ({detail}){note}",
        "verdict": _verdict(float(holds.mean())) if activation == "relu" else "n/a",
    }


def layer_ks(measures: pd.DataFrame) -> pd.DataFrame:
    """Per seed and quantity, the largest two-sample KS statistic between two layers' values."""
    stats = []
    for (seed, quantity), rows in measures.groupby(["seed", "quantity"]):
        per_layer = [g.value.to_numpy() for _, g in rows.groupby("layer")]
        largest = max((ks_2samp(a, b).statistic for a, b in combinations(per_layer, 2)), default=0.0)
        stats.append({"seed": seed, "quantity": quantity, "ks": largest})
    return pd.DataFrame(stats)


def claim_c3(measures: pd.DataFrame) -> dict:
    if measures.layer.nunique() < 2:
        return {"measured": "one hidden layer: nothing to compare", "verdict": "n/a"}
    ks = layer_ks(measures[measures.quantity.isin(INDICATOR_QUANTITIES)]).groupby("quantity").ks
    stats = ks.agg(["mean", "std"]).fillna(0.0)
    strong = stats["mean"] >= STRONG_KS
    detail = ", ".join(f"{SHORT[q]} {r['mean']:.2f}±{r['std']:.2f}" for q, r in stats.iterrows())
    return {
        "measured": f"largest between-layer KS statistic (mean±std over seeds): {detail} "
        f"(strong: >= {STRONG_KS})",
        "verdict": _verdict(float(strong.mean())),
    }


def separation(auc: pd.DataFrame) -> pd.DataFrame:
    """Per (seed, scope, quantity): AUC ascending - AUC descending."""
    ordered = auc[auc.direction != "random"].pivot_table(
        index=["seed", "scope", "quantity"], columns="direction", values="auc"
    )
    return (ordered.ascending - ordered.descending).rename("separation").reset_index()


def claim_c4(auc: pd.DataFrame) -> dict:
    sep = separation(auc)
    layers = sep[sep.scope != NETWORK].groupby(["scope", "quantity"]).separation.mean().unstack()
    wins = pd.concat([layers[q] > layers["entropy"] for q in ("mutual_information", "kl_selectivity")])
    per_q = sep[sep.scope != NETWORK].groupby(["seed", "quantity"]).separation.mean().groupby("quantity")
    stats = per_q.agg(["mean", "std"]).fillna(0.0)
    detail = ", ".join(
        f"{SHORT[q]} {_pm(stats.loc[q, 'mean'], stats.loc[q, 'std'])}"
        for q in ("mutual_information", "kl_selectivity", "entropy")
    )
    return {
        "measured": f"MI and KL separate asc from desc more than H in {int(wins.sum())}/{len(wins)} "
        f"layer cases (mean AUC_asc−AUC_desc over layers: {detail})",
        "verdict": _verdict(float(wins.mean())),
    }


def claim_c6(auc: pd.DataFrame) -> dict:
    band = random_band(auc, ["seed", "scope"], "auc")
    layers = band[band.scope != NETWORK]
    stats = layers.groupby("scope").random_mean.agg(["mean", "std"]).fillna(0.0)
    stats = stats.loc[sorted(stats.index, key=scope_layer)]
    means = stats["mean"].to_numpy()
    if len(means) < 2:
        return {"measured": "one hidden layer: nothing to compare", "verdict": "n/a"}
    detail = ", ".join(f"{scope} {m:.3f}±{s:.3f}" for scope, (m, s) in stats.iterrows())
    increasing = bool(np.all(np.diff(means) > 0))
    verdict = "agrees" if increasing else "partly" if means[-1] > means[0] else "disagrees"
    return {"measured": f"random-order AUC per layer: {detail}", "verdict": verdict}


def claims_table(auc: pd.DataFrame, measures: pd.DataFrame, activation: str) -> pd.DataFrame:
    """One row per tested claim: the paper's statement, the number computed here, the verdict."""
    indicators = indicator_table(auc)
    computed = {
        "C1": claim_c1(indicators),
        "C2": claim_c2(indicators, activation),
        "C3": claim_c3(measures),
        "C4": claim_c4(auc),
        "C6": claim_c6(auc),
    }
    return pd.DataFrame([{"claim": c, "paper": PAPER[c], **computed[c]} for c in PAPER])
