"""Tests for nbsrc.redundancy (curve labels, pair sampling, pair tests and their contrasts) and the claims
built on them (C8, C3e)."""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

import nbsrc.redundancy as redundancy_mod
from nbsrc.ablation import ablation_values
from nbsrc.analysis import AnalysisSettings, neuron_damage, run_chapter
from nbsrc.claims import claim_c3e, claim_c8, indicator_table
from nbsrc.measures import pair_synergy
from nbsrc.quantize import quantize
from nbsrc.redundancy import (
    ALPHA,
    GROUP_FRACTION,
    PAIRS_VERSION,
    PREDICTIONS,
    curve_labels,
    label_checks,
    pair_contrasts,
    pair_test_outcome,
    pair_tests,
    sample_pairs,
)
from nbsrc.train import TrainConfig, config_splits, train_or_load
from nbsrc.vocabulary import INDICATOR_QUANTITIES, QUANTITIES, VERDICTS

pytestmark = pytest.mark.usefixtures("one_thread")

AUC_COLUMNS = ["seed", "scope", "quantity", "direction", "order", "auc", "threshold_fraction"]
PAIR_COLUMNS = ["seed", "layer", "quantity", "group", "i", "j", "synergy", "interaction"]
OFFSETS = np.linspace(-0.1, 0.1, 21)  # the random orders' AUC around a centre: band (-0.09, +0.09)


def auc_table(ordered, seeds=(0, 1, 2), scopes=("network", "layer 1", "layer 2")) -> pd.DataFrame:
    """A chapter's AUC table: ``ordered(seed, scope, quantity) -> (asc, desc)`` relative to the centre of
    the scope's random orders (a different centre per seed and scope, the offsets shuffled)."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in seeds:
        for s, scope in enumerate(scopes):
            centre = 0.5 + 0.07 * seed + 0.03 * s
            for quantity in QUANTITIES:
                asc, desc = ordered(seed, scope, quantity)
                rows.append((seed, scope, quantity, "ascending", 0, centre + asc, 0.5))
                rows.append((seed, scope, quantity, "descending", 0, centre + desc, 0.5))
            for order, offset in enumerate(rng.permutation(OFFSETS)):
                rows.append((seed, scope, "random", "random", order, centre + offset, 0.4))
    return pd.DataFrame(rows, columns=AUC_COLUMNS)


# ------------------------------------------------------------------------------------------ curve labels

# (scope, quantity) -> per seed (asc, desc) relative to the random centre; the band is (-0.09, +0.09)
LABEL_CASES = {
    ("layer 1", "entropy"): [(0.0, 0.15), (0.01, 0.12), (-0.02, 0.2)],  # descending above: redundancy
    ("layer 1", "mutual_information"): [(-0.15, 0.0), (-0.12, 0.05), (-0.3, -0.05)],  # synergy
    ("layer 1", "kl_selectivity"): [(-0.15, 0.15), (-0.11, 0.1), (-0.2, 0.13)],  # both
    ("layer 1", "csi"): [(0.0, 0.0), (0.05, -0.05), (-0.08, 0.08)],  # neither
    ("layer 2", "entropy"): [(0.0, 0.15), (0.0, 0.15), (0.0, 0.05)],  # redundancy in 2 of 3 seeds only
    ("layer 2", "mutual_information"): [(-0.15, 0.0), (-0.05, 0.0), (-0.15, 0.0)],  # synergy in 2 of 3
    ("layer 2", "kl_selectivity"): [(-0.15, 0.15), (-0.15, 0.15), (0.0, 0.0)],  # both in 2 of 3: neither
    ("layer 2", "csi"): [(-0.1, 0.1), (-0.1, 0.1), (-0.1, 0.1)],  # both, just outside the band
}
EXPECTED_LABELS = {
    ("layer 1", "entropy"): "redundancy",
    ("layer 1", "mutual_information"): "synergy",
    ("layer 1", "kl_selectivity"): "both",
    ("layer 1", "csi"): "neither",
    ("layer 2", "entropy"): "neither",
    ("layer 2", "mutual_information"): "neither",
    ("layer 2", "kl_selectivity"): "neither",
    ("layer 2", "csi"): "both",
}


def labelled_auc() -> pd.DataFrame:
    def ordered(seed, scope, quantity):
        if scope == "network" or quantity == "weight_norm":
            return (-0.3, 0.3)  # far outside the band, but neither the network nor the weight norm counts
        return LABEL_CASES[(scope, quantity)][seed]

    return auc_table(ordered)


def test_curve_labels_by_hand():
    auc = labelled_auc()
    table = curve_labels(auc)
    assert list(table.columns) == [
        "scope", "layer", "quantity", "desc_excess_mean", "desc_excess_std", "asc_deficit_mean",
        "asc_deficit_std", "redundancy", "synergy", "label",
    ]  # fmt: skip
    # one row per layer and indicator quantity, layer by layer in the book's quantity order
    assert list(zip(table.scope, table.quantity, strict=True)) == list(LABEL_CASES)
    assert list(table.layer) == [1] * 4 + [2] * 4
    for r in table.itertuples():
        excess, deficit = [], []
        for seed in (0, 1, 2):
            rows = auc[(auc.seed == seed) & (auc.scope == r.scope)]
            random = rows[rows.direction == "random"].auc.to_numpy()
            lo, hi = np.quantile(random, 0.05), np.quantile(random, 0.95)
            ordered = rows[rows.quantity == r.quantity].set_index("direction").auc
            excess.append(ordered["descending"] - hi)
            deficit.append(lo - ordered["ascending"])
        assert r.desc_excess_mean == pytest.approx(np.mean(excess), abs=1e-12)
        assert r.desc_excess_std == pytest.approx(np.std(excess, ddof=1), abs=1e-12)
        assert r.asc_deficit_mean == pytest.approx(np.mean(deficit), abs=1e-12)
        assert r.asc_deficit_std == pytest.approx(np.std(deficit, ddof=1), abs=1e-12)
        assert r.redundancy == all(e > 0 for e in excess)
        assert r.synergy == all(d > 0 for d in deficit)
        assert r.label == EXPECTED_LABELS[(r.scope, r.quantity)], (r.scope, r.quantity)


def test_curve_labels_single_seed_has_zero_spread_and_needs_random_rows():
    auc = labelled_auc()
    table = curve_labels(auc[auc.seed == 2])
    assert (table.desc_excess_std == 0).all() and (table.asc_deficit_std == 0).all()
    labels = dict(zip(zip(table.scope, table.quantity, strict=True), table.label, strict=True))
    assert labels[("layer 2", "entropy")] == "neither"  # seed 2's descending is inside the band
    assert labels[("layer 2", "kl_selectivity")] == "neither"
    assert labels[("layer 1", "entropy")] == "redundancy"
    with pytest.raises(ValueError, match="random"):
        curve_labels(auc[auc.direction != "random"])


# ------------------------------------------------------------------------------------------ sample_pairs


def assert_valid_pairs(pairs: np.ndarray, pool) -> None:
    assert pairs.ndim == 2 and pairs.shape[1] == 2
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len({tuple(p) for p in pairs.tolist()}) == len(pairs)  # distinct
    assert set(pairs.ravel().tolist()) <= set(pool)


def test_sample_pairs_top_and_bottom_quarters_with_ties_by_index():
    scores = np.array([5.0, 1.0, 5.0, 3.0, 9.0, 5.0, 0.0, 1.0, 2.0, 7.0, 5.0, 0.0])  # 12: quarters of 3
    rng = np.random.default_rng(0)
    top = sample_pairs(scores, "top", 10, rng)
    assert top.tolist() == [[0, 4], [0, 9], [4, 9]]  # 9 (4), 7 (9), then the first of the 5s (0)
    bottom = sample_pairs(scores, "bottom", 10, rng)
    assert bottom.tolist() == [[1, 6], [1, 11], [6, 11]]  # 0 (6), 0 (11), then the first 1 (1)
    ties = np.array([2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    assert sample_pairs(ties, "top", 5, rng).tolist() == [[0, 1]]
    assert sample_pairs(ties, "bottom", 5, rng).tolist() == [[4, 5]]
    # at least two neurons: a layer of three has one pair in each group
    assert sample_pairs(np.array([0.3, 0.1, 0.2]), "top", 5, rng).tolist() == [[0, 2]]
    assert sample_pairs(np.array([0.3, 0.1, 0.2]), "bottom", 5, rng).tolist() == [[1, 2]]


@pytest.mark.parametrize("group", ["top", "bottom"])
def test_sample_pairs_draws_n_pairs_from_the_pool(group):
    rng = np.random.default_rng(5)
    scores = rng.normal(size=40)
    size = math.ceil(GROUP_FRACTION * 40)
    by_rank = sorted(range(40), key=lambda i: (-scores[i] if group == "top" else scores[i], i))
    pool = by_rank[:size]
    assert size == 10  # 45 pairs in the pool
    pairs = sample_pairs(scores, group, 20, np.random.default_rng(1))
    assert len(pairs) == 20
    assert_valid_pairs(pairs, pool)
    # reproducible with the same seed, other pairs with another
    np.testing.assert_array_equal(sample_pairs(scores, group, 20, np.random.default_rng(1)), pairs)
    assert not np.array_equal(sample_pairs(scores, group, 20, np.random.default_rng(2)), pairs)
    # the whole pool when it has at most n_pairs pairs, each pair once
    for n_pairs in (45, 46, 1000):
        every = sample_pairs(scores, group, n_pairs, np.random.default_rng(1))
        assert {tuple(p) for p in every.tolist()} == set(combinations(sorted(pool), 2))
        assert len(every) == 45
    assert len(sample_pairs(scores, group, 44, np.random.default_rng(1))) == 44


def test_sample_pairs_random_group_and_uniform_draws():
    rng = np.random.default_rng(3)
    pairs = sample_pairs(None, "random", 50, rng, n=30)
    assert len(pairs) == 50
    assert_valid_pairs(pairs, range(30))
    assert pairs.max() > 25 and pairs.min() < 4  # drawn from the whole layer, not a quarter of it
    every = sample_pairs(None, "random", 10, rng, n=5)
    assert sorted(map(tuple, every.tolist())) == list(combinations(range(5), 2))
    assert len(sample_pairs(None, "random", 9, rng, n=5)) == 9
    # without n, the layer's size is that of the scores
    every = sample_pairs(np.zeros(4), "random", 100, rng)
    assert every.tolist() == [list(p) for p in combinations(range(4), 2)]
    # every pair of the pool is equally likely: 20 of 45 pairs, 2000 draws
    counts = np.zeros((10, 10))
    for seed in range(2000):
        for i, j in sample_pairs(None, "random", 20, np.random.default_rng(seed), n=10):
            counts[i, j] += 1
    frequencies = counts[np.triu_indices(10, 1)] / 2000
    assert np.abs(frequencies - 20 / 45).max() < 0.05


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (("middle", 10), "group"),
        (("Top", 10), "group"),
        (("top", 0), "n_pairs"),
        (("top", 2.5), "n_pairs"),
        (("random", -1), "n_pairs"),
    ],
)
def test_sample_pairs_rejects_bad_arguments(args, name):
    group, n_pairs = args
    with pytest.raises(ValueError, match=rf"invalid {name}="):
        sample_pairs(np.arange(8.0), group, n_pairs, np.random.default_rng(0))


# --------------------------------------------------------------------------- contrasts, outcomes, checks

SEEDS = (0, 1, 2)
PER_SEED = 12  # pairs per group, seed and layer


def pairs_table() -> pd.DataFrame:
    """Pairs whose groups are shifted against the random pairs of the same seed and layer (known signs):

    * layer 1 entropy top: synergy lower, interaction higher (what redundancy predicts);
    * layer 1 entropy bottom: synergy higher (as synergy predicts), interaction higher (against it);
    * layer 1 csi top: synergy higher (against redundancy), interaction higher (for it);
    * layer 2 entropy top: synergy lower; every interaction of layer 2 is 0 (no difference);
    * layer 2 csi top: the same values as the random pairs of each seed (no difference at all).
    """
    rng = np.random.default_rng(11)
    rows = []

    def add(seed, layer, quantity, group, synergy, interaction):
        i = rng.integers(0, 20, len(synergy))
        for a, b, s, d in zip(i, i + 1 + rng.integers(0, 5, len(i)), synergy, interaction, strict=True):
            rows.append((seed, layer, quantity, group, int(a), int(b), float(s), float(d)))

    shifts = {
        (1, "entropy", "top"): (-0.05, 0.02),
        (1, "entropy", "bottom"): (0.05, 0.02),
        (1, "csi", "top"): (0.05, 0.02),
        (2, "entropy", "top"): (-0.05, 0.0),
    }
    for seed in SEEDS:
        for layer in (1, 2):
            scale = 0.0 if layer == 2 else 0.005
            random_synergy = rng.normal(0.01 * seed, 0.01, PER_SEED)
            random_interaction = rng.normal(0.0, scale, PER_SEED)
            add(seed, layer, "random", "random", random_synergy, random_interaction)
            for (where, quantity, group), (ds, di) in shifts.items():
                if where == layer:
                    synergy = rng.normal(0.01 * seed + ds, 0.01, PER_SEED)
                    add(seed, layer, quantity, group, synergy, rng.normal(di, scale, PER_SEED))
            if layer == 2:
                add(seed, 2, "csi", "top", random_synergy[::-1], random_interaction)
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def test_pair_contrasts_equal_per_seed_means_and_pooled_mann_whitney():
    pairs = pairs_table()
    contrasts = pair_contrasts(pairs)
    assert list(contrasts.columns) == [
        "scope", "layer", "quantity", "group", "synergy_mean", "synergy_std", "synergy_p",
        "interaction_mean", "interaction_std", "interaction_p",
    ]  # fmt: skip
    expected_keys = {(1, "entropy", "top"), (1, "entropy", "bottom"), (1, "csi", "top")}
    expected_keys |= {(2, "entropy", "top"), (2, "csi", "top")}
    assert set(zip(contrasts.layer, contrasts.quantity, contrasts.group, strict=True)) == expected_keys
    assert len(contrasts) == len(expected_keys)
    for r in contrasts.itertuples():
        assert r.scope == f"layer {r.layer}"
        in_layer = pairs[pairs.layer == r.layer]
        group = in_layer[(in_layer.quantity == r.quantity) & (in_layer.group == r.group)]
        random = in_layer[in_layer.group == "random"]
        for value in ("synergy", "interaction"):
            differences = [
                group[group.seed == s][value].mean() - random[random.seed == s][value].mean() for s in SEEDS
            ]
            assert getattr(r, f"{value}_mean") == pytest.approx(np.mean(differences), abs=1e-12)
            assert getattr(r, f"{value}_std") == pytest.approx(np.std(differences, ddof=1), abs=1e-12)
            a, b = group[value].to_numpy(), random[value].to_numpy()
            if np.ptp(np.concatenate([a, b])) == 0:
                assert getattr(r, f"{value}_p") == 1.0
            else:
                p = scipy.stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
                assert getattr(r, f"{value}_p") == pytest.approx(p, rel=1e-12)
    by_key = contrasts.set_index(["layer", "quantity", "group"])
    # the shifts are large: clearly significant, with their signs; no difference where there is none
    assert by_key.loc[(1, "entropy", "top"), "synergy_mean"] == pytest.approx(-0.05, abs=0.01)
    assert by_key.loc[(1, "entropy", "top"), "synergy_p"] < 1e-6
    assert by_key.loc[(1, "entropy", "top"), "interaction_mean"] == pytest.approx(0.02, abs=0.005)
    assert by_key.loc[(2, "entropy", "top"), "interaction_p"] == 1.0
    assert by_key.loc[(2, "entropy", "top"), "interaction_mean"] == 0.0
    assert by_key.loc[(2, "csi", "top"), "synergy_mean"] == pytest.approx(0.0, abs=1e-15)
    assert by_key.loc[(2, "csi", "top"), "synergy_p"] == pytest.approx(1.0)


def test_pair_contrasts_of_one_seed_have_zero_std():
    pairs = pairs_table()
    contrasts = pair_contrasts(pairs[pairs.seed == 1])
    assert (contrasts.synergy_std == 0).all() and (contrasts.interaction_std == 0).all()
    row = contrasts[(contrasts.layer == 1) & (contrasts.quantity == "entropy") & (contrasts.group == "top")]
    one = pairs[(pairs.seed == 1) & (pairs.layer == 1)]
    expected = (
        one[(one.quantity == "entropy") & (one.group == "top")].synergy.mean()
        - one[one.group == "random"].synergy.mean()
    )
    assert row.synergy_mean.iloc[0] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("difference", "p", "sign", "outcome"),
    [
        (-0.1, 0.01, -1, "confirms"),
        (0.1, 0.01, +1, "confirms"),
        (0.1, 0.01, -1, "contradicts"),
        (-0.1, 0.001, +1, "contradicts"),
        (0.1, 0.2, +1, "inconclusive"),
        (-0.1, 0.2, +1, "inconclusive"),
        (0.1, ALPHA, +1, "inconclusive"),  # p < ALPHA, strictly
        (0.1, ALPHA * (1 - 1e-9), +1, "confirms"),
        (0.0, 0.001, +1, "inconclusive"),
        (1e-12, 0.001, -1, "contradicts"),
    ],
)
def test_pair_test_outcome(difference, p, sign, outcome):
    assert pair_test_outcome(difference, p, sign) == outcome


def labels_table(rows) -> pd.DataFrame:
    """A curve_labels-like table: (scope, quantity, redundancy, synergy)."""
    table = pd.DataFrame(rows, columns=["scope", "quantity", "redundancy", "synergy"])
    names = {(True, False): "redundancy", (False, True): "synergy", (True, True): "both"}
    table["label"] = [names.get(k, "neither") for k in zip(table.redundancy, table.synergy, strict=True)]
    table.insert(1, "layer", table.scope.str.split().str[1].astype(int))
    return table


def test_label_checks_follow_the_outcome_rule():
    contrasts = pair_contrasts(pairs_table())
    labels = labels_table(
        [
            ("layer 1", "entropy", True, True),  # both: one check per label
            ("layer 1", "csi", True, False),
            ("layer 1", "mutual_information", False, False),  # no suggestion: no check
            ("layer 2", "entropy", True, False),
            ("layer 2", "csi", True, False),
        ]
    )
    checks = label_checks(labels, contrasts)
    assert list(checks.columns) == [
        "scope", "quantity", "label", "group", "synergy_mean", "synergy_p", "interaction_mean",
        "interaction_p", "information", "damage", "confirmed",
    ]  # fmt: skip
    expected = [  # scope, quantity, label, group, information, damage, confirmed
        ("layer 1", "entropy", "redundancy", "top", "confirms", "confirms", True),
        ("layer 1", "entropy", "synergy", "bottom", "confirms", "contradicts", False),
        ("layer 1", "csi", "redundancy", "top", "contradicts", "confirms", False),
        ("layer 2", "entropy", "redundancy", "top", "confirms", "inconclusive", True),
        ("layer 2", "csi", "redundancy", "top", "inconclusive", "inconclusive", False),
    ]
    got = checks[["scope", "quantity", "label", "group", "information", "damage", "confirmed"]]
    assert [tuple(r) for r in got.itertuples(index=False)] == expected
    by_key = contrasts.set_index(["scope", "quantity", "group"])
    for r in checks.itertuples():
        c = by_key.loc[(r.scope, r.quantity, r.group)]
        for column in ("synergy_mean", "synergy_p", "interaction_mean", "interaction_p"):
            assert getattr(r, column) == c[column]
        group, synergy_sign, interaction_sign = PREDICTIONS[r.label]
        assert r.group == group
        # the rule, independently: p < ALPHA and the sign of the difference against the prediction
        for outcome, mean, p, sign in (
            (r.information, c.synergy_mean, c.synergy_p, synergy_sign),
            (r.damage, c.interaction_mean, c.interaction_p, interaction_sign),
        ):
            if p < ALPHA and mean != 0:
                assert outcome == ("confirms" if np.sign(mean) == sign else "contradicts")
            else:
                assert outcome == "inconclusive"
        outcomes = {r.information, r.damage}
        assert r.confirmed == ("confirms" in outcomes and "contradicts" not in outcomes)


def test_label_checks_without_suggestions_are_empty_with_their_columns():
    contrasts = pair_contrasts(pairs_table())
    checks = label_checks(labels_table([("layer 1", "entropy", False, False)]), contrasts)
    assert checks.empty
    assert "confirmed" in checks.columns and "information" in checks.columns


# -------------------------------------------------------------------------------------------------- C8


def c8_checks(confirmed: list[bool]) -> pd.DataFrame:
    """Checks with the given confirmations; outcomes: confirmed ones confirm on information and are
    inconclusive on damage, the others contradict on information and confirm on damage."""
    rows = [
        {"scope": "layer 1", "quantity": INDICATOR_QUANTITIES[k % 4], "label": "redundancy", "group": "top",
         "synergy_mean": -0.01, "synergy_p": 0.001, "interaction_mean": 0.002, "interaction_p": 0.3,
         "information": "confirms" if ok else "contradicts", "damage": "inconclusive" if ok else "confirms",
         "confirmed": ok}
        for k, ok in enumerate(confirmed)
    ]  # fmt: skip
    columns = ["scope", "quantity", "label", "group", "synergy_mean", "synergy_p", "interaction_mean"]
    return pd.DataFrame(rows, columns=[*columns, "interaction_p", "information", "damage", "confirmed"])


C8_LABELS = labels_table(
    [
        ("layer 1", "entropy", True, False),
        ("layer 1", "mutual_information", True, True),
        ("layer 1", "kl_selectivity", False, True),
        ("layer 1", "csi", False, False),
        ("layer 2", "entropy", False, False),
        ("layer 2", "mutual_information", True, False),
    ]
)


@pytest.mark.parametrize(
    ("confirmed", "verdict"),
    [
        ([True], "agrees"),
        ([True, True, True, True], "agrees"),
        ([True, False], "partly"),
        ([True, True, False, False], "partly"),
        ([True, False, False], "disagrees"),
        ([False], "disagrees"),
        ([False, False, False, False], "disagrees"),
    ],
)
def test_claim_c8_verdicts(confirmed, verdict):
    result = claim_c8(C8_LABELS, c8_checks(confirmed))
    assert set(result) == {"measured", "verdict", "reason"}
    assert result["verdict"] == verdict
    assert verdict in VERDICTS


def test_claim_c8_measured_counts():
    result = claim_c8(C8_LABELS, c8_checks([True, False, True]))
    assert result["measured"] == (
        "3 suggestions from 6 layer × quantity curves (3 redundancy, 2 synergy, 2 curves neither); "
        "information test: 2 confirms, 1 contradicts, 0 inconclusive; "
        "damage test: 1 confirms, 0 contradicts, 2 inconclusive; confirmed: 2"
    )
    assert result["verdict"] == "partly"
    assert "1 of 3 suggestions is not confirmed" in result["reason"]


def test_claim_c8_without_a_label_is_not_applicable():
    labels = labels_table([("layer 1", q, False, False) for q in INDICATOR_QUANTITIES])
    checks = label_checks(labels, pair_contrasts(pairs_table()))
    result = claim_c8(labels, checks)
    assert result["verdict"] == "n/a"
    assert result["measured"].startswith("0 suggestions from 4 layer × quantity curves (0 redundancy, 0 ")
    assert "confirmed: 0" in result["measured"]


def test_claim_c8_counts_a_single_suggestion_in_the_singular():
    result = claim_c8(C8_LABELS, c8_checks([False]))
    assert result["measured"].startswith("1 suggestion from 6 layer × quantity curves")
    assert "1 of 1 suggestion is not confirmed" in result["reason"]


def test_claim_c8_from_the_hand_built_tables():
    """curve_labels -> label_checks -> claim_c8 on the hand-built tables: three labelled curves in layer 1
    (entropy redundancy, MI synergy, KL both) need contrasts for entropy, MI and KL; the pairs give some."""
    labels = curve_labels(labelled_auc())
    labels = labels[labels.scope == "layer 1"]
    pairs = pairs_table()
    # make MI and KL pairs in layer 1 from the entropy ones: MI bottom like entropy bottom, KL top/bottom too
    extra = []
    for quantity, group, source in (
        ("mutual_information", "bottom", "bottom"),
        ("kl_selectivity", "top", "top"),
        ("kl_selectivity", "bottom", "bottom"),
    ):
        rows = pairs[(pairs.layer == 1) & (pairs.quantity == "entropy") & (pairs.group == source)]
        extra.append(rows.assign(quantity=quantity, group=group))
    checks = label_checks(labels, pair_contrasts(pd.concat([pairs, *extra], ignore_index=True)))
    # entropy redundancy (confirmed), MI synergy (contradicted by damage), KL redundancy (confirmed),
    # KL synergy (contradicted by damage): half confirmed
    assert list(checks.confirmed) == [True, False, True, False]
    assert claim_c8(labels, checks)["verdict"] == "partly"


# ------------------------------------------------------------------------------------------------- C3e

NEUTRAL, GOOD = (0.0, 0.0), (0.2, -0.2)


def network_indicators(per_quantity: dict, layer_good: bool = False) -> pd.DataFrame:
    """indicator_table of an AUC table whose network-scope (asc, desc) per quantity is ``per_quantity``
    (default neutral); the layer scope is good everywhere when ``layer_good`` (C3e must not read it)."""

    def ordered(seed, scope, quantity):
        if scope != "network":
            return GOOD if layer_good else NEUTRAL
        return per_quantity.get(quantity, NEUTRAL)

    return indicator_table(auc_table(ordered, scopes=("network", "layer 1")))


H, MI, KL, CSI = INDICATOR_QUANTITIES


def test_c3e_agrees_when_a_quantity_becomes_good():
    raw = network_indicators({MI: GOOD, KL: GOOD, CSI: GOOD})
    ranked = network_indicators({H: GOOD, MI: GOOD, KL: GOOD, CSI: GOOD})
    assert not raw.set_index(["scope", "quantity"]).good[("network", H)]
    result = claim_c3e(raw, ranked)
    assert result["verdict"] == "agrees"
    assert "H" in result["reason"]
    # one of several candidates is enough
    raw = network_indicators({})
    assert claim_c3e(raw, network_indicators({CSI: GOOD}))["verdict"] == "agrees"


@pytest.mark.parametrize(
    ("ranked", "verdict"),
    [
        ({H: (0.05, -0.05), MI: (0.05, -0.05)}, "partly"),  # 2 of 4 gain on both gaps
        ({H: (0.05, -0.05), MI: (0.05, -0.05), KL: (0.08, -0.01)}, "partly"),  # 3 of 4
        ({H: (0.05, -0.05), MI: (0.05, 0.0), KL: (0.0, -0.05)}, "disagrees"),  # 1 of 4: one gap alone is not
        ({H: (-0.05, 0.05), MI: (-0.05, 0.05)}, "disagrees"),  # both gaps shrink
        ({}, "disagrees"),
    ],
)
def test_c3e_partly_when_half_gain_on_both_gaps(ranked, verdict):
    raw = network_indicators({})
    assert not raw.good.any()
    result = claim_c3e(raw, network_indicators(ranked))
    assert result["verdict"] == verdict
    if verdict == "partly":
        assert "No quantity becomes a good indicator" in result["reason"]


def test_c3e_counts_only_indicator_quantities_not_good_raw_and_only_the_network():
    # H is good raw and ranked: not a candidate, so it does not make C3e agree; the weight norm becomes
    # good ranked and the layers are good everywhere, neither of which counts
    raw = network_indicators({H: GOOD}, layer_good=True)
    ranked = network_indicators({H: GOOD, "weight_norm": GOOD}, layer_good=True)
    assert claim_c3e(raw, ranked)["verdict"] == "disagrees"
    # the same with MI gaining on both gaps: 1 of the 3 candidates, under half
    ranked = network_indicators({H: GOOD, MI: (0.05, -0.05)})
    assert claim_c3e(raw, ranked)["verdict"] == "disagrees"
    # 2 of the 3 candidates gain: partly
    ranked = network_indicators({H: GOOD, MI: (0.05, -0.05), CSI: (0.03, -0.03)})
    assert claim_c3e(raw, ranked)["verdict"] == "partly"


def test_c3e_not_applicable_when_all_four_are_good_raw():
    raw = network_indicators({H: GOOD, MI: GOOD, KL: GOOD, CSI: GOOD})  # the weight norm is not good
    for ranked in ({}, {H: GOOD, MI: GOOD, KL: GOOD, CSI: GOOD}):
        result = claim_c3e(raw, network_indicators(ranked))
        assert result["verdict"] == "n/a"
    # and when there is no network scope at all
    no_network = raw[raw.scope != "network"]
    assert claim_c3e(no_network, network_indicators({}))["verdict"] == "n/a"


def test_c3e_reads_good_from_every_seed():
    """A quantity good in two of three seeds after ranking is not good: C3e does not agree."""

    def ordered(seed, scope, quantity):
        if scope == "network" and quantity == H:
            return GOOD if seed < 2 else (0.05, -0.05)
        return NEUTRAL

    ranked = indicator_table(auc_table(ordered, scopes=("network",)))
    result = claim_c3e(network_indicators({}), ranked)
    assert result["verdict"] == "disagrees"  # H gains on both gaps, but 1 of 4 only


# ------------------------------------------------------------------------------- pair_tests end to end

WIDTHS = (24, 12, 5)
TINY = {"epochs": 2, "lr": 3e-3, "lr_schedule": "constant", "batch_size": 32, "train_limit": 3000}
SEEDS_E2E = (0, 1)
CONFIGS = [
    TrainConfig("mnist", WIDTHS, seed=seed, val_size=1000, standardize=True, **TINY) for seed in SEEDS_E2E
]
SETTINGS = AnalysisSettings(mode="mean", n_random=3, val_limit=300, test_limit=400)
N_PAIRS = 10


@pytest.fixture(scope="module")
def chapter(tmp_path_factory) -> dict:
    """A tiny chapter's measures, damage and pair tests, computed into a temporary cache."""
    cache = tmp_path_factory.mktemp("pairs-cache")
    results = run_chapter(CONFIGS, SETTINGS, cache=cache, device="cpu", progress=False)
    damage = neuron_damage(CONFIGS, SETTINGS, cache=cache, device="cpu", progress=False)
    pairs = pair_tests(CONFIGS, SETTINGS, results.measures, damage, N_PAIRS, cache, "cpu", progress=False)
    return {"cache": cache, "results": results, "damage": damage, "pairs": pairs}


def pool_of(values: np.ndarray, group: str) -> list[int]:
    """The top or bottom quarter (at least two) of a layer by hand: ties by index."""
    n = len(values)
    size = max(2, math.ceil(n / 4))
    key = (lambda i: (-values[i], i)) if group == "top" else (lambda i: (values[i], i))
    return sorted(sorted(range(n), key=key)[:size])


def test_pair_tests_columns_groups_and_pair_counts(chapter):
    pairs, measures = chapter["pairs"], chapter["results"].measures
    assert list(pairs.columns) == PAIR_COLUMNS
    groups = {("random", "random")} | {(q, g) for q in INDICATOR_QUANTITIES for g in ("top", "bottom")}
    for config in CONFIGS:
        seed = config.seed
        for layer, width in enumerate(WIDTHS, start=1):
            here = pairs[(pairs.seed == seed) & (pairs.layer == layer)]
            assert set(zip(here.quantity, here.group, strict=True)) == groups
            for quantity, group in groups:
                rows = here[(here.quantity == quantity) & (here.group == group)]
                if group == "random":
                    pool = list(range(width))
                else:
                    m = measures[(measures.seed == seed) & (measures.layer == layer)]
                    values = m[m.quantity == quantity].sort_values("neuron").value.to_numpy()
                    pool = pool_of(values, group)
                pool_pairs = math.comb(len(pool), 2)
                assert len(rows) == min(N_PAIRS, pool_pairs), (seed, layer, quantity, group)
                drawn = rows[["i", "j"]].to_numpy()
                assert_valid_pairs(drawn, pool)
                if pool_pairs <= N_PAIRS:
                    assert {tuple(p) for p in drawn.tolist()} == set(combinations(pool, 2))
    # the tiny layers cover both cases: layer 1's quarter (6 neurons, 15 pairs) gives 10 of its pairs,
    # layer 3's random pool (5 neurons) all of its 10
    assert math.comb(pool_of(np.arange(24.0), "top").__len__(), 2) == 15 > N_PAIRS
    assert math.comb(WIDTHS[2], 2) == N_PAIRS


def mutual_information_bits(codes: np.ndarray, labels: np.ndarray) -> float:
    """Plug-in I(T; Y) in bits from the joint counts, by numpy."""
    _, t = np.unique(codes, return_inverse=True)
    joint = np.zeros((t.max() + 1, labels.max() + 1))
    np.add.at(joint, (t, labels), 1)
    p = joint / joint.sum()

    def h(q):
        q = q[q > 0]
        return float(-(q * np.log2(q)).sum())

    return h(p.sum(1)) + h(p.sum(0)) - h(p.ravel())


@pytest.fixture(scope="module")
def networks(chapter) -> dict:
    splits = config_splits(CONFIGS[0])
    out = {}
    for config in CONFIGS:
        trained = train_or_load(config, splits, cache=chapter["cache"], device="cpu", progress=False)
        assert trained.from_cache
        x_val = splits.val.x[: SETTINGS.val_limit]
        with torch.no_grad():
            hidden = trained.model.hidden_outputs(x_val)
        out[config.seed] = {
            "model": trained.model,
            "hidden": hidden,
            "y_val": splits.val.y[: SETTINGS.val_limit],
            "x_test": splits.test.x[: SETTINGS.test_limit],
            "y_test": splits.test.y[: SETTINGS.test_limit],
            "means": [t.mean(0) for t in hidden],
        }
    return out


def test_pair_tests_synergy_equals_pair_synergy_and_mutual_information_by_hand(chapter, networks):
    pairs = chapter["pairs"]
    nonzero = 0
    for seed, network in networks.items():
        labels = network["y_val"].numpy()
        for layer, t in enumerate(network["hidden"], start=1):
            rows = pairs[(pairs.seed == seed) & (pairs.layer == layer)]
            ij = rows[["i", "j"]].to_numpy(copy=True)
            codes = (t > 0).numpy().astype(np.int64)  # the binary quantiser of a ReLU network: T > 0
            by_module = pair_synergy(quantize(t, "binary", "relu")[0], network["y_val"], ij, 2, 10).numpy()
            np.testing.assert_allclose(rows.synergy, by_module, rtol=0, atol=1e-12)
            for (i, j), got in list(zip(ij.tolist(), rows.synergy, strict=True))[::3]:
                joint = mutual_information_bits(codes[:, i] * 2 + codes[:, j], labels)
                single_i = mutual_information_bits(codes[:, i], labels)
                single_j = mutual_information_bits(codes[:, j], labels)
                assert got == pytest.approx(joint - single_i - single_j, abs=1e-10), (seed, layer, i, j)
                nonzero += abs(got) > 1e-6
    assert nonzero > 10  # the synergies are not all zero: the comparison has something to compare


def masked_accuracy(network: dict, layer: int, neurons: list[int]) -> float:
    """Test accuracy with ``neurons`` of hidden layer ``layer`` (1-based) fixed to their validation mean,
    by a masked forward pass of the module."""
    model = network["model"]
    masks = [torch.zeros(w, dtype=torch.bool) for w in model.widths]
    masks[layer - 1][neurons] = True
    values = ablation_values(model.widths, "mean", network["means"])
    with torch.no_grad():
        logits = model(network["x_test"], ablate=masks, values=values)
    return float((logits.argmax(1) == network["y_test"]).double().mean())


def test_pair_tests_interaction_equals_masked_forward_passes(chapter, networks):
    pairs = chapter["pairs"]
    n_samples = SETTINGS.test_limit
    nonzero = 0
    for seed, network in networks.items():
        intact = masked_accuracy(network, 1, [])
        assert intact > 0.5  # the network works
        for layer in (1, 2, 3):
            rows = pairs[(pairs.seed == seed) & (pairs.layer == layer)].drop_duplicates(["i", "j"])
            single = {i: intact - masked_accuracy(network, layer, [i]) for i in range(WIDTHS[layer - 1])}
            for r in rows.itertuples():
                pair_drop = intact - masked_accuracy(network, layer, [r.i, r.j])
                expected = pair_drop - single[r.i] - single[r.j]
                # float32 engines: at most a near tie may flip (one sample of the three accuracies)
                assert abs(r.interaction - expected) * n_samples <= 1 + 1e-9, (seed, layer, r.i, r.j)
                nonzero += expected != 0
                # and interaction values are whole samples
                assert r.interaction * n_samples == pytest.approx(round(r.interaction * n_samples), abs=1e-6)
    assert nonzero > 10


def test_pair_tests_are_cached_per_network(chapter, networks, monkeypatch):
    cache: Path = chapter["cache"]
    results, damage = chapter["results"], chapter["damage"]
    files = sorted(p.name for p in (cache / "analysis").iterdir() if "pairs" in p.name)
    assert len(files) == len(CONFIGS)
    assert all(f.endswith(f"-pairs-v{PAIRS_VERSION}-{N_PAIRS}.csv") for f in files)

    def no_recomputation(*args, **kwargs):
        raise AssertionError("recomputed although cached")

    with monkeypatch.context() as m:
        m.setattr(redundancy_mod, "_network_pairs", no_recomputation)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            again = pair_tests(CONFIGS, SETTINGS, results.measures, damage, N_PAIRS, cache, "cpu", False)
        pd.testing.assert_frame_equal(again, chapter["pairs"], check_exact=True)
        # another number of pairs is another entry
        with pytest.raises(AssertionError, match="recomputed"):
            pair_tests(CONFIGS, SETTINGS, results.measures, damage, 3, cache, "cpu", False)
    # a corrupted entry is reported and recomputed, to the same pairs
    (cache / "analysis" / files[0]).write_text("seed,layer\n0,1\n")
    with pytest.warns(UserWarning, match=r"corrupted cache entry .*pairs"):
        again = pair_tests(CONFIGS, SETTINGS, results.measures, damage, N_PAIRS, cache, "cpu", False)
    pd.testing.assert_frame_equal(again, chapter["pairs"], check_exact=True)


def test_pair_tests_reject_bad_n_pairs(chapter):
    measures, damage = chapter["results"].measures, chapter["damage"]
    with pytest.raises(ValueError, match="invalid n_pairs=0"):
        pair_tests(CONFIGS, SETTINGS, measures, damage, 0, chapter["cache"], "cpu")


def test_the_chapter_pipeline_runs_to_a_c8_verdict(chapter):
    labels = curve_labels(chapter["results"].auc)
    assert len(labels) == len(WIDTHS) * len(INDICATOR_QUANTITIES)
    contrasts = pair_contrasts(chapter["pairs"])
    assert len(contrasts) == len(WIDTHS) * len(INDICATOR_QUANTITIES) * 2
    assert contrasts.synergy_p.between(0, 1).all() and contrasts.interaction_p.between(0, 1).all()
    checks = label_checks(labels, contrasts)
    assert len(checks) == int(labels.redundancy.sum() + labels.synergy.sum())
    assert claim_c8(labels, checks)["verdict"] in VERDICTS
