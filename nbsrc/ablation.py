"""Cumulative ablation: orders, scopes and two engines that must agree.

Ablating neuron i of hidden layer l fixes its output T_l[:, i] to a value v_i for every input:
0 (``mode="zero"``) or its validation mean (``mode="mean"``, the paper's bias balancing). A curve
ablates the neurons of a scope (one layer, or the whole network ranked in one list) one after the
other in a given order and records test accuracy after each of the k = 0..n ablations.

Engines
-------
``reference``: for every k, build the masks and run a full forward pass of the module.

``fast``: the same numbers from the structure of the problem. Ablating neuron i of layer l changes
the next pre-activation by a rank-one term, z_{l+1} <- z_{l+1} - (T_l[:, i] - v_i) W_{l+1}[:, i]^T,
so z_{l+1} is kept and updated instead of recomputed, and everything upstream of the lowest ablated
layer is computed once. The term is zero on the samples where T_l[:, i] already equals v_i (a silent
ReLU under zero ablation), so only the rows that change go through the downstream layers, whose
weights have the ablated columns removed and their fixed values folded into the bias. Per step the
work is proportional to the rows that change and the layers above l, never to the whole network.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from nbsrc.checks import check_choice, fail
from nbsrc.models import MLP, AffineLayers, activation_fn, resolve_device

ORDERS = ("ascending", "descending", "random")
MODES = ("zero", "mean")
ENGINES = ("fast", "reference")


def neuron_orders(
    scores: Tensor | np.ndarray | None, order: str, n_random: int = 20, seed: int = 0, n: int | None = None
) -> np.ndarray:
    """Ablation orders as rows of neuron positions, shape [1, n] (ascending/descending) or [R, n].

    Ascending and descending sorts are stable, ties broken by neuron index (lowest first). Random
    orders are ``n_random`` permutations drawn from ``numpy.random.default_rng(seed)``; they need only
    ``n`` (or the length of ``scores``).
    """
    check_choice("order", order, ORDERS)
    if order == "random":
        size = n if n is not None else len(scores)
        if n_random < 1:
            fail("n_random", n_random, "must be a positive integer")
        rng = np.random.default_rng(seed)
        return np.stack([rng.permutation(size) for _ in range(n_random)])
    values = np.asarray(torch.as_tensor(scores).detach().cpu(), dtype=np.float64)
    if values.ndim != 1:
        fail("scores", values.shape, "expected a 1-D array of per-neuron scores")
    if not np.isfinite(values).all():
        fail("scores", "non-finite values", "every score must be finite (got NaN or inf)")
    keys = values if order == "ascending" else -values
    return np.argsort(keys, kind="stable")[None, :]


def scope_neurons(widths: Sequence[int], scope: int | str) -> tuple[np.ndarray, np.ndarray]:
    """(layer, index) of every neuron in a scope, in position order.

    ``scope`` is a hidden-layer index 0..L-1 or ``"network"``: all hidden neurons, layer by layer.
    """
    allowed = [*range(len(widths)), "network"]
    check_choice("scope", str(scope) if isinstance(scope, bool) else scope, allowed)
    layers = range(len(widths)) if scope == "network" else [scope]
    layer_ids = np.concatenate([np.full(widths[layer], layer) for layer in layers])
    indices = np.concatenate([np.arange(widths[layer]) for layer in layers])
    return layer_ids, indices


def ablation_values(widths: Sequence[int], mode: str, means: Sequence[Tensor] | None) -> list[Tensor]:
    """The value each ablated neuron is fixed to: zeros, or the per-layer validation means."""
    check_choice("mode", mode, MODES)
    if mode == "zero":
        return [torch.zeros(w) for w in widths]
    if means is None or len(means) != len(widths):
        fail(
            "means",
            None if means is None else len(means),
            f"mode='mean' needs one mean vector per hidden layer ({len(widths)} layers)",
        )
    for layer, (mean, width) in enumerate(zip(means, widths, strict=True)):
        if tuple(mean.shape) != (width,):
            fail(f"means[{layer}]", tuple(mean.shape), f"expected shape ({width},)")
    return [torch.as_tensor(m) for m in means]


def _check_order(order: Sequence[int] | np.ndarray | Tensor, size: int) -> np.ndarray:
    positions = np.asarray(torch.as_tensor(order).cpu(), dtype=np.int64).reshape(-1)
    if len(positions) != size or not np.array_equal(np.sort(positions), np.arange(size)):
        fail("order", f"array of length {len(positions)}", f"must be a permutation of 0..{size - 1}")
    return positions


def _reference_logits(
    model: MLP, x: Tensor, layers: np.ndarray, indices: np.ndarray, values: list[Tensor]
) -> Iterator[Tensor]:
    """Logits [1, N, C] for k = 0..n: masks and a full forward pass per k."""
    masks = [torch.zeros(w, dtype=torch.bool, device=x.device) for w in model.widths]
    with torch.no_grad():
        yield model(x, ablate=masks, values=values)[None]
        for layer, index in zip(layers, indices, strict=True):
            masks[layer][index] = True
            yield model(x, ablate=masks, values=values)[None]


def _fast_logits(
    aff: AffineLayers,
    x: Tensor,
    layers: Tensor,
    indices: Tensor,
    values: list[Tensor],
    chunk_size: int,
    intact_low: Tensor | None = None,
) -> Iterator[Tensor]:
    """Logits for k = 0..n, in consecutive chunks [K, N, C] (the first holds k = 0 alone).

    Notation: hidden layers l = 0..L-1, ``W[m]`` maps T_{m-1} (x for m = 0) to z_m, z_L = logits.
    State: every z_m downstream of the lowest ablated layer, kept across steps. Ablating neuron i
    of layer l at step k:

    * changes z_{l+1} by the rank-one term (T_l[:, i] - v_i) W_{l+1}[:, i]^T, applied in place and
      only on the rows (samples) where T_l[:, i] != v_i; no layer at or below l is recomputed;
    * so every z_m above l+1 changes on those rows only: they alone go through the downstream
      layers, whose weights have the ablated neurons' columns removed and their fixed values
      folded into the bias (W_m[:, j] v_j), so no mask is applied per sample.

    The logits of ``chunk_size`` consecutive k are gathered into one yielded (new) tensor.
    ``intact_low`` (the intact outputs of the lowest ablated layer on ``x``) skips the layers below.
    """
    act = activation_fn(aff.activation)
    weights, biases = aff.weights, aff.biases
    n_hidden = len(weights) - 1
    low = int(layers.min())
    if intact_low is None:  # T_low: upstream of every ablation, computed once
        intact_low = x
        for m in range(low + 1):
            intact_low = act(intact_low @ weights[m].T + biases[m])
    h = intact_low
    z: dict[int, Tensor] = {}
    for m in range(low + 1, n_hidden + 1):
        z[m] = torch.addmm(biases[m], h, weights[m].T)
        if m < n_hidden:
            h = act(z[m])
    yield z[n_hidden][None].clone()
    # W_m and b_m with the ablated neurons of layer m-1 folded out, updated as neurons go.
    weight = {m: weights[m].clone() for m in range(low + 1, n_hidden + 1)}
    bias = {m: biases[m].clone() for m in range(low + 1, n_hidden + 1)}
    out = x.new_empty(chunk_size, *z[n_hidden].shape)
    filled = 0
    for layer, neuron in zip(layers.tolist(), indices.tolist(), strict=True):
        column = intact_low[:, neuron] if layer == low else act(z[layer][:, neuron])
        delta = column - values[layer][neuron]
        rows = torch.nonzero(delta).squeeze(1)
        above = layer + 1
        outgoing = weight[above][:, neuron]
        z_rows = z[above].index_select(0, rows)
        z_rows.addr_(delta[rows], outgoing, alpha=-1)
        z[above].index_copy_(0, rows, z_rows)
        bias[above] += outgoing * values[layer][neuron]
        outgoing.zero_()  # a view: the column leaves W_{l+1}
        for m in range(above + 1, n_hidden + 1):
            z_rows = torch.addmm(bias[m], act(z_rows), weight[m].T)
            z[m].index_copy_(0, rows, z_rows)
        out[filled].copy_(z[n_hidden])
        filled += 1
        if filled == chunk_size:
            yield out.clone()
            filled = 0
    if filled:
        yield out[:filled].clone()


def cumulative_logits(
    model: MLP,
    x: Tensor,
    order: Sequence[int] | np.ndarray | Tensor,
    scope: int | str = "network",
    mode: str = "zero",
    means: Sequence[Tensor] | None = None,
    engine: str = "fast",
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
    chunk_size: int = 64,
    block_size: int = 16384,
    intact: Sequence[Tensor] | None = None,
) -> Iterator[tuple[slice, int, Tensor]]:
    """Yield ``(sample_slice, k_start, logits [K, n_samples, C])`` covering every k = 0..n.

    ``order`` is a permutation of the scope's positions (see :func:`scope_neurons`); the k-th
    ablated neuron is ``scope_neurons(...)[order[k-1]]``. Both engines yield the same blocks of
    numbers; the reference engine one k at a time over all samples. ``intact``, the intact hidden
    outputs on ``x`` (``model.hidden_outputs(x)``), lets the fast engine skip the unablated layers when
    many curves share ``x``.
    """
    check_choice("engine", engine, ENGINES)
    layer_ids, index_ids = scope_neurons(model.widths, scope)
    positions = _check_order(order, len(layer_ids))
    values = ablation_values(model.widths, mode, means)
    if chunk_size < 1 or block_size < 1:
        fail("chunk_size/block_size", (chunk_size, block_size), "both must be positive integers")
    device = resolve_device(device)
    x = x.to(device=device, dtype=dtype)
    values = [v.to(device=device, dtype=dtype) for v in values]
    layers_np, indices_np = layer_ids[positions], index_ids[positions]
    if engine == "reference":
        net = copy.deepcopy(model).to(device=device, dtype=dtype).eval()
        for k, logits in enumerate(_reference_logits(net, x, layers_np, indices_np, values)):
            yield slice(0, len(x)), k, logits
        return
    aff = model.affine_layers(dtype)
    aff = AffineLayers(
        tuple(w.to(device) for w in aff.weights), tuple(b.to(device) for b in aff.biases), aff.activation
    )
    layers = torch.as_tensor(layers_np, device=device)
    indices = torch.as_tensor(indices_np, device=device)
    low = int(layers_np.min())
    if intact is not None and intact[low].dtype != dtype:
        fail("intact", intact[low].dtype, f"must have the engine's dtype {dtype} (compute it in that dtype)")
    if intact is not None and tuple(intact[low].shape) != (len(x), model.widths[low]):
        fail(
            "intact",
            tuple(intact[low].shape),
            f"expected model.hidden_outputs(x): layer {low} of shape {(len(x), model.widths[low])}",
        )
    for lo in range(0, len(x), block_size):
        block = slice(lo, min(lo + block_size, len(x)))
        start = None if intact is None else intact[low][block].to(device)
        k = 0
        with torch.no_grad():
            for logits in _fast_logits(aff, x[block], layers, indices, values, chunk_size, start):
                yield block, k, logits
                k += len(logits)


def cumulative_curve(
    model: MLP,
    x: Tensor,
    y: Tensor,
    order: Sequence[int] | np.ndarray | Tensor,
    progress: bool = False,
    **options: object,
) -> np.ndarray:
    """Test accuracy after ablating the first k neurons of ``order``, for k = 0..n (length n+1).

    ``options`` are :func:`cumulative_logits`'s, by keyword: ``scope``, ``mode``, ``means``, ``engine``,
    ``dtype``, ``device``, ``chunk_size``, ``block_size``, ``intact``.
    """
    if len(x) != len(y):
        fail("y", f"length {len(y)}", f"must have the same length as x ({len(x)})")
    n_scope = len(scope_neurons(model.widths, options.get("scope", "network"))[0])
    correct = torch.zeros(n_scope + 1, dtype=torch.int64)
    y = torch.as_tensor(y).to(resolve_device(options.get("device")))
    stream = cumulative_logits(model, x, order, **options)
    for block, k, logits in tqdm(stream, desc="ablation", disable=not progress, leave=False):
        hits = (logits.argmax(-1) == y[block]).sum(-1).cpu()
        correct[k : k + len(hits)] += hits
    return correct.double().numpy() / len(x)
