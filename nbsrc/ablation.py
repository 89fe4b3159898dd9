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
weights have the ablated columns zeroed and their fixed values folded into the bias; every few dozen
steps the ablated neurons leave the state and the weights altogether, so the products shrink as k
grows. Per step the work is proportional to the rows that change and the surviving neurons above l.
The curve counts correct predictions from the changed rows alone (a sample's prediction changes only
when its logits do), never from all logits of every k.

A curve needs only each sample's predicted class, and within one layer the layers above never change,
so a layer's curve also skips the rows whose prediction provably stays (see :func:`margin_lipschitz`):
each evaluated row keeps the radius within which its z_{l+1} may move without changing the argmax, and the
distance it has moved since is bounded by the sum of |T_l[:, i] - v_i| ||W_{l+1}[:, i]|| over the steps
since. Only the rows whose bound reaches their radius go up; the curve is the same, with a fraction of
the products.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm import tqdm

from nbsrc.checks import check_choice, fail
from nbsrc.models import ACTIVATION_LIPSCHITZ, MLP, AffineLayers, activation_fn, resolve_device

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


def margin_lipschitz(aff: AffineLayers, layer: int) -> Tensor:
    """[C, C] float64: L[a, b] bounds how much logit_a - logit_b can move per unit of ||Δz_layer||_2.

    With the layers above ``layer`` fixed, the logits are g(z_layer) = W_L act(... act(W_{layer+1}
    act(z_layer)) ...), so |Δ(logit_a - logit_b)| <= c^(L - layer) prod_m ||W_m||_2 ||W_L^T (e_a - e_b)||_2
    ||Δz_layer||_2, with c the activation's Lipschitz constant, the spectral norms over the hidden
    weights above ``layer`` and the last factor from the output weights (0-based hidden layers, L of
    them; ``layer`` indexes pre-activations, 0 <= ``layer`` <= L - 1). Spectral norms are
    computed in float64 and rounded up by a factor 1 + 1e-6.
    """
    n_hidden = len(aff.weights) - 1
    scale = ACTIVATION_LIPSCHITZ[aff.activation] ** (n_hidden - layer)
    for m in range(layer + 1, n_hidden):
        scale *= float(torch.linalg.matrix_norm(aff.weights[m].double(), 2))
    out = aff.weights[-1].double()
    return (out[:, None, :] - out[None, :, :]).norm(dim=2) * scale * (1 + 1e-6)


def certified_radius(logits: Tensor, lipschitz: Tensor) -> Tensor:
    """Per row of ``logits`` [R, C], the ||Δz||_2 below which its argmax a provably stays:
    min over b != a of (logit_a - logit_b - s) / L[a, b], with a slack s = 1e4 eps (1 + max |logit|)
    for rounding (eps of the logits' dtype): negative where a margin is within the slack (never
    certified); a b whose margin cannot move (L[a, b] = 0) counts as inf above the slack, -inf within."""
    predicted = logits.argmax(1)
    gap = logits.gather(1, predicted[:, None]) - logits
    slack = 1e4 * torch.finfo(logits.dtype).eps * (1 + logits.abs().amax(1, keepdim=True))
    lip = lipschitz.to(logits.dtype)[predicted]
    inf = torch.tensor(float("inf"), dtype=logits.dtype, device=logits.device)
    cannot_move = torch.where(gap > slack, inf, -inf)
    ratio = torch.where(lip > 0, (gap - slack) / lip, cannot_move)
    ratio.scatter_(1, predicted[:, None], float("inf"))
    return ratio.amin(1)


#: Products per row above a layer's next pre-activation from which certification pays for its bookkeeping
#: with ReLU, whose zero ablation changes only the rows where the neuron fires (measured on the book's
#: networks: 784-512-256-128 layer 0 gains, its layer 1 with 128 x 16 products above loses); with sigmoid
#: and tanh every row changes at every step, and certification pays from one layer above.
CERTIFY_MIN_PRODUCTS_RELU = 4096


def _certification_pays(aff: AffineLayers, layer: int) -> bool:
    """Whether a curve of hidden layer ``layer`` certifies rows: the network is on the CPU (on an NVIDIA
    H200 certification made the book's first-layer curve 0.44 times as fast and a chapter's analysis 0.61
    times: the GPU evaluates every changed row faster than it selects the uncertified ones), some layer
    lies between its next pre-activation and the logits, and (for ReLU) the products per row above it are
    many enough."""
    above = [w.shape[0] * w.shape[1] for w in aff.weights[layer + 2 :]]
    if not above or aff.weights[0].device.type != "cpu":
        return False
    return aff.activation != "relu" or sum(above) >= CERTIFY_MIN_PRODUCTS_RELU


def _fast_steps(
    aff: AffineLayers,
    x: Tensor,
    layers: np.ndarray,
    indices: np.ndarray,
    values: list[Tensor],
    compact_every: int,
    intact_low: Tensor | None = None,
    certify: bool = False,
) -> Iterator[tuple[Tensor | None, Tensor]]:
    """The changes of k = 0..n: ``(None, logits [N, C])`` for k = 0, then ``(rows, logits[rows])`` per k.

    ``rows`` are the samples whose logits step k changes; every other sample keeps its logits. With
    ``certify`` (a curve, which reads only the argmax), a layer's ablation yields only the changed rows
    whose prediction may have changed: every other row provably keeps its argmax (see
    :func:`certified_radius`), though not its logits. The
    logits may be views of the engine's state: read (or copy) them before asking for the next step.
    Notation: hidden layers l = 0..L-1, ``W[m]`` maps T_{m-1} (x for m = 0) to z_m, z_L = logits.
    State: every z_m downstream of the lowest ablated layer. Ablating neuron i of layer l at step k:

    * adds the rank-one term -(T_l[:, i] - v_i) W_{l+1}[:, i]^T to z_{l+1} in place (zero on the rows
      where T_l[:, i] = v_i); no layer at or below l is recomputed;
    * sends only the rows that changed through the layers above, whose weights have the ablated
      neurons' columns zeroed and their fixed values folded into the bias (W_m[:, j] v_j), and
      stores a recomputed z_m only while a later step still reads it (ablates layer m or m-1);
    * every ``compact_every`` steps removes the ablated neurons from the state and the weights
      (columns of z_l and W_{l+1}, rows of W_l and b_l), so the products shrink as k grows.

    ``intact_low`` (the intact outputs of the lowest ablated layer on ``x``) skips the layers below.
    """
    act = activation_fn(aff.activation)
    act_ = activation_fn(aff.activation, inplace=True)
    n_hidden = len(aff.weights) - 1
    low = int(layers.min())
    if intact_low is None:  # T_low: upstream of every ablation, computed once
        intact_low = x
        for m in range(low + 1):
            intact_low = act(torch.addmm(aff.biases[m], intact_low, aff.weights[m].T))
    # the output layer padded with zero rows to a multiple of 16 classes: GEMMs with 10 output
    # columns run several times slower than with 16; the padded logits are never read
    n_classes = len(aff.biases[-1])
    weights = {m: aff.weights[m] for m in range(low + 1, n_hidden)}
    weights[n_hidden] = torch.nn.functional.pad(aff.weights[-1], (0, 0, 0, -n_classes % 16))
    biases = {m: aff.biases[m] for m in range(low + 1, n_hidden)}
    biases[n_hidden] = torch.nn.functional.pad(aff.biases[-1], (0, -n_classes % 16))
    h = intact_low
    z: dict[int, Tensor] = {}
    for m in range(low + 1, n_hidden + 1):
        z[m] = torch.addmm(biases[m], h, weights[m].T)
        if m < n_hidden:
            h = act(z[m])
    yield None, z[n_hidden][:, :n_classes]
    # a layer's curve: skip the rows that provably keep their argmax, where that saves more than it costs
    certify = certify and bool((layers == low).all()) and _certification_pays(aff, low)
    if certify:
        lipschitz = margin_lipschitz(aff, low + 1)
        radius = certified_radius(z[n_hidden][:, :n_classes], lipschitz)
        moved = torch.zeros_like(radius)  # bound on ||Δz_{low+1}|| since each row's last evaluation
        column_norms = aff.weights[low + 1].norm(dim=0).tolist()
    # the last step that reads z_m: one that ablates a neuron of layer m (its column) or m-1 (its update)
    steps = np.arange(len(layers))
    last_read = {m: steps[(layers == m) | (layers == m - 1)].max(initial=-1) for m in z}
    low_columns = intact_low.T.contiguous()  # neuron-major: each neuron's outputs contiguous
    weight = {m: w.clone() for m, w in weights.items()}
    bias = {m: b.clone() for m, b in biases.items()}
    # column[l][i]: where neuron i of layer l sits in z_l and among W_{l+1}'s columns (-1: removed)
    column = {layer: np.arange(len(aff.biases[layer])) for layer in range(low, n_hidden)}
    ablated: dict[int, list[int]] = {layer: [] for layer in column}
    for k, (layer, neuron) in enumerate(zip(layers.tolist(), indices.tolist(), strict=True)):
        c = int(column[layer][neuron])
        output = low_columns[neuron] if layer == low else act(z[layer][:, c])
        delta = output - values[layer][neuron]
        rows = torch.nonzero(delta).squeeze(1)
        above = layer + 1
        outgoing = weight[above][:, c].clone()  # contiguous: a strided vector makes addr_ slow
        z[above].addr_(delta, outgoing, alpha=-1)
        bias[above].add_(outgoing * values[layer][neuron])
        weight[above][:, c] = 0.0  # the column leaves W_{l+1}
        if certify:
            moved.add_(delta.abs(), alpha=column_norms[neuron])
            rows = rows[moved.index_select(0, rows) >= radius.index_select(0, rows)]
        # when every row changed (a saturating unit is never exactly at its value), the state itself
        # goes up, with no gather or scatter: only read (the activation out of place) or replaced
        every_row = len(rows) == len(delta)
        z_rows = z[above] if every_row else z[above].index_select(0, rows)
        for m in range(above + 1, n_hidden + 1):
            hidden = act(z_rows) if z_rows is z[m - 1] else act_(z_rows)
            z_rows = torch.addmm(bias[m], hidden, weight[m].T)
            if k < last_read[m]:
                if every_row:
                    z[m] = z_rows
                else:
                    z[m].index_copy_(0, rows, z_rows)
        if certify:
            radius.index_copy_(0, rows, certified_radius(z_rows[:, :n_classes], lipschitz))
            moved.index_fill_(0, rows, 0.0)
        yield rows, z_rows[:, :n_classes]
        ablated[layer].append(neuron)
        if (k + 1) % compact_every == 0:
            _compact(z, weight, bias, column, ablated, low)


def _compact(
    z: dict[int, Tensor],
    weight: dict[int, Tensor],
    bias: dict[int, Tensor],
    column: dict[int, np.ndarray],
    ablated: dict[int, list[int]],
    low: int,
) -> None:
    """Remove the neurons ablated since the last compaction from the fast engine's state, in place."""
    for layer, gone in ablated.items():
        if not gone:
            continue
        keep = column[layer] >= 0
        keep[gone] = False
        kept = torch.as_tensor(column[layer][keep], device=bias[layer + 1].device)
        weight[layer + 1] = weight[layer + 1].index_select(1, kept)
        if layer > low:
            z[layer] = z[layer].index_select(1, kept)
            weight[layer] = weight[layer].index_select(0, kept)
            bias[layer] = bias[layer].index_select(0, kept)
        column[layer] = np.where(keep, np.cumsum(keep) - 1, -1)
        gone.clear()


@dataclass(frozen=True)
class _Problem:
    """One cumulative ablation, checked and placed on its device."""

    model: MLP
    x: Tensor
    layers: np.ndarray  # layer of the k-th ablated neuron, k = 1..n
    indices: np.ndarray  # its index within the layer
    values: list[Tensor]
    dtype: torch.dtype
    device: torch.device


def _problem(
    model: MLP,
    x: Tensor,
    order: Sequence[int] | np.ndarray | Tensor,
    scope: int | str,
    mode: str,
    means: Sequence[Tensor] | None,
    dtype: torch.dtype,
    device: str | torch.device | None,
) -> _Problem:
    layer_ids, index_ids = scope_neurons(model.widths, scope)
    positions = _check_order(order, len(layer_ids))
    values = ablation_values(model.widths, mode, means)
    device = resolve_device(device)
    values = [v.to(device=device, dtype=dtype) for v in values]
    x = x.to(device=device, dtype=dtype)
    return _Problem(model, x, layer_ids[positions], index_ids[positions], values, dtype, device)


def _fast_blocks(
    problem: _Problem,
    block_size: int,
    compact_every: int,
    intact: Sequence[Tensor] | None,
    certify: bool = False,
) -> Iterator[tuple[slice, Iterator[tuple[Tensor | None, Tensor]]]]:
    """The fast engine's steps (see :func:`_fast_steps`) per block of at most ``block_size`` samples."""
    if block_size < 1 or compact_every < 1:
        fail("block_size/compact_every", (block_size, compact_every), "both must be positive integers")
    model, x, device = problem.model, problem.x, problem.device
    low = int(problem.layers.min())
    if intact is not None and intact[low].dtype != problem.dtype:
        fail(
            "intact",
            intact[low].dtype,
            f"must have the engine's dtype {problem.dtype} (compute it in that dtype)",
        )
    if intact is not None and tuple(intact[low].shape) != (len(x), model.widths[low]):
        fail(
            "intact",
            tuple(intact[low].shape),
            f"expected model.hidden_outputs(x): layer {low} of shape {(len(x), model.widths[low])}",
        )
    aff = model.affine_layers(problem.dtype)
    aff = AffineLayers(
        tuple(w.to(device) for w in aff.weights), tuple(b.to(device) for b in aff.biases), aff.activation
    )
    for lo in range(0, len(x), block_size):
        block = slice(lo, min(lo + block_size, len(x)))
        start = None if intact is None else intact[low][block].to(device)
        steps = _fast_steps(
            aff, x[block], problem.layers, problem.indices, problem.values, compact_every, start, certify
        )
        yield block, steps


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
    compact_every: int = 32,
) -> Iterator[tuple[slice, int, Tensor]]:
    """Yield ``(sample_slice, k_start, logits [K, n_samples, C])`` covering every k = 0..n.

    ``order`` is a permutation of the scope's positions (see :func:`scope_neurons`); the k-th
    ablated neuron is ``scope_neurons(...)[order[k-1]]``. Both engines yield the same numbers; the
    reference engine one k at a time over all samples, the fast engine ``chunk_size`` consecutive k
    per block of ``block_size`` samples. ``intact``, the intact hidden outputs on ``x``
    (``model.hidden_outputs(x)``), lets the fast engine skip the unablated layers when many curves
    share ``x``; ``compact_every`` is how many steps pass between removals of ablated neurons.
    """
    check_choice("engine", engine, ENGINES)
    if chunk_size < 1:
        fail("chunk_size", chunk_size, "must be a positive integer")
    problem = _problem(model, x, order, scope, mode, means, dtype, device)
    if engine == "reference":
        net = copy.deepcopy(model).to(device=problem.device, dtype=dtype).eval()
        stream = _reference_logits(net, problem.x, problem.layers, problem.indices, problem.values)
        for k, logits in enumerate(stream):
            yield slice(0, len(problem.x)), k, logits
        return
    with torch.no_grad():
        for block, steps in _fast_blocks(problem, block_size, compact_every, intact):
            _, logits = next(steps)
            yield block, 0, logits[None].clone()
            logits = logits.clone()
            out = logits.new_empty(chunk_size, *logits.shape)
            k = filled = 0
            for rows, changed in steps:
                logits.index_copy_(0, rows, changed)
                out[filled].copy_(logits)
                filled += 1
                if filled == chunk_size:
                    yield block, k + 1, out.clone()
                    k, filled = k + filled, 0
            if filled:
                yield block, k + 1, out[:filled].clone()


def cumulative_curve(
    model: MLP,
    x: Tensor,
    y: Tensor,
    order: Sequence[int] | np.ndarray | Tensor,
    progress: bool = False,
    certify: bool = True,
    **options: object,
) -> np.ndarray:
    """Test accuracy after ablating the first k neurons of ``order``, for k = 0..n (length n+1).

    ``options`` are :func:`cumulative_logits`'s, by keyword: ``scope``, ``mode``, ``means``, ``engine``,
    ``dtype``, ``device``, ``chunk_size``, ``block_size``, ``intact``, ``compact_every``. The fast
    engine counts the correct predictions from the rows each step changes, never from all logits, and
    within one layer only from the rows whose prediction may have changed (:func:`certified_radius`);
    ``certify=False`` evaluates every changed row (the same curve, for comparisons).
    """
    if len(x) != len(y):
        fail("y", f"length {len(y)}", f"must have the same length as x ({len(x)})")
    # every option with its default; an unknown keyword raises TypeError naming it
    bound = inspect.signature(cumulative_logits).bind(model, x, order, **options)
    bound.apply_defaults()
    args = bound.arguments
    check_choice("engine", args["engine"], ENGINES)
    if args["engine"] == "reference":
        return _curve_from_logits(y, progress, **args)
    problem = _problem(
        model, x, order, args["scope"], args["mode"], args["means"], args["dtype"], args["device"]
    )
    n = len(problem.layers)
    y = torch.as_tensor(y).to(problem.device)
    correct_counts = torch.zeros(n + 1, dtype=torch.int64, device=problem.device)
    blocks = _fast_blocks(problem, args["block_size"], args["compact_every"], args["intact"], certify)
    n_blocks = -(-len(x) // args["block_size"])
    bar = tqdm(total=n * n_blocks, desc="ablation", disable=not progress, leave=False)
    with torch.no_grad():
        for block, steps in blocks:
            labels = y[block]
            _, logits = next(steps)
            correct = logits.argmax(1) == labels
            change = torch.zeros(n + 1, dtype=torch.int64, device=problem.device)
            change[0] = correct.sum()
            for k, (rows, changed) in enumerate(steps, start=1):
                now = changed.argmax(1) == labels.index_select(0, rows)
                change[k] = now.sum() - correct.index_select(0, rows).sum()
                correct.index_copy_(0, rows, now)
                bar.update()
            correct_counts += change.cumsum(0)
    bar.close()
    return correct_counts.cpu().double().numpy() / len(x)


def _curve_from_logits(y: Tensor, progress: bool, **args: object) -> np.ndarray:
    """The curve from :func:`cumulative_logits`' full logits (the reference engine's way)."""
    n_scope = len(scope_neurons(args["model"].widths, args["scope"])[0])
    correct = torch.zeros(n_scope + 1, dtype=torch.int64)
    y = torch.as_tensor(y).to(resolve_device(args["device"]))
    for block, k, logits in tqdm(
        cumulative_logits(**args), desc="ablation", disable=not progress, leave=False
    ):
        hits = (logits.argmax(-1) == y[block]).sum(-1).cpu()
        correct[k : k + len(hits)] += hits
    return correct.double().numpy() / len(args["x"])


@dataclass
class _Intact:
    """The intact forward pass in affine form: weights, biases, pre-activations z (z[0] of the first
    hidden layer, z[-1] the logits), hidden outputs, the ablation values and which samples are right."""

    weights: list[Tensor]
    biases: list[Tensor]
    act: Callable[[Tensor], Tensor]
    z: list[Tensor]
    outputs: list[Tensor]
    values: list[Tensor]
    correct: Tensor
    y: Tensor


def _intact(
    model: MLP, x: Tensor, y: Tensor, mode: str, means: Sequence[Tensor] | None, dtype: torch.dtype, device
) -> _Intact:
    device = resolve_device(device)
    values = [v.to(device=device, dtype=dtype) for v in ablation_values(model.widths, mode, means)]
    aff = model.affine_layers(dtype)
    weights = [w.to(device) for w in aff.weights]
    biases = [b.to(device) for b in aff.biases]
    act = activation_fn(aff.activation)
    x, y = x.to(device=device, dtype=dtype), torch.as_tensor(y).to(device)
    if len(x) != len(y):
        fail("y", f"length {len(y)}", f"must have the same length as x ({len(x)})")
    with torch.no_grad():
        outputs, z, h = [], [], x
        for w, b in zip(weights, biases, strict=True):
            z.append(torch.addmm(b, h, w.T))
            h = act(z[-1])
            outputs.append(h)
    return _Intact(weights, biases, act, z, outputs[:-1], values, z[-1].argmax(1) == y, y)


def _logits_from(state: _Intact, pre: Tensor, layer: int) -> Tensor:
    """Logits from the (changed) pre-activations ``pre`` of hidden layer ``layer + 1`` (0-based ``layer``
    is the ablated one), through the layers above."""
    for m in range(layer + 2, len(state.weights)):
        pre = torch.addmm(state.biases[m], state.act(pre), state.weights[m].T)
    return pre


def single_neuron_accuracy(
    model: MLP,
    x: Tensor,
    y: Tensor,
    mode: str = "zero",
    means: Sequence[Tensor] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
    pairs_per_batch: int = 200_000,
) -> list[np.ndarray]:
    """Test accuracy with one hidden neuron ablated and every other intact, for every neuron, per layer.

    Ablating neuron i of layer l changes z_{l+1} by -(T_l[:, i] - v_i) W_{l+1}[:, i]^T on the samples where
    T_l[:, i] != v_i, and nothing elsewhere. The (sample, neuron) pairs of a layer where it does are
    batched, at most ``pairs_per_batch`` at a time, through the layers above in one product per layer;
    a sample's prediction changes only there, so accuracy_i = intact accuracy + (gained - lost) / N.
    """
    s = _intact(model, x, y, mode, means, dtype, device)
    result = []
    with torch.no_grad():
        for layer, width in enumerate(model.widths):
            delta = s.outputs[layer] - s.values[layer]  # [N, n_l]
            rows, neurons = torch.nonzero(delta, as_tuple=True)
            change = torch.zeros(width, dtype=torch.int64, device=delta.device)
            for lo in range(0, len(rows), pairs_per_batch):
                r, i = rows[lo : lo + pairs_per_batch], neurons[lo : lo + pairs_per_batch]
                w_cols = s.weights[layer + 1].T.index_select(0, i)
                pre = s.z[layer + 1].index_select(0, r) - delta[r, i, None] * w_cols
                now = _logits_from(s, pre, layer).argmax(1) == s.y.index_select(0, r)
                change.index_add_(0, i, now.long() - s.correct.index_select(0, r).long())
            result.append(((s.correct.sum() + change).double() / len(s.y)).cpu().numpy())
    return result


def subset_ablation_accuracy(
    model: MLP,
    x: Tensor,
    y: Tensor,
    layer: int,
    subsets: np.ndarray | Tensor,
    mode: str = "zero",
    means: Sequence[Tensor] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device | None = None,
    rows_per_batch: int = 16_384,
) -> np.ndarray:
    """Test accuracy with each subset of hidden layer ``layer`` (0-based) ablated together, the rest intact.

    ``subsets`` is [P, s] (e.g. s = 2 for pairs): neuron indices of the layer, one subset per row. Ablating
    a subset S changes z_{l+1} by -sum_{i in S} (T_l[:, i] - v_i) W_{l+1}[:, i]^T, and only on the samples
    where some T_l[:, i] != v_i; those (sample, subset) rows go through the layers above, at most
    ``rows_per_batch`` at a time, and accuracy_S = intact accuracy + (gained - lost) / N. Returns [P].
    """
    check_choice("layer", layer, list(range(len(model.widths))))
    subsets = torch.as_tensor(np.asarray(subsets), dtype=torch.int64)
    if subsets.ndim != 2 or len(subsets) == 0:
        fail("subsets", tuple(subsets.shape), "expected a [P, s] array of neuron indices, P >= 1")
    if subsets.min() < 0 or subsets.max() >= model.widths[layer]:
        fail("subsets", "indices out of range", f"neurons of layer {layer} are 0..{model.widths[layer] - 1}")
    s = _intact(model, x, y, mode, means, dtype, device)
    subsets = subsets.to(s.y.device)
    delta = s.outputs[layer] - s.values[layer]  # [N, n_l]
    w_cols = s.weights[layer + 1].T  # [n_l, n_{l+1}]: row i is neuron i's outgoing weights
    with torch.no_grad():
        rows, which = torch.nonzero((delta[:, subsets] != 0).any(2), as_tuple=True)  # (sample, subset)
        change = torch.zeros(len(subsets), dtype=torch.int64, device=s.y.device)
        for lo in range(0, len(rows), rows_per_batch):
            r, p = rows[lo : lo + rows_per_batch], which[lo : lo + rows_per_batch]
            pre = s.z[layer + 1].index_select(0, r)
            for neuron in subsets.index_select(0, p).T:  # one column of the subsets at a time
                pre.addcmul_(delta[r, neuron, None], w_cols.index_select(0, neuron), value=-1.0)
            now = _logits_from(s, pre, layer).argmax(1) == s.y.index_select(0, r)
            change.index_add_(0, p, now.long() - s.correct.index_select(0, r).long())
    return ((s.correct.sum() + change).double() / len(s.y)).cpu().numpy()
