"""Activation functions on equal widths (issue 8): C2 per activation, C5 and C6 re-tested.

Networks of one shape with equal widths (the book's recipe otherwise), one per activation (ReLU,
sigmoid, tanh) and seed. Every quantity is measured (for the per-layer distributions); the ordered
curves are computed for the settings' ``ordered`` quantities only (MI and KL selectivity in the book),
once with zero ablation, with the random orders of every scope (each hidden layer and the whole network),
and once with bias balancing (ablated neurons fixed to their validation mean), ordered curves only: the
random orders under mean ablation would double the chapter's compute. The analyses are those of
:func:`nbsrc.analysis.run_chapter` (cached per network); zero and mean ablation are paired per order by
:func:`nbsrc.analysis.paired_auc_gain`, as in the paper-setting chapters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from nbsrc.analysis import AnalysisSettings, ChapterResults, paired_auc_gain, run_chapter
from nbsrc.claims import PAPER, activation_gains, activation_gaps, claim_c2, claim_c2w, claim_c5, claim_c6
from nbsrc.claims import indicator_table as _indicator_table
from nbsrc.infoplane import ACTIVATION_NAMES
from nbsrc.recipes import recipe_config
from nbsrc.report import pm, robustness_table, save_result, seed_accuracies_markdown, spread_by_markdown
from nbsrc.stability import STABILITY
from nbsrc.train import TrainConfig
from nbsrc.vocabulary import layer_scopes

#: The claims judged per activation, then C5 across them ("all activations").
PER_ACTIVATION = ("C2", "C2w", "C6")
ACROSS = "all"
CLAIM_COLUMNS = ["claim", "activation", "paper", "measured", "verdict", "reason"]


@dataclass
class ActivationResults:
    """One chapter's networks per activation: zero ablation, bias balancing and their paired AUC gains."""

    zero: dict[str, ChapterResults]
    mean: dict[str, ChapterResults]
    gains: dict[str, pd.DataFrame]  # paired_auc_gain(zero, mean) per activation

    @property
    def layer_scopes(self) -> list[str]:
        """The "layer N" scopes of the networks, by depth."""
        return layer_scopes(next(iter(self.zero.values())).curves.scope.unique())

    def curves(self, mode: str = "zero") -> dict[str, pd.DataFrame]:
        """Each activation's curves table under ``mode`` ("zero" or "mean"), keyed by its reader's name."""
        runs = self.zero if mode == "zero" else self.mean
        return {ACTIVATION_NAMES[a]: r.curves for a, r in runs.items()}


def run_activations(
    configs: dict[str, list[TrainConfig]],
    settings: AnalysisSettings,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> ActivationResults:
    """Train (or load) every activation's networks and analyse them with zero ablation (``settings``) and
    with bias balancing (the same settings, mode "mean", without random orders)."""
    zero, mean, gains = {}, {}, {}
    for activation, runs in configs.items():
        zero[activation] = run_chapter(runs, replace(settings, mode="zero"), cache, device, progress)
        balanced = replace(settings, mode="mean", random_orders=False)
        mean[activation] = run_chapter(runs, balanced, cache, device, progress)
        gains[activation] = paired_auc_gain(zero[activation].auc, mean[activation].auc)
    return ActivationResults(zero, mean, gains)


def c5_tables(results: ActivationResults) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tables C5 rests on: the C2 gaps per activation (part a) and the ordered curves' gain of bias
    balancing per activation (part b); see :func:`nbsrc.claims.claim_c5`."""
    gaps = activation_gaps({a: r.auc for a, r in results.zero.items()})
    return gaps, activation_gains(results.gains)


def activation_claims(results: ActivationResults) -> pd.DataFrame:
    """C2 (strict), C2w and C6 per activation (zero ablation; C2 is stated for ReLU, so it is n/a for the
    others, with its numbers), then C5 across the activations. Columns: ``CLAIM_COLUMNS``."""
    rows = []
    indicators = {a: _indicator_table(r.auc) for a, r in results.zero.items()}
    for claim in PER_ACTIVATION:
        for activation, run in results.zero.items():
            if claim == "C6":
                computed = claim_c6(run.auc)
            else:
                judge = claim_c2 if claim == "C2" else claim_c2w
                computed = judge(indicators[activation], activation)
            rows.append({"claim": claim, "activation": activation, "paper": PAPER[claim], **computed})
    rows.append({"claim": "C5", "activation": ACROSS, "paper": PAPER["C5"], **claim_c5(*c5_tables(results))})
    return pd.DataFrame(rows, columns=CLAIM_COLUMNS)


def pooled_measures(results: ActivationResults) -> pd.DataFrame:
    """Every activation's measures in one table whose ``layer`` names the activation and the layer ("R1" for
    ReLU's layer 1, "S2" for sigmoid's layer 2, "T3" for tanh's layer 3), for one figure of distributions."""
    frames = []
    for activation, run in results.zero.items():
        initial = ACTIVATION_NAMES[activation][0].upper()
        frames.append(
            run.measures.assign(layer=run.measures.layer.map(lambda layer, i=initial: f"{i}{layer}"))
        )
    return pd.concat(frames, ignore_index=True)


def accuracies(results: ActivationResults) -> pd.DataFrame:
    """Test accuracy per activation and seed. Columns: activation, seed, test_accuracy."""
    frames = [r.accuracies.assign(activation=a) for a, r in results.zero.items()]
    return pd.concat(frames, ignore_index=True)[["activation", "seed", "test_accuracy"]]


def save(claims: pd.DataFrame, results: ActivationResults, parameters: dict[str, Any]) -> Path:
    """Write the chapter's claims, accuracies and robustness (test accuracy and whole-network random-order
    AUC per network, zero ablation) for the summary (``<results_name>-claims.csv``, ``-accuracy.csv`` and
    ``-robustness.csv`` in ``results_dir``); returns the claims file."""
    name = parameters.get("results_name") or f"activations_{parameters['dataset']}"
    save_result(accuracies(results), parameters["results_dir"], name, "accuracy")
    robust = pd.concat([robustness_table(r) for r in results.zero.values()], ignore_index=True)
    save_result(robust, parameters["results_dir"], name, "robustness")
    return save_result(claims, parameters["results_dir"], name, "claims")


# ------------------------------------------------------------------------------------------- tables


def accuracy_table(results: ActivationResults) -> str:
    """Per activation, the architecture, the test accuracy of each seed and their mean ± std, Markdown."""
    return seed_accuracies_markdown(results.zero, "activation", ACTIVATION_NAMES, widths=True)


def _by_activation(table: pd.DataFrame, case: list[str]) -> str:
    """``table``'s mean ± std (columns mean, std) with one row per ``case`` (in table order) and one column
    per activation, Markdown."""
    return spread_by_markdown(
        table, case, "activation", list(ACTIVATION_NAMES), ACTIVATION_NAMES, signed=True
    )


def gaps_table(gaps: pd.DataFrame) -> str:
    """C5 (a): the C2 gaps per layer, quantity and gap (rows) and activation (columns), mean ± std over
    seeds, Markdown."""
    return _by_activation(gaps, ["scope", "quantity", "gap"])


def gains_table(gains: pd.DataFrame) -> str:
    """C5 (b): the AUC gain of bias balancing per scope, ordering quantity and direction (rows) and
    activation (columns), mean ± std over seeds, Markdown."""
    return _by_activation(gains, ["scope", "quantity", "direction"])


def reference_table(
    claims: pd.DataFrame, results: ActivationResults, results_dir: str | Path, dataset: str
) -> str:
    """This chapter's networks beside today's default for reference (the dataset chapter's networks, the
    book's recipe, read from its result files ``<results_dir>/<dataset>-claims.csv`` and ``-accuracy.csv``):
    per network, the test accuracy (mean ± std over seeds) and the verdicts on C2, C2w and C6, Markdown.
    Without those files the table shows this chapter's networks and a line says how to add the reference."""
    rows = []
    folder = Path(results_dir)
    files = [folder / f"{dataset}-{kind}.csv" for kind in ("claims", "accuracy")]
    if all(f.exists() for f in files):
        reference = pd.read_csv(files[0], keep_default_na=False).set_index("claim").verdict
        acc = pd.read_csv(files[1]).test_accuracy * 100
        widths = "-".join(map(str, recipe_config("book", dataset).widths))
        rows.append(
            {
                "network": f"ReLU {widths} (the dataset chapter, for reference)",
                "test accuracy [%]": pm(acc.mean(), acc.std() if len(acc) > 1 else 0.0, 2),
                **{c: reference.get(c, "–") for c in PER_ACTIVATION},
            }
        )
    verdicts = claims.set_index(["claim", "activation"]).verdict
    for activation, run in results.zero.items():
        acc = run.accuracies.test_accuracy * 100
        widths = "-".join(map(str, run.configs[0].widths))
        rows.append(
            {
                "network": f"{ACTIVATION_NAMES[activation]} {widths}",
                "test accuracy [%]": pm(acc.mean(), acc.std() if len(acc) > 1 else 0.0, 2),
                **{c: verdicts[(c, activation)] for c in PER_ACTIVATION},
            }
        )
    table = pd.DataFrame(rows).to_markdown(index=False)
    if len(rows) == len(results.zero):
        table += (
            f"\n\nThe reference (today's default networks) appears here once the dataset chapter's results "
            f"are in `{folder / dataset}-claims.csv` and `-accuracy.csv`."
        )
    return table


def claims_markdown(claims: pd.DataFrame) -> str:
    """The chapter's claims table (claim, activation, measured, verdict and what leaving one seed out does to
    it: :func:`nbsrc.stability.judge_with_stability`), Markdown."""
    shown = claims.assign(
        activation=claims.activation.map(lambda a: ACTIVATION_NAMES.get(a, "all activations"))
    )
    return shown[["claim", "activation", "measured", "verdict", STABILITY]].to_markdown(index=False)
