"""Regularisers (C9, the book's extension): how dropout, batch norm and weight decay change the quantities
and the robustness to ablation, and Morcos et al.'s comparison of generalisation with robustness.

The book's ReLU networks (its recipe and default widths) trained once per variant (``VARIANTS``: no
regulariser, dropout 0.2 and 0.5, batch norm, weight decay 1e-4 and 1e-3; the strengths are the book's
choice) and seed, analysed with the dataset chapter's settings without its ordered curves (every quantity,
the random orders of every scope, zero ablation: what the chapter shows). The variant "none" is exactly the
dataset chapter's networks and analysis (the same configs and settings, so the same cache keys): they are
not trained or ablated again. Batch norm is folded into the affine maps for ablation (:mod:`nbsrc.models`),
dropout is off at evaluation.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from nbsrc.analysis import AnalysisSettings, ChapterResults, relative_auc, run_chapter
from nbsrc.claims import PAPER, claim_c9, variant_quantities, variant_robustness
from nbsrc.narrative import borderline_clause
from nbsrc.report import (
    MORCOS_ALPHA,
    morcos_reading,
    morcos_table,
    pm,
    robustness_table,
    save_result,
    seed_accuracies_markdown,
    spread_by_markdown,
)
from nbsrc.stability import STABILITY
from nbsrc.train import TrainConfig
from nbsrc.vocabulary import SHORT, TITLES, num, ordered_scopes

#: The variants of the book's networks, by their reader's names: the training config's fields each sets
#: (none: the book's recipe as it is). The strengths are the book's choice.
VARIANTS: dict[str, dict[str, Any]] = {
    "none": {},
    "dropout 0.2": {"dropout": 0.2},
    "dropout 0.5": {"dropout": 0.5},
    "batch norm": {"batch_norm": True},
    "weight decay 1e-4": {"weight_decay": 1e-4},
    "weight decay 1e-3": {"weight_decay": 1e-3},
}
#: The datasets the book runs the regulariser chapters on (the issue asks for at least MNIST and CIFAR-10).
REGULARISER_DATASETS = ("mnist", "cifar10")
CLAIM_COLUMNS = ["claim", "paper", "measured", "verdict", "reason"]

Results = dict[str, ChapterResults]


def variant_settings(variant: str, settings: AnalysisSettings) -> AnalysisSettings:
    """The analysis of one variant's networks: for "none" the dataset chapter's ``settings`` as they are (its
    cached analysis, ordered curves included), for a regulariser the same without ordered curves (this
    chapter shows only the quantities and the random orders; the random orders are seeded per network and
    scope, so those of "none" are the same curves either way)."""
    return settings if variant == "none" else replace(settings, ordered=())


def run_regularisers(
    configs: dict[str, list[TrainConfig]],
    settings: AnalysisSettings,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Results:
    """Train (or load) every variant's networks (``{variant: configs}``) and analyse them (cached) with
    :func:`variant_settings`."""
    return {
        variant: run_chapter(runs, variant_settings(variant, settings), cache, device, progress)
        for variant, runs in configs.items()
    }


def c9_tables(results: Results) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables C9 rests on: the layer means of the quantities per variant (part a) and the random-order
    AUC relative to the intact accuracy above chance (:func:`nbsrc.analysis.relative_auc`) per scope and
    variant (part b); see :func:`nbsrc.claims.claim_c9`."""
    quantities = variant_quantities({v: r.measures for v, r in results.items()})
    relative = {v: relative_auc(r.auc, r.accuracies) for v, r in results.items()}
    return quantities, variant_robustness(relative)


def regulariser_claims(results: Results) -> pd.DataFrame:
    """C9 on the chapter's networks, one row. Columns: ``CLAIM_COLUMNS``."""
    row = {"claim": "C9", "paper": PAPER["C9"], **claim_c9(*c9_tables(results))}
    return pd.DataFrame([row], columns=CLAIM_COLUMNS)


def accuracies(results: Results) -> pd.DataFrame:
    """Test accuracy per variant and seed. Columns: variant, seed, test_accuracy."""
    frames = [r.accuracies.assign(variant=v) for v, r in results.items()]
    return pd.concat(frames, ignore_index=True)[["variant", "seed", "test_accuracy"]]


def robustness(results: Results) -> pd.DataFrame:
    """Per network (variant and seed): its kind, test accuracy and whole-network random-order AUC
    (:func:`nbsrc.report.robustness_table`). Columns: variant, seed, network, test_accuracy,
    random_network_auc, relative_network_auc."""
    frames = [robustness_table(r).assign(variant=v) for v, r in results.items()]
    table = pd.concat(frames, ignore_index=True)
    columns = ["test_accuracy", "random_network_auc", "relative_network_auc"]
    return table[["variant", "seed", "network", *columns]]


def save(claims: pd.DataFrame, results: Results, parameters: dict[str, Any]) -> Path:
    """Write the chapter's claims, accuracies and robustness for the summary (``<results_name>-claims.csv``,
    ``-accuracy.csv`` and ``-robustness.csv`` in ``results_dir``); returns the claims file."""
    name = parameters.get("results_name") or f"regularisers_{parameters['dataset']}"
    save_result(accuracies(results), parameters["results_dir"], name, "accuracy")
    save_result(robustness(results), parameters["results_dir"], name, "robustness")
    return save_result(claims, parameters["results_dir"], name, "claims")


# ------------------------------------------------------------------------------------------- tables


def accuracy_table(results: Results) -> str:
    """Per variant, the test accuracy of each seed and their mean ± std, Markdown."""
    return seed_accuracies_markdown(results, "regulariser")


def quantities_table(quantities: pd.DataFrame) -> str:
    """C9 (a): per hidden layer and variant (rows, layer by layer), the layer's mean value of each quantity
    (columns, short names), mean ± std over seeds, Markdown (four value columns fit the page's column)."""
    order = {s: i for i, s in enumerate(ordered_scopes(quantities.scope.unique()))}
    by_layer = quantities.sort_values("scope", key=lambda c: c.map(order), kind="stable")
    return spread_by_markdown(by_layer, ["scope", "variant"], "quantity", names=SHORT)


def robustness_markdown(robustness_table: pd.DataFrame) -> str:
    """C9 (b): per variant (rows), the random orders' mean AUC per scope (columns: the whole network, then
    each layer), mean ± std over seeds, Markdown."""
    return spread_by_markdown(robustness_table, ["variant"], "scope")


def measures(results: Results) -> dict[str, pd.DataFrame]:
    """Each variant's measures, keyed by the variant (for the distributions figure)."""
    return {v: r.measures for v, r in results.items()}


def curves(results: Results) -> dict[str, pd.DataFrame]:
    """Each variant's curves, keyed by the variant (for the robustness figure)."""
    return {v: r.curves for v, r in results.items()}


def morcos_points(results: Results) -> pd.DataFrame:
    """One point per network of the chapter for Morcos et al.'s comparison: variant, seed, test_accuracy,
    random_network_auc, relative_network_auc."""
    return robustness(results).drop(columns="network")


# ------------------------------------------------------------------------------------------- prose


def findings(claims: pd.DataFrame, results: Results, dataset: str) -> str:
    """ "What this chapter finds": the accuracy per variant, C9's verdict with its reason and the Morcos
    comparison's Spearman ρ, every number computed."""
    acc = accuracies(results).groupby("variant", sort=False).test_accuracy
    accuracy = "; ".join(f"{v} {pm(100 * g.mean(), 100 * g.std(), 2)} %" for v, g in acc)
    c9 = claims.set_index("claim").loc["C9"]
    rho = morcos_sentence(morcos_points(results), dataset)
    return " ".join(
        sentence
        for sentence in [
            f"Test accuracy on {TITLES.get(dataset, dataset)} (mean ± std over seeds): {accuracy}.",
            f"C9, whether the regularisers change the quantities and the robustness to ablation (the book's "
            f"extension): **{c9.verdict}**. {c9.reason}",
            rho,
            borderline_clause(claims),
        ]
        if sentence
    )


def morcos_sentence(points: pd.DataFrame, dataset: str) -> str:
    """Spearman's ρ between test accuracy and the whole-network random-order AUC relative to the intact
    accuracy above chance over the chapter's networks, with its p-value, read against Morcos et al.'s
    finding (:func:`nbsrc.report.morcos_reading`), and the plain AUC's ρ beside it."""
    row = morcos_table(points.assign(dataset=dataset)).iloc[0]
    if pd.isna(row.spearman_rho):
        return f"Over its {row.networks} networks, Spearman's ρ (accuracy, robustness) is undefined."
    rho = num(row.spearman_rho, 2, signed=True)
    reading = {
        "as Morcos et al.": "the networks that generalise better keep a larger share of their accuracy under "
        "random ablation, as Morcos et al. found",
        "opposite to Morcos et al.": "the networks that generalise better keep a smaller share of their "
        "accuracy under random ablation, the opposite of Morcos et al.'s finding",
        "no clear relation": f"no clear monotone relation at p < {MORCOS_ALPHA}",
    }[morcos_reading(row.spearman_rho, row.p_value)]
    plain = "undefined" if pd.isna(row.spearman_rho_auc) else num(row.spearman_rho_auc, 2, signed=True)
    return (
        f"Over the chapter's {row.networks} networks, Spearman's ρ between test accuracy and the "
        f"whole-network random-order AUC relative to the intact accuracy above chance is {rho} "
        f"(p = {row.p_value:.2g}): {reading}. With the plain AUC, which starts at the intact accuracy and so "
        f"rises with it by construction, ρ is {plain}."
    )


def claims_markdown(claims: pd.DataFrame) -> str:
    """The chapter's claims table (claim, measured, verdict and what leaving one seed out does to it:
    :func:`nbsrc.stability.judge_with_stability`), Markdown."""
    return claims[["claim", "measured", "verdict", STABILITY]].to_markdown(index=False)
