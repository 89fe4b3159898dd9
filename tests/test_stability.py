"""nbsrc.stability: every claim judged again with one seed left out, checked against hand-worked judges and
against claims_table called by hand on the tables without each seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from test_claims import GOOD, auc_frame, disjoint, measures_frame
from test_redundancy import labelled_auc, pairs_table

import nbsrc.claims as claims_module
from nbsrc.claims import claim_c8, claims_table
from nbsrc.redundancy import curve_labels, label_checks, pair_contrasts
from nbsrc.stability import (
    STABILITY,
    STABLE,
    UNJUDGED,
    is_borderline,
    judge_with_stability,
    marked_verdicts,
    seeds_in,
    stability_words,
    without_seed,
)
from nbsrc.vocabulary import INDICATOR_QUANTITIES


@dataclass(frozen=True)
class Run:
    label: str
    table: pd.DataFrame
    settings: dict


def values(seeds: dict[int, float], claim: str = "A") -> pd.DataFrame:
    return pd.DataFrame({"seed": list(seeds), "claim": claim, "value": list(seeds.values())})


def positive_judge(table: pd.DataFrame) -> pd.DataFrame:
    """Per claim: "agrees" when every seed's value is positive, "partly" when the mean is, else
    "disagrees"."""
    rows = []
    for claim, group in table.groupby("claim", sort=False):
        verdict = "agrees" if (group.value > 0).all() else "partly" if group.value.mean() > 0 else "disagrees"
        rows.append({"claim": claim, "verdict": verdict})
    return pd.DataFrame(rows)


def test_seeds_and_without_seed_reach_every_table_and_leave_the_rest_alone():
    table = values({0: 1.0, 1: 2.0, 2: 3.0})
    no_seed = pd.DataFrame({"x": [1, 2]})
    nested = {"runs": [Run("a", table, {"k": 1}), Run("b", values({5: 1.0}), {})], "plain": (no_seed, 7, "s")}
    assert seeds_in(nested) == {0, 1, 2, 5}
    dropped = without_seed(nested, 1)
    assert dropped["runs"][0].table.seed.tolist() == [0, 2]
    assert dropped["runs"][0].table.value.tolist() == [1.0, 3.0]
    assert dropped["runs"][0].label == "a" and dropped["runs"][0].settings == {"k": 1}
    assert dropped["runs"][1].table.seed.tolist() == [5]
    assert dropped["plain"][0] is no_seed and dropped["plain"][1:] == (7, "s")
    assert isinstance(dropped["plain"], tuple) and isinstance(dropped["runs"], list)
    assert table.seed.tolist() == [0, 1, 2]  # the original is not changed
    assert seeds_in((no_seed, 3)) == set()


def test_stability_words():
    assert stability_words("agrees", {0: "agrees", 1: "agrees"}) == STABLE
    assert stability_words("agrees", {2: "partly", 0: "agrees", 1: "n/a"}) == (
        "without seed 1: n/a; without seed 2: partly"
    )


def test_a_verdict_that_one_seed_decides_is_borderline():
    # A: seed 2 is negative, so not every seed is positive but the mean is ("partly"); without seed 2 every
    # remaining seed is ("agrees"), without seed 0 or 1 the mean is no longer positive ("disagrees")
    # B: positive in every seed, whichever is left out
    table = pd.concat([values({0: 1.0, 1: 1.0, 2: -1.5}), values({0: 1.0, 1: 2.0, 2: 3.0}, "B")])
    judged = judge_with_stability(positive_judge, table)
    assert judged.verdict.tolist() == ["partly", "agrees"]
    assert judged[STABILITY].tolist() == [
        "without seed 0: disagrees; without seed 1: disagrees; without seed 2: agrees",
        STABLE,
    ]
    assert is_borderline(judged).tolist() == [True, False]
    assert marked_verdicts(judged).verdict.tolist() == ["partly†", "agrees"]
    assert judged.verdict.tolist() == ["partly", "agrees"]  # marking copies


def test_keys_match_rows_whatever_the_order_the_judge_returns_them_in():
    def reversed_judge(table: pd.DataFrame, *, scale: float) -> pd.DataFrame:
        judged = positive_judge(table.assign(value=table.value * scale))
        return judged.iloc[::-1].assign(part=judged.claim.str.lower())

    table = pd.concat([values({0: 1.0, 1: 1.0, 2: -1.5}), values({0: 1.0, 1: 2.0, 2: 3.0}, "B")])
    judged = judge_with_stability(reversed_judge, table, keys=("claim", "part"), scale=2.0)
    assert judged.claim.tolist() == ["B", "A"]
    assert judged[STABILITY].tolist()[0] == STABLE
    assert judged[STABILITY].tolist()[1].endswith("without seed 2: agrees")


def test_fewer_than_three_seeds_are_not_judged_again():
    judged = judge_with_stability(positive_judge, values({0: 1.0, 1: -5.0}))
    assert judged[STABILITY].tolist() == [UNJUDGED]
    assert not is_borderline(judged).any()
    assert marked_verdicts(judged).verdict.tolist() == judged.verdict.tolist()


def test_claims_table_judged_again_equals_claims_table_on_each_seed_subset():
    """C1 agrees on all three seeds (no quantity is good over the network in every seed: MI is good in
    seeds 0 and 1 only); with seed 2 left out MI is good in every remaining seed, so C1 reads "partly".
    Brute force: claims_table called on the tables filtered by hand."""

    def ordered(seed, scope, quantity):
        return GOOD if quantity == "mutual_information" and seed < 2 else (0.0, 0.0)

    auc = auc_frame(ordered)
    measures = measures_frame(disjoint, seeds=(0, 1, 2))
    judged = judge_with_stability(claims_table, auc, measures, "relu").set_index("claim")
    full = claims_table(auc, measures, "relu").set_index("claim")
    assert judged.verdict.equals(full.verdict)
    assert judged.loc["C1", "verdict"] == "agrees"
    for claim in full.index:
        expected = {
            seed: claims_table(auc[auc.seed != seed], measures[measures.seed != seed], "relu")
            .set_index("claim")
            .loc[claim, "verdict"]
            for seed in (0, 1, 2)
        }
        assert judged.loc[claim, STABILITY] == stability_words(full.loc[claim, "verdict"], expected), claim
    assert judged.loc["C1", STABILITY] == "without seed 2: partly"


def every_group_pairs() -> pd.DataFrame:
    """The hand-built pairs (test_redundancy), with every (layer, quantity, group) they lack taken from the
    random pairs of the same seed and layer, so that any curve label has its contrast."""
    pairs = pairs_table()
    random = pairs[pairs.group == "random"]
    have = set(zip(pairs.layer, pairs.quantity, pairs.group, strict=True))
    extra = [
        random[random.layer == layer].assign(quantity=quantity, group=group)
        for layer in sorted(set(pairs.layer))
        for quantity in INDICATOR_QUANTITIES
        for group in ("top", "bottom")
        if (layer, quantity, group) not in have
    ]
    return pd.concat([pairs, *extra], ignore_index=True)


def test_claims_table_judges_c8_from_the_pairs():
    auc, pairs = labelled_auc(), every_group_pairs()
    measures = measures_frame(disjoint, seeds=(0, 1, 2))
    labels = curve_labels(auc)
    expected = claim_c8(labels, label_checks(labels, pair_contrasts(pairs)))
    row = claims_table(auc, measures, "relu", pairs=pairs).set_index("claim").loc["C8"]
    assert {k: row[k] for k in expected} == expected
    assert "C8" not in set(claims_table(auc, measures, "relu").claim)
    judged = judge_with_stability(claims_table, auc, measures, "relu", pairs=pairs).set_index("claim")
    for seed in (0, 1, 2):
        kept = curve_labels(auc[auc.seed != seed])
        alone = claim_c8(kept, label_checks(kept, pair_contrasts(pairs[pairs.seed != seed])))["verdict"]
        cell = judged.loc["C8", STABILITY]
        assert (f"without seed {seed}: {alone}" in cell) == (alone != row.verdict)


class Pair(NamedTuple):
    left: pd.DataFrame
    right: int


@dataclass
class Derived:
    table: pd.DataFrame
    rows: int = field(init=False)

    def __post_init__(self) -> None:
        self.rows = len(self.table)


def test_without_seed_keeps_namedtuples_fields_set_by_the_class_and_string_seeds():
    pair = without_seed(Pair(values({0: 1.0, 1: 2.0, 2: 3.0}), 5), 2)
    assert isinstance(pair, Pair) and pair.right == 5 and pair.left.seed.tolist() == [0, 1]
    derived = without_seed(Derived(values({0: 1.0, 1: 2.0, 2: 3.0})), 0)
    assert derived.table.seed.tolist() == [1, 2] and derived.rows == 2
    named = values({0: 1.0, 1: 2.0, 2: -3.0}).assign(seed=["a", "b", "c"])
    assert seeds_in(named) == {"a", "b", "c"}
    assert without_seed(named, "c").seed.tolist() == ["a", "b"]
    # all three: mean 0, "disagrees"; only without "c" (the negative seed) does it change
    assert judge_with_stability(positive_judge, named)[STABILITY].tolist() == ["without seed c: agrees"]


def test_keys_must_name_one_row_and_a_row_missing_without_a_seed_is_said_so():
    table = values({0: 1.0, 1: 1.0, 2: 1.0})
    with pytest.raises(ValueError, match="keys"):
        judge_with_stability(lambda t: pd.concat([positive_judge(t)] * 2), table)

    def judge_seed_2(t: pd.DataFrame) -> pd.DataFrame:  # a claim judged only when seed 2 is there
        judged = positive_judge(t)
        return judged if 2 in set(t.seed) else judged.iloc[:0]

    assert judge_with_stability(judge_seed_2, table)[STABILITY].tolist() == ["without seed 2: not judged"]


def test_an_empty_stability_cell_is_not_borderline():
    joined = pd.concat([pd.DataFrame({"claim": ["C1"], "verdict": ["agrees"]}), values({0: 1.0})])
    joined = joined.assign(**{STABILITY: [np.nan, "without seed 0: partly"]})
    assert is_borderline(joined).tolist() == [False, True]


def test_c8_is_judged_again_on_the_pairs_without_each_seed(monkeypatch):
    """claims_table hands C8's pair tests the pairs without the left-out seed (recorded by a spy)."""
    seen = []

    def spy(pairs: pd.DataFrame) -> pd.DataFrame:
        seen.append(tuple(sorted(set(pairs.seed))))
        return pair_contrasts(pairs)

    monkeypatch.setattr(claims_module, "pair_contrasts", spy)
    auc, pairs = labelled_auc(), every_group_pairs()
    judge_with_stability(claims_table, auc, measures_frame(disjoint, seeds=(0, 1, 2)), "relu", pairs=pairs)
    assert seen == [(0, 1, 2), (1, 2), (0, 2), (0, 1)]
