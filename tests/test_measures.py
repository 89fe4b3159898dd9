"""Tests for nbsrc.measures: hand-worked tables, references, METHOD.md invariants, bad inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import raises_with
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import entropy as scipy_entropy
from sklearn.metrics import mutual_info_score

from nbsrc.measures import (
    BIAS_CORRECTIONS,
    NeuronInformation,
    class_selectivity_index,
    information_measures,
    joint_counts,
    outgoing_weight_norm,
    pair_synergy,
)


def col(*values: int) -> torch.Tensor:
    """A single neuron's codes as an [N, 1] tensor."""
    return torch.tensor(values, dtype=torch.int64)[:, None]


def log2(x: float) -> float:
    return math.log2(x)


# --- hand-worked tables ---------------------------------------------------------------------


def test_result_type_and_dtypes() -> None:
    info = information_measures(col(0, 1, 0), torch.tensor([0, 1, 1]), 2, 2)
    assert isinstance(info, NeuronInformation)
    for t in (info.entropy, info.mutual_information, info.kl_selectivity):
        assert t.dtype == torch.float64 and t.shape == (1,)
    with pytest.raises(AttributeError):
        info.entropy = info.entropy  # type: ignore[misc]  # frozen


def test_neuron_equal_to_balanced_binary_label() -> None:
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    info = information_measures(labels[:, None], labels, 2, 2)
    # H = -2 * 1/2 log2 1/2 = 1; H(T|Y) = 0 so I = 1; D(p(.|y)||p) = 1 * log2(1 / (1/2)) = 1
    assert info.entropy.item() == pytest.approx(1.0, abs=1e-12)
    assert info.mutual_information.item() == pytest.approx(1.0, abs=1e-12)
    assert info.kl_selectivity.item() == pytest.approx(1.0, abs=1e-12)


def test_four_valued_neuron_equal_to_balanced_four_class_label() -> None:
    labels = torch.arange(12) % 4
    info = information_measures(labels[:, None], labels, 4, 4)
    # H = log2 4 = 2 = I; each class: D = log2(1 / (1/4)) = 2
    assert info.entropy.item() == pytest.approx(2.0, abs=1e-12)
    assert info.mutual_information.item() == pytest.approx(2.0, abs=1e-12)
    assert info.kl_selectivity.item() == pytest.approx(2.0, abs=1e-12)


def test_constant_neuron_is_exactly_zero() -> None:
    labels = torch.tensor([0, 1, 2, 2, 1])
    info = information_measures(col(3, 3, 3, 3, 3), labels, 5, 3)
    assert info.entropy.item() == 0.0
    assert info.mutual_information.item() == 0.0
    assert info.kl_selectivity.item() == 0.0


def test_independent_neuron_exact_product_distribution() -> None:
    # p(t) = (1/4, 3/4) inside every class; p(y) = (1/3, 2/3): n(t, y) = N p(t) p(y) exactly
    codes = col(0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
    info = information_measures(codes, labels, 2, 2)
    assert info.mutual_information.item() == 0.0
    assert info.kl_selectivity.item() == 0.0
    h = -(0.25 * log2(0.25) + 0.75 * log2(0.75))
    assert info.entropy.item() == pytest.approx(h, abs=1e-12)


def test_unequal_probabilities_worked_example() -> None:
    # counts n(t, y):  y=0: t0=2, t1=0 (N_0=2);  y=1: t0=1, t1=5 (N_1=6);  N = 8
    codes = col(0, 0, 0, 1, 1, 1, 1, 1)
    labels = torch.tensor([0, 0, 1, 1, 1, 1, 1, 1])
    info = information_measures(codes, labels, 2, 2)
    h = -(3 / 8 * log2(3 / 8) + 5 / 8 * log2(5 / 8))
    d0 = 1.0 * log2(1.0 / (3 / 8))
    d1 = 1 / 6 * log2((1 / 6) / (3 / 8)) + 5 / 6 * log2((5 / 6) / (5 / 8))
    mi = 2 / 8 * d0 + 6 / 8 * d1
    h_t_given_y = 6 / 8 * -(1 / 6 * log2(1 / 6) + 5 / 6 * log2(5 / 6))
    assert mi == pytest.approx(h - h_t_given_y, abs=1e-12)  # the two hand formulas agree
    assert info.entropy.item() == pytest.approx(h, abs=1e-12)
    assert info.mutual_information.item() == pytest.approx(mi, abs=1e-12)
    assert info.kl_selectivity.item() == pytest.approx(max(d0, d1), abs=1e-12)
    assert max(d0, d1) == d0


def test_absent_classes_are_ignored() -> None:
    codes = col(0, 1, 0, 1)
    labels = torch.tensor([0, 3, 0, 3])
    info = information_measures(codes, labels, 3, 6)  # classes 1, 2, 4, 5 absent, value 2 unused
    assert info.entropy.item() == pytest.approx(1.0, abs=1e-12)
    assert info.mutual_information.item() == pytest.approx(1.0, abs=1e-12)
    assert info.kl_selectivity.item() == pytest.approx(1.0, abs=1e-12)


def test_joint_counts_against_loop() -> None:
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 3, size=(40, 4))
    labels = rng.integers(0, 5, size=40)
    counts = joint_counts(codes, labels, 3, 5)
    ref = np.zeros((4, 3, 5))
    for s in range(40):
        for i in range(4):
            ref[i, codes[s, i], labels[s]] += 1
    np.testing.assert_array_equal(counts.numpy(), ref)


# --- random codes against scipy / sklearn ---------------------------------------------------


@pytest.mark.parametrize(("n_values", "n_classes"), [(2, 10), (4, 3), (8, 10), (32, 7)])
def test_random_codes_against_reference_implementations(n_values: int, n_classes: int) -> None:
    rng = np.random.default_rng(n_values * 100 + n_classes)
    n_samples, n_neurons = 500, 6
    labels = rng.integers(0, n_classes, size=n_samples)
    # neurons with varying dependence on the label, plus one using few values
    noise = rng.integers(0, n_values, size=(n_samples, n_neurons))
    mix = rng.random((n_samples, n_neurons)) < np.linspace(0, 0.9, n_neurons)
    codes = np.where(mix, labels[:, None] % n_values, noise)
    codes[:, -1] = noise[:, -1] % 2
    info = information_measures(torch.as_tensor(codes), torch.as_tensor(labels), n_values, n_classes)
    for i in range(n_neurons):
        c = codes[:, i]
        p_t = np.bincount(c, minlength=n_values) / n_samples
        assert info.entropy[i].item() == pytest.approx(scipy_entropy(p_t, base=2), abs=1e-10)
        mi = mutual_info_score(labels, c) / math.log(2)
        assert info.mutual_information[i].item() == pytest.approx(mi, abs=1e-10)
        kls = []
        for y in range(n_classes):
            if (labels == y).any():
                p_t_given_y = np.bincount(c[labels == y], minlength=n_values) / (labels == y).sum()
                kls.append(scipy_entropy(p_t_given_y, p_t, base=2))
        assert info.kl_selectivity[i].item() == pytest.approx(max(kls), abs=1e-10)


# --- METHOD.md invariants on random small cases ---------------------------------------------


@st.composite
def coded_cases(draw):
    n_samples = draw(st.integers(1, 30))
    n_neurons = draw(st.integers(1, 4))
    n_values = draw(st.integers(1, 5))
    n_classes = draw(st.integers(2, 5))
    codes = draw(
        st.lists(
            st.lists(st.integers(0, n_values - 1), min_size=n_neurons, max_size=n_neurons),
            min_size=n_samples,
            max_size=n_samples,
        )
    )
    labels = draw(st.lists(st.integers(0, n_classes - 1), min_size=n_samples, max_size=n_samples))
    return np.array(codes, dtype=np.int64), np.array(labels, dtype=np.int64), n_values, n_classes


@settings(max_examples=150, deadline=None)
@given(coded_cases())
def test_invariants(case) -> None:
    codes, labels, n_values, n_classes = case
    info = information_measures(codes, labels, n_values, n_classes)
    h, mi, kls = info.entropy, info.mutual_information, info.kl_selectivity
    tol = 1e-9
    assert (h >= -tol).all() and (h <= math.log2(n_values) + tol).all()
    if n_values == 2:
        assert (h <= 1 + tol).all()
    assert (mi >= 0).all()
    assert (mi <= torch.minimum(h, torch.full_like(h, math.log2(n_classes))) + tol).all()
    assert (mi <= kls + tol).all()
    assert (kls >= 0).all()
    # each neuron is measured on its own: the one-column result equals the batched one
    for i in range(codes.shape[1]):
        one = information_measures(codes[:, i : i + 1], labels, n_values, n_classes)
        assert one.entropy.item() == pytest.approx(h[i].item(), abs=1e-12)
        assert one.mutual_information.item() == pytest.approx(mi[i].item(), abs=1e-12)
        assert one.kl_selectivity.item() == pytest.approx(kls[i].item(), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(coded_cases())
def test_miller_madow_invariants(case) -> None:
    codes, labels, n_values, n_classes = case
    plug = information_measures(codes, labels, n_values, n_classes)
    mm = information_measures(codes, labels, n_values, n_classes, "miller_madow")
    assert (mm.entropy >= plug.entropy - 1e-12).all()  # the correction only adds (m >= 1)
    assert (mm.mutual_information >= 0).all()
    assert torch.equal(mm.kl_selectivity, plug.kl_selectivity)  # KLsel stays plug-in


# --- Miller-Madow ---------------------------------------------------------------------------


def mm_entropy(counts: np.ndarray) -> float:
    """Miller-Madow entropy in bits straight from its definition."""
    n, m = counts.sum(), (counts > 0).sum()
    return scipy_entropy(counts, base=2) + (m - 1) / (2 * n * math.log(2))


def test_miller_madow_hand_table() -> None:
    # counts n(t, y): y=0: (3, 1, 0); y=1: (0, 2, 2); N = 8, p(y) = (1/2, 1/2)
    codes = col(0, 0, 0, 1, 1, 1, 2, 2)
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    mm = information_measures(codes, labels, 3, 2, bias_correction="miller_madow")
    ln2 = math.log(2)
    h = -(3 / 8 * log2(3 / 8) + 3 / 8 * log2(3 / 8) + 2 / 8 * log2(2 / 8))
    h_mm = h + (3 - 1) / (2 * 8 * ln2)
    h0_mm = -(3 / 4 * log2(3 / 4) + 1 / 4 * log2(1 / 4)) + (2 - 1) / (2 * 4 * ln2)
    h1_mm = 1.0 + (2 - 1) / (2 * 4 * ln2)
    i_mm = h_mm - (0.5 * h0_mm + 0.5 * h1_mm)
    assert mm.entropy.item() == pytest.approx(h_mm, abs=1e-12)
    assert mm.mutual_information.item() == pytest.approx(i_mm, abs=1e-12)
    # the scipy-based definition agrees with the hand numbers
    assert mm_entropy(np.array([3, 3, 2])) == pytest.approx(h_mm, abs=1e-12)


def test_miller_madow_clips_mutual_information_at_zero() -> None:
    # independent: every class holds both values once -> plug-in I = 0, correction (1 - 2)/(2N ln2)
    codes = col(0, 1, 0, 1)
    labels = torch.tensor([0, 0, 1, 1])
    mm = information_measures(codes, labels, 2, 2, "miller_madow")
    assert mm.mutual_information.item() == 0.0
    assert mm.entropy.item() == pytest.approx(1.0 + 1 / (2 * 4 * math.log(2)), abs=1e-12)


def test_miller_madow_random_against_definition() -> None:
    rng = np.random.default_rng(11)
    n_values, n_classes = 4, 5
    labels = rng.integers(0, n_classes - 1, size=60)  # class 4 absent
    codes = np.where(rng.random((60, 5)) < 0.5, labels[:, None] % n_values, rng.integers(0, 3, (60, 5)))
    mm = information_measures(codes, labels, n_values, n_classes, "miller_madow")
    for i in range(5):
        n_t = np.bincount(codes[:, i], minlength=n_values)
        cond = 0.0
        for y in np.unique(labels):
            cond += (labels == y).mean() * mm_entropy(np.bincount(codes[labels == y, i]))
        assert mm.entropy[i].item() == pytest.approx(mm_entropy(n_t), abs=1e-12)
        expected = max(mm_entropy(n_t) - cond, 0.0)
        assert mm.mutual_information[i].item() == pytest.approx(expected, abs=1e-12)


# --- class-selectivity index ----------------------------------------------------------------


def csi_loop(outputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Plain per-neuron reference for the class-selectivity index."""
    out = []
    classes = np.unique(labels)
    for i in range(outputs.shape[1]):
        mu = np.array([outputs[labels == y, i].mean() for y in classes])
        k = int(np.argmax(mu))
        mu_max, mu_rest = mu[k], np.delete(mu, k).mean()
        den = mu_max + mu_rest
        out.append(0.0 if den == 0 else (mu_max - mu_rest) / den)
    return np.array(out)


def test_csi_hand_example() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    outputs = torch.tensor(
        [
            [4.0, 1.0, 0.0, 1.0],
            [4.0, 3.0, 0.0, -1.0],
            [1.0, 2.0, 0.0, -1.0],
            [1.0, 2.0, 0.0, -1.0],
            [0.0, 2.0, 0.0, 0.0],
            [2.0, 2.0, 0.0, 0.0],
        ]
    )
    csi = class_selectivity_index(outputs, labels, 3)
    # neuron 0: mu = (4, 1, 1): (4 - 1) / (4 + 1) = 0.6
    # neuron 1: mu = (2, 2, 2): 0 / 4 = 0
    # neuron 2: all zero -> denominator 0 -> 0
    # neuron 3: mu = (0, -1, 0): max 0, rest -1/2 -> (1/2) / (-1/2) = -1
    np.testing.assert_allclose(csi.numpy(), [0.6, 0.0, 0.0, -1.0], atol=1e-12)
    assert csi.dtype == torch.float64


def test_csi_zero_denominator_with_signed_outputs() -> None:
    labels = torch.tensor([0, 1])
    outputs = torch.tensor([[1.0], [-1.0]])  # mu_max = 1, mu_rest = -1: denominator 0
    assert class_selectivity_index(outputs, labels, 2).item() == 0.0


def test_csi_random_against_loop() -> None:
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 9, size=400)  # class 9 of 10 absent
    outputs = np.maximum(rng.normal(size=(400, 7)) + 0.3 * (labels[:, None] == np.arange(7)), 0)
    csi = class_selectivity_index(outputs.astype(np.float32), labels, 10)
    np.testing.assert_allclose(csi.numpy(), csi_loop(outputs.astype(np.float32), labels), atol=1e-6)


def test_outgoing_weight_norm() -> None:
    w = torch.tensor([[3.0, 0.0, 1.0], [4.0, 0.0, -1.0]])
    np.testing.assert_allclose(outgoing_weight_norm(w).numpy(), [5.0, 0.0, math.sqrt(2)])
    rng = np.random.default_rng(0)
    w2 = rng.normal(size=(10, 20))
    np.testing.assert_allclose(outgoing_weight_norm(w2).numpy(), np.linalg.norm(w2, axis=0))
    linear = torch.nn.Linear(20, 10)
    assert outgoing_weight_norm(linear.weight).shape == (20,)


# --- bad inputs -----------------------------------------------------------------------------

LABELS = torch.tensor([0, 1, 0, 1])
CODES = col(0, 1, 1, 0)


def test_codes_out_of_range() -> None:
    with raises_with("codes", "min=0, max=4", "[0, 3]", "< 4"):
        information_measures(col(0, 4, 1, 2), LABELS, 4, 2)
    with raises_with("codes", "min=-1, max=1", "[0, 1]"):
        information_measures(col(0, -1, 1, 0), LABELS, 2, 2)


def test_codes_must_be_2d_integer() -> None:
    with raises_with("codes", "integer", "torch.float32"):
        information_measures(CODES.float(), LABELS, 2, 2)
    with raises_with("codes.shape", "(4,)", "2-D"):
        information_measures(CODES[:, 0], LABELS, 2, 2)


def test_labels_out_of_range_and_shape() -> None:
    with raises_with("labels", "min=0, max=2", "[0, 1]"):
        information_measures(CODES, torch.tensor([0, 1, 2, 1]), 2, 2)
    with raises_with("labels.shape", "(4, 1)", "1-D"):
        information_measures(CODES, LABELS[:, None], 2, 2)
    with raises_with("labels", "integer"):
        information_measures(CODES, LABELS.double(), 2, 2)


def test_length_mismatch_names_both_lengths() -> None:
    with raises_with("labels", "3", "4"):
        information_measures(CODES, LABELS[:3], 2, 2)
    with raises_with("len(labels)=5", "4"):
        class_selectivity_index(torch.ones(4, 2), torch.tensor([0, 1, 0, 1, 1]), 2)


@pytest.mark.parametrize(
    ("param", "kwargs"), [("n_values", {"n_values": 0}), ("n_classes", {"n_classes": 1})]
)
def test_bad_counts(param: str, kwargs: dict) -> None:
    args = {"n_values": 2, "n_classes": 2} | kwargs
    with raises_with(param, repr(kwargs[param]), ">= "):
        information_measures(CODES, LABELS, **args)


def test_bad_bias_correction() -> None:
    with raises_with("bias_correction", "'jackknife'", *(repr(b) for b in BIAS_CORRECTIONS)):
        information_measures(CODES, LABELS, 2, 2, bias_correction="jackknife")


def test_no_samples() -> None:
    with raises_with("codes.shape", "(0, 1)", "at least one sample"):
        information_measures(torch.zeros(0, 1, dtype=torch.int64), torch.zeros(0, dtype=torch.int64), 2, 2)


def test_csi_bad_inputs() -> None:
    x = torch.ones(4, 2)
    x[1, 0] = float("nan")
    with raises_with("outputs", "NaN", "finite"):
        class_selectivity_index(x, LABELS, 2)
    with raises_with("n_classes", "1"):
        class_selectivity_index(torch.ones(4, 2), LABELS, 1)
    with raises_with("outputs.shape", "2-D"):
        class_selectivity_index(torch.ones(4), LABELS, 2)
    with raises_with("weight_next.shape", "2-D"):
        outgoing_weight_norm(torch.ones(3))


def test_pair_synergy_hand_worked_xor_copy_and_independent_pairs():
    # Y = T0 xor T1 over the four equally likely inputs; T2 = T3 = T0 copies; T4 independent of everything
    t0 = torch.tensor([0, 0, 1, 1] * 2)
    t1 = torch.tensor([0, 1, 0, 1] * 2)
    t4 = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    y = t0 ^ t1
    codes = torch.stack([t0, t1, t0, t0, t4], 1)
    got = pair_synergy(codes, y, np.array([[0, 1], [2, 3], [0, 4], [4, 4]]), 2, 2)
    # xor: each neuron alone 0 bits, together 1 bit; copies of an uninformative neuron: 0; independent: 0
    np.testing.assert_allclose(got.numpy(), [1.0, 0.0, 0.0, 0.0], atol=1e-12)
    # a copy of the label: each 1 bit, the pair 1 bit: redundancy -1 bit
    codes = torch.stack([y, y], 1)
    np.testing.assert_allclose(pair_synergy(codes, y, np.array([[0, 1]]), 2, 2).numpy(), [-1.0], atol=1e-12)


def test_pair_synergy_equals_sklearn_on_random_codes():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, size=(500, 4))
    y = (codes[:, 0] + rng.integers(0, 2, 500)) % 4
    pairs = np.array([[0, 1], [2, 3], [1, 3]])
    got = pair_synergy(torch.as_tensor(codes), torch.as_tensor(y), pairs, 3, 4).numpy()
    bits = math.log(2)
    for (i, j), s in zip(pairs, got, strict=True):
        joint = mutual_info_score(codes[:, i] * 3 + codes[:, j], y) / bits
        expected = joint - mutual_info_score(codes[:, i], y) / bits - mutual_info_score(codes[:, j], y) / bits
        assert s == pytest.approx(expected, abs=1e-10)


def test_pair_synergy_names_bad_pairs():
    codes, y = torch.zeros(6, 3, dtype=torch.int64), torch.tensor([0, 1] * 3)
    with pytest.raises(ValueError, match="pairs"):
        pair_synergy(codes, y, np.array([[0, 3]]), 2, 2)
    with pytest.raises(ValueError, match="pairs"):
        pair_synergy(codes, y, np.array([0, 1]), 2, 2)
