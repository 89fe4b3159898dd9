"""Benchmark: one network's full chapter analysis (the default MNIST network), split by part.

Everything :func:`nbsrc.analysis.analyse_network` computes for one network, without its cache:
the per-neuron measures on the validation split, then the ablation curves of every scope (the whole
network and each hidden layer) on the test split: every quantity in both directions ("ordered") and
the random orders ("random"). Prints the seconds of each part and their sum.

    .venv/bin/python benchmarks/bench_chapter.py [--dataset mnist] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

from yardstick import machine_line

from nbsrc.analysis import AnalysisSettings, ablation_curves, neuron_measures
from nbsrc.data import DATASETS, load_splits
from nbsrc.train import default_config, train_or_load
from nbsrc.vocabulary import DIRECTIONS, QUANTITIES, scope_names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--seed", type=int, default=0, help="training seed of the network")
    args = parser.parse_args()

    print(machine_line())
    config = default_config(args.dataset, seed=args.seed)
    splits = load_splits(
        config.dataset, val_size=config.val_size, seed=config.split_seed, standardize=config.standardize
    )
    model = train_or_load(config, splits).model
    settings = AnalysisSettings()
    n_scopes = len(scope_names(len(model.widths)))
    n_ordered = n_scopes * len(QUANTITIES) * len(DIRECTIONS)
    print(
        f"{config.dataset} network {'-'.join(map(str, model.widths))}, seed {args.seed}: "
        f"{n_ordered} ordered and {n_scopes * settings.n_random} random curves of every k"
    )
    start = time.perf_counter()
    measures = neuron_measures(model, splits.val.x, splits.val.y, splits.n_classes, settings)
    measures_s = time.perf_counter() - start
    seconds: dict[str, float] = {}
    ablation_curves(model, splits, measures, settings, args.seed, progress=False, seconds=seconds)
    total = time.perf_counter() - start
    print("\n| part | seconds |\n|---|---|")
    print(f"| measures ({len(QUANTITIES)} quantities, {sum(model.widths)} neurons) | {measures_s:.1f} |")
    print(f"| ordered curves ({n_ordered}) | {seconds['ordered']:.1f} |")
    print(f"| random curves ({n_scopes * settings.n_random}) | {seconds['random']:.1f} |")
    print(f"| **total** (with the intact outputs and bookkeeping) | **{total:.1f}** |")


if __name__ == "__main__":
    main()
