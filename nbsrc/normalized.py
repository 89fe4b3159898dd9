"""Whole-network orders from per-layer ranks: is comparing the quantities across layers what fails (C1, C3)?

The paper explains C1 (ranked over the whole network, no quantity is a good indicator of importance) by
C3: the quantities' distributions differ between layers, so one ranking of all hidden neurons compares
numbers on different scales. Here every neuron's value is replaced by its percentile within its own
layer, (r - 1/2) / n_l with r its rank among the layer's n_l neurons (ties share their average rank), and
all hidden neurons are ranked by that percentile (ties across layers: the lower layer first). If a
quantity is a good indicator with these orders where it is not with its raw values, the scales were
the problem; if not, the explanation falls short.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch

from nbsrc.ablation import neuron_orders
from nbsrc.analysis import AnalysisSettings, analyse_network, cached_curves, chapter_networks, curve_frames
from nbsrc.train import TrainConfig
from nbsrc.vocabulary import DIRECTIONS, NETWORK, QUANTITIES

#: Part of the cache name of the per-layer-rank curves: bump when their computation changes.
NORMALIZED_VERSION = 1


def layer_percentiles(per_layer: Sequence[np.ndarray]) -> np.ndarray:
    """Each neuron's percentile within its layer, (rank - 1/2) / n_l in (0, 1), all layers concatenated
    (average ranks for ties)."""
    return np.concatenate([(scipy.stats.rankdata(values) - 0.5) / len(values) for values in per_layer])


def normalized_curves(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Whole-network curves ordered by per-layer percentiles of every quantity (both directions), with
    the same network's random orders, for every seed: the chapter's ``curves`` and ``auc`` tables (scope
    "network" only). Cached next to the network's analysis (same key, so the same settings and network)."""
    curves, aucs = [], []
    for trained, splits in chapter_networks(configs, cache, device, progress, "per-layer ranks"):
        analysis = analyse_network(trained, splits, settings, cache, progress, device)
        orders = {
            f"{NETWORK}|{q}|{d}": ("network", neuron_orders(layer_percentiles(analysis.measures[q]), d)[0])
            for q in QUANTITIES
            for d in DIRECTIONS
        }
        name = f"layer-percentiles-v{NORMALIZED_VERSION}"
        ordered = cached_curves(trained, splits, settings, name, orders, cache, device, progress)
        random_name = f"{NETWORK}|random|random"
        for name, curve in {**ordered, random_name: analysis.curves[random_name]}.items():
            curve_rows, auc_rows = curve_frames(trained.config.seed, name, curve, splits.n_classes)
            curves.append(curve_rows)
            aucs.append(auc_rows)
    return pd.concat(curves, ignore_index=True), pd.concat(aucs, ignore_index=True)
