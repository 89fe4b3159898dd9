"""Per-neuron importance measures (METHOD.md section 3), all neurons at once, in bits.

Information quantities of a quantised neuron output T (codes from :func:`nbsrc.quantize.quantize`)
and the class variable Y, as plug-in estimates from the joint counts n(t, y) on N samples, with
p(t, y) = n(t, y) / N, p(y) = N_y / N, p(t | y) = n(t, y) / N_y and 0 log 0 = 0:

- entropy            H(T) = -sum_t p(t) log2 p(t)
- mutual information I(T; Y) = H(T) - H(T | Y) = sum_y p(y) D(p(. | y) || p(.))
- KL selectivity     KLsel(T) = max_y D(p(. | y) || p(.)) over the classes present in the data,
  with D(q || p) = sum_t q(t) log2(q(t) / p(t)).

Classes absent from the labels have p(y) = 0 and are ignored. Plus the class-selectivity index of
Morcos et al. on raw outputs and the L2 norm of the outgoing weights (a pruning baseline).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from nbsrc.checks import check_choice, check_int, fail
from nbsrc.quantize import check_outputs

BIAS_CORRECTIONS = (None, "miller_madow")

_LN2 = math.log(2.0)


@dataclass(frozen=True)
class NeuronInformation:
    """Per-neuron information quantities in bits, each a float64 tensor ``[n_neurons]``."""

    entropy: Tensor
    mutual_information: Tensor
    kl_selectivity: Tensor


def _check_int_tensor(param: str, value: Tensor | np.ndarray, ndim: int, upper: int) -> Tensor:
    """Return ``value`` as an int64 tensor of ``ndim`` dims with entries in [0, upper)."""
    t = torch.as_tensor(value).detach()
    if t.ndim != ndim:
        fail(f"{param}.shape", tuple(t.shape), f"{param} must be {ndim}-D")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        fail(f"{param}.dtype", t.dtype, f"{param} must have an integer dtype")
    if t.numel() > 0:
        lo, hi = (int(v) for v in torch.aminmax(t))
        if lo < 0 or hi >= upper:
            fail(
                param,
                f"min={lo}, max={hi}",
                f"{param} values must lie in [0, {upper - 1}] (0 <= {param} < {upper})",
            )
    return t.to(torch.int64)


def _check_lengths(codes: Tensor, labels: Tensor) -> None:
    if labels.shape[0] != codes.shape[0]:
        fail(
            "labels",
            f"length {labels.shape[0]}",
            f"len(labels)={labels.shape[0]} must equal the number of samples {codes.shape[0]}",
        )


def joint_counts(
    codes: Tensor | np.ndarray, labels: Tensor | np.ndarray, n_values: int, n_classes: int
) -> Tensor:
    """Joint counts ``n[i, t, y]`` = #{samples with code t on neuron i and label y}, float64.

    Shape ``[n_neurons, n_values, n_classes]``, built with one ``bincount`` over the flattened
    index ``i * n_values * n_classes + t * n_classes + y``.
    """
    n_values = check_int("n_values", n_values, 1)
    n_classes = check_int("n_classes", n_classes, 2)
    codes = _check_int_tensor("codes", codes, 2, n_values)
    labels = _check_int_tensor("labels", labels, 1, n_classes).to(codes.device)
    _check_lengths(codes, labels)
    n_neurons = codes.shape[1]
    offsets = torch.arange(n_neurons, device=codes.device) * (n_values * n_classes)
    flat = codes * n_classes  # new tensor; the in-place adds below avoid two more [N, n] copies
    flat += labels[:, None]
    flat += offsets
    flat = flat.reshape(-1)
    counts = torch.bincount(flat, minlength=n_neurons * n_values * n_classes)
    return counts.reshape(n_neurons, n_values, n_classes).to(torch.float64)


def _entropy_bits(counts: Tensor, total: Tensor, dim: int) -> Tensor:
    """Plug-in entropy -sum p log2 p of ``counts`` along ``dim`` (p = counts / total, 0 log 0 = 0)."""
    p = counts / total.clamp_min(1.0)
    return -torch.special.xlogy(p, p).sum(dim) / _LN2


def information_measures(
    codes: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    n_values: int,
    n_classes: int,
    bias_correction: str | None = None,
) -> NeuronInformation:
    """Entropy, mutual information with the label and KL selectivity of every neuron, in bits.

    ``codes`` int ``[N, n]`` in ``[0, n_values)``, ``labels`` int ``[N]`` in ``[0, n_classes)``.
    Plug-in: D_y = sum_t p(t|y) log2(n(t,y) N / (N_y n(t))) per present class (the ratio is
    formed from exact integer counts, so a neuron whose counts are an exact product distribution
    gets I = KLsel = 0 exactly); I = sum_y p(y) D_y; KLsel = max_y D_y.

    ``bias_correction="miller_madow"``: H_MM = H + (m - 1) / (2 N ln 2), m the number of non-empty
    bins; I_MM = H_MM(T) - sum_y p(y) H_MM(T | Y=y) (with N_y, m_y per class)
    = I + (m - 1 - sum_y (m_y - 1)) / (2 N ln 2), clipped at 0. KL selectivity stays plug-in
    (a per-class maximum has no simple Miller-Madow correction).
    """
    check_choice("bias_correction", bias_correction, BIAS_CORRECTIONS)
    counts = joint_counts(codes, labels, n_values, n_classes)  # [n, V, C]
    n_samples = int(torch.as_tensor(labels).shape[0])
    if n_samples == 0:
        fail("codes.shape", tuple(torch.as_tensor(codes).shape), "need at least one sample")
    n_t = counts.sum(2)  # [n, V]
    n_y = counts.sum(1)  # [n, C] (the same row for every neuron)
    total = torch.tensor(float(n_samples), dtype=torch.float64, device=counts.device)

    entropy = _entropy_bits(n_t, total, dim=1)
    # D(p(.|y) || p(.)) per neuron and class; zero counts give 0 log 0 = 0, absent classes 0.
    denom = (n_y[:, None, :] * n_t[:, :, None]).clamp_min(1.0)
    ratio = counts * total / denom
    p_t_given_y = counts / n_y[:, None, :].clamp_min(1.0)
    kl = (torch.special.xlogy(p_t_given_y, ratio).sum(1) / _LN2).clamp_min(0.0)  # [n, C]
    p_y = n_y / total
    mutual_information = (p_y * kl).sum(1)
    kl_selectivity = kl.amax(1)

    if bias_correction == "miller_madow":
        m = (n_t > 0).sum(1).to(torch.float64)
        m_y = (counts > 0).sum(1).to(torch.float64)  # [n, C]
        excess_y = torch.where(n_y > 0, m_y - 1.0, torch.zeros_like(m_y)).sum(1)
        entropy = entropy + (m - 1.0) / (2.0 * n_samples * _LN2)
        correction = (m - 1.0 - excess_y) / (2.0 * n_samples * _LN2)
        mutual_information = (mutual_information + correction).clamp_min(0.0)

    return NeuronInformation(entropy, mutual_information, kl_selectivity)


def pair_synergy(
    codes: Tensor | np.ndarray,
    labels: Tensor | np.ndarray,
    pairs: Tensor | np.ndarray,
    n_values: int,
    n_classes: int,
) -> Tensor:
    """Synergy minus redundancy of neuron pairs about the label, in bits (plug-in), float64 ``[P]``.

    For each pair (i, j) of columns of ``codes`` [N, n]: S = I(T_i, T_j; Y) - I(T_i; Y) - I(T_j; Y), the pair
    read as one variable with n_values^2 codes. S > 0: the pair tells more about Y than its neurons apart
    (synergy); S < 0: they tell partly the same (redundancy); S = 0 for independent, uninformative pairs.
    """
    codes = _check_int_tensor("codes", codes, 2, n_values)
    pairs = torch.as_tensor(np.asarray(pairs), dtype=torch.int64, device=codes.device)
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        fail("pairs", tuple(pairs.shape), "expected a [P, 2] array of column indices")
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= codes.shape[1]):
        fail("pairs", "indices out of range", f"columns of codes are 0..{codes.shape[1] - 1}")
    single = information_measures(codes, labels, n_values, n_classes).mutual_information
    joint_codes = codes[:, pairs[:, 0]] * n_values + codes[:, pairs[:, 1]]
    joint = information_measures(joint_codes, labels, n_values * n_values, n_classes).mutual_information
    return joint - single[pairs[:, 0]] - single[pairs[:, 1]]


def class_selectivity_index(
    outputs: Tensor | np.ndarray, labels: Tensor | np.ndarray, n_classes: int
) -> Tensor:
    """Class-selectivity index (Morcos et al.) of every neuron on raw outputs, float64 ``[n]``.

    mu_y = mean output on class y (present classes only), mu_max = max_y mu_y, mu_rest = mean of
    mu_y over the other present classes; CSI = (mu_max - mu_rest) / (mu_max + mu_rest), and
    CSI = 0 where the denominator is 0 or where fewer than two classes are present.
    """
    n_classes = check_int("n_classes", n_classes, 2)
    x = check_outputs(outputs).to(torch.float64)
    labels = _check_int_tensor("labels", labels, 1, n_classes).to(x.device)
    _check_lengths(x, labels)
    n_y = torch.bincount(labels, minlength=n_classes).to(torch.float64)  # [C]
    sums = torch.zeros(n_classes, x.shape[1], dtype=torch.float64, device=x.device)
    sums.index_add_(0, labels, x)
    present = n_y > 0
    mu = sums[present] / n_y[present, None]  # [K, n]
    n_present = mu.shape[0]
    if n_present < 2 or x.shape[1] == 0:
        return torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    mu_max = mu.amax(0)
    mu_rest = (mu.sum(0) - mu_max) / (n_present - 1)
    num, den = mu_max - mu_rest, mu_max + mu_rest
    return torch.where(den != 0, num / torch.where(den != 0, den, 1.0), 0.0)


def outgoing_weight_norm(weight_next: Tensor | np.ndarray) -> Tensor:
    """L2 norm of each neuron's outgoing weights: column norms ||W_next[:, i]||_2, float64 ``[n]``.

    ``weight_next`` is the next layer's weight matrix ``[n_next, n]`` (``nn.Linear.weight``).
    """
    w = torch.as_tensor(weight_next).detach()
    if w.ndim != 2:
        fail("weight_next.shape", tuple(w.shape), "weight_next must be 2-D [n_next, n]")
    return torch.linalg.vector_norm(w.to(torch.float64), dim=0)
