"""Pruning (C7): removing neurons for real, by each criterion, with and without bias balancing and
fine-tuning, against the same small network trained from scratch.

Every hidden layer keeps the same fraction of its neurons: those with the highest value of the criterion
(MI, KL selectivity, H, CSI, the outgoing weight norm: the classic pruning baseline), or a random subset.
The pruned network is a smaller :class:`~nbsrc.models.MLP` (smaller weight matrices, not masks):

- *zero*: the removed neurons' contributions vanish (as zero ablation);
- *bias balancing*: each next layer's bias absorbs W_next[:, removed] @ mean_removed, the removed neurons'
  mean outputs on the validation split (as mean ablation; the same outputs to float tolerance);
- *fine-tuned*: bias balancing, then ``FINE_TUNE_STEPS`` Adam steps on the training split at the recipe's
  learning rate, batch size and weight decay (only the kept weights exist, so only they change);
- *from scratch*: a network of the pruned widths trained by the recipe from its own initialisation.

C7's number (:func:`recovered_share`): the share of the accuracy that fine-tuning recovers over zero
ablation which bias balancing alone recovers, (acc_bb - acc_zero) / (acc_ft - acc_zero).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from nbsrc.analysis import AnalysisSettings, chapter_networks, neuron_measures, test_data, validation_data
from nbsrc.checks import fail
from nbsrc.claims import PAPER, claim_c7
from nbsrc.data import Split, Splits
from nbsrc.infoplane import network_label
from nbsrc.models import MLP, resolve_device
from nbsrc.storage import cache_root, load_or_discard, write_atomic
from nbsrc.train import TrainConfig, TrainedNetwork, accuracy, adam, train_or_load
from nbsrc.vocabulary import INDICATOR_QUANTITIES

#: The criteria: the paper's quantities and CSI, the outgoing weight norm (classic pruning), random.
CRITERIA = (*INDICATOR_QUANTITIES, "weight_norm", "random")
#: The fractions of every hidden layer's neurons that are kept.
KEPT = (0.75, 0.5, 0.25, 0.1)
#: How the pruned network is completed, in the order the figures show them.
VARIANTS = ("zero", "bias balancing", "fine-tuned", "from scratch")
#: Adam steps of the fine-tuning after pruning (a fixed, small number: about a tenth of an MNIST epoch at
#: batch 128, a fiftieth at batch 32).
FINE_TUNE_STEPS = 200
#: A fine-tuning gain (over zero ablation) below this many accuracy points leaves nothing to recover.
MIN_RECOVERY = 0.01
#: Forward passes over the test images per timing (the median is reported).
TIMING_REPEATS = 11
#: Bump when the pruning computation changes in a way that changes its cached results.
PRUNING_VERSION = 1


def kept_widths(widths: tuple[int, ...], kept: float) -> tuple[int, ...]:
    """Every layer's number of kept neurons: ceil(kept * width), at least one."""
    if not 0 < kept <= 1:
        fail("kept", kept, "must lie in (0, 1]")
    return tuple(max(1, math.ceil(kept * w)) for w in widths)


def kept_neurons(
    values: list[np.ndarray] | None,
    widths: tuple[int, ...],
    kept: float,
    rng: np.random.Generator | None = None,
) -> list[np.ndarray]:
    """Per layer, the sorted indices of the kept neurons: the ``kept`` fraction with the highest values
    (ties broken by the lower index), or a random subset drawn from ``rng`` when ``values`` is None."""
    counts = kept_widths(widths, kept)
    if values is None:
        if rng is None:
            fail("rng", rng, "must be given for a random subset")
        return [np.sort(rng.choice(w, n, replace=False)) for w, n in zip(widths, counts, strict=True)]
    return [np.sort(np.argsort(-v, kind="stable")[:n]) for v, n in zip(values, counts, strict=True)]


@torch.no_grad()
def prune(model: MLP, kept: list[np.ndarray], means: list[torch.Tensor] | None = None) -> MLP:
    """A smaller network with only the ``kept`` neurons of every hidden layer (batch norm folded in, no
    dropout). With ``means`` (every hidden layer's mean outputs), each next layer's bias absorbs the
    removed neurons' mean contribution (bias balancing); without, they contribute nothing (zero)."""
    if len(kept) != len(model.widths):
        fail(
            "kept", f"{len(kept)} layers", f"must give one index array per hidden layer ({len(model.widths)})"
        )
    aff = model.affine_layers(torch.float32)
    widths = tuple(len(k) for k in kept)
    pruned = MLP(aff.weights[0].shape[1], widths, aff.weights[-1].shape[0], model.activation)
    layers = [*pruned.hidden, pruned.out]
    rows: list[torch.Tensor | slice] = [torch.as_tensor(k, dtype=torch.long) for k in kept] + [slice(None)]
    for layer, linear in enumerate(layers):
        w, b = aff.weights[layer][rows[layer]], aff.biases[layer][rows[layer]].clone()
        if layer > 0:
            columns = rows[layer - 1]
            if means is not None:
                removed = torch.ones(w.shape[1], dtype=torch.bool)
                removed[columns] = False
                b += w[:, removed] @ means[layer - 1].float()[removed]
            w = w[:, columns]
        linear.weight.copy_(w)
        linear.bias.copy_(b)
    return pruned.eval()


def fine_tune(model: MLP, splits: Splits, config: TrainConfig, steps: int = FINE_TUNE_STEPS) -> MLP:
    """``steps`` Adam steps (the recipe's learning rate, constant; batch size; weight decay) on the
    training split, batches drawn from a generator seeded with the recipe's seed; returns the model."""
    x, y = splits.train.x, splits.train.y
    if config.train_limit is not None:
        x, y = x[: config.train_limit], y[: config.train_limit]
    optimiser = adam(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    batches = torch.randint(len(y), (steps, config.batch_size), generator=generator)
    for batch in batches:
        optimiser.zero_grad(set_to_none=True)
        loss_fn(model(x[batch]), y[batch]).backward()
        optimiser.step()
    return model.eval()


def inference_seconds(model: MLP, x: torch.Tensor, repeats: int = TIMING_REPEATS) -> float:
    """The median time of a forward pass over ``x`` (inference mode), in seconds."""
    times = []
    with torch.inference_mode():
        model(x)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def parameter_count(model: MLP) -> int:
    """The number of weights and biases of the network."""
    return sum(p.numel() for p in model.parameters())


def _key(trained: TrainedNetwork, settings: AnalysisSettings, kept: tuple[float, ...], steps: int) -> str:
    payload = {
        "network": trained.key,
        "settings": {
            k: getattr(settings, k) for k in ("quantizer", "n_bins", "bias_correction", "val_limit")
        },
        "test_limit": settings.test_limit,
        "criteria": CRITERIA,
        "kept": kept,
        "steps": steps,
        "code": PRUNING_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _network_pruning(
    trained: TrainedNetwork,
    splits: Splits,
    test: Split,
    settings: AnalysisSettings,
    kept: tuple[float, ...],
    steps: int,
) -> pd.DataFrame:
    """Accuracy of every criterion, kept fraction and variant but "from scratch", for one network, on
    ``test`` (fine-tuning and evaluation on the CPU)."""
    model, config = trained.model, trained.config
    x_val, y_val = validation_data(splits, settings)
    measures = neuron_measures(model, x_val, y_val, splits.n_classes, settings, device="cpu")
    with torch.no_grad():
        means = [t.mean(0) for t in model.hidden_outputs(x_val)]
    rows = []
    for criterion in CRITERIA:
        rng = np.random.default_rng(1000 * config.seed + 7)
        for fraction in kept:
            values = None if criterion == "random" else measures[criterion]
            neurons = kept_neurons(values, config.widths, fraction, rng)
            zero, balanced = prune(model, neurons), prune(model, neurons, means)
            tuned = fine_tune(prune(model, neurons, means), splits, config, steps)
            for variant, net in (("zero", zero), ("bias balancing", balanced), ("fine-tuned", tuned)):
                cell = {"seed": config.seed, "criterion": criterion, "kept": fraction, "variant": variant}
                rows.append({**cell, "accuracy": accuracy(net, test)})
    return pd.DataFrame(rows)


def pruning_study(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    kept: tuple[float, ...] = KEPT,
    steps: int = FINE_TUNE_STEPS,
    scratch: bool = True,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Prune every network of ``configs`` (from the model cache) by every criterion to every kept fraction.

    Returns ``accuracy`` (seed, criterion, kept, variant, accuracy; with ``scratch``, "from scratch" for
    every criterion alike: the small network trained by the recipe, from the model cache when there) and
    ``sizes`` (seed, kept, parameters, seconds: the parameter count and the measured forward time over the
    test images of the pruned network, kept 1.0 the intact one, whose test accuracy is ``accuracy``).
    The zero, bias-balancing and fine-tuned accuracies are cached per network."""
    for fraction in kept:
        kept_widths((1,), fraction)
    device = resolve_device(device)
    frames, sizes = [], []
    for trained, splits in chapter_networks(configs, cache, device, progress, what="pruning"):
        config = trained.config
        key = _key(trained, settings, tuple(kept), steps)
        path = cache_root(cache) / "pruning" / f"{config.dataset}-{key}.csv"
        test = Split(*test_data(splits, settings))
        table = load_or_discard(path, pd.read_csv)
        if table is None:
            table = _network_pruning(trained, splits, test, settings, tuple(kept), steps)
            write_atomic(path, lambda f, t=table: f.write(t.to_csv(index=False).encode()))
        frames.append(table)
        intact = {"parameters": parameter_count(trained.model), "accuracy": accuracy(trained.model, test)}
        sizes.append(
            {"seed": config.seed, "kept": 1.0, **intact, "seconds": inference_seconds(trained.model, test.x)}
        )
        for fraction in kept:
            widths = kept_widths(config.widths, fraction)
            pruned = prune(trained.model, [np.arange(w) for w in widths])  # the shape is what is timed
            sizes.append({"seed": config.seed, "kept": fraction, "parameters": parameter_count(pruned),
                          "seconds": inference_seconds(pruned, test.x), "accuracy": np.nan})  # fmt: skip
            if scratch:
                small = train_or_load(replace(config, widths=widths), splits, cache, device, progress)
                cell = {"seed": config.seed, "kept": fraction, "variant": "from scratch"}
                frames.append(
                    pd.DataFrame(
                        {**cell, "criterion": list(CRITERIA), "accuracy": accuracy(small.model, test)}
                    )
                )
    accuracy_table = pd.concat(frames, ignore_index=True)[
        ["seed", "criterion", "kept", "variant", "accuracy"]
    ]
    return accuracy_table, pd.DataFrame(sizes)


def recovered_share(accuracy_table: pd.DataFrame) -> pd.DataFrame:
    """Per seed, criterion and kept fraction (and network, when the table has that column): the
    fine-tuning gain over zero (``recovery``, accuracy points as fractions) and the share of it that bias
    balancing alone recovers (``share``, NaN where the gain is below ``MIN_RECOVERY``: nothing to recover)."""
    index = [c for c in ("network", "seed", "criterion", "kept") if c in accuracy_table.columns]
    wide = accuracy_table.pivot_table(index=index, columns="variant", values="accuracy")
    recovery = wide["fine-tuned"] - wide["zero"]
    share = (wide["bias balancing"] - wide["zero"]) / recovery
    out = pd.DataFrame({"recovery": recovery, "share": share.where(recovery >= MIN_RECOVERY)})
    return out.reset_index()


def recipe_pruning(
    configs: dict[str, list[TrainConfig]],
    settings: AnalysisSettings,
    scratch_recipes: list[str],
    kept: list[float] | tuple[float, ...] = KEPT,
    fine_tune_steps: int = FINE_TUNE_STEPS,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`pruning_study` of every recipe's networks (``{recipe: configs}``), from scratch only for
    ``scratch_recipes``; the accuracy and sizes tables with a ``network`` column (``network_label``), and
    the intact networks' test accuracy (network, seed, accuracy)."""
    accuracy_tables, size_tables = [], []
    for name, recipe_configs in configs.items():
        label = network_label(recipe_configs[0])
        table, sizes = pruning_study(
            recipe_configs,
            settings,
            tuple(kept),
            fine_tune_steps,
            name in scratch_recipes,
            cache,
            device,
            progress,
        )
        accuracy_tables.append(table.assign(network=label))
        size_tables.append(sizes.assign(network=label))
    sizes = pd.concat(size_tables, ignore_index=True)
    intact = sizes[sizes.kept == 1.0][["network", "seed", "accuracy"]].reset_index(drop=True)
    return pd.concat(accuracy_tables, ignore_index=True), sizes, intact


def pruning_claims(shares: pd.DataFrame) -> pd.DataFrame:
    """C7 per network kind (``recovered_share`` with a ``network`` column): claim, network, the paper's
    statement, the number measured, the verdict and its reason."""
    rows = [
        {"claim": "C7", "network": network, "paper": PAPER["C7"], **claim_c7(group)}
        for network, group in shares.groupby("network", sort=False)
    ]
    return pd.DataFrame(rows, columns=["claim", "network", "paper", "measured", "verdict", "reason"])
