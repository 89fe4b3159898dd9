"""nbsrc.report: number formatting, tables (NaN cases included), worked examples, result files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import gains_table

from nbsrc import report
from nbsrc.vocabulary import QUANTITIES, SHORT, TITLES


@pytest.mark.parametrize(
    ("x", "digits", "signed", "expected"),
    [
        (-0.0001, 3, False, "0.000"),
        (-0.0004, 3, True, "+0.000"),
        (-0.0, 2, False, "0.00"),
        (0.1234, 3, False, "0.123"),
        (-0.1236, 3, True, "-0.124"),
        (0.0005, 3, True, "+0.001"),
        (12.345, 1, False, "12.3"),
    ],
)
def test_num_never_prints_minus_zero(x, digits, signed, expected):
    assert report.num(x, digits, signed) == expected


def test_pm_formats_mean_and_std_and_a_single_seed():
    assert report.pm(0.5, 0.0123) == "0.500 ± 0.012"
    assert report.pm(-0.00001, float("nan"), signed=True) == "+0.000 ± 0.000"


def thresholds_frame(values: dict[tuple[str, str], list[float]]) -> pd.DataFrame:
    """An auc table of one scope with given per-seed threshold fractions (and AUC = 0.5 + seed / 10)."""
    rows = []
    for (quantity, direction), per_seed in values.items():
        for seed, value in enumerate(per_seed):
            rows.append(
                {
                    "seed": seed,
                    "scope": "network",
                    "quantity": quantity,
                    "direction": direction,
                    "order": 0,
                    "auc": 0.5 + seed / 10,
                    "threshold_fraction": value,
                }
            )
    return pd.DataFrame(rows)


def cells(markdown: str) -> dict[str, str]:
    """Row label -> the first data cell of a one-column Markdown table."""
    lines = [line for line in markdown.splitlines()[2:] if line.strip()]
    return {parts[1].strip(): parts[2].strip() for parts in (line.split("|") for line in lines)}


def test_auc_table_says_never_and_counts_the_seeds_that_cross():
    frame = thresholds_frame(
        {
            ("entropy", "ascending"): [np.nan, np.nan, np.nan],
            ("entropy", "descending"): [0.1, np.nan, 0.3],
            ("csi", "ascending"): [0.2, 0.4, 0.6],
        }
    )
    table = cells(report.auc_table(frame, "threshold_fraction"))
    assert table["H ascending"] == "never"  # not "0.000 ± 0.000", which would read as an immediate collapse
    assert table["H descending"] == f"0.200 ± {np.std([0.1, 0.3], ddof=1):.3f} (2 of 3 seeds)"
    assert table["CSI ascending"] == "0.400 ± 0.200"


def test_auc_table_averages_random_orders_within_a_seed_first():
    frame = thresholds_frame({("entropy", "ascending"): [0.1, 0.2]})
    random = pd.DataFrame(
        {
            "seed": [0, 0, 1, 1],
            "scope": "network",
            "quantity": "random",
            "direction": "random",
            "order": [0, 1, 0, 1],
            "auc": [0.2, 0.4, 0.6, 1.0],
            "threshold_fraction": np.nan,
        }
    )
    table = cells(report.auc_table(pd.concat([frame, random]), "auc"))
    seed_means = [0.3, 0.8]
    assert table["random (mean of orders)"] == f"{np.mean(seed_means):.3f} ± {np.std(seed_means, ddof=1):.3f}"


def test_worked_examples_equal_the_hand_values():
    rows = [line.split("|")[1:-1] for line in report.worked_examples().splitlines()[2:]]
    values = {row[0].strip(): [cell.strip() for cell in row[1:5]] for row in rows}
    assert values["equal to the class (4 values)"][:3] == ["2.000", "2.000", "2.000"]
    assert values["constant"][:3] == ["0.000", "0.000", "0.000"]  # no "-0.000"
    assert values["independent of the class (binary)"][:3] == ["1.000", "0.000", "0.000"]
    # CSI of the neuron equal to the class: mu = (0, 1, 2, 3), (3 - 1) / (3 + 1)
    assert values["equal to the class (4 values)"][3] == "0.500"
    assert "-0.000" not in report.worked_examples()


def test_result_files_round_trip(tmp_path):
    claims = pd.DataFrame(
        {"claim": ["C1", "C2"], "paper": ["p1", "p2"], "measured": ["m1", "m2"], "verdict": ["agrees", "n/a"]}
    )
    for dataset in ("mnist", "cifar10"):
        claims.assign(dataset=dataset).to_csv(tmp_path / f"{dataset}-claims.csv", index=False)
    joined = report.join_results(["mnist", "cifar10"], tmp_path, "claims")
    assert list(joined.dataset) == ["mnist", "mnist", "cifar10", "cifar10"]
    matrix = report.verdict_matrix(joined)
    assert list(matrix.index) == ["C1", "C2"]
    assert list(matrix.columns) == ["the paper's claim", "MNIST", "CIFAR-10"]
    assert matrix.loc["C2", "CIFAR-10"] == "n/a"
    with pytest.raises(FileNotFoundError, match="fashion_mnist"):
        report.join_results(["fashion_mnist"], tmp_path, "claims")
    with pytest.raises(ValueError, match="invalid kind='curves'"):
        report.join_results(["mnist"], tmp_path, "curves")
    assert list(report.with_titles(joined).dataset.unique()) == [TITLES["mnist"], TITLES["cifar10"]]
    kinds = pd.DataFrame({"dataset": "mnist", "chapter": ["book", "raw_constant", "paper", "regularisers"]})
    assert report.with_titles(kinds).chapter.tolist() == [
        "book's recipe", "raw inputs, constant LR", "paper's setting", "regularisers"
    ]  # fmt: skip


def test_bias_balancing_table_shows_mean_and_std_per_order():
    lines = report.bias_balancing_table(gains_table()).splitlines()
    assert len(lines) == 2 + len(QUANTITIES)  # header, rule, one row per quantity (one scope)
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["scope", "quantity", "ascending", "descending", "random orders"]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [row[1] for row in rows] == [SHORT[q] for q in QUANTITIES]
    mi = rows[1]  # MI: ascending +0.02 and +0.04, descending -0.02 and 0.0 over the two seeds
    assert mi[2] == report.pm(0.03, np.std([0.02, 0.04], ddof=1), signed=True)
    assert mi[3] == report.pm(-0.01, np.std([-0.02, 0.0], ddof=1), signed=True)
    assert rows[0][4] == report.pm(0.06, np.std([0.05, 0.07], ddof=1), signed=True)
    assert all(row[4] == "" for row in rows[1:])


def _claims(verdicts: list[str], prefix: str = "") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "claim": ["C1", "C2", "C1", "C2"],
            "paper": ["p1", "p2", "p1", "p2"],
            "verdict": verdicts,
            "dataset": [f"{prefix}mnist", f"{prefix}mnist", f"{prefix}cifar10", f"{prefix}cifar10"],
        }
    )


def test_base_dataset_takes_the_longest_dataset_a_result_name_ends_with():
    assert report.base_dataset("mnist") == "mnist"
    assert report.base_dataset("paper_mnist") == "mnist"
    assert report.base_dataset("raw_constant_fashion_mnist") == "fashion_mnist"
    with pytest.raises(ValueError, match="result name"):
        report.base_dataset("paper_svhn")


def test_recipe_matrix_puts_every_recipes_verdict_side_by_side():
    tables = {
        "book": _claims(["agrees", "partly", "agrees", "n/a"]),
        "raw_constant": _claims(["agrees", "agrees", "disagrees", "n/a"], "raw_constant_"),
        "paper_v1": _claims(["agrees", "disagrees", "partly", "agrees"], "paper_"),
    }
    matrix = report.recipe_matrix(tables)
    assert list(matrix.index) == ["C1", "C2"]
    assert list(matrix.columns) == ["the paper's claim", "MNIST", "CIFAR-10"]
    assert matrix.loc["C2", "MNIST"] == "partly / agrees / disagrees"
    assert matrix.loc["C1", "CIFAR-10"] == "agrees / disagrees / partly"
    assert matrix.loc["C2", "the paper's claim"] == "p2"


def test_recipe_verdicts_keep_only_what_every_recipe_judged():
    paper = _claims(["agrees", "disagrees", "partly", "agrees"], "paper_").iloc[:3]  # no C2 on CIFAR-10
    verdicts = report.recipe_verdicts({"book": _claims(["agrees"] * 4), "paper_v1": paper})
    assert list(zip(verdicts.claim, verdicts.dataset, strict=True)) == [
        ("C1", "mnist"),
        ("C1", "cifar10"),
        ("C2", "mnist"),
    ]
    assert list(verdicts.paper_v1) == ["agrees", "partly", "disagrees"]


def test_damage_table_gives_mean_and_std_per_scope():
    table = pd.DataFrame(
        {
            "seed": [0, 1, 0, 1],
            "scope": ["layer 1", "layer 1", "network", "network"],
            "quantity": "entropy",
            "rho": [0.2, 0.4, -0.1, 0.1],
        }
    )
    lines = report.damage_table(table).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["quantity", "network", "layer 1"]
    network = report.pm(0.0, np.std([-0.1, 0.1], ddof=1), 2, signed=True)
    layer = report.pm(0.3, np.std([0.2, 0.4], ddof=1), 2, signed=True)
    assert [c.strip() for c in lines[2].strip("|").split("|")] == [SHORT["entropy"], network, layer]
    assert len(lines) == 3


def test_damage_summary_names_the_best_quantity_per_dataset_and_scope():
    rows = [
        ("mnist", "network", "entropy", [0.1, 0.3]),
        ("mnist", "network", "csi", [0.5, 0.5]),
        ("mnist", "layer 1", "entropy", [0.6, 0.8]),
        ("mnist", "layer 1", "csi", [0.0, 0.2]),
        ("cifar10", "network", "entropy", [0.9, 0.7]),
        ("cifar10", "network", "csi", [0.1, 0.1]),
    ]
    table = pd.DataFrame(
        [
            {"dataset": d, "scope": s, "quantity": q, "seed": i, "rho": r}
            for d, s, q, rhos in rows
            for i, r in enumerate(rhos)
        ]
    )
    summary = report.damage_summary(table)
    assert list(summary.index) == ["MNIST", "CIFAR-10"] and list(summary.columns) == ["network", "layer 1"]
    assert summary.loc["MNIST", "network"] == f"{SHORT['csi']} {report.pm(0.5, 0.0, 2, signed=True)}"
    assert (
        summary.loc["MNIST", "layer 1"]
        == f"{SHORT['entropy']} {report.pm(0.7, np.std([0.6, 0.8], ddof=1), 2, signed=True)}"
    )
    assert summary.loc["CIFAR-10", "layer 1"] == ""


def indicator_rows(values: dict[str, tuple[float, float, bool]]) -> pd.DataFrame:
    """Network-scope indicator rows: quantity -> (asc gap, desc gap, good), std 0.01."""
    return pd.DataFrame(
        [
            {"scope": "network", "quantity": q, "asc_gap_mean": a, "asc_gap_std": 0.01, "desc_gap_mean": d,
             "desc_gap_std": 0.01, "good": good}
            for q, (a, d, good) in values.items()
        ]
    )  # fmt: skip


def test_ranked_table_puts_raw_and_ranked_gaps_side_by_side():
    raw = indicator_rows({"entropy": (-0.05, 0.1, False), "csi": (0.02, 0.3, True)})
    ranked = indicator_rows({"entropy": (0.04, 0.2, True), "csi": (0.01, 0.25, False)})
    lines = report.ranked_table(raw, ranked).splitlines()
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert cells[0] == [
        "quantity", "asc − random, raw", "asc − random, ranked", "random − desc, raw",
        "random − desc, ranked", "good: raw / ranked",
    ]  # fmt: skip
    assert cells[2] == [
        "H",
        "-0.050 ± 0.010",
        "+0.040 ± 0.010",
        "+0.100 ± 0.010",
        "+0.200 ± 0.010",
        "no / yes",
    ]
    assert cells[3] == [
        "CSI",
        "+0.020 ± 0.010",
        "+0.010 ± 0.010",
        "+0.300 ± 0.010",
        "+0.250 ± 0.010",
        "yes / no",
    ]


def test_redundancy_table_signs_every_value_and_stars_the_significant():
    labels = pd.DataFrame(
        {"scope": ["layer 1"], "layer": [1], "quantity": ["mutual_information"], "redundancy": [True],
         "synergy": [False], "label": ["redundancy"]}
    )  # fmt: skip
    contrasts = pd.DataFrame(
        [
            {"scope": "layer 1", "quantity": "mutual_information", "group": "top", "synergy_mean": -0.0123,
             "synergy_p": 0.001, "interaction_mean": 0.0004, "interaction_p": 0.3},
            {"scope": "layer 1", "quantity": "mutual_information", "group": "bottom", "synergy_mean": 0.002,
             "synergy_p": 0.6, "interaction_mean": -0.0001, "interaction_p": 0.01},
        ]
    )  # fmt: skip
    lines = report.redundancy_table(labels, contrasts).splitlines()
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    # differences to random pairs: synergy in bits, interaction in accuracy points (x 100)
    assert cells == ["1", "MI", "redundancy", "-0.0123*", "+0.040", "+0.0020", "-0.010*"]
