"""nbsrc.narrative (generated prose: each number must be the computed one) and the composition of the
whole-network orders it reads."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from helpers import gains_table

from nbsrc import narrative
from nbsrc.analysis import network_order_layers
from nbsrc.stability import STABILITY, STABLE
from nbsrc.vocabulary import QUANTITIES, SHORT


def test_network_order_layers_matches_brute_force():
    rng = np.random.default_rng(0)
    widths = {1: 5, 2: 3}
    rows = [
        {"seed": 0, "layer": layer, "neuron": i, "quantity": q, "value": float(rng.integers(0, 4))}
        for q in ("entropy", "csi")
        for layer, n in widths.items()
        for i in range(n)
    ]
    measures = pd.DataFrame(rows).sample(frac=1.0, random_state=1)  # row order must not matter
    table = network_order_layers(measures)
    for q in ("entropy", "csi"):
        sub = measures[measures.quantity == q].sort_values(["layer", "neuron"])
        values, layers = sub.value.to_numpy(), sub.layer.to_numpy()
        for direction, key in (("ascending", values), ("descending", -values)):
            order = sorted(range(len(values)), key=lambda i, key=key: (key[i], i))  # stable, ties by index
            for k in range(1, len(values) + 1):
                first = layers[order[:k]]
                got = table[(table.quantity == q) & (table.direction == direction) & (table.k == k)]
                for layer in widths:
                    share = got[got.layer == layer].share.item()
                    assert share == np.mean(first == layer)
    sums = table.groupby(["quantity", "direction", "k"]).share.sum()
    np.testing.assert_allclose(sums, 1.0)


def results_with_collapse(widths=(60, 30, 10)) -> SimpleNamespace:
    """Thresholds: every order crosses at 0.5 of the network, L2 norm ascending already at 0.1 and the
    random orders at 0.6; one seed's CSI descending never crosses."""
    rows = []
    for seed in range(3):
        for q in QUANTITIES:
            for direction in ("ascending", "descending"):
                value = 0.1 if (q, direction) == ("weight_norm", "ascending") else 0.5
                if (q, direction, seed) == ("csi", "descending", 0):
                    value = np.nan
                rows.append((seed, "network", q, direction, 0, 0.8, value))
        for order in range(4):
            rows.append((seed, "network", "random", "random", order, 0.8, 0.6))
    auc = pd.DataFrame(
        rows, columns=["seed", "scope", "quantity", "direction", "order", "auc", "threshold_fraction"]
    )
    return SimpleNamespace(auc=auc, configs=[SimpleNamespace(widths=widths)])


def composition_for(k: int, shares: dict[int, float]) -> pd.DataFrame:
    base = {"quantity": "weight_norm", "direction": "ascending", "k": k}
    return pd.DataFrame(
        [{**base, "seed": s, "layer": layer, "share": v} for s in range(3) for layer, v in shares.items()]
    )


def test_collapse_sentence_names_the_earliest_order_and_its_layers():
    results = results_with_collapse()
    composition = composition_for(10, {1: 0.9, 2: 0.1, 3: 0.0})  # 10 % of 100 neurons
    text = narrative.collapse_sentence(results, composition)
    assert "The earliest collapse of an ascending order is L2 norm's" in text
    assert "after 10.0 % of all hidden neurons (10 of 100; random orders: 60.0 %)" in text
    assert "90 % from layer 1, which holds 60 % of the network's neurons" in text
    assert "takes layer 1 first" in text  # 90 % of the first neurons: one layer first
    short = narrative.collapse_sentence(results, composition, short=True)
    assert "ascending L2 norm collapses the network after only 10.0 %" in short
    proportional = narrative.collapse_sentence(results, composition_for(10, {1: 0.6, 2: 0.3, 3: 0.1}))
    assert "roughly in proportion to their sizes" in proportional


def test_thresholds_count_the_seeds_that_cross():
    table = narrative.thresholds(results_with_collapse(), "network")
    assert table.loc[("csi", "descending"), "crossed"] == 2
    assert table.loc[("csi", "descending"), "seeds"] == 3
    assert table.loc[("weight_norm", "ascending"), "fraction"] == pytest.approx(0.1)


def test_verdicts_paragraph_gives_the_reason_of_each_verdict_that_does_not_agree():
    claims = pd.DataFrame(
        {
            "claim": ["C1", "C2", "C3"],
            "verdict": ["agrees", "partly", "n/a"],
            "reason": ["margin 0.1", "ascending below the band by 0.009", "one layer"],
            STABILITY: [STABLE, "without seed 2: agrees", STABLE],
        }
    )
    text = narrative.verdicts_paragraph(claims)
    assert "1 agrees, 1 partly, 1 n/a" in text
    assert "1 of 3 verdicts change" in text and "C2 (partly; without seed 2: agrees)" in text
    steady = narrative.verdicts_paragraph(claims.assign(**{STABILITY: STABLE}))
    assert "every verdict stays the same" in steady and "borderline" not in steady
    assert "**C2** (partly): ascending below the band by 0.009" in text
    assert "**C3** (n/a): one layer" in text
    assert "margin 0.1" not in text


def test_summary_answer_counts_cases_over_datasets():
    rows = []
    for dataset in ("mnist", "cifar10"):
        for scope in ("network", "layer 1", "layer 2"):
            for q in ("mutual_information", "kl_selectivity", "entropy", "csi"):
                desc = 1.0 if (scope != "network" and (dataset == "mnist" or q == "kl_selectivity")) else 0.0
                rows.append(
                    {
                        "dataset": dataset,
                        "scope": scope,
                        "quantity": q,
                        "desc_below": desc,
                        "asc_above": 0.0,
                        "good": scope == "network" and q == "csi" and dataset == "mnist",
                    }
                )
    indicators = pd.DataFrame(rows)
    claims = pd.DataFrame({"dataset": ["mnist", "cifar10"], "claim": ["C1", "C1"]})
    text = narrative.summary_answer(claims, indicators)
    # layer cases of MI and KL sel.: mnist 4 of 4, cifar10 2 (KL sel.) of 4
    assert "mostly (6 of 8 layer × quantity cases over 2 datasets)" in text
    assert "in no case (0 of 8)" in text
    assert "(0 of 8): informative neurons matter more, but uninformative ones are not free to drop." in text
    assert "good indicators in 1 of 8 quantity × dataset cases" in text
    every = indicators.assign(desc_below=(indicators.scope != "network").astype(float))
    text = narrative.summary_answer(claims, every)
    assert "in every case (8 of 8 layer × quantity cases" in text and "almost always" not in text
    assert "not free to drop" in text
    both = every.assign(asc_above=every.desc_below)
    text = narrative.summary_answer(claims, both)
    assert (
        "(8 of 8): informative neurons matter more, and uninformative ones can mostly be dropped first."
        in text
    )
    none = indicators.assign(desc_below=0.0)
    text = narrative.summary_answer(claims, none)
    assert "in no case (0 of 8 layer" in text and "informative neurons matter more" not in text


def test_auc_paragraph_names_the_most_damaging_order_per_scope():
    rows = []
    for seed in range(2):
        for scope in ("network", "layer 1"):
            for q in QUANTITIES:
                desc = 0.2 if (scope, q) == ("network", "mutual_information") else 0.4
                if (scope, q) == ("layer 1", "csi"):
                    desc = 0.3
                rows.append((seed, scope, q, "ascending", 0, 0.5, np.nan))
                rows.append((seed, scope, q, "descending", 0, desc, np.nan))
            for order in range(5):
                rows.append((seed, scope, "random", "random", order, 0.5, np.nan))
    auc = pd.DataFrame(
        rows, columns=["seed", "scope", "quantity", "direction", "order", "auc", "threshold_fraction"]
    )
    text = narrative.auc_paragraph(SimpleNamespace(auc=auc))
    assert "network: descending MI 0.200 against random 0.500" in text
    assert "layer 1: descending CSI 0.300 against random 0.500" in text
    assert (
        "Good indicators (ascending above and descending below the band in every seed): no quantity" in text
    )


def test_recipe_paragraph_states_every_value_and_the_papers_unknowns():
    from nbsrc.recipes import PAPER_L2, recipe_config

    text = narrative.recipe_paragraph("paper_v1", recipe_config("paper_v1", "mnist"))
    for part in (
        "200-200",
        "sigmoid",
        "learning rate 0.001",
        "constant learning rate",
        "batch 32",
        "raw inputs",
    ):
        assert part in text, part
    assert f"weight decay {PAPER_L2:g}" in text and "Not known from the paper, chosen by this book" in text
    book = narrative.recipe_paragraph("book", recipe_config("book", "cifar10"))
    assert "512-256-128" in book and "0.0005" in book and "cosine" in book and "Not known" not in book


def test_bias_balancing_paragraph_reports_the_computed_gains():
    assert "compare_bias_balancing = False" in narrative.bias_balancing_paragraph(None)
    gains = gains_table()
    text = narrative.bias_balancing_paragraph(gains)
    ordered = gains[gains.direction != "random"]
    per_seed = ordered.groupby("seed").gain.mean()
    assert narrative.pm(per_seed.mean(), per_seed.std(ddof=1), signed=True) in text
    # largest: weight_norm ascending (+0.05, +0.07); smallest: weight_norm descending (-0.05, -0.03)
    largest = narrative.pm(0.06, np.std([0.05, 0.07], ddof=1), signed=True)
    smallest = narrative.pm(-0.04, np.std([-0.05, -0.03], ddof=1), signed=True)
    assert f"{largest} (network, {SHORT['weight_norm']} ascending)" in text
    assert f"{smallest} (network, {SHORT['weight_norm']} descending)" in text
    assert "raises it for 50 %" in text
    assert (
        f"whole network the gain is {narrative.pm(0.06, np.std([0.05, 0.07], ddof=1), signed=True)}" in text
    )


def test_recipe_contrast_counts_the_verdicts_each_recipe_changes():
    book = pd.DataFrame(
        {
            "claim": ["C1", "C2", "C1", "C2"],
            "paper": ["p1", "p2", "p1", "p2"],
            "verdict": ["agrees", "partly", "agrees", "agrees"],
            "dataset": ["mnist", "mnist", "cifar10", "cifar10"],
            STABILITY: [STABLE, "without seed 1: agrees", STABLE, STABLE],
        }
    )
    raw = book.assign(dataset="raw_constant_" + book.dataset)
    same = narrative.recipe_contrast({"book": book, "raw_constant": raw, "paper_v1": raw})
    assert same.startswith("Of the 4 verdicts (claim × dataset) judged under all 3 recipes, 4 are the same")
    assert (
        "0 under *raw inputs, constant learning rate* and 0 under *the paper's first version* change" in same
    )
    assert "every recipe: C1, C2." in same and "change:" not in same
    paper = book.assign(
        dataset="paper_" + book.dataset,
        verdict=["agrees", "agrees", "disagrees", "agrees"],
        **{STABILITY: STABLE},
    )
    text = narrative.recipe_contrast({"book": book, "raw_constant": raw, "paper_v1": paper})
    assert "4 recipes" not in text and ", 2 are the same under every recipe" in text
    assert (
        "0 under *raw inputs, constant learning rate* and 2 under *the paper's first version* change" in text
    )
    assert "No claim keeps its verdict" in text
    assert (
        "- **C2** on MNIST: *partly†* (this book's default), *partly†* (raw inputs, constant learning rate), "
        "*agrees* (the paper's first version)" in text
    )
    assert "- **C1** on CIFAR-10: *agrees* (this book's default)" in text
    assert "(1 of these 2 involve a borderline verdict" in text


def test_damage_paragraph_reports_the_largest_drop_and_the_best_quantity_per_scope():
    damage = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "drop": [0.01, 0.0, -0.001, 0.03, 0.002, 0.0]})
    correlations = pd.DataFrame(
        {
            "seed": [0, 1] * 4,
            "scope": ["network"] * 4 + ["layer 1"] * 4,
            "quantity": ["entropy", "entropy", "csi", "csi"] * 2,
            "rho": [0.1, 0.3, 0.5, 0.5, 0.6, 0.8, -0.2, 0.0],
        }
    )
    text = narrative.damage_paragraph(correlations, damage)
    assert f"at most {narrative.pm(2.0, np.std([1.0, 3.0], ddof=1), 2)} percentage points" in text
    assert "50 % of the neurons cost nothing" in text
    assert f"network: {SHORT['csi']} (ρ = +0.500)" in text
    assert f"layer 1: {SHORT['entropy']} (ρ = +0.700)" in text


def test_damage_summary_sentence_counts_the_best_quantity_over_cases():
    table = pd.DataFrame(
        {
            "dataset": ["mnist"] * 4 + ["cifar10"] * 2,
            "scope": ["network", "network", "layer 1", "layer 1", "network", "network"],
            "quantity": ["entropy", "csi", "entropy", "csi", "entropy", "csi"],
            "seed": 0,
            "rho": [0.2, 0.5, 0.7, 0.1, 0.4, 0.3],
        }
    )
    text = narrative.damage_summary_sentence(table)
    assert "over the 3 (dataset, scope) cases" in text
    assert f"{SHORT['entropy']} in 2, {SHORT['csi']} in 1" in text
    assert "from ρ = +0.400 (CIFAR-10, network) to +0.700 (MNIST, layer 1)" in text


def test_ranked_paragraph_names_good_quantities_and_the_gap_changes():
    def rows(values):
        return pd.DataFrame(
            [
                {"scope": "network", "quantity": q, "asc_gap_mean": a, "desc_gap_mean": d, "good": g}
                for q, (a, d, g) in values.items()
            ]
        )

    raw = rows({"mutual_information": (-0.05, 0.1, False), "entropy": (0.0, 0.2, False)})
    ranked = rows({"mutual_information": (0.02, 0.15, True), "entropy": (0.01, 0.1, False)})
    text = narrative.ranked_paragraph(raw, ranked)
    assert "with raw values: none; with per-layer percentile ranks: MI. Ranking" in text
    assert "among the paper's quantities (H, MI, KL sel. and CSI)" in text
    assert "H +0.010 / -0.100; MI +0.070 / +0.050." in text  # H before MI, the book's quantity order
    kl = {"kl_selectivity": (0.02, 0.15, True)}
    text = narrative.ranked_paragraph(rows({**kl, "weight_norm": (0.1, 0.1, True)}),
                                      rows({**kl, "weight_norm": (0.0, 0.1, False)}))  # fmt: skip
    assert (
        "percentile ranks: KL sel. The L2 norm baseline is a good indicator with raw values and not with"
        in text
    )


def test_redundancy_paragraph_counts_labels_and_lists_each_check():
    labels = pd.DataFrame(
        {"redundancy": [True, False, False], "synergy": [False, True, False],
         "label": ["redundancy", "synergy", "neither"]}
    )  # fmt: skip
    checks = pd.DataFrame(
        [
            {"scope": "layer 2", "quantity": "csi", "label": "synergy", "information": "confirms",
             "synergy_mean": 0.0031, "synergy_p": 0.004, "damage": "inconclusive",
             "interaction_mean": -0.0002, "interaction_p": 0.4}
        ]
    )  # fmt: skip
    text = narrative.redundancy_paragraph(labels, checks)
    assert (
        "in every seed in 1 (suggesting redundancy)" in text and "below it in 1 (suggesting synergy)" in text
    )
    assert "1 suggest neither" in text
    assert "- layer 2 CSI, synergy: information test confirms (ΔS = +0.0031 bits, p = 0.004)" in text
    assert "damage test inconclusive (Δ interaction = -0.020 points, p = 0.4)" in text
    assert narrative.redundancy_paragraph(labels, checks.iloc[:0]).endswith(
        "no suggestion for the pair tests to check."
    )


def test_pair_pattern_sentence_counts_significant_groups_in_the_predicted_direction():
    rows = [
        # top: significant and redundant / significant but synergistic / redundant but not significant
        ("top", -0.02, 0.001, 0.0, 0.9),
        ("top", +0.02, 0.001, 0.0, 0.9),
        ("top", -0.02, 0.2, 0.001, 0.01),
        # bottom: significant and synergistic, twice
        ("bottom", +0.01, 0.04, 0.0, 0.5),
        ("bottom", +0.01, 0.0, -0.001, 0.03),
        ("bottom", -0.01, 0.0, 0.0, 0.5),
    ]
    contrasts = pd.DataFrame(
        rows, columns=["group", "synergy_mean", "synergy_p", "interaction_mean", "interaction_p"]
    )
    text = narrative.pair_pattern_sentence(contrasts, 0.05)
    assert "(ΔS < 0, p < 0.05) in 1 of 3 layer × quantity cases" in text
    assert "significantly more synergistic (ΔS > 0) in 2 of 3." in text
    assert "is significant in 2 of 6 group cases." in text


def test_chapter_findings_says_whether_the_weight_norm_baseline_is_a_good_indicator():
    def findings(good: set[str]) -> str:
        """The chapter's findings on AUCs where exactly the quantities in ``good`` leave the random band on
        both sides (ascending above it, descending below it) for every seed."""
        results = results_with_collapse()
        auc = results.auc.copy()
        for q in good:
            auc.loc[(auc.quantity == q) & (auc.direction == "ascending"), "auc"] = 0.9
            auc.loc[(auc.quantity == q) & (auc.direction == "descending"), "auc"] = 0.7
        results.auc = auc
        results.accuracies = pd.DataFrame({"seed": [0, 1, 2], "test_accuracy": [0.98, 0.97, 0.99]})
        results.configs = [SimpleNamespace(widths=(60, 30, 10), activation="relu")]
        claims = pd.DataFrame(
            {
                "claim": ["C1", "C2", "C2w"],
                "verdict": ["disagrees", "partly", "agrees"],
                STABILITY: [STABLE, "without seed 1: agrees", STABLE],
            }
        )
        return narrative.chapter_findings(results, claims, composition_for(10, {1: 0.9, 2: 0.1, 3: 0.0}))

    text = findings({"weight_norm"})
    assert (
        "Ranked across the whole network, none of H, MI, KL sel. and CSI is a good indicator of importance; "
        "the L2 norm baseline is one (C1: disagrees)." in text
    )
    text = findings({"mutual_information"})
    assert "MI is a good indicator of importance; the L2 norm baseline is not (C1: disagrees)." in text
    assert "agree here for C2w and disagree for C1" in text
    assert text.startswith("3 ReLU networks with hidden widths 60-30-10 (seeds 0, 1, 2)")
    assert text.endswith(
        "Leaving one seed out changes the verdict of C2: it rests on a single network (borderline)."
    )


def test_borderline_clause_names_the_verdicts_one_seed_decides():
    claims = pd.DataFrame(
        {
            "claim": ["C1", "C2", "C3", "C4"],
            "verdict": ["agrees", "partly", "n/a", "disagrees"],
            STABILITY: ["without seed 0: partly", STABLE, "–", "without seed 2: partly; without seed 1: n/a"],
        }
    )
    assert narrative.borderline_clause(claims) == (
        "Leaving one seed out changes the verdict of C1 and C4: they rest on a single network (borderline)."
    )
    assert narrative.borderline_clause(claims.iloc[:1]).endswith(
        "of C1: it rests on a single network (borderline)."
    )
    assert narrative.borderline_clause(claims.iloc[1:3]) == ""
    per_activation = claims.assign(activation=["relu", "sigmoid", "tanh", "all"]).iloc[[0, 3]]
    assert "of C1, ReLU; C4, all activations:" in narrative.borderline_clause(per_activation)


def test_dataset_contrast_lists_the_differing_claims_with_their_borderline_marks():
    claims = pd.DataFrame(
        {
            "claim": ["C1", "C2", "C1", "C2"],
            "verdict": ["agrees", "partly", "agrees", "disagrees"],
            "dataset": ["mnist", "mnist", "cifar10", "cifar10"],
            STABILITY: [STABLE, "without seed 0: agrees", "without seed 2: partly", STABLE],
        }
    )
    accuracies = pd.DataFrame(
        {"dataset": ["mnist", "mnist", "cifar10", "cifar10"], "test_accuracy": [0.98, 0.99, 0.55, 0.57]}
    )
    text = narrative.dataset_contrast(claims, accuracies)
    assert text.startswith("The verdicts differ between datasets for C2 (")
    assert "- **C2**: MNIST *partly†*, CIFAR-10 *disagrees*" in text
    assert "C1" not in text.split("\n\n")[1]  # the same verdict on both datasets: not listed
    assert "MNIST 98.5 ± 0.7 %, CIFAR-10 56.0 ± 1.4 %" in text
    same = narrative.dataset_contrast(claims.assign(verdict="agrees"), accuracies)
    assert same.startswith("Every claim gets the same verdict on every dataset.")
