"""Training (Adam, cross-entropy, in-memory mini-batches) and an on-disk model cache.

A trained network is cached under a key derived from its full :class:`TrainConfig` and the data
fingerprint; the entry is written atomically (temporary file + rename), so an interrupted run never
leaves a half-written entry and a changed configuration never reuses a stale model.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from nbsrc.checks import check_choice, check_int, fail
from nbsrc.data import DATASETS, N_TRAIN, Split, Splits, fingerprint, load_splits
from nbsrc.models import ACTIVATIONS, MLP, check_widths, resolve_device
from nbsrc.storage import cache_root, load_or_discard, write_atomic

# Bump when the training procedure changes in a way that changes the weights it produces.
TRAINING_CODE_VERSION = 1
LR_SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained network (together with the data)."""

    dataset: str
    widths: tuple[int, ...]
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    weight_decay: float = 0.0
    lr: float = 1e-3
    lr_schedule: str = "cosine"  # "constant" or "cosine" (annealed to 0 over the epochs, per batch)
    epochs: int = 10
    batch_size: int = 128
    seed: int = 0
    val_size: int = 10000
    split_seed: int = 0
    standardize: bool = False
    train_limit: int | None = None  # use only the first n training examples (smoke runs)

    def __post_init__(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        object.__setattr__(self, "widths", check_widths(self.widths))
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        minimums = {"epochs": 1, "batch_size": 1, "seed": 0, "val_size": 1, "split_seed": 0}
        for name, minimum in minimums.items():
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum))
        if self.val_size >= N_TRAIN[self.dataset]:
            fail(
                "val_size",
                self.val_size,
                f"must be smaller than the {N_TRAIN[self.dataset]} training examples of {self.dataset}",
            )
        if self.train_limit is not None:
            object.__setattr__(self, "train_limit", check_int("train_limit", self.train_limit, 1))
        # floats are stored as floats so that lr=1 and lr=1.0 share one cache key
        for name, low, high, allowed in (
            ("lr", 0.0, math.inf, "must be a positive finite number"),
            ("weight_decay", 0.0, math.inf, "must be a finite number >= 0"),
            ("dropout", 0.0, 1.0, "must lie in [0, 1)"),
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not low <= value < high
                or (name == "lr" and value == 0)
            ):
                fail(name, value, allowed)
            object.__setattr__(self, name, float(value))
        check_choice("batch_norm", self.batch_norm, (False, True))
        check_choice("standardize", self.standardize, (False, True))

    def key(self, data_fingerprint: str, device: str | torch.device = "cpu") -> str:
        """Cache key: SHA-256 over the configuration, the data, the training code version and, when
        it is not the CPU, the kind of device (a GPU gives other weights than the CPU)."""
        payload = {"config": asdict(self), "data": data_fingerprint, "code": TRAINING_CODE_VERSION}
        if torch.device(device).type != "cpu":
            payload["device"] = torch.device(device).type
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


# Defaults per dataset (ReLU): chosen once for accuracy within the training-time budget, see README.
DEFAULT_CONFIGS = {
    "mnist": TrainConfig("mnist", (512, 256, 128), epochs=10, standardize=True),
    "fashion_mnist": TrainConfig("fashion_mnist", (512, 256, 128), epochs=15, standardize=True),
    "cifar10": TrainConfig("cifar10", (512, 256, 128), epochs=10, standardize=True, lr=5e-4),
}


def default_config(dataset: str, **overrides: object) -> TrainConfig:
    """The dataset's default configuration with some fields replaced."""
    check_choice("dataset", dataset, DATASETS)
    unknown = sorted(set(overrides) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        check_choice("training parameter", unknown[0], sorted(TrainConfig.__dataclass_fields__))
    return replace(DEFAULT_CONFIGS[dataset], **overrides)


@dataclass
class TrainedNetwork:
    """A trained model with its configuration, per-epoch history and cache key."""

    model: MLP
    config: TrainConfig
    history: dict[str, list[float]] = field(default_factory=dict)
    key: str = ""
    from_cache: bool = False


def cache_dir(cache: str | Path | None = None) -> Path:
    """The model cache: ``models/`` under the cache root (see :func:`nbsrc.storage.cache_root`)."""
    return cache_root(cache) / "models"


def build_model(config: TrainConfig, in_features: int, n_classes: int) -> MLP:
    """An untrained network for ``config``, initialised from its seed."""
    torch.manual_seed(config.seed)
    return MLP(in_features, config.widths, n_classes, config.activation, config.dropout, config.batch_norm)


@torch.no_grad()
def accuracy(model: nn.Module, split: Split, batch_size: int = 8192) -> float:
    """Fraction of ``split`` classified correctly, in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(split.y), batch_size):
        predicted = model(split.x[i : i + batch_size].to(device)).argmax(1).cpu()
        correct += int((predicted == split.y[i : i + batch_size]).sum())
    model.train(was_training)
    return correct / len(split.y)


#: Called during training with the network (in eval mode, gradients off) and the training time in epochs.
Checkpoint = Callable[[MLP, float], None]


def first_epoch_steps(steps_per_epoch: int, points: int) -> dict[int, float]:
    """``points`` optimiser steps spread evenly over the first epoch (before its end), each with its time
    in epochs: step s (1-based) ends at s / steps_per_epoch epochs."""
    check_int("first_epoch_points", points, 0)
    steps = {round(steps_per_epoch * i / (points + 1)) for i in range(1, points + 1)}
    return {s: s / steps_per_epoch for s in sorted(steps) if 0 < s < steps_per_epoch}


def adam(model: nn.Module, config: TrainConfig) -> torch.optim.Adam:
    """Adam with the configuration's learning rate and L2 penalty (``weight_decay``), in its multi-tensor
    form (``foreach=True``): the same weights as the CPU's default per-parameter loop, bit for bit (a test
    checks it), a few per cent faster per epoch (``benchmarks/bench_train.py``)."""
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=True)


def train(
    config: TrainConfig,
    splits: Splits,
    device: str | torch.device | None = None,
    progress: bool = True,
    checkpoint: Checkpoint | None = None,
    first_epoch_points: int = 0,
) -> TrainedNetwork:
    """Train with Adam and cross-entropy; deterministic for a seed on CPU.

    Mini-batches are index permutations of the in-memory training tensors drawn from a generator
    seeded with ``config.seed``. History: per epoch, the mean training loss and validation accuracy.
    ``checkpoint`` (optional) is called before the first step (time 0), after ``first_epoch_points``
    steps spread over the first epoch and at every epoch's end; it sees the network in eval mode and
    does not change the training (the same weights with or without it).
    """
    device = resolve_device(device)
    x, y = splits.train.x, splits.train.y
    if config.train_limit is not None:
        x, y = x[: config.train_limit], y[: config.train_limit]
    model = build_model(config, x.shape[1], splits.n_classes).to(device)
    x, y = x.to(device), y.to(device)
    optimiser = adam(model, config)
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = -(-len(y) // config.batch_size)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, config.epochs * steps_per_epoch)
        if config.lr_schedule == "cosine"
        else None
    )
    generator = torch.Generator().manual_seed(config.seed)
    within_first = first_epoch_steps(steps_per_epoch, first_epoch_points) if checkpoint else {}

    def observe(time: float) -> None:
        if checkpoint is not None:
            model.eval()
            with torch.no_grad():
                checkpoint(model, time)
            model.train()

    observe(0.0)
    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "val_accuracy": []}
    bar = tqdm(
        range(1, config.epochs + 1),
        desc=f"train {config.dataset} seed {config.seed}",
        disable=not progress,
        leave=False,
    )
    for epoch in bar:
        model.train()
        permutation = torch.randperm(len(y), generator=generator).to(device)
        total = 0.0
        for step, batch in enumerate(permutation.split(config.batch_size), start=1):
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[batch]), y[batch])
            loss.backward()
            optimiser.step()
            if scheduler is not None:
                scheduler.step()
            total += float(loss.detach()) * len(batch)
            if epoch == 1 and step in within_first:
                observe(within_first[step])
        history["epoch"].append(epoch)
        history["train_loss"].append(total / len(y))
        history["val_accuracy"].append(accuracy(model, splits.val))
        observe(float(epoch))
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.4f}", val_acc=f"{history['val_accuracy'][-1]:.4f}")
    model.eval()
    return TrainedNetwork(model.cpu(), config, history, config.key(splits.fingerprint, device))


def config_splits(config: TrainConfig) -> Splits:
    """The train / validation / test splits a configuration is trained and evaluated on."""
    return load_splits(
        config.dataset, val_size=config.val_size, seed=config.split_seed, standardize=config.standardize
    )


def _cache_entry(
    config: TrainConfig, splits: Splits | None, cache: str | Path | None, device: torch.device
) -> tuple[Splits, str, Path]:
    """The splits (loaded when None, else checked against the configuration), cache key and file."""
    if splits is None:
        splits = config_splits(config)
    expected = fingerprint(config.dataset, config.val_size, config.split_seed, config.standardize)
    if splits.fingerprint != expected:
        fail("splits", splits.fingerprint, f"do not match the configuration's data ({expected})")
    key = config.key(splits.fingerprint, device)
    return splits, key, cache_dir(cache) / f"{config.dataset}-{key}.pt"


def _store(trained: TrainedNetwork, path: Path) -> None:
    payload = {
        "state_dict": trained.model.state_dict(),
        "history": trained.history,
        "config": json.dumps(asdict(trained.config)),
    }
    write_atomic(path, lambda f: torch.save(payload, f))


def train_or_load(
    config: TrainConfig,
    splits: Splits | None = None,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainedNetwork:
    """The trained network for ``config``: from the cache when present, else trained and cached."""
    splits, key, path = _cache_entry(config, splits, cache, resolve_device(device))

    def read(file: Path) -> TrainedNetwork:
        payload = torch.load(file, map_location="cpu", weights_only=True)
        model = build_model(config, splits.train.x.shape[1], splits.n_classes)
        model.load_state_dict(payload["state_dict"])
        model.eval()
        return TrainedNetwork(model, config, payload["history"], key, from_cache=True)

    cached = load_or_discard(path, read)
    if cached is not None:
        return cached
    trained = train(config, splits, device, progress)
    _store(trained, path)
    return trained


def train_observed(
    config: TrainConfig,
    checkpoint: Checkpoint,
    first_epoch_points: int,
    splits: Splits | None = None,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> TrainedNetwork:
    """Train ``config`` afresh with a ``checkpoint`` (see :func:`train`); store the network in the model
    cache when it is not there yet, where :func:`train_or_load` finds it (a checkpoint does not change
    the weights, so a chapter that records its networks first spares the others their training)."""
    splits, _, path = _cache_entry(config, splits, cache, resolve_device(device))
    trained = train(config, splits, device, progress, checkpoint, first_epoch_points)
    if not path.exists():
        _store(trained, path)
    return trained
