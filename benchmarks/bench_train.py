"""Benchmark: one training epoch with the book's Adam (multi-tensor) against the per-parameter loop.

``nbsrc.train.train`` builds its optimiser with ``nbsrc.train.adam``: ``torch.optim.Adam`` with
``foreach=True``. On the CPU torch's default is the per-parameter loop (``foreach=False``), which gives
the same weights bit for bit (``tests/test_train.py`` checks it) at a higher cost per step. For each
recipe, one epoch (``--epochs``) is trained both ways, side by side in one run, in alternation
(best of ``--repeats``), and the weights are compared.

    .venv/bin/python benchmarks/bench_train.py [--dataset mnist] [--recipes paper_v1 book] [--repeats 2]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from unittest import mock

import torch
from yardstick import best_time, machine_line

from nbsrc import train as training
from nbsrc.data import DATASETS
from nbsrc.recipes import RECIPES, recipe_config


def per_parameter_adam(model: torch.nn.Module, config: training.TrainConfig) -> torch.optim.Adam:
    """torch's CPU default: the per-parameter loop."""
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--recipes", nargs="+", default=["paper_v1", "book"], choices=RECIPES)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each way (best is reported)")
    args = parser.parse_args()

    print(machine_line())
    print("\n| recipe | batch size | multi-tensor Adam | per-parameter loop | ratio | same weights |")
    print("|---|---|---|---|---|---|")
    for name in args.recipes:
        config = replace(recipe_config(name, args.dataset), epochs=args.epochs)
        splits = training.config_splits(config)

        def run(config: training.TrainConfig = config, splits: training.Splits = splits) -> dict:
            return training.train(config, splits, device="cpu", progress=False).model.state_dict()

        foreach_s, foreach = best_time(run, args.repeats)
        with mock.patch.object(training, "adam", per_parameter_adam):
            loop_s, loop = best_time(run, args.repeats)
        same = all(torch.equal(foreach[k], loop[k]) for k in foreach)
        print(
            f"| {name} ({args.epochs} epoch) | {config.batch_size} | {foreach_s:.1f} s | {loop_s:.1f} s | "
            f"{loop_s / foreach_s:.2f} | {'yes' if same else 'NO'} |"
        )


if __name__ == "__main__":
    main()
