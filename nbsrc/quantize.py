"""Quantisation of neuron outputs (METHOD.md section 2).

The information quantities are defined for a discrete neuron output T. :func:`quantize` maps the
raw outputs of ``n`` neurons on ``N`` (validation) samples, a tensor ``[N, n]``, to integer codes
``[N, n]`` in ``{0, ..., n_values - 1}``, one column per neuron, all neurons at once.

- ``binary`` (paper default): ReLU ``T > 0``, sigmoid ``T > 0.5``, tanh ``T > 0``; 2 values.
- ``equal_width``: ``B`` bins of equal width over each neuron's own ``[min, max]`` on the data given.
- ``equal_mass``: ``B`` quantile bins per neuron.

A neuron that is constant on the data gets code 0 everywhere (so H = I = 0) for every method but
``binary``, where a constant neuron is simply all-active or all-inactive (again H = I = 0).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from nbsrc.checks import check_choice, check_int, fail
from nbsrc.models import ACTIVATIONS

QUANTIZERS = ("binary", "equal_width", "equal_mass")

#: Threshold above which a neuron counts as "active" in the binary quantiser, per activation.
BINARY_THRESHOLDS = {"relu": 0.0, "sigmoid": 0.5, "tanh": 0.0}


def check_outputs(outputs: Tensor | np.ndarray) -> Tensor:
    """Return ``outputs`` as a 2-D tensor ``[n_samples, n_neurons]``; ValueError if not 2-D or not finite."""
    t = torch.as_tensor(outputs).detach()
    if t.ndim != 2:
        fail("outputs.shape", tuple(t.shape), "outputs must be 2-D [n_samples, n_neurons]")
    if t.dtype == torch.bool or t.is_complex():
        fail("outputs.dtype", t.dtype, "outputs must be real numbers (float or integer)")
    # Fast path: a finite sum implies every entry is finite (NaN/inf propagate); only when the sum
    # is not finite (a NaN/inf, or an overflow) is the elementwise check run.
    if t.is_floating_point() and not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        n_nan = int(torch.isnan(t).sum())
        n_inf = int(torch.isinf(t).sum())
        fail(
            "outputs",
            "non-finite",
            f"outputs contain NaN ({n_nan} values) or inf ({n_inf} values); all must be finite",
        )
    return t


def check_n_bins(n_bins: int) -> int:
    """Return ``n_bins`` if it is an integer >= 2, else raise the project's ValueError."""
    return check_int("n_bins", n_bins, 2, why=" (the book studies 2, 4, 8, 16, 32)")


def quantize(
    outputs: Tensor | np.ndarray,
    method: str = "binary",
    activation: str = "relu",
    n_bins: int = 2,
) -> tuple[Tensor, int]:
    """Quantise neuron outputs ``[N, n]`` column-wise; return ``(codes int64 [N, n], n_values)``.

    - ``binary``: ``code = 1[T > theta]`` with theta = 0 (relu, tanh) or 0.5 (sigmoid);
      ``n_values = 2``; ``n_bins`` is validated but not used.
    - ``equal_width``: ``code = min(floor((T - min) / (max - min) * B), B - 1)`` with min, max the
      neuron's own extremes on ``outputs``; ``n_values = B``.
    - ``equal_mass``: edges ``e_j`` = per-neuron quantile ``j / B`` (j = 1..B-1, linear
      interpolation between order statistics, as ``numpy.quantile``'s default), and
      ``code = #{j : e_j < T}`` (number of edges strictly below T), i.e. bin k is ``(e_k, e_{k+1}]``
      and the lowest bin also holds the minimum. Tied values share one bin, so a ReLU neuron with
      many exact zeros puts them all in bin 0 and some bins may stay empty; ``n_values = B``.

    A constant neuron gets code 0 everywhere with ``equal_width`` and ``equal_mass``.
    """
    check_choice("method", method, QUANTIZERS)
    check_choice("activation", activation, ACTIVATIONS)
    n_bins = check_n_bins(n_bins)
    t = check_outputs(outputs)
    if method == "binary":
        return (t > BINARY_THRESHOLDS[activation]).to(torch.int64), 2
    if t.shape[0] == 0:
        return torch.zeros(t.shape, dtype=torch.int64, device=t.device), n_bins
    if method == "equal_width":
        return _equal_width(t, n_bins), n_bins
    return _equal_mass(t, n_bins), n_bins


def _equal_width(t: Tensor, n_bins: int) -> Tensor:
    """Equal-width bin codes over each column's [min, max] (float64 arithmetic)."""
    x = t.to(torch.float64)
    lo = x.amin(dim=0)
    span = x.amax(dim=0) - lo
    span = torch.where(span > 0, span, torch.ones_like(span))  # constant column: (x - lo) = 0
    codes = torch.floor((x - lo) / span * n_bins).to(torch.int64)
    return codes.clamp_(0, n_bins - 1)


def _equal_mass(t: Tensor, n_bins: int) -> Tensor:
    """Quantile bin codes: number of per-column quantile edges strictly below each value."""
    n_samples = t.shape[0]
    x = t if t.is_floating_point() else t.to(torch.float64)
    s = torch.sort(x, dim=0).values  # [N, n]
    # Position of quantile j/B among the N order statistics: j (N - 1) / B, in exact integers.
    j = torch.arange(1, n_bins, device=x.device)
    pos = j * (n_samples - 1)
    below = pos // n_bins
    frac = ((pos % n_bins).to(x.dtype) / n_bins)[:, None]
    above = torch.clamp(below + 1, max=n_samples - 1)
    edges = s[below] + frac * (s[above] - s[below])  # [B-1, n]
    # Batched searchsorted over neurons; right=False counts edges strictly below each value.
    codes = torch.searchsorted(edges.T.contiguous(), x.T.contiguous(), right=False)
    return codes.T.contiguous()
