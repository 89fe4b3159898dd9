"""Tests for nbsrc.quantize: thresholds, bin rules, constant neurons, bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import raises_with

from nbsrc.measures import information_measures
from nbsrc.quantize import ACTIVATIONS, QUANTIZERS, quantize

# --- binary ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        ("relu", [0, 0, 1, 1, 1, 1]),  # T > 0
        ("tanh", [0, 0, 1, 1, 1, 1]),  # T > 0
        ("sigmoid", [0, 0, 0, 0, 0, 1]),  # T > 0.5
    ],
)
def test_binary_thresholds(activation: str, expected: list[int]) -> None:
    x = torch.tensor([[-0.2], [0.0], [1e-6], [0.3], [0.5], [0.7]])
    codes, n_values = quantize(x, "binary", activation)
    assert n_values == 2
    assert codes.dtype == torch.int64
    assert codes.shape == (6, 1)
    assert codes[:, 0].tolist() == expected


def test_binary_is_columnwise_and_accepts_numpy() -> None:
    x = np.array([[0.0, 2.0], [1.0, 0.0], [3.0, -1.0]])
    codes, _ = quantize(x, "binary", "relu")
    assert codes.tolist() == [[0, 1], [1, 0], [1, 0]]


# --- equal width ----------------------------------------------------------------------------


def test_equal_width_hand_example() -> None:
    # column 0: range [0, 4], B=4, width 1 -> floor(x), the maximum clipped into bin 3
    # column 1: range [10, 14], width 1 -> 10.5 -> 0, 11.9 -> 1, 12 -> 2, 14 -> 3
    x = torch.tensor([[0.0, 10.0], [1.0, 10.5], [2.0, 12.0], [3.0, 11.9], [4.0, 14.0]], dtype=torch.float64)
    codes, n_values = quantize(x, "equal_width", n_bins=4)
    assert n_values == 4
    assert codes[:, 0].tolist() == [0, 1, 2, 3, 3]
    assert codes[:, 1].tolist() == [0, 0, 2, 1, 3]


def test_equal_width_matches_numpy_reference() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 5)) * rng.uniform(0.1, 10, size=5)
    for b in (2, 4, 8, 16, 32):
        codes, _ = quantize(x, "equal_width", n_bins=b)
        lo, hi = x.min(0), x.max(0)
        edges = [np.linspace(lo[i], hi[i], b + 1)[1:-1] for i in range(5)]
        # bin k = [e_k, e_{k+1}): number of inner edges <= x
        ref = np.stack([np.searchsorted(edges[i], x[:, i], side="right") for i in range(5)], 1)
        # linspace edges may differ from the floor() rule by one ulp: allow no more than a tiny
        # number of boundary disagreements, and those must be off by one bin only
        diff = np.abs(codes.numpy() - ref)
        assert diff.max() <= 1
        assert (diff > 0).sum() <= 2


# --- equal mass -----------------------------------------------------------------------------


@pytest.mark.parametrize("n_bins", [2, 4, 8, 16, 32])
def test_equal_mass_equal_counts_on_continuous_data(n_bins: int) -> None:
    rng = np.random.default_rng(n_bins)
    x = torch.as_tensor(rng.standard_cauchy(size=(1000, 3)).astype(np.float32))
    codes, n_values = quantize(x, "equal_mass", n_bins=n_bins)
    assert n_values == n_bins
    assert codes.min() >= 0 and codes.max() < n_bins
    for i in range(3):
        counts = np.bincount(codes[:, i].numpy(), minlength=n_bins)
        assert counts.sum() == 1000
        assert counts.max() - counts.min() <= 2, counts


def test_equal_mass_matches_numpy_quantile_reference() -> None:
    rng = np.random.default_rng(7)
    x = rng.exponential(size=(257, 4))
    for b in (2, 3, 8, 32):
        codes, _ = quantize(x, "equal_mass", n_bins=b)
        q = np.arange(1, b) / b
        # documented rule: code = number of quantile edges strictly below the value
        ref = np.stack(
            [np.searchsorted(np.quantile(x[:, i], q), x[:, i], side="left") for i in range(4)],
            axis=1,
        )
        np.testing.assert_array_equal(codes.numpy(), ref)


def test_equal_mass_relu_ties_share_bin_zero() -> None:
    rng = np.random.default_rng(3)
    x = np.maximum(rng.normal(size=(1000, 2)), 0.0)  # about half exact zeros
    codes, _ = quantize(x, "equal_mass", "relu", n_bins=8)
    zeros = x == 0
    assert (codes.numpy()[zeros] == 0).all()
    counts = np.bincount(codes[:, 0].numpy(), minlength=8)
    assert counts[0] == zeros[:, 0].sum()
    # edges 1/8..3/8 are all 0, so every positive value lies above three edges: bins 1, 2 stay empty
    assert (codes.numpy()[~zeros] >= 3).all()
    assert (counts[1:3] == 0).all()


# --- constant neuron ------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["equal_width", "equal_mass"])
@pytest.mark.parametrize("value", [0.0, -3.5, 7.0])
def test_constant_neuron_gets_code_zero_and_zero_entropy(method: str, value: float) -> None:
    rng = np.random.default_rng(0)
    x = np.stack([np.full(50, value), rng.normal(size=50)], axis=1)
    codes, n_values = quantize(x, method, n_bins=4)
    assert (codes[:, 0] == 0).all()
    assert len(torch.unique(codes[:, 1])) == 4
    labels = torch.as_tensor(rng.integers(0, 3, size=50))
    info = information_measures(codes, labels, n_values, 3)
    assert info.entropy[0] == 0.0
    assert info.mutual_information[0] == 0.0
    assert info.kl_selectivity[0] == 0.0


def test_constant_binary_neuron_has_zero_entropy() -> None:
    codes, n_values = quantize(torch.full((20, 1), 0.9), "binary", "sigmoid")
    labels = torch.arange(20) % 2
    assert (codes == 1).all()
    assert information_measures(codes, labels, n_values, 2).entropy[0] == 0.0


def test_empty_sample_set_gives_empty_codes() -> None:
    for method in QUANTIZERS:
        codes, _ = quantize(torch.zeros(0, 3), method, n_bins=4)
        assert codes.shape == (0, 3)


# --- bad inputs -----------------------------------------------------------------------------


def test_unknown_method_and_activation() -> None:
    x = torch.zeros(4, 2)
    with raises_with("method", "'kmeans'", *(repr(m) for m in QUANTIZERS)):
        quantize(x, "kmeans")
    with raises_with("activation", "'gelu'", *(repr(a) for a in ACTIVATIONS)):
        quantize(x, "binary", "gelu")


@pytest.mark.parametrize("n_bins", [1, 0, -4, 2.5, True, "8"])
def test_bad_n_bins(n_bins: object) -> None:
    with raises_with("n_bins", repr(n_bins), ">= 2"):
        quantize(torch.zeros(4, 2), "equal_mass", n_bins=n_bins)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(5,), (2, 3, 4), ()])
def test_outputs_must_be_2d(shape: tuple[int, ...]) -> None:
    with raises_with("outputs", "2-D", repr(shape)):
        quantize(torch.zeros(shape))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("method", QUANTIZERS)
def test_non_finite_outputs_raise(bad: float, method: str) -> None:
    x = torch.ones(6, 3)
    x[2, 1] = bad
    word = "NaN (1 values)" if bad != bad else "inf (1 values)"
    with raises_with("outputs", word, "finite"):
        quantize(x, method, n_bins=4)
