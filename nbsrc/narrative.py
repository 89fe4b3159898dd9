"""The book's prose that depends on results: sentences generated from the computed tables.

Every number in a chapter's text comes from here (never typed): each function takes the tables a
chapter computed and returns Markdown. Gaps are AUC differences (area under test accuracy against the
fraction of neurons ablated, so 1.0 is a curve that stays at 100 %), mean ± std over seeds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nbsrc.analysis import ChapterResults
from nbsrc.claims import indicator_table, separation
from nbsrc.infoplane import ACTIVATION_NAMES, MIN_FALL
from nbsrc.recipes import recipe
from nbsrc.report import num, pm, recipe_verdicts
from nbsrc.stability import MIN_SEEDS, STABILITY, UNJUDGED, is_borderline, marked_verdicts
from nbsrc.train import TrainConfig
from nbsrc.vocabulary import (
    INDICATOR_QUANTITIES,
    NETWORK,
    SHORT,
    TITLES,
    VERDICTS,
    layer_scopes,
    ordered_scopes,
    random_band,
)


def _series(names: list[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _names(quantities: list[str]) -> str:
    return _series([SHORT[q] for q in quantities])


#: The paper's quantities by their short names, for sentences about "no quantity" (the weight norm apart).
PAPER_QUANTITIES = _names(list(INDICATOR_QUANTITIES))


def _good_clause(good: list[str], baseline_good: bool | None = None) -> str:
    """ "Ranked across the whole network, X is a good indicator" (or none / several) of the paper's
    quantities, and, when ``baseline_good`` is given, whether the outgoing-weight L2 norm (the pruning
    baseline) is one."""
    if not good:
        text = (
            f"Ranked across the whole network, none of {PAPER_QUANTITIES} is a good indicator of importance"
        )
    else:
        verb = "is a good indicator" if len(good) == 1 else "are good indicators"
        text = f"Ranked across the whole network, {_names(good)} {verb} of importance"
    if baseline_good is not None:
        text += f"; the {SHORT['weight_norm']} baseline {'is one' if baseline_good else 'is not'}"
    return text


def _baseline_good(ind: pd.DataFrame) -> bool | None:
    """Whether the weight-norm baseline is a good indicator over the whole network (None: not computed)."""
    row = ind[(ind.scope == NETWORK) & (ind.quantity == "weight_norm")]
    return None if row.empty else bool(row.good.iloc[0])


def _period(text: str) -> str:
    """``text`` ended by one full stop (a list may end in an abbreviation: "KL sel.")."""
    return text if text.endswith(".") else text + "."


def _percent(x: float, digits: int = 1) -> str:
    return f"{num(100 * x, digits)} %"


def _mean_std(values: pd.Series) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0


# ------------------------------------------------------------------------------------------ a chapter


def accuracy_sentence(results: ChapterResults) -> str:
    """How many networks, and their test accuracy."""
    acc = results.accuracies.test_accuracy * 100
    seeds = results.accuracies.seed.tolist()
    config = results.configs[0]
    widths = "-".join(map(str, config.widths))
    several = len(seeds) > 1
    activation = {"relu": "ReLU"}.get(config.activation, config.activation)
    return (
        f"{len(seeds)} {activation} network{'s' if several else ''} with hidden widths "
        f"{widths} (seed{'s' if several else ''} {', '.join(map(str, seeds))}) reach"
        f"{'' if several else 'es'} a test accuracy of {pm(*_mean_std(acc), 2)} %"
        f"{' (mean ± std)' if several else ''}."
    )


def training_sentence(results: ChapterResults) -> str:
    """Reading of the training figure: the loss and validation accuracy at the first and last epoch."""
    h = results.histories
    first, last = h[h.epoch == h.epoch.min()], h[h.epoch == h.epoch.max()]
    return (
        f"Over {int(h.epoch.max())} epoch{'s' if h.epoch.max() > 1 else ''} the training loss falls from "
        f"{pm(*_mean_std(first.train_loss))} to {pm(*_mean_std(last.train_loss))} nats and the "
        f"validation accuracy rises from {pm(*_mean_std(first.val_accuracy * 100), 2)} % to "
        f"{pm(*_mean_std(last.val_accuracy * 100), 2)} % (mean ± std over seeds)."
    )


def claim_sentence(claims: pd.DataFrame, claim: str) -> str:
    """One claim's verdict on this dataset, its number and (unless it agrees) the reason, as Markdown."""
    row = claims.set_index("claim").loc[claim]
    reason = f" {row.reason}" if "reason" in row and isinstance(row.reason, str) else ""
    return f"**{claim}** ({row.verdict}): {row.measured}.{reason}"


def thresholds(results: ChapterResults, scope: str) -> pd.DataFrame:
    """Per quantity and direction (and random): the fraction ablated at which accuracy first falls below
    chance + half the gap, mean over the seeds whose curve crosses it (NaN if none), and how many do."""
    rows = results.auc[results.auc.scope == scope]
    per_seed = rows.groupby(["quantity", "direction", "seed"]).threshold_fraction.mean()
    grouped = per_seed.groupby(["quantity", "direction"])
    return pd.DataFrame({"fraction": grouped.mean(), "crossed": grouped.count(), "seeds": grouped.size()})


def earliest_ascending_collapse(results: ChapterResults, composition: pd.DataFrame) -> dict | None:
    """The whole-network ascending order (least-ranked neurons first) whose accuracy falls below chance +
    half the gap earliest, with the random orders' fraction and the layer most of its first k neurons
    come from. None when no ascending order gets that low."""
    table = thresholds(results, NETWORK)
    ascending = table.xs("ascending", level="direction").dropna(subset=["fraction"])
    if ascending.empty:
        return None
    quantity = ascending.fraction.idxmin()
    fraction = float(ascending.fraction[quantity])
    widths = results.configs[0].widths
    n = sum(widths)
    k = max(1, int(round(fraction * n)))
    shares = (
        composition[
            (composition.quantity == quantity) & (composition.direction == "ascending") & (composition.k == k)
        ]
        .groupby("layer")
        .share.mean()
    )
    top = int(shares.idxmax())
    return {
        "quantity": quantity,
        "fraction": fraction,
        "random": float(table.fraction.get(("random", "random"), np.nan)),
        "k": k,
        "n": n,
        "layer": top,
        "share": float(shares[top]),
        "layer_share": widths[top - 1] / n,
    }


def collapse_sentence(results: ChapterResults, composition: pd.DataFrame, short: bool = False) -> str:
    """The earliest collapse of a whole-network ascending order against random, and the layers its first
    neurons come from (a layer's share among them against its share of the network)."""
    c = earliest_ascending_collapse(results, composition)
    if c is None:
        return (
            "No whole-network ascending order brings accuracy below chance + half the gap to the intact "
            "network before the last neuron."
        )
    random_text = "random orders never get there"
    if not np.isnan(c["random"]):
        random_text = f"random orders: {_percent(c['random'])}"
    takes_one_layer = c["share"] >= 0.8 or c["share"] >= 2 * c["layer_share"]
    if short:
        return (
            f"Ranked in one list, ascending {SHORT[c['quantity']]} collapses the network after only "
            f"{_percent(c['fraction'])} of its hidden neurons ({random_text}), "
            f"{_percent(c['share'], 0)} of them from layer {c['layer']}."
        )
    reading = (
        f"ranked in one list, the quantity takes layer {c['layer']} first and silences it before the other "
        f"layers are touched"
        if takes_one_layer
        else "the order draws on the layers roughly in proportion to their sizes, so the collapse is not "
        "the loss of one layer"
    )
    return (
        f"The earliest collapse of an ascending order is {SHORT[c['quantity']]}'s: accuracy falls below "
        f"chance + half the gap after {_percent(c['fraction'])} of all hidden neurons ({c['k']} of {c['n']}; "
        f"{random_text}). Those first {c['k']} neurons come {_percent(c['share'], 0)} from layer "
        f"{c['layer']}, which holds {_percent(c['layer_share'], 0)} of the network's neurons: {reading}."
    )


def network_paragraph(results: ChapterResults, composition: pd.DataFrame) -> str:
    """Reading of the whole-network figure (C1): good indicators, the two gaps, the earliest collapse."""
    ind = indicator_table(results.auc)
    rows = ind[(ind.scope == NETWORK) & ind.quantity.isin(INDICATOR_QUANTITIES)].set_index("quantity")
    good = rows.index[rows.good].tolist()
    desc = rows.desc_gap_mean.idxmax()
    above = rows.index[rows.asc_above == 1.0].tolist()
    below = rows.index[rows.asc_gap_mean < 0].tolist()
    parts = [
        _good_clause(good) + " (ascending above the random band and descending below it in every seed).",
        f"Removing the highest-ranked neurons first hurts most for {SHORT[desc]} (random − descending "
        f"{pm(rows.desc_gap_mean[desc], rows.desc_gap_std[desc], signed=True)} AUC).",
    ]
    if above:
        parts.append(
            "Removing the lowest-ranked first keeps accuracy above the band in every seed only for "
            + _period(_names(above))
        )
    else:
        parts.append(
            "For no quantity does removing the lowest-ranked first keep accuracy above the random band in "
            "every seed."
        )
    if below:
        worst = rows.asc_gap_mean[below].idxmin()
        parts.append(
            f"Of the paper's quantities, for {_names(below)} it does worse than random on average, most for "
            f"{SHORT[worst]} "
            f"(ascending − random {pm(rows.asc_gap_mean[worst], rows.asc_gap_std[worst], signed=True)})."
        )
    parts.append(collapse_sentence(results, composition))
    return " ".join(parts)


def layers_paragraph(results: ChapterResults) -> str:
    """Reading of the layer-wise figure (C2, C4, C6): MI and KL sel. per layer, the separations, depth."""
    ind = indicator_table(results.auc)
    layer_rows = ind[(ind.scope != NETWORK) & ind.quantity.isin(["mutual_information", "kl_selectivity"])]
    n_cases = len(layer_rows)
    desc_below = int((layer_rows.desc_below == 1.0).sum())
    asc_ok = int((layer_rows.ascending >= layer_rows.random_lo).sum())
    sep = separation(results.auc)
    sep = sep[sep.scope != NETWORK].groupby(["seed", "quantity"]).separation.mean().groupby("quantity")
    sep_text = ", ".join(
        f"{SHORT[q]} {pm(*_mean_std(sep.get_group(q)), signed=True)}"
        for q in ("mutual_information", "kl_selectivity", "entropy", "csi")
        if q in sep.groups
    )
    band = random_band(results.auc, ["seed", "scope"], "auc")
    depth = band[band.scope != NETWORK].groupby("scope").random_mean
    depth_text = ", ".join(f"{s} {pm(*_mean_std(depth.get_group(s)))}" for s in layer_scopes(depth.groups))
    return (
        f"Within a layer, descending MI or KL selectivity falls below the random band in every seed in "
        f"{desc_below} of {n_cases} layer × quantity cases, and ascending stays at or above the band's "
        f"lower edge in {asc_ok} of {n_cases}. How far ascending and descending lie apart (AUC ascending − "
        f"descending, mean over layers): {sep_text}. Random-order AUC per layer, a measure of how much "
        f"the layer tolerates losing neurons at random: {depth_text}."
    )


def auc_paragraph(results: ChapterResults) -> str:
    """Reading of the AUC figure: per scope the most damaging order against random, and the good
    indicators (both gaps in every seed)."""
    ind = indicator_table(results.auc)
    ordered = ind.assign(random_mean=ind.descending + ind.desc_gap_mean)
    parts = []
    for scope in ordered_scopes(ordered.scope):
        rows = ordered[ordered.scope == scope].set_index("quantity")
        worst = rows.descending.idxmin()
        parts.append(
            f"{scope}: descending {SHORT[worst]} {num(rows.descending[worst])} against random "
            f"{num(rows.random_mean[worst])}"
        )
    good = ind[ind.good]
    good_text = (
        "no quantity in any scope"
        if good.empty
        else ", ".join(f"{SHORT[r.quantity]} ({r.scope})" for r in good.itertuples())
    )
    return (
        f"The lowest AUC in each scope, the most damaging order, and the random orders' mean AUC: "
        f"{'; '.join(parts)}. Good indicators (ascending above and descending below the band in every "
        f"seed): {good_text}."
    )


def verdicts_paragraph(claims: pd.DataFrame) -> str:
    """The tally of verdicts, how many of them leaving one seed out changes (:func:`stability_sentence`)
    and, for each claim that does not simply agree, the reason."""
    counts = claims.verdict.value_counts()
    tally = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts.get(v, 0))
    lines = [f"Of {len(claims)} verdicts on this dataset: {tally}. {stability_sentence(claims)}"]
    if "reason" in claims:
        lines += [
            f"- **{r.claim}** ({r.verdict}): {r.reason}" for r in claims.itertuples() if r.verdict != "agrees"
        ]
    return "\n".join(lines)


def _claim_case(row: pd.Series) -> str:
    """A claims-table row's name: the claim, then the activation or network it is judged on, if any."""
    where = [row.network] if isinstance(row.get("network"), str) else []
    if isinstance(row.get("activation"), str):
        where.append(ACTIVATION_NAMES.get(row.activation, "all activations"))
    return ", ".join([row.claim, *where])


def stability_sentence(claims: pd.DataFrame) -> str:
    """What judging each claim again with one seed left out in turn does (the ``STABILITY`` column of
    :func:`nbsrc.stability.judge_with_stability`): which verdicts change and to what."""
    if (claims[STABILITY] == UNJUDGED).all():
        return f"With fewer than {MIN_SEEDS} seeds, no verdict is judged again with a seed left out."
    borderline = claims[is_borderline(claims)]
    if borderline.empty:
        return "Judged again with one seed left out in turn, every verdict stays the same."
    cases = "; ".join(f"{_claim_case(r)} ({r.verdict}; {r[STABILITY]})" for _, r in borderline.iterrows())
    return (
        f"Judged again with one seed left out in turn, {len(borderline)} of {len(claims)} verdicts change, "
        f"so they rest on a single network and are borderline: {cases}."
    )


def borderline_clause(claims: pd.DataFrame) -> str:
    """A sentence for a chapter's findings naming its borderline verdicts (:func:`stability_sentence`), or
    "" when leaving one seed out changes none."""
    names = [_claim_case(r) for _, r in claims[is_borderline(claims)].iterrows()]
    if not names:
        return ""
    joined = "; ".join(names) if any("," in n for n in names) else _series(names)
    verb = "it rests" if len(names) == 1 else "they rest"
    return f"Leaving one seed out changes the verdict of {joined}: {verb} on a single network (borderline)."


#: What the mark † after a verdict means, in a line.
BORDERLINE_NOTE = "† borderline: the verdict changes when one of the seeds is left out (see the summary)."


def stability_summary(tables: list[pd.DataFrame | None]) -> str:
    """The summary's note on its verdict tables (each chapter kind's claims joined, ``join_results``; None
    for a kind not in the build): what the mark † means, how many of the book's verdicts are borderline,
    and which (:func:`stability_sentence`)."""
    from nbsrc.report import CHAPTER_TITLES, base_dataset, chapter_family

    claims = pd.concat([t for t in tables if t is not None], ignore_index=True)
    judged = claims[claims[STABILITY].notna() & (claims[STABILITY] != UNJUDGED)]
    borderline = judged[is_borderline(judged)]
    lines = [
        f"† marks a borderline verdict: judged again with one seed left out in turn, it changes, so a single "
        f"network decides it (another machine, whose float32 kernels train each seed into a slightly "
        f"different network, may print it differently). {len(borderline)} of the book's {len(judged)} "
        f"verdicts are borderline"
        + (":" if len(borderline) else "; every other verdict stays the same without any one seed.")
    ]
    lines += [
        f"- {_claim_case(r)} on {TITLES[base_dataset(r.dataset)]} "
        f"({CHAPTER_TITLES[chapter_family(r.dataset)]}): "
        f"{r.verdict}; {r[STABILITY]}"
        for _, r in borderline.iterrows()
    ]
    return "\n".join(lines)


def chapter_findings(results: ChapterResults, claims: pd.DataFrame, composition: pd.DataFrame) -> str:
    """ "What this chapter finds": 3-6 sentences, every number computed."""
    verdict = claims.set_index("claim").verdict
    ind = indicator_table(results.auc)
    net = ind[(ind.scope == NETWORK) & ind.quantity.isin(INDICATOR_QUANTITIES)]
    good = net.quantity[net.good].tolist()
    layer_rows = ind[(ind.scope != NETWORK) & ind.quantity.isin(["mutual_information", "kl_selectivity"])]
    desc_below = int((layer_rows.desc_below == 1.0).sum())
    agree = [c for c, v in verdict.items() if v == "agrees"]
    disagree = [c for c, v in verdict.items() if v == "disagrees"]
    sentences = [
        accuracy_sentence(results),
        _good_clause(good, _baseline_good(ind)) + f" (C1: {verdict.get('C1', 'n/a')}).",
        f"Within a layer, removing the neurons with the most MI or KL selectivity first costs more "
        f"accuracy than random orders in {desc_below} of {len(layer_rows)} layer × quantity cases "
        f"(C2 as the paper words it: {verdict.get('C2w', 'n/a')}; with the book's stricter two-sided "
        f"rule: {verdict.get('C2', 'n/a')}).",
        collapse_sentence(results, composition, short=True),
        f"The paper's claims agree here for {', '.join(agree) or 'none'} and disagree for "
        f"{', '.join(disagree) or 'none'}; the reasons are in the last section.",
        borderline_clause(claims),
    ]
    return " ".join(sentence for sentence in sentences if sentence)


# ------------------------------------------------------------------------------------------ the summary


def _share_words(count: int, total: int) -> str:
    """How a share reads in a sentence: "in every case", "almost always", "mostly", "in about half",
    "rarely", "in no case"."""
    share = count / total if total else 0.0
    return (
        "in every case"
        if total and count == total
        else "in no case"
        if count == 0
        else "almost always"
        if share >= 0.9
        else "mostly"
        if share >= 0.6
        else "in about half of the cases"
        if share >= 0.4
        else "rarely"
    )


def _reading(desc_below: int, asc_above: int, total: int) -> str:
    """The plain-words reading of the two within-layer shares, only where they say it (more than half)."""
    informative = 2 * desc_below > total
    uninformative_free = 2 * asc_above > total
    if informative and not uninformative_free:
        return ": informative neurons matter more, but uninformative ones are not free to drop"
    if informative and uninformative_free:
        return ": informative neurons matter more, and uninformative ones can mostly be dropped first"
    return ""


def summary_answer(claims: pd.DataFrame, indicators: pd.DataFrame) -> str:
    """The book's answer to "which neurons matter?" in two sentences, with its numbers (all datasets)."""
    layer_rows = indicators[
        (indicators.scope != NETWORK) & indicators.quantity.isin(["mutual_information", "kl_selectivity"])
    ]
    total = len(layer_rows)
    desc_below = int((layer_rows.desc_below == 1.0).sum())
    asc_above = int((layer_rows.asc_above == 1.0).sum())
    net = indicators[(indicators.scope == NETWORK) & indicators.quantity.isin(INDICATOR_QUANTITIES)]
    n_good = int(net.good.sum())
    datasets = claims.dataset.nunique()
    return (
        f"Within a layer, removing the neurons with the most mutual information or KL selectivity about "
        f"the class first costs more accuracy than random orders {_share_words(desc_below, total)} "
        f"({desc_below} of {total} layer × quantity cases over {datasets} datasets), while removing the "
        f"least informative first beats random orders {_share_words(asc_above, total)} ({asc_above} of "
        f"{total}){_reading(desc_below, asc_above, total)}. Ranked across the whole network, the paper's "
        f"quantities ({PAPER_QUANTITIES}) are good indicators in {n_good} of {len(net)} quantity × dataset "
        f"cases."
    )


def claim_discussion(claims: pd.DataFrame) -> str:
    """Per claim: the paper's statement, each dataset's verdict and its reason, as Markdown."""
    paragraphs = []
    for claim in dict.fromkeys(claims.claim):
        rows = claims[claims.claim == claim]
        lines = "\n".join(
            f"- {TITLES.get(r.dataset, r.dataset)}: **{r.verdict}**. "
            + (r.reason if "reason" in rows and isinstance(r.reason, str) else r.measured)
            for r in rows.itertuples()
        )
        paragraphs.append(f"**{claim}**: *{rows.paper.iloc[0]}*\n\n{lines}")
    return "\n\n".join(paragraphs)


def dataset_contrast(claims: pd.DataFrame, accuracies: pd.DataFrame) -> str:
    """Where the verdicts differ between datasets, and how the datasets' networks differ (accuracy)."""
    verdicts = claims.pivot(index="claim", columns="dataset", values="verdict")
    differ = [c for c in dict.fromkeys(claims.claim) if verdicts.loc[c].nunique() > 1]
    acc = accuracies.groupby("dataset").test_accuracy.agg(["mean", "std"]) * 100
    order = [d for d in TITLES if d in acc.index]
    acc_text = ", ".join(f"{TITLES[d]} {pm(acc.loc[d, 'mean'], acc.loc[d, 'std'], 1)} %" for d in order)
    if not differ:
        return f"Every claim gets the same verdict on every dataset. Test accuracy: {acc_text}."
    shown = marked_verdicts(claims).pivot(index="claim", columns="dataset", values="verdict")
    lines = [
        f"- **{c}**: " + ", ".join(f"{TITLES.get(d, d)} *{shown.loc[c, d]}*" for d in order) for c in differ
    ]
    return (
        f"The verdicts differ between datasets for {', '.join(differ)} († a borderline verdict: one seed "
        f"decides it):\n\n" + "\n".join(lines) + "\n\n"
        f"The datasets also differ in how well a fully connected network fits them (test accuracy: "
        f"{acc_text}). A network far from perfect accuracy has a smaller gap between its intact accuracy and "
        f"chance, so its ablation curves and their random bands are compressed into a narrower range. "
        f"The book measures the verdicts, not this cause: whether accuracy "
        f"explains the differences would need networks of graded accuracy on one dataset."
    )


def write_intro_summary(
    claims: pd.DataFrame,
    indicators: pd.DataFrame,
    results_dir: str | Path,
    activation_claims: pd.DataFrame | None = None,
    regulariser_claims: pd.DataFrame | None = None,
) -> Path:
    """Write ``<results_dir>/summary.md`` for the intro: the answer, the verdicts (and, when given, those
    of the activation chapters: C5, and C2 and C6 per activation on equal widths; and C9 from the
    regulariser chapters), the untested claims."""
    from nbsrc.report import activation_verdicts, regulariser_verdicts, verdict_matrix

    activations = ""
    if activation_claims is not None:
        activations = (
            "\n\nOn networks of equal widths with ReLU, sigmoid and tanh (the activation chapters):\n\n"
            + activation_verdicts(marked_verdicts(activation_claims)).to_markdown(index=False)
        )
    if regulariser_claims is not None and not regulariser_claims.empty:
        activations += (
            "\n\nThe book's extension on regularisers (the regulariser chapters):\n\n"
            + regulariser_verdicts(marked_verdicts(regulariser_claims)).to_markdown(index=False)
        )
    tables = (claims, activation_claims, regulariser_claims)
    path = Path(results_dir) / "summary.md"
    path.write_text(
        summary_answer(claims, indicators)
        + "\n\n"
        + verdict_matrix(marked_verdicts(claims)).to_markdown()
        + activations
        + "\n"
        + (f"\n{BORDERLINE_NOTE}\n" if any(is_borderline(t).any() for t in tables if t is not None) else "")
    )
    return path


# ------------------------------------------------------------------------------ recipe, bias balancing


def recipe_paragraph(recipe_name: str, config: TrainConfig) -> str:
    """How this chapter's networks are trained (its recipe, with every value), and what is chosen here."""
    r = recipe(recipe_name)
    schedule = "a cosine schedule" if config.lr_schedule == "cosine" else "a constant learning rate"
    inputs = "standardised inputs" if config.standardize else "raw inputs in [0, 1]"
    extras = [f"weight decay {config.weight_decay:g}"] if config.weight_decay else []
    extras += [f"dropout {config.dropout:g}"] if config.dropout else []
    extras += ["batch norm"] if config.batch_norm else []
    extra = "".join(f", {e}" for e in extras)
    text = (
        f"Recipe: *{r.title}* ({r.description}). Here: hidden widths {'-'.join(map(str, config.widths))}, "
        f"{config.activation}, Adam with learning rate {config.lr:g} and {schedule}, "
        f"batch {config.batch_size}, {config.epochs} epochs, {inputs}{extra}."
    )
    if r.choices:
        text += "\n\nNot known from the paper, chosen by this book:\n\n" + "\n".join(
            f"- {c}" for c in r.choices
        )
    return text


def bias_balancing_paragraph(gains: pd.DataFrame | None) -> str:
    """What fixing ablated neurons to their mean instead of zero changes (``paired_auc_gain`` output)."""
    if gains is None:
        return (
            "This chapter ablates by zeroing only (`compare_bias_balancing = False`); the chapters on the "
            "paper's own setting compare zero ablation with bias balancing."
        )
    ordered = gains[gains.direction != "random"]
    per_curve = ordered.groupby(["scope", "quantity", "direction"]).gain.agg(["mean", "std"])
    best = per_curve["mean"].idxmax()
    worst = per_curve["mean"].idxmin()
    random_gain = gains[gains.direction == "random"].groupby("scope").gain
    network = random_gain.get_group(NETWORK) if NETWORK in random_gain.groups else None
    helped = float((per_curve["mean"] > 0).mean())
    text = (
        f"Fixing ablated neurons to their validation mean instead of zero changes the AUC of the ordered "
        f"curves by {pm(*_mean_std(ordered.groupby('seed').gain.mean()), signed=True)} on average (mean "
        f"over curves, ± std over seeds) and raises it for {_percent(helped, 0)} of them. The largest gain "
        f"is {pm(*per_curve.loc[best], signed=True)} ({best[0]}, {SHORT[best[1]]} {best[2]}), the "
        f"smallest {pm(*per_curve.loc[worst], signed=True)} ({worst[0]}, {SHORT[worst[1]]} {worst[2]})."
    )
    if network is not None:
        text += f" For random orders of the whole network the gain is {pm(*_mean_std(network), signed=True)}."
    return text


def recipe_contrast(tables: dict[str, pd.DataFrame]) -> str:
    """Which verdicts survive a change of training recipe (``{recipe: claims}``, the book's recipe first):
    how many keep their verdict under every recipe, how many each other recipe changes, which claims hold
    the same verdict everywhere, and every verdict that changes."""
    verdicts = recipe_verdicts(tables)
    names = list(tables)
    same = verdicts[names].nunique(axis=1) == 1
    changes = [
        f"{int((verdicts[name] != verdicts[names[0]]).sum())} under *{recipe(name).title}*"
        for name in names[1:]
    ]
    text = (
        f"Of the {len(verdicts)} verdicts (claim × dataset) judged under all {len(names)} recipes, "
        f"{int(same.sum())} are the same under every recipe. Against *{recipe(names[0]).title}*, "
        f"{' and '.join(changes)} change."
    )
    stable = [c for c, ok in same.groupby(verdicts.claim, sort=False) if ok.all()]
    if stable:
        text += f" Claims with the same verdict on every dataset under every recipe: {', '.join(stable)}."
    else:
        text += " No claim keeps its verdict on every dataset under every recipe."
    # the same rows with † after each borderline verdict (recipe_verdicts orders both alike)
    marked = recipe_verdicts({name: marked_verdicts(table) for name, table in tables.items()})[~same]
    lines = [
        f"- **{r.claim}** on {TITLES[r.dataset]}: "
        + ", ".join(f"*{getattr(r, name)}* ({recipe(name).title})" for name in names)
        for r in marked.itertuples()
    ]
    if not lines:
        return text
    shaky = int(marked[names].apply(lambda verdict: verdict.str.endswith("†")).any(axis=1).sum())
    return (
        f"{text}\n\nThe verdicts that change ({shaky} of these {len(lines)} involve a borderline verdict, †: "
        f"one seed decides it, so the change may be the seeds' rather than the recipe's):\n\n"
        + "\n".join(lines)
    )


def damage_paragraph(correlations: pd.DataFrame, damage: pd.DataFrame) -> str:
    """How much one neuron costs, and which quantity's ranking follows that cost best, per scope."""
    per_seed_max = damage.groupby("seed")["drop"].max() * 100
    harmless = float((damage["drop"] <= 0).mean())
    means = correlations.groupby(["scope", "quantity"])["rho"].mean()
    parts = []
    for scope in ordered_scopes(correlations.scope.unique()):
        best = means.loc[scope].idxmax()
        parts.append(f"{scope}: {SHORT[best]} (ρ = {num(means.loc[(scope, best)], signed=True)})")
    return (
        f"Ablating a single neuron costs at most {pm(*_mean_std(per_seed_max), 2)} percentage points of test "
        f"accuracy "
        f"(the largest drop per network, mean ± std over seeds); {_percent(harmless, 0)} of the neurons "
        f"cost nothing or even help when removed alone. The quantity whose ranking follows the drop best "
        f"(highest mean Spearman ρ over seeds): " + "; ".join(parts) + "."
    )


def damage_summary_sentence(correlations: pd.DataFrame) -> str:
    """Across datasets and scopes: which quantity follows the single-neuron drop best, how often, how well."""
    means = correlations.groupby(["dataset", "scope", "quantity"])["rho"].mean()
    best = means.groupby(["dataset", "scope"]).idxmax().map(lambda key: key[2])
    best_rho = means.groupby(["dataset", "scope"]).max()
    counts = best.value_counts()
    listed = ", ".join(f"{SHORT[q]} in {n}" for q, n in counts.items())
    low, high = best_rho.idxmin(), best_rho.idxmax()

    def case(key: tuple[str, str]) -> str:
        return f"{TITLES.get(key[0], key[0])}, {key[1]}"

    return (
        f"The quantity whose ranking follows the single-neuron drop best, over the {len(best)} "
        f"(dataset, scope) cases: {listed}. The best correlation ranges from ρ = "
        f"{num(best_rho[low], signed=True)} ({case(low)}) to "
        f"{num(best_rho[high], signed=True)} ({case(high)})."
    )


def ranked_paragraph(indicators: pd.DataFrame, ranked_indicators: pd.DataFrame) -> str:
    """What per-layer percentile ranks change over the whole network: which quantities are good
    indicators raw and ranked, and how the two gaps move (seed means)."""
    raw = indicators[(indicators.scope == NETWORK) & indicators.quantity.isin(INDICATOR_QUANTITIES)]
    ranked = ranked_indicators[ranked_indicators.scope == NETWORK].set_index("quantity")
    raw = raw.set_index("quantity").loc[[q for q in INDICATOR_QUANTITIES if q in set(raw.quantity)]]
    good_raw = [q for q in raw.index if raw.loc[q, "good"]]
    good_ranked = [q for q in raw.index if q in ranked.index and ranked.loc[q, "good"]]
    moves = "; ".join(
        f"{SHORT[q]} {num(ranked.loc[q, 'asc_gap_mean'] - raw.loc[q, 'asc_gap_mean'], signed=True)} / "
        f"{num(ranked.loc[q, 'desc_gap_mean'] - raw.loc[q, 'desc_gap_mean'], signed=True)}"
        for q in raw.index
        if q in ranked.index
    )

    def listed(quantities: list[str]) -> str:
        return _names(quantities) if quantities else "none"

    baseline = ""
    if "weight_norm" in ranked.index and "weight_norm" in set(indicators.quantity):
        raw_norm = _baseline_good(indicators)
        baseline = (
            f" The {SHORT['weight_norm']} baseline is {'' if raw_norm else 'not '}a good indicator with raw "
            f"values and {'' if ranked.loc['weight_norm', 'good'] else 'not '}with ranks."
        )
    return (
        f"Good indicators among the paper's quantities ({PAPER_QUANTITIES}) over the whole network with raw "
        f"values: {listed(good_raw)}; with per-layer percentile ranks: "
        f"{_period(listed(good_ranked))}{baseline} "
        f"Ranking within layers moves the ascending gap and the descending gap (AUC, seed means; positive is "
        f"better) by: {moves}."
    )


def redundancy_paragraph(labels: pd.DataFrame, checks: pd.DataFrame) -> str:
    """How many layer-wise curves leave the random band on the side C8 reads, and what the pair tests say."""
    counts = labels.label.value_counts()
    text = (
        f"Of the {len(labels)} layer-wise curves (layer × quantity), the descending order lies above the "
        f"random band in every seed in {int(labels.redundancy.sum())} (suggesting redundancy) and the "
        f"ascending order below it in {int(labels.synergy.sum())} (suggesting synergy); "
        f"{int(counts.get('neither', 0))} suggest neither."
    )
    if checks.empty:
        return text + " There is no suggestion for the pair tests to check."
    lines = [
        f"- {r.scope} {SHORT[r.quantity]}, {r.label}: information test {r.information} "
        f"(ΔS = {num(r.synergy_mean, 4, signed=True)} bits, p = {r.synergy_p:.2g}), damage test {r.damage} "
        f"(Δ interaction = {num(100 * r.interaction_mean, 3, signed=True)} points, p = {r.interaction_p:.2g})"
        for r in checks.itertuples()
    ]
    return text + " The pair tests of each suggestion:\n\n" + "\n".join(lines)


def pair_pattern_sentence(contrasts: pd.DataFrame, alpha: float) -> str:
    """What the pair tests show in every layer × quantity case, whatever the curves suggest: how often the
    top quarter's pairs are significantly redundant and the bottom quarter's significantly synergistic
    (information test, p < ``alpha``), and how often the damage test is significant at all."""
    top = contrasts[contrasts.group == "top"]
    bottom = contrasts[contrasts.group == "bottom"]
    redundant = int(((top.synergy_p < alpha) & (top.synergy_mean < 0)).sum())
    synergistic = int(((bottom.synergy_p < alpha) & (bottom.synergy_mean > 0)).sum())
    damage = int((contrasts.interaction_p < alpha).sum())
    return (
        f"Whatever the curves suggest, pairs from a quantity's top quarter are significantly more redundant "
        f"than random pairs of the layer (ΔS < 0, p < {alpha:g}) in {redundant} of {len(top)} layer × "
        f"quantity cases, and pairs from its bottom quarter significantly more synergistic (ΔS > 0) in "
        f"{synergistic} of {len(bottom)}. The damage "
        f"test (pair drop against the two single drops on the test split) is significant in {damage} of "
        f"{len(contrasts)} group cases."
    )


# ---------------------------------------------------------------------------------------------- estimators


def quantization_paragraph(agreement: pd.DataFrame, auc: pd.DataFrame, quantity: str) -> str:
    """How much the rankings and the ``quantity``-ordered curves change with the quantisation."""
    means = (
        agreement[agreement.quantization != "binary"]
        .groupby(["quantity", "layer", "quantization"])
        .rho.mean()
    )
    parts = []
    for q in [q for q in INDICATOR_QUANTITIES if q in set(agreement.quantity)]:
        m = means.loc[q].dropna()
        if m.empty:
            continue
        (layer, worst) = m.idxmin()
        parts.append(
            f"{SHORT[q]} median {num(float(m.median()), 2, signed=True)}, lowest "
            f"{num(float(m.min()), 2, signed=True)} (layer {layer}, {worst})"
        )
    text = (
        "Spearman ρ of the rankings under the finer quantisations with the binary ranking (seed means over "
        "layers and quantisations): " + "; ".join(parts) + "."
    )
    ordered = auc[auc.direction != "random"].groupby(["scope", "direction", "quantization"]).auc.mean()
    band = random_band(auc, by=["seed", "scope"], value="auc").groupby("scope").mean(numeric_only=True)
    moves = []
    for scope in ordered_scopes(auc.scope.unique()):
        desc = ordered.loc[(scope, "descending")]
        asc = ordered.loc[(scope, "ascending")]
        below = int((desc < band.loc[scope, "random_lo"]).sum())
        above = int((asc > band.loc[scope, "random_hi"]).sum())
        moves.append(
            f"{scope}: descending AUC {num(float(desc.min()), 3)}–{num(float(desc.max()), 3)} (binary "
            f"{num(float(desc['binary']), 3)}), below the band under {below} of {len(desc)} quantisations; "
            f"ascending above it under {above}"
        )
    return (
        text
        + f" Ordered by {SHORT[quantity]} under each quantisation, the curves move within these ranges (seed "
        "means):\n\n" + "\n".join(f"- {m}" for m in moves)
    )


def sample_size_paragraph(summary: pd.DataFrame, stable: pd.DataFrame) -> str:
    """When the rankings stabilise, and how biased the plug-in and Miller-Madow estimates are at the
    smallest sample size."""
    plug = stable[stable.estimator == "plug-in"]
    parts = []
    for q in [q for q in INDICATOR_QUANTITIES if q in set(plug.quantity)]:
        rows = plug[plug.quantity == q]
        worst = np.nan if rows.n.isna().any() else rows.n.max()  # a layer that never agrees: not reached
        when = "not within the sizes studied" if np.isnan(worst) else f"from {int(worst):,} samples"
        parts.append(f"{SHORT[q]} {when}")
    smallest = int(summary.n.min())
    bias = (
        summary[(summary.n == smallest) & (summary.quantity == "mutual_information")]
        .groupby("estimator")
        .bias.mean()
    )
    width = (
        summary[(summary.n == smallest) & (summary.quantity == "mutual_information")]
        .groupby("estimator")
        .width.mean()
    )
    return (
        "A plug-in ranking agrees with the full-split ranking at Spearman ρ ≥ 0.9 in every layer (seed "
        "means): "
        + "; ".join(parts)
        + f". With {smallest:,} samples the plug-in MI is off the full-split value by "
        f"{num(float(bias['plug-in']), 4, signed=True)} bits on average (Miller-Madow: "
        f"{num(float(bias['Miller-Madow']), 4, signed=True)} bits), and its 5–95 % bootstrap intervals are "
        f"{num(float(width['plug-in']), 4)} bits wide (median over neurons, mean over layers and seeds)."
    )


def information_plane_paragraph(summary: pd.DataFrame) -> str:
    """What the single-neuron information plane shows per network kind (``infoplane.phase_summary``): where
    the layers start and end, when I(T; Y) peaks, and in how many layers H and I fall after their peak (by
    more than ``MIN_FALL`` bits and twice their spread over seeds), H from the start or after a rise."""
    paragraphs = []
    for network, g in summary.groupby("network", sort=False):
        n = len(g)
        h_falls = g["H falls"]
        after_rise = int((h_falls & (g["H peak epoch mean"] > 0)).sum())
        layers = "; ".join(
            f"layer {int(r.layer)}: H {num(r['H start mean'], 2)} → {num(r['H end mean'], 2)} bits, "
            f"I(T; Y) {num(r['I start mean'], 2)} → {num(r['I end mean'], 2)} bits (peak "
            f"{num(r['I peak mean'], 2)} at epoch {num(r['I peak epoch mean'], 1)})"
            for _, r in g.iterrows()
        )
        best, i_falls = num(g["best epoch mean"].iloc[0], 1), int(g["I falls"].sum())
        n_falls = int(h_falls.sum())
        when = (
            "" if n_falls == 0
            else " (each after first rising)" if after_rise == n_falls
            else " (each from the start of training)" if after_rise == 0
            else f" ({after_rise} after first rising, {n_falls - after_rise} from the start of training)"
        )  # fmt: skip
        paragraphs.append(
            f"**{network}** (best validation accuracy at epoch {best}, mean over seeds): {layers}. H falls "
            f"after its peak in {n_falls} of {n} layers{when}, I(T; Y) in {i_falls} of {n} (a fall counts "
            f"when it exceeds {MIN_FALL:g} bits and twice its standard deviation over seeds)."
        )
    return "\n\n".join(paragraphs)


def pruning_paragraph(accuracy: pd.DataFrame, intact: pd.DataFrame, n_classes: int = 10) -> str:
    """Per network kind: at the smallest kept fraction, the mean test accuracy of each variant for the best
    and the worst criterion with bias balancing (one clause when they tie; said to be at chance when every
    criterion's bias-balanced accuracy lies within one point of it), and the from-scratch network's."""
    smallest = accuracy.kept.min()
    at = accuracy[accuracy.kept == smallest].groupby(["network", "variant", "criterion"]).accuracy.mean()
    paragraphs = []
    for network in dict.fromkeys(accuracy.network):
        level = float(intact[intact.network == network].accuracy.mean())
        balanced = at.loc[(network, "bias balancing")]
        best, worst = balanced.idxmax(), balanced.idxmin()

        def variants(criterion: str, net: str = network) -> str:
            return ", ".join(
                f"{v} {_percent(at.loc[(net, v, criterion)])}"
                for v in ("zero", "bias balancing", "fine-tuned")
            )

        cases = "; ".join(
            f"by {SHORT[c]} (the {w} with bias balancing), {variants(c)}"
            for c, w in ((best, "best"), (worst, "worst"))
        )
        if best == worst:
            cases = f"by every criterion alike, {variants(best)}"
        chance = 1 / n_classes
        if best != worst and (balanced - chance).abs().max() < 0.01:
            cases = (
                f"by any criterion, bias balancing leaves it at chance ({_percent(balanced.min())} to "
                f"{_percent(balanced.max())}), so none is best; by {SHORT[best]}, {variants(best)}; by "
                f"{SHORT[worst]}, {variants(worst)}"
            )
        text = (
            f"**{network}** (intact {_percent(level)}), keeping {100 * smallest:g} % of every layer: "
            f"pruned {cases}."
        )
        if (network, "from scratch") in at.index.droplevel("criterion"):
            scratch = float(at.loc[(network, "from scratch")].iloc[0])
            text += f" The same small network trained from scratch: {_percent(scratch)}."
        paragraphs.append(text)
    return "\n\n".join(paragraphs)


# ------------------------------------------------------------------------------ activation functions


def activation_findings(claims: pd.DataFrame, accuracies: pd.DataFrame) -> str:
    """ "What this chapter finds" of an activation chapter: the accuracies per activation, C2 as worded for
    each activation (its numbers; judged for ReLU only), C6 per activation and C5, every number computed.
    ``claims``: :func:`nbsrc.activations.activation_claims`; ``accuracies``: activation, seed,
    test_accuracy."""
    acc = accuracies.groupby("activation", sort=False).test_accuracy
    accuracy = "; ".join(
        f"{ACTIVATION_NAMES.get(a, a)} {pm(*(100 * x for x in _mean_std(g)), 2)} %" for a, g in acc
    )
    rows = claims.set_index(["claim", "activation"])
    c6 = ", ".join(f"{ACTIVATION_NAMES.get(a, a)} {v}" for (c, a), v in rows.verdict.items() if c == "C6")
    c2w = "; ".join(
        f"{ACTIVATION_NAMES.get(a, a)}: {rows.loc[(c, a), 'measured'].split(' (')[0]}"
        for (c, a) in rows.index
        if c == "C2w"
    )
    c5 = rows.loc[("C5", "all")]
    return " ".join(
        sentence
        for sentence in [
            f"Test accuracy (mean ± std over seeds): {accuracy}.",
            f"Within a layer, removing the neurons with the most MI or KL selectivity first (C2 as worded), "
            f"{c2w}; the paper's later versions state C2 for ReLU networks, so the other activations' "
            f"verdicts are n/a and their numbers are shown for comparison.",
            f"Deeper layers cost less to ablate on equal widths (C6): {c6}.",
            f"C5, whether the relation and the gain of bias balancing depend on the activation: "
            f"**{c5.verdict}**. {c5.reason}",
            borderline_clause(claims),
        ]
        if sentence
    )


def activation_claim_sentence(claims: pd.DataFrame, claim: str) -> str:
    """Each activation's verdict on ``claim`` with its reason, one line per activation."""
    rows = claims[claims.claim == claim]
    return "\n".join(
        f"- **{claim}, {ACTIVATION_NAMES.get(r.activation, 'all activations')}** ({r.verdict}): {r.reason}"
        for r in rows.itertuples()
    )


def activation_summary(claims: pd.DataFrame) -> str:
    """The summary's paragraph on the activation chapters: C5 per dataset with its reason, and C6 on equal
    widths per dataset and activation (``join_results`` of the activation chapters' claims)."""
    from nbsrc.report import base_dataset

    rows = claims.assign(dataset=claims.dataset.map(base_dataset))
    c5 = rows[rows.claim == "C5"]
    lines = [f"- **C5, {TITLES[r.dataset]}** ({r.verdict}): {r.reason}" for r in c5.itertuples()]
    c6 = rows[rows.claim == "C6"]
    agree = c6[c6.verdict == "agrees"]
    cases = ", ".join(
        f"{TITLES[r.dataset]} {ACTIVATION_NAMES.get(r.activation, r.activation)}" for r in agree.itertuples()
    )
    lines.append(
        f"- **C6 on equal widths**: deeper layers cost strictly less to ablate in {len(agree)} of {len(c6)} "
        f"dataset × activation cases" + (f" ({cases})." if cases else ".")
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------- regularisers


def regulariser_summary(claims: pd.DataFrame | None) -> str:
    """The summary's paragraph on the regulariser chapters: C9 per dataset with its reason (``join_results``
    of the regulariser chapters' claims), or a line saying no such chapter is in this build."""
    from nbsrc.report import base_dataset

    if claims is None or claims.empty:
        return "No regulariser chapter is part of this build."
    rows = claims[claims.claim == "C9"].assign(dataset=lambda t: t.dataset.map(base_dataset))
    return "\n".join(f"- **C9, {TITLES[r.dataset]}** ({r.verdict}): {r.reason}" for r in rows.itertuples())


def morcos_summary(points: pd.DataFrame) -> str:
    """The summary's reading of test accuracy against the whole-network random-order AUC relative to the
    intact accuracy above chance over every network of the book (:func:`nbsrc.report.robustness_points`):
    Spearman's ρ per dataset with its p-value, read against Morcos et al.'s finding that networks which
    generalise better rely less on single directions (:func:`nbsrc.report.morcos_reading`)."""
    from nbsrc.report import MORCOS_ALPHA, morcos_reading, morcos_table

    table = morcos_table(points)
    parts = []
    for r in table.itertuples():
        name = TITLES.get(r.dataset, r.dataset)
        if np.isnan(r.spearman_rho):
            parts.append(f"{name}: undefined over {r.networks} networks")
        else:
            rho = num(r.spearman_rho, 2, signed=True)
            reading = morcos_reading(r.spearman_rho, r.p_value)
            parts.append(f"{name}: ρ = {rho} over {r.networks} networks (p = {r.p_value:.2g}, {reading})")
    agree = sum(
        morcos_reading(r, p) == "as Morcos et al."
        for r, p in zip(table.spearman_rho, table.p_value, strict=True)
    )
    return (
        f"Spearman's ρ between test accuracy and the whole-network random-order AUC relative to the intact "
        f"accuracy above chance, per dataset: {'; '.join(parts)}. Morcos et al.'s finding (the networks that "
        f"generalise better are the more robust to ablation) predicts a positive ρ; it is positive at p < "
        f"{MORCOS_ALPHA} on {agree} of {len(table)} datasets. The networks differ in more than their "
        f"regularisation (recipe, activation, widths) and those of one chapter share a recipe, so ρ and its "
        f"p-value describe these networks; they are not a test of a cause."
    )
