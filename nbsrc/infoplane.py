"""The information plane of single neurons during training (C10).

The paper remarks on the information bottleneck; this module is the book's own operationalisation of that
remark for single neurons, not the paper's: at checkpoints during training (before the first step, a few
times within the first epoch, at every epoch's end) every hidden neuron's entropy H(T) and its mutual
information I(T; Y) with the class (bits), on the validation samples and under the chapter's quantiser,
together with the network's validation accuracy. I(T; Y) <= H(T): a neuron lies below the diagonal.

Recording does not change the training (the checkpoint sees the network in eval mode, gradients off, and
draws no random numbers), so the recorded networks are exactly the networks of the dataset chapters; they
are stored in the model cache as they are trained. A network's trajectory is cached under
``infoplane/<dataset>-<key>.npz``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from nbsrc.analysis import AnalysisSettings, validation_data
from nbsrc.data import Splits
from nbsrc.estimators import layer_information
from nbsrc.models import MLP, resolve_device
from nbsrc.storage import cache_root, load_or_discard, write_atomic
from nbsrc.train import TrainConfig, config_splits, first_epoch_steps, train_observed

#: Checkpoints within the first epoch, where the quantities move fastest (besides time 0 and every epoch).
FIRST_EPOCH_POINTS = 4
#: Activation functions as the text names them.
ACTIVATION_NAMES = {"relu": "ReLU", "sigmoid": "sigmoid", "tanh": "tanh"}
#: Bump when the recording changes in a way that changes its cached results.
INFOPLANE_VERSION = 1


@dataclass
class Trajectories:
    """Recorded trajectories. ``neurons``: seed, epoch (training time in epochs), layer, neuron, entropy,
    mutual_information (bits). ``checkpoints``: seed, epoch, val_accuracy."""

    neurons: pd.DataFrame
    checkpoints: pd.DataFrame


def trajectory_key(network_key: str, settings: AnalysisSettings, first_epoch_points: int) -> str:
    """Cache key of one network's trajectory: the network and what changes the recorded values."""
    measured = {k: v for k, v in asdict(settings).items() if k in ("quantizer", "n_bins", "bias_correction")}
    payload = {
        "network": network_key,
        "measured": measured,
        "val_limit": settings.val_limit,
        "first_epoch_points": first_epoch_points,
        "code": INFOPLANE_VERSION,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _record(
    config: TrainConfig,
    splits: Splits,
    settings: AnalysisSettings,
    first_epoch_points: int,
    cache: str | Path | None,
    device: torch.device,
    progress: bool,
) -> dict[str, np.ndarray]:
    """Train ``config`` on ``splits`` with a checkpoint recording H and I of every hidden neuron and
    the accuracy."""
    x_val, y_val = (t.to(device) for t in validation_data(splits, settings))
    times: list[float] = []
    accuracies: list[float] = []
    entropy: list[list[np.ndarray]] = []
    information: list[list[np.ndarray]] = []

    def checkpoint(model: MLP, time: float) -> None:
        logits, outputs = model(x_val, return_hidden=True)
        info = layer_information(
            outputs, y_val, splits.n_classes, model.activation, settings.quantizer, settings.n_bins,
            settings.bias_correction,
        )  # fmt: skip
        times.append(time)
        accuracies.append(float((logits.argmax(1) == y_val).float().mean()))
        entropy.append(info["entropy"])
        information.append(info["mutual_information"])

    train_observed(config, checkpoint, first_epoch_points, splits, cache, device, progress)
    record = {"epoch": np.array(times), "val_accuracy": np.array(accuracies)}
    for layer in range(len(config.widths)):
        record[f"entropy_{layer + 1}"] = np.stack([e[layer] for e in entropy])
        record[f"mutual_information_{layer + 1}"] = np.stack([i[layer] for i in information])
    return record


def network_trajectory(
    config: TrainConfig,
    settings: AnalysisSettings,
    first_epoch_points: int = FIRST_EPOCH_POINTS,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """One network's recorded trajectory (cached): ``epoch`` and ``val_accuracy`` per checkpoint, and
    per layer l ``entropy_l`` and ``mutual_information_l`` (checkpoints x neurons, bits)."""
    device = resolve_device(device)
    splits = config_splits(config)
    first_epoch_steps(1, first_epoch_points)  # checks the number of points
    network_key = config.key(splits.fingerprint, device)
    key = trajectory_key(network_key, settings, first_epoch_points)
    path = cache_root(cache) / "infoplane" / f"{config.dataset}-{key}.npz"

    def read(file: Path) -> dict[str, np.ndarray]:
        with np.load(file) as stored:
            return dict(stored)

    record = load_or_discard(path, read)
    if record is None:
        record = _record(config, splits, settings, first_epoch_points, cache, device, progress)
        write_atomic(path, lambda f: np.savez(f, **record))
    return record


def _frames(config: TrainConfig, record: dict[str, np.ndarray]) -> Iterator[pd.DataFrame]:
    epochs = record["epoch"]
    for layer, width in enumerate(config.widths, start=1):
        yield pd.DataFrame(
            {
                "seed": config.seed,
                "epoch": np.repeat(epochs, width),
                "layer": layer,
                "neuron": np.tile(np.arange(width), len(epochs)),
                "entropy": record[f"entropy_{layer}"].ravel(),
                "mutual_information": record[f"mutual_information_{layer}"].ravel(),
            }
        )


def information_plane(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    first_epoch_points: int = FIRST_EPOCH_POINTS,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> Trajectories:
    """The recorded trajectories of every configuration (one per seed), as tables."""
    neurons, checkpoints = [], []
    desc = f"{configs[0].dataset}: information plane"
    for config in tqdm(configs, desc=desc, disable=not progress):
        record = network_trajectory(config, settings, first_epoch_points, cache, device, progress)
        neurons.extend(_frames(config, record))
        checkpoints.append(
            pd.DataFrame(
                {"seed": config.seed, "epoch": record["epoch"], "val_accuracy": record["val_accuracy"]}
            )
        )
    return Trajectories(pd.concat(neurons, ignore_index=True), pd.concat(checkpoints, ignore_index=True))


def layer_paths(neurons: pd.DataFrame) -> pd.DataFrame:
    """Per network (seed), layer and checkpoint: the mean and standard deviation over the layer's neurons
    of H and I (bits): columns seed, layer, epoch, entropy_mean, entropy_std, mutual_information_mean,
    mutual_information_std."""
    stats = neurons.groupby(["seed", "layer", "epoch"])[["entropy", "mutual_information"]].agg(
        ["mean", "std"]
    )
    stats.columns = [f"{q}_{stat}" for q, stat in stats.columns]
    return stats.reset_index()


def best_epochs(checkpoints: pd.DataFrame) -> pd.DataFrame:
    """Per seed, the epoch (a whole epoch's end) of the best validation accuracy and that accuracy."""
    ends = checkpoints[(checkpoints.epoch == checkpoints.epoch.round()) & (checkpoints.epoch > 0)]
    best = ends.loc[ends.groupby("seed").val_accuracy.idxmax()]
    return best[["seed", "epoch", "val_accuracy"]].reset_index(drop=True)


#: The columns of ``phases``: per network and layer, the layer's mean H and I (bits) at these moments.
PHASES = ("H start", "H peak", "H end", "I start", "I peak", "I at best", "I end")


def phases(paths: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """Per seed and layer, from ``layer_paths``: the layer's mean H and I at the start (epoch 0), at their
    largest over training (and when: ``H peak epoch``, ``I peak epoch``), at the seed's epoch of best
    validation accuracy (``I at best``) and at the end; ``H fall`` and ``I fall``: peak minus end (bits)."""
    best_epoch = best.set_index("seed").epoch
    rows = []
    for (seed, layer), g in paths.groupby(["seed", "layer"]):
        h, i = g.set_index("epoch").entropy_mean, g.set_index("epoch").mutual_information_mean
        rows.append(
            {
                "seed": seed,
                "layer": layer,
                "H start": h.iloc[0],
                "H peak": h.max(),
                "H peak epoch": h.idxmax(),
                "H end": h.iloc[-1],
                "I start": i.iloc[0],
                "I peak": i.max(),
                "I peak epoch": i.idxmax(),
                "I at best": i.loc[best_epoch.loc[seed]],
                "I end": i.iloc[-1],
                "best epoch": best_epoch.loc[seed],
            }
        )
    table = pd.DataFrame(rows)
    return table.assign(
        **{"H fall": table["H peak"] - table["H end"], "I fall": table["I peak"] - table["I end"]}
    )


#: A fall after the peak counts when it exceeds this many bits and twice its standard deviation over seeds.
MIN_FALL = 0.01


def phase_summary(phases: pd.DataFrame) -> pd.DataFrame:
    """Per network kind and layer (``phases`` with a ``network`` column): the mean and standard deviation
    over seeds of every column of ``phases`` (``<column> mean``, ``<column> std``), and whether H and I
    fall after their peak (``H falls``, ``I falls``): a mean fall above ``MIN_FALL`` bits and above twice
    its standard deviation over seeds (with one seed, above ``MIN_FALL`` only)."""
    columns = [*PHASES, "H peak epoch", "I peak epoch", "best epoch", "H fall", "I fall"]
    grouped = phases.groupby(["network", "layer"], sort=False)[columns]
    table = grouped.mean().add_suffix(" mean").join(grouped.std(ddof=1).fillna(0.0).add_suffix(" std"))
    for q in ("H", "I"):
        mean, std = table[f"{q} fall mean"], table[f"{q} fall std"]
        table[f"{q} falls"] = (mean > MIN_FALL) & (mean > 2 * std)
    return table.reset_index()


def network_label(config: TrainConfig) -> str:
    """A network kind's name in figures and tables: activation and hidden widths ("relu 512-256-128")."""
    return f"{ACTIVATION_NAMES[config.activation]} {'-'.join(map(str, config.widths))}"


def recipe_trajectories(
    configs: dict[str, list[TrainConfig]],
    settings: AnalysisSettings,
    first_epoch_points: int = FIRST_EPOCH_POINTS,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every recipe's trajectories (``{recipe: configs}``), each table with a ``network`` column
    (:func:`network_label`): layer paths, checkpoints, best epochs and per-seed phases."""
    paths, checkpoints, best, table = [], [], [], []
    for recipe_configs in configs.values():
        label = network_label(recipe_configs[0])
        recorded = information_plane(recipe_configs, settings, first_epoch_points, cache, device, progress)
        p, b = layer_paths(recorded.neurons), best_epochs(recorded.checkpoints)
        paths.append(p.assign(network=label))
        checkpoints.append(recorded.checkpoints.assign(network=label))
        best.append(b.assign(network=label))
        table.append(phases(p, b).assign(network=label))
    return tuple(pd.concat(frames, ignore_index=True) for frames in (paths, checkpoints, best, table))
