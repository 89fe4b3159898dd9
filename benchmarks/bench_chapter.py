"""Benchmark: one network's full chapter analysis (the default MNIST network), split by part.

Everything :func:`nbsrc.analysis.analyse_network` computes for one network, without its cache:
the per-neuron measures on the validation split, then the ablation curves of every scope (the whole
network and each hidden layer) on the test split: every quantity in both directions ("ordered") and
the random orders ("random"). Prints the seconds of each part and their sum, with the engine's
certification of layer curves (the default) and, side by side in the same run, without it (every
changed sample evaluated), and whether the two give the same curves. ``--device cuda`` trains the network
and runs the whole analysis on the GPU.

    .venv/bin/python benchmarks/bench_chapter.py [--dataset mnist] [--seed 0] [--device cpu]
"""

from __future__ import annotations

import argparse
import functools
import time
from unittest import mock

import numpy as np
from yardstick import machine_line

from nbsrc import ablation, analysis
from nbsrc.analysis import AnalysisSettings, ablation_curves, neuron_measures
from nbsrc.data import DATASETS, load_splits
from nbsrc.models import resolve_device
from nbsrc.train import default_config, train_or_load
from nbsrc.vocabulary import DIRECTIONS, QUANTITIES, scope_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--seed", type=int, default=0, help="training seed of the network")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when available, else CPU)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    print(machine_line(device))
    config = default_config(args.dataset, seed=args.seed)
    splits = load_splits(
        config.dataset, val_size=config.val_size, seed=config.split_seed, standardize=config.standardize
    )
    model = train_or_load(config, splits, device=device).model
    settings = AnalysisSettings()
    n_scopes = len(scope_names(len(model.widths)))
    n_ordered = n_scopes * len(QUANTITIES) * len(DIRECTIONS)
    print(
        f"{config.dataset} network {'-'.join(map(str, model.widths))}, seed {args.seed}: "
        f"{n_ordered} ordered and {n_scopes * settings.n_random} random curves of every k, on {device.type}"
    )
    runs = {}
    for certify in (True, False):
        start = time.perf_counter()
        measures = neuron_measures(model, splits.val.x, splits.val.y, splits.n_classes, settings, device)
        measures_s = time.perf_counter() - start
        seconds: dict[str, float] = {}
        curve = functools.partial(ablation.cumulative_curve, certify=certify)
        with mock.patch.object(analysis, "cumulative_curve", curve):
            curves = ablation_curves(
                model, splits, measures, settings, args.seed, progress=False, device=device, seconds=seconds
            )
        runs[certify] = (measures_s, seconds, time.perf_counter() - start, curves)
    (m1, s1, t1, c1), (m0, s0, t0, c0) = runs[True], runs[False]
    print("\n| part | certified [s] | every changed sample [s] | ratio |\n|---|---|---|---|")
    print(f"| measures ({len(QUANTITIES)} quantities, {sum(model.widths)} neurons) | {m1:.1f} | {m0:.1f} | |")
    for part, count in (("ordered", n_ordered), ("random", n_scopes * settings.n_random)):
        print(f"| {part} curves ({count}) | {s1[part]:.1f} | {s0[part]:.1f} | {s0[part] / s1[part]:.2f} |")
    print(
        f"| **total** (with the intact outputs and bookkeeping) | **{t1:.1f}** | **{t0:.1f}** | "
        f"{t0 / t1:.2f} |"
    )
    same = all(np.array_equal(c1[name], c0[name]) for name in c1)
    print(f"\nthe same curves with and without certification: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
