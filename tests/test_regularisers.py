"""Tests for the regulariser chapters (C9, the book's extension): C9's rule on tables whose verdict is known
by construction, the chapter set-up (the variant "none" is exactly the dataset chapter's networks and
analysis), the robustness result files and the summary's reading of them (Morcos et al.'s comparison)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import raises_with

from nbsrc import narrative
from nbsrc import regularisers as reg
from nbsrc.analysis import ChapterResults, relative_auc
from nbsrc.analysis import auc as auc_of
from nbsrc.chapters import (
    REGULARISER_CHAPTERS,
    REGULARISERS_PARAMETERS,
    book_chapters,
    dataset_setup,
    regularisers_setup,
)
from nbsrc.claims import (
    C9_FLOOR,
    C9_FLOORS,
    ELSEWHERE,
    PAPER,
    RULES,
    claim_c9,
    rules_table,
    variant_quantities,
    variant_robustness,
)
from nbsrc.recipes import recipe_config
from nbsrc.report import (
    chapter_family,
    morcos_reading,
    morcos_table,
    network_label,
    regulariser_verdicts,
    robustness_points,
    robustness_table,
    save_claims,
)
from nbsrc.stability import STABILITY, STABLE

pytestmark = pytest.mark.usefixtures("one_thread")

C9_QUANTITIES = list(C9_FLOORS)


# ------------------------------------------------------------------------------------------ C9's rule


def quantities_table(means: dict[str, float], std: float = 0.0) -> pd.DataFrame:
    """C9 (a) input: every variant with the same layer means except where ``means`` says (layer 1, MI)."""
    rows = []
    for variant, mi in means.items():
        for q in C9_QUANTITIES:
            mean = mi if q == "mutual_information" else 0.3
            rows.append((variant, "layer 1", q, mean, std, 3, C9_FLOORS[q], "bits"))
    return pd.DataFrame(
        rows, columns=["variant", "scope", "quantity", "mean", "std", "n_seeds", "floor", "unit"]
    )


def robustness_stats(aucs: dict[str, float], std: float = 0.0) -> pd.DataFrame:
    rows = [
        (v, s, auc if s == "network" else 0.5, std, 3)
        for v, auc in aucs.items()
        for s in ("network", "layer 1")
    ]
    return pd.DataFrame(rows, columns=["variant", "scope", "mean", "std", "n_seeds"])


@pytest.mark.parametrize(
    ("mi", "auc", "verdict"),
    [
        ({"none": 0.2, "dropout 0.5": 0.3}, {"none": 0.6, "dropout 0.5": 0.7}, "agrees"),
        ({"none": 0.2, "dropout 0.5": 0.3}, {"none": 0.6, "dropout 0.5": 0.605}, "partly"),
        ({"none": 0.2, "dropout 0.5": 0.205}, {"none": 0.6, "dropout 0.5": 0.7}, "partly"),
        ({"none": 0.2, "dropout 0.5": 0.205}, {"none": 0.6, "dropout 0.5": 0.605}, "disagrees"),
    ],
)
def test_c9_verdicts_by_construction(mi, auc, verdict):
    result = claim_c9(quantities_table(mi), robustness_stats(auc))
    assert result["verdict"] == verdict
    assert "regulariser comparisons" in result["measured"] and result["reason"].endswith(".")


def test_c9_spread_and_floor_decide_a_case():
    # a difference of 0.1 counts with no spread, not when twice the seed std (2 x 0.06) exceeds it
    assert (
        claim_c9(
            quantities_table({"none": 0.2, "batch norm": 0.3}),
            robustness_stats({"none": 0.6, "batch norm": 0.6}),
        )["verdict"]
        == "partly"
    )
    spread = quantities_table({"none": 0.2, "batch norm": 0.3}, std=0.06)
    assert claim_c9(spread, robustness_stats({"none": 0.6, "batch norm": 0.6}))["verdict"] == "disagrees"
    # below the floor of the robustness (0.01 AUC) with no spread: no case
    close = robustness_stats({"none": 0.6, "batch norm": 0.6 + C9_FLOOR / 2})
    assert claim_c9(quantities_table({"none": 0.2, "batch norm": 0.2}), close)["verdict"] == "disagrees"


def test_c9_compares_every_regulariser_with_none_only():
    # two regularisers far apart from each other but each within the threshold of none: no case
    mi = {"none": 0.2, "dropout 0.2": 0.195, "weight decay 1e-3": 0.205}
    result = claim_c9(quantities_table(mi), robustness_stats({v: 0.6 for v in mi}))
    assert result["verdict"] == "disagrees" and "0 of 8" in result["measured"]


@pytest.mark.parametrize("variants", [["dropout 0.2", "batch norm"], ["none"]])
def test_c9_is_not_applicable_without_the_reference_or_a_regulariser(variants):
    result = claim_c9(
        quantities_table({v: 0.2 for v in variants}), robustness_stats({v: 0.6 for v in variants})
    )
    assert result["verdict"] == "n/a"


def test_c9_is_not_applicable_with_one_seed_of_a_variant():
    quantities = quantities_table({"none": 0.2, "batch norm": 0.5})
    robustness = robustness_stats({"none": 0.6, "batch norm": 0.9})
    assert claim_c9(quantities, robustness)["verdict"] == "agrees"
    one = robustness.assign(n_seeds=np.where(robustness.variant == "batch norm", 1, 3))
    result = claim_c9(quantities, one)
    assert result["verdict"] == "n/a" and "batch norm (1)" in result["reason"]


def test_relative_auc_by_hand():
    # a curve from 0.8 falling linearly to chance (0.1): AUC 0.45, relative (0.45 - 0.1) / (0.8 - 0.1) = 0.5
    curve = np.linspace(0.8, 0.1, 11)
    auc = pd.DataFrame({"seed": [0, 1], "scope": "network", "auc": [float(auc_of(curve)), 0.1]})
    accuracies = pd.DataFrame({"seed": [1, 0], "test_accuracy": [0.5, 0.8]})
    relative = relative_auc(auc, accuracies)
    assert relative.auc.tolist() == pytest.approx([0.5, 0.0])  # seed 1 at chance throughout: 0
    assert relative.seed.tolist() == [0, 1] and auc.auc[0] == pytest.approx(0.45)  # input unchanged


def test_c9_robustness_ignores_an_accuracy_change_alone():
    # the same curve shape above chance at two intact accuracies: the plain AUC differs, the relative does not
    shape = np.linspace(1.0, 0.3, 11)

    def results(accuracy: float, **fields) -> ChapterResults:
        curve = 0.1 + (accuracy - 0.1) * shape
        per_seed = (float(auc_of(curve)), float(auc_of(curve)))
        made = fake_results(accuracy=(accuracy, accuracy), random_auc=(per_seed, per_seed), **fields)
        made.measures = pd.DataFrame(
            {"seed": [0, 1], "layer": 1, "neuron": 0, "quantity": "entropy", "value": 0.5}
        )
        return made

    variants = {"none": results(0.9), "batch norm": results(0.7, batch_norm=True)}
    _, robustness = reg.c9_tables(variants)
    network = robustness[robustness.scope == "network"].set_index("variant")["mean"]
    assert network["none"] == pytest.approx(network["batch norm"])
    plain = variant_robustness({v: r.auc for v, r in variants.items()})
    plain = plain[plain.scope == "network"].set_index("variant")["mean"]
    assert plain["none"] - plain["batch norm"] > C9_FLOOR  # the plain AUC would count a change


def test_c9_rule_is_stated_with_its_floors():
    assert "C9" in PAPER and "C9" in ELSEWHERE and list(RULES) == list(PAPER)
    rule = RULES["C9"]["rule"]
    assert "twice the larger" in rule and f"{C9_FLOOR} for the relative AUC" in rule and "extension" in rule
    assert "weight norm" in RULES["C9"]["choices"] and "weight_norm" not in C9_FLOORS
    assert "C9" in rules_table().claim.tolist()


def test_variant_tables_from_measures_and_aucs():
    measures = pd.DataFrame(
        [
            (seed, layer, n, q, value)
            for seed, offset in ((0, 0.0), (1, 0.2))
            for layer in (1, 2)
            for n, value in enumerate((0.1, 0.3))
            for q, value in ((q, value + offset) for q in ("entropy", "weight_norm"))
        ],
        columns=["seed", "layer", "neuron", "quantity", "value"],
    )
    table = variant_quantities({"none": measures})
    assert set(table.quantity) == {"entropy"}  # the weight norm is left out
    row = table.set_index(["scope", "quantity"]).loc[("layer 2", "entropy")]
    assert row["mean"] == pytest.approx(0.3) and row["std"] == pytest.approx(np.std([0.2, 0.4], ddof=1))
    assert row["floor"] == C9_FLOORS["entropy"] and row["n_seeds"] == 2
    auc = pd.DataFrame(
        {
            "seed": [0, 0, 0, 1, 1, 1],
            "scope": ["network", "network", "layer 1"] * 2,
            "quantity": "random",
            "direction": "random",
            "order": [0, 1, 0] * 2,
            "auc": [0.4, 0.6, 0.7, 0.6, 0.8, 0.9],
        }
    )
    robust = variant_robustness({"none": auc}).set_index("scope")
    assert list(robust.index) == ["network", "layer 1"]
    assert robust.loc["network", "mean"] == pytest.approx(0.6)
    assert robust.loc["network", "std"] == pytest.approx(np.std([0.5, 0.7], ddof=1))


# ------------------------------------------------------------------------------------------- set-up


def test_none_is_exactly_the_dataset_chapters_networks_and_analysis():
    configs, settings = regularisers_setup(dataset="cifar10", seeds=[0, 1])
    reference, reference_settings = dataset_setup(dataset="cifar10", seeds=[0, 1])
    assert configs["none"] == reference and settings == reference_settings
    assert [c.key("data") for c in configs["none"]] == [c.key("data") for c in reference]
    assert settings.key("net") == reference_settings.key("net")
    assert configs["none"][1] == recipe_config("book", "cifar10", seed=1)
    assert list(configs) == list(reg.VARIANTS)
    for variant, fields in reg.VARIANTS.items():
        for config, base in zip(configs[variant], reference, strict=True):
            assert config.widths == base.widths and config.seed == base.seed
            assert {k: getattr(config, k) for k in fields} == fields
            if fields:
                assert config.key("data") != base.key("data")
    # the regularised networks: the same analysis without ordered curves (the chapter shows none)
    assert reg.variant_settings("none", settings) is settings
    lean = reg.variant_settings("batch norm", settings)
    assert lean.ordered_quantities == () and lean.random_orders and lean.n_random == settings.n_random
    assert lean.key("net") != settings.key("net")


@pytest.mark.parametrize(
    ("parameters", "named"),
    [
        ({"variants": ["none", "dropout 0.3"]}, "variants"),
        ({"variants": []}, "variants"),
        ({"variants": ["none", "none"]}, "variants"),
        ({"variant": ["none"]}, "parameter"),
        ({"seeds": []}, "seeds"),
    ],
)
def test_setup_rejects_bad_parameters_naming_them(parameters, named):
    with raises_with(named):
        regularisers_setup(**parameters)


def test_setup_error_lists_the_allowed_variants():
    with pytest.raises(ValueError) as error:
        regularisers_setup(variants=["dropout 0.3"])
    assert "dropout 0.3" in str(error.value) and "weight decay 1e-3" in str(error.value)


def test_book_runs_the_regulariser_chapters_before_the_summary():
    names = [c.name for c in book_chapters()]
    assert REGULARISER_CHAPTERS == ("regularisers_mnist", "regularisers_cifar10")
    assert names[-3:] == ["regularisers_mnist", "regularisers_cifar10", "summary"]
    assert names.index("activations_cifar10") < names.index("regularisers_mnist")
    summary = book_chapters()[-1]
    assert summary.parameters["regulariser_results"] == list(REGULARISER_CHAPTERS)
    assert "results/regularisers_cifar10-*" in summary.reads and "regularisers_mnist" in summary.after
    smoke = {c.name: c for c in book_chapters(smoke=True)}["regularisers_mnist"]
    assert set(smoke.parameters) == set(REGULARISERS_PARAMETERS)
    configs, _ = regularisers_setup(**smoke.parameters)
    assert configs["batch norm"][0].widths == (32, 16) and smoke.parameters["seeds"] == [0, 1]
    only = [c.name for c in book_chapters(datasets=["fashion_mnist"])]
    assert not any(n.startswith("regularisers_") for n in only)


# ------------------------------------------------------------------------------- robustness files


def fake_results(dataset: str = "mnist", accuracy=(0.9, 0.8), random_auc=((0.5, 0.7), (0.4, 0.4)), **fields):
    configs = [recipe_config("book", dataset, seed=s, **fields) for s in range(len(accuracy))]
    auc = pd.DataFrame(
        [
            (seed, scope, "random", "random", order, value if scope == "network" else 0.99)
            for seed, values in enumerate(random_auc)
            for scope in ("network", "layer 1")
            for order, value in enumerate(values)
        ]
        + [(0, "network", "entropy", d, 0, 0.01) for d in ("ascending", "descending")],
        columns=["seed", "scope", "quantity", "direction", "order", "auc"],
    )
    accuracies = pd.DataFrame({"seed": range(len(accuracy)), "test_accuracy": accuracy})
    return ChapterResults(configs, None, pd.DataFrame(), accuracies, pd.DataFrame(), pd.DataFrame(), auc)


def test_robustness_table_holds_accuracy_and_network_random_auc():
    table = robustness_table(fake_results(dropout=0.2))
    columns = ["seed", "network", "test_accuracy", "random_network_auc", "relative_network_auc"]
    assert list(table.columns) == columns
    assert table.random_network_auc.tolist() == pytest.approx([0.6, 0.4])  # network scope, random only
    assert table.relative_network_auc.tolist() == pytest.approx([0.5 / 0.8, 0.3 / 0.7])  # above chance 0.1
    assert table.network.tolist() == ["ReLU 512-256-128, dropout 0.2"] * 2
    assert network_label(recipe_config("paper_v1", "mnist")) == "sigmoid 200-200, weight decay 0.0001"


def test_dataset_chapter_saves_robustness_and_summary_reads_every_network_once(tmp_path):
    claims = pd.DataFrame({"claim": ["C1"], "verdict": ["agrees"]})
    save_claims(claims, fake_results(), {"dataset": "mnist", "results_dir": tmp_path})
    regs = {"none": fake_results(), "batch norm": fake_results(accuracy=(0.95, 0.97), batch_norm=True)}
    reg.save(claims, regs, {"dataset": "mnist", "results_dir": tmp_path})
    read = pd.read_csv(tmp_path / "regularisers_mnist-robustness.csv")
    assert read.variant.tolist() == ["none", "none", "batch norm", "batch norm"]
    points = robustness_points(["mnist", "regularisers_mnist"], tmp_path)
    # the "none" networks are the dataset chapter's: counted once, under the dataset chapter
    assert len(points) == 4 and points.chapter.tolist() == ["book", "book", "regularisers", "regularisers"]
    assert set(points.dataset) == {"mnist"}
    assert points.random_network_auc.tolist() == pytest.approx([0.6, 0.4, 0.6, 0.4])
    assert (
        chapter_family("raw_constant_fashion_mnist") == "raw_constant" and chapter_family("cifar10") == "book"
    )
    # another recipe's network of the same kind and seed, with the same accuracy by chance, is kept
    params = {"dataset": "mnist", "results_dir": tmp_path, "results_name": "raw_constant_mnist"}
    save_claims(claims, fake_results(), params)
    raw = pd.read_csv(tmp_path / "raw_constant_mnist-robustness.csv").assign(random_network_auc=[0.61, 0.41])
    raw.to_csv(tmp_path / "raw_constant_mnist-robustness.csv", index=False)
    both = robustness_points(["mnist", "raw_constant_mnist"], tmp_path)
    assert both.chapter.tolist() == ["book", "book", "raw_constant", "raw_constant"]


def test_morcos_table_is_spearman_per_dataset_on_the_relative_auc():
    accuracy = [0.9, 0.8, 0.95, 0.7, 0.5, 0.5, 0.5]
    relative = [0.6, 0.5, 0.7, 0.4, 0.1, 0.2, 0.3]
    points = pd.DataFrame(
        {
            "dataset": ["mnist"] * 4 + ["cifar10"] * 3,
            "test_accuracy": accuracy,
            "relative_network_auc": relative,
            # the plain AUC in reverse order of accuracy: its ρ is -1 where the relative AUC's is +1
            "random_network_auc": [0.1, 0.2, 0.05, 0.3, 0.1, 0.2, 0.3],
        }
    )
    table = morcos_table(points).set_index("dataset")
    assert table.loc["mnist", "spearman_rho"] == pytest.approx(1.0) and table.loc["mnist", "networks"] == 4
    assert table.loc["mnist", "spearman_rho_auc"] == pytest.approx(-1.0)
    assert np.isnan(table.loc["cifar10", "spearman_rho"])  # constant accuracy: no order
    flipped = points.assign(relative_network_auc=-points.relative_network_auc)
    assert morcos_table(flipped).set_index("dataset").loc["mnist", "spearman_rho"] == pytest.approx(-1.0)
    text = narrative.morcos_summary(points)
    assert "MNIST: ρ = +1.00 over 4 networks" in text and "CIFAR-10: undefined" in text
    assert "positive at p < 0.05 on 1 of 2 datasets" in text and "relative to the intact accuracy" in text
    assert "(p = 0, as Morcos et al.)" in text
    # a weak rank agreement (ρ = +0.1 over 5 networks) is not read as Morcos et al.'s finding
    weak = pd.DataFrame(
        {
            "dataset": "mnist",
            "test_accuracy": [0.1, 0.2, 0.3, 0.4, 0.5],
            "relative_network_auc": [0.3, 0.1, 0.5, 0.4, 0.2],
            "random_network_auc": [0.3, 0.1, 0.5, 0.4, 0.2],
        }
    )
    row = morcos_table(weak).iloc[0]
    assert row.spearman_rho == pytest.approx(0.1) and row.p_value > 0.05  # 1 - 6 * 18 / 120
    assert morcos_reading(row.spearman_rho, row.p_value) == "no clear relation"
    assert (
        morcos_reading(-0.9, 0.01) == "opposite to Morcos et al." and morcos_reading(np.nan, 1) == "undefined"
    )
    assert "no clear relation" in narrative.morcos_summary(weak)


def test_summary_and_intro_show_c9(tmp_path):
    claims = pd.DataFrame(
        {
            "claim": ["C9", "C9"],
            "dataset": ["regularisers_cifar10", "regularisers_mnist"],
            "verdict": ["partly", "agrees"],
            "measured": ["x", "y"],
            "reason": ["because a", "because b"],
            "paper": [PAPER["C9"]] * 2,
            STABILITY: [STABLE, STABLE],
        }
    )
    table = regulariser_verdicts(claims)
    assert table.dataset.tolist() == ["MNIST", "CIFAR-10"] and table.verdict.tolist() == ["agrees", "partly"]
    assert "- **C9, CIFAR-10** (partly): because a" in narrative.regulariser_summary(claims)
    assert "No regulariser chapter" in narrative.regulariser_summary(None)
    indicators = pd.DataFrame(
        [
            {
                "dataset": "mnist",
                "scope": "network",
                "quantity": q,
                "desc_below": 1.0,
                "asc_above": 0.0,
                "good": False,
            }
            for q in ("entropy", "mutual_information", "kl_selectivity", "csi")
        ]
    )
    base = pd.DataFrame(
        {
            "dataset": ["mnist"],
            "claim": ["C1"],
            "verdict": ["agrees"],
            "paper": [PAPER["C1"]],
            STABILITY: [STABLE],
        }
    )
    text = narrative.write_intro_summary(base, indicators, tmp_path, None, claims).read_text()
    assert "regulariser chapters" in text and "| C9 " in text
    assert "- **C9**" not in text and "Not tested" not in text


def test_chapter_tables_and_claims_on_constructed_results():
    results = {
        "none": fake_results(),
        "weight decay 1e-3": fake_results(accuracy=(0.91, 0.81), weight_decay=1e-3),
    }
    accuracy = reg.accuracy_table(results)
    assert "| weight decay 1e-3 |" in accuracy and "86.00 ± 7.07" in accuracy
    robust = variant_robustness({v: r.auc for v, r in results.items()})
    markdown = reg.robustness_markdown(robust)
    header = [c.strip() for c in markdown.splitlines()[0].split("|")[1:-1]]
    assert header[:2] == ["variant", "network"]  # a row per variant, the whole network's column first
    assert [line.split("|")[1].strip() for line in markdown.splitlines()[2:]] == list(results)
    layer1 = quantities_table({"none": 0.2, "batch norm": 0.5})
    pieces = [
        layer1[layer1.variant == v].assign(scope=s)
        for v in ("none", "batch norm")
        for s in ("layer 1", "layer 2")
    ]
    quantities = reg.quantities_table(pd.concat(pieces, ignore_index=True))  # variant-major, as C9 (a) is
    header = [c.strip() for c in quantities.splitlines()[0].split("|")[1:-1]]
    assert header == ["scope", "variant", "H", "MI", "KL sel.", "CSI"]
    rows = [[c.strip() for c in line.split("|")[1:4]] for line in quantities.splitlines()[2:]]
    assert [r[:2] for r in rows] == [[f"layer {n}", v] for n in (1, 2) for v in ("none", "batch norm")]
    assert rows[1][2] == "0.300\u00a0±\u00a00.000" and "0.500" in quantities.splitlines()[3]
    assert "nan" not in markdown and "0.500\u00a0±\u00a00.141" in markdown  # no-break spaces: one line
    points = reg.morcos_points(results)
    columns = ["variant", "seed", "test_accuracy", "random_network_auc", "relative_network_auc"]
    assert list(points.columns) == columns
    sentence = reg.morcos_sentence(points, "mnist")
    assert "above chance is +0.60 (p = " in sentence and "no clear monotone relation" in sentence


# ------------------------------------------------------------------------------------------- figures


def test_figures_of_the_variants():
    from nbsrc import plotting

    measures = pd.DataFrame(
        [(0, layer, n, q, 0.1 * n) for layer in (1, 2) for n in range(4) for q in C9_QUANTITIES],
        columns=["seed", "layer", "neuron", "quantity", "value"],
    )
    fig = plotting.plot_variant_distributions({"none": measures, "batch norm": measures})
    assert len(fig.axes) == 4 * 2 and fig.axes[1].get_title() == "H · layer 2"
    curves = pd.DataFrame(
        {
            "seed": 0,
            "scope": ["network"] * 4 + ["layer 1"] * 4,
            "direction": "random",
            "fraction": [0.0, 1.0, 0.0, 1.0] * 2,
            "accuracy": [0.9, 0.1, 0.7, 0.1] * 2,
        }
    )
    fig = plotting.plot_random_curves({"none": curves, "dropout 0.2": curves.assign(accuracy=0.5)})
    line = next(x for x in fig.axes[0].lines if x.get_gid() == "none/network")
    assert list(line.get_ydata()) == pytest.approx([80.0, 10.0])  # the mean over random orders, in percent
    styles = {h.get_label(): h.get_linestyle() for h in fig.legends[0].legend_handles}
    assert styles == {"none": "-", "dropout 0.2": "--"}  # a line style per variant, not the colour alone
    assert next(x for x in fig.axes[0].lines if x.get_gid() == "dropout 0.2/network").get_linestyle() == "--"
    points = pd.DataFrame(
        {
            "dataset": ["MNIST"] * 3 + ["CIFAR-10"] * 3,
            "chapter": ["book", "regularisers", "regularisers"] * 2,
            "test_accuracy": [0.9, 0.8, 0.7, 0.5, 0.6, 0.4],
            "relative_network_auc": [0.3, 0.2, 0.1, 0.1, 0.2, 0.3],
        }
    )
    fig = plotting.plot_accuracy_robustness(points, hue="chapter", panel="dataset")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["MNIST\nρ = +1.00, 3 networks", "CIFAR-10\nρ = -0.50, 3 networks"]
    markers = {h.get_label(): h.get_marker() for h in fig.legends[0].legend_handles}
    assert markers == {"book": "o", "regularisers": "s"}  # a marker per chapter, not the colour alone
    with raises_with("scope"):
        plotting.plot_random_curves({"none": curves}, ["layer 3"])


def test_cli_checks_the_regularisers_parameters_before_training(capsys):
    from nbsrc.__main__ import main

    assert (
        main(["chapter", "mnist", "--template", "regularisers", "--variants", '["none", "dropout 0.3"]']) == 2
    )
    assert "invalid variants='dropout 0.3'" in capsys.readouterr().err
