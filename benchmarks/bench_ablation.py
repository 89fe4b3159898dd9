"""Benchmark: a whole-network cumulative-ablation curve, fast engine vs the reference loop.

Runs both engines side by side on the same trained network, order and test set, and prints both
times, the ratio and the largest difference between the curves. Timings depend on the machine's
load: compare the ratio, measured in one run, not absolute times across runs.

    .venv/bin/python benchmarks/bench_ablation.py [--dataset mnist] [--mode zero] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from nbsrc.ablation import MODES, cumulative_curve, neuron_orders
from nbsrc.data import DATASETS, load_splits
from nbsrc.train import default_config, train_or_load


def best_time(run, repeats: int) -> tuple[float, np.ndarray]:
    """Best wall time over ``repeats`` runs (the least disturbed by other processes) and the result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--mode", default="zero", choices=MODES)
    parser.add_argument("--repeats", type=int, default=3, help="fast-engine repeats (best is reported)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random ablation order")
    args = parser.parse_args()

    config = default_config(args.dataset)
    splits = load_splits(
        config.dataset, val_size=config.val_size, seed=config.split_seed, standardize=config.standardize
    )
    model = train_or_load(config, splits).model
    means = [h.mean(0) for h in model.hidden_outputs(splits.val.x)] if args.mode == "mean" else None
    n = sum(model.widths)
    order = neuron_orders(None, "random", n_random=1, seed=args.seed, n=n)[0]
    x, y = splits.test.x, splits.test.y
    print(
        f"network {splits.train.x.shape[1]}-{'-'.join(map(str, model.widths))}-10, {len(x)} test images, "
        f"whole-network curve of {n + 1} points, mode={args.mode}, torch threads={torch.get_num_threads()}"
    )

    def curve(engine: str) -> np.ndarray:
        return cumulative_curve(
            model, x, y, order, scope="network", mode=args.mode, means=means, engine=engine
        )

    fast_s, fast = best_time(lambda: curve("fast"), args.repeats)
    print(f"fast engine      {fast_s:8.2f} s  (best of {args.repeats})", flush=True)
    reference_s, reference = best_time(lambda: curve("reference"), 1)
    print(f"reference engine {reference_s:8.2f} s")
    print(f"ratio            {reference_s / fast_s:8.1f} x")
    print(f"largest curve difference: {np.abs(fast - reference).max() * len(x):.0f} test images")


if __name__ == "__main__":
    main()
