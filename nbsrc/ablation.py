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
so z_{l+1} is kept and updated instead of recomputed; a pre-activation z_m only changes at steps
that ablate a neuron below layer m, so it is materialised at those steps alone; everything upstream
of the lowest ablated layer is computed once; and a chunk of consecutive k goes through each
downstream layer as one batched matrix product. Samples are processed in blocks to stay in cache.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from nbsrc.checks import check_choice, fail
from nbsrc.models import MLP, AffineLayers, activation_fn, resolve_device

ORDERS = ("ascending", "descending", "random")
MODES = ("zero", "mean")
ENGINES = ("fast", "reference")


def neuron_orders(scores: Tensor | np.ndarray | None, order: str, n_random: int = 20, seed: int = 0,
                  n: int | None = None) -> np.ndarray:
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
    if isinstance(scope, bool) or scope not in allowed:
        check_choice("scope", scope, allowed)
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
        fail("means", None if means is None else len(means),
             f"mode='mean' needs one mean vector per hidden layer ({len(widths)} layers)")
    for layer, (mean, width) in enumerate(zip(means, widths, strict=True)):
        if tuple(mean.shape) != (width,):
            fail(f"means[{layer}]", tuple(mean.shape), f"expected shape ({width},)")
    return [torch.as_tensor(m) for m in means]


def _check_order(order: Sequence[int] | np.ndarray | Tensor, size: int) -> np.ndarray:
    positions = np.asarray(torch.as_tensor(order).cpu(), dtype=np.int64).reshape(-1)
    if len(positions) != size or not np.array_equal(np.sort(positions), np.arange(size)):
        fail("order", f"array of length {len(positions)}", f"must be a permutation of 0..{size - 1}")
    return positions


def _reference_logits(model: MLP, x: Tensor, layers: np.ndarray, indices: np.ndarray,
                      values: list[Tensor]) -> Iterator[Tensor]:
    """Logits [1, N, C] for k = 0..n: masks and a full forward pass per k."""
    masks = [torch.zeros(w, dtype=torch.bool, device=x.device) for w in model.widths]
    with torch.no_grad():
        yield model(x, ablate=masks, values=values)[None]
        for layer, index in zip(layers, indices, strict=True):
            masks[layer][index] = True
            yield model(x, ablate=masks, values=values)[None]


def _fast_logits(aff: AffineLayers, x: Tensor, layers: Tensor, indices: Tensor, values: list[Tensor],
                 chunk_size: int) -> Iterator[Tensor]:
    """Logits for k = 0..n in consecutive chunks [K, N, C] (the first holds k = 0 alone).

    Notation: hidden layers l = 0..L-1, ``W[m]`` maps T_{m-1} (x for m = 0) to z_m, z_L = logits.
    Within a chunk, z_m changes only at the steps CP_m that ablate a neuron of a layer <= m-1:

    * a step in layer m-1 changes z_m by the rank-one term (T_{m-1}[:, i] - v_i) W_m[:, i]^T,
      applied in place; it changes exactly the rows (samples) where T_{m-1}[:, i] != v_i;
    * a step in a lower layer (an *anchor* of level m) changed z_{m-1} on some rows, so z_m is
      recomputed on those rows only; the rows of all the chunk's anchors go through W_m in one
      matrix product.

    ``zbuf[m]`` slot 0 holds z_m at the chunk start and slot j+1 its value after the chunk's j-th
    change of z_m; the anchors of level m are exactly the changes of level m-1, so
    ``zbuf[m-1][1:]`` holds z_{m-1} at those anchors. Yielded tensors are views of a buffer that
    the next chunk overwrites.
    """
    act = activation_fn(aff.activation)
    weights, biases = aff.weights, aff.biases
    n_hidden = len(weights) - 1
    n_steps, n_samples = len(layers), x.shape[0]
    low = int(layers.min())
    h = x
    for m in range(low + 1):
        h = act(h @ weights[m].T + biases[m])
    intact_low = h  # T_low: upstream of every ablation, computed once
    zbuf: dict[int, Tensor] = {}
    for m in range(low + 1, n_hidden + 1):
        zbuf[m] = x.new_empty(chunk_size + 1, n_samples, weights[m].shape[0])
        torch.addmm(biases[m], h, weights[m].T, out=zbuf[m][0])
        if m < n_hidden:
            h = act(zbuf[m][0])
    yield zbuf[n_hidden][:1]

    # 1-based step at which each neuron is ablated; n_steps + 1 for neurons outside the order.
    step_of = [torch.full((w.shape[0],), n_steps + 1, device=x.device) for w in weights[:-1]]
    steps = torch.arange(1, n_steps + 1, device=x.device)
    for layer in range(n_hidden):
        chosen = layers == layer
        step_of[layer][indices[chosen]] = steps[chosen]
    layers_cpu, indices_cpu = layers.cpu(), indices.cpu()

    for start in range(0, n_steps, chunk_size):
        chunk_layers = layers_cpu[start : start + chunk_size]
        chunk_indices = indices_cpu[start : start + chunk_size]
        changed_rows: dict[int, list[Tensor]] = {}  # per level, the rows each change touched
        for m in range(low + 1, n_hidden + 1):
            z = zbuf[m]
            changes = torch.nonzero(chunk_layers <= m - 1).squeeze(1)
            is_anchor = chunk_layers[changes] < m - 1
            if bool(is_anchor.any()):
                below = changed_rows[m - 1]
                counts = [len(r) for r in below]
                rows = torch.cat(below)
                owner = torch.repeat_interleave(torch.arange(len(below), device=x.device),
                                                torch.tensor(counts, device=x.device))
                anchor_steps = (start + 1 + changes[is_anchor]).to(x.device)
                outputs = act(zbuf[m - 1][1 + owner, rows])
                ablated = step_of[m - 1][None, :] <= anchor_steps[owner][:, None]
                outputs = torch.where(ablated, values[m - 1], outputs)
                recomputed = torch.addmm(biases[m], outputs, weights[m].T).split(counts)
            rank_one = torch.nonzero(~is_anchor).squeeze(1)
            if len(rank_one):
                neuron = chunk_indices[changes[rank_one]].to(x.device)
                if m - 1 == low:
                    column = intact_low[:, neuron].T
                else:  # z_{m-1} is constant since the last anchor of level m before this step
                    segment = torch.cumsum(is_anchor, 0)[rank_one].to(x.device)
                    column = act(zbuf[m - 1][segment, :, neuron])
                delta = column - values[m - 1][neuron][:, None]
                outgoing = weights[m][:, neuron].T.contiguous()
                moved = delta != 0
            rows_here, n_anchor, n_rank_one = [], 0, 0
            for slot, anchor in enumerate(is_anchor.tolist()):
                if anchor:
                    z[slot + 1].copy_(z[slot])
                    z[slot + 1].index_copy_(0, below[n_anchor], recomputed[n_anchor])
                    rows_here.append(below[n_anchor])
                    n_anchor += 1
                else:
                    torch.addr(z[slot], delta[n_rank_one], outgoing[n_rank_one], alpha=-1, out=z[slot + 1])
                    rows_here.append(torch.nonzero(moved[n_rank_one]).squeeze(1))
                    n_rank_one += 1
            changed_rows[m] = rows_here
        yield zbuf[n_hidden][1 : len(chunk_layers) + 1]
        for m in range(low + 1, n_hidden + 1):
            if changed_rows[m]:
                zbuf[m][0].copy_(zbuf[m][len(changed_rows[m])])


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
    chunk_size: int = 32,
    block_size: int = 2048,
) -> Iterator[tuple[slice, int, Tensor]]:
    """Yield ``(sample_slice, k_start, logits [K, n_samples, C])`` covering every k = 0..n.

    ``order`` is a permutation of the scope's positions (see :func:`scope_neurons`); the k-th
    ablated neuron is ``scope_neurons(...)[order[k-1]]``. Both engines yield the same blocks of
    numbers; the reference engine one k at a time over all samples.
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
    aff = AffineLayers(tuple(w.to(device) for w in aff.weights), tuple(b.to(device) for b in aff.biases),
                       aff.activation)
    layers = torch.as_tensor(layers_np, device=device)
    indices = torch.as_tensor(indices_np, device=device)
    for lo in range(0, len(x), block_size):
        block = slice(lo, min(lo + block_size, len(x)))
        k = 0
        with torch.no_grad():
            for logits in _fast_logits(aff, x[block], layers, indices, values, chunk_size):
                yield block, k, logits
                k += len(logits)


def cumulative_curve(
    model: MLP,
    x: Tensor,
    y: Tensor,
    order: Sequence[int] | np.ndarray | Tensor,
    scope: int | str = "network",
    mode: str = "zero",
    means: Sequence[Tensor] | None = None,
    engine: str = "fast",
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
    progress: bool = False,
    **engine_options: int,
) -> np.ndarray:
    """Test accuracy after ablating the first k neurons of ``order``, for k = 0..n (length n+1)."""
    if len(x) != len(y):
        fail("y", f"length {len(y)}", f"must have the same length as x ({len(x)})")
    n_scope = len(scope_neurons(model.widths, scope)[0])
    correct = torch.zeros(n_scope + 1, dtype=torch.int64)
    y = torch.as_tensor(y).to(resolve_device(device))
    stream = cumulative_logits(model, x, order, scope, mode, means, engine, dtype, device, **engine_options)
    for block, k, logits in tqdm(stream, desc="ablation", disable=not progress, leave=False):
        hits = (logits.argmax(-1) == y[block]).sum(-1).cpu()
        correct[k : k + len(hits)] += hits
    return correct.double().numpy() / len(x)
