"""Benchmark: one whole-network cumulative-ablation curve three ways, side by side in one run.

On the same trained network (the default MNIST 784-512-256-128-10), the same random order of all
896 hidden neurons and the 10 000 test images, the curve of every k = 0..896 is computed by:

- ``fast``: the package's fast engine (best of ``--repeats`` runs);
- ``reference``: the package's reference engine (masks and a full forward pass per k, one run);
- ``notebook``: the loop a notebook would write: a DataLoader over the test set with batch 32 and
  per-sample indexing (as torchvision datasets do), a masked forward pass per batch, for each k.
  It is timed on ``--notebook-k`` values of k spread over the curve and extrapolated to all 897
  (stated as such in the output); its accuracies at those k are checked against the reference.

With ``--device cuda`` all three run on the GPU (the notebook loop moves each batch there, as a notebook
would), after the network is trained there. It prints the three times, the ratios to the fast engine and the
largest curve differences. Then, per hidden layer, the layer's curve (every k) by the fast engine with
certification (the rows whose prediction provably stays are skipped, the default where it pays) and without
(every changed row evaluated), with their ratio and largest difference. Compare ratios measured in one run,
not absolute times across runs (see the machine line printed first).

    .venv/bin/python benchmarks/bench_ablation.py [--dataset mnist] [--mode zero] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from yardstick import best_time, machine_line

from nbsrc.ablation import MODES, ablation_values, cumulative_curve, neuron_orders, scope_neurons
from nbsrc.data import DATASETS, load_splits
from nbsrc.models import MLP, resolve_device
from nbsrc.train import default_config, train_or_load


class IndexedImages(Dataset):
    """Test images served one sample at a time, as a torchvision dataset serves them."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.x[i], int(self.y[i])


def notebook_accuracy(
    model: MLP, loader: DataLoader, masks: list[torch.Tensor], values: list[torch.Tensor]
) -> float:
    """Test accuracy with the masked neurons fixed to their values: one masked forward per batch (on the
    model's device)."""
    device = next(model.parameters()).device
    correct = total = 0
    with torch.no_grad():
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            correct += int((model(xb, ablate=masks, values=values).argmax(1) == yb).sum())
            total += len(yb)
    return correct / total


def notebook_curve_points(
    model: MLP, x: torch.Tensor, y: torch.Tensor, order: np.ndarray, ks: list[int], values: list[torch.Tensor]
) -> tuple[float, dict[int, float]]:
    """Seconds per k of the notebook-style loop (mean over ``ks``) and its accuracy at each of them."""
    loader = DataLoader(IndexedImages(x, y), batch_size=32, shuffle=False)
    layer_of, index_of = scope_neurons(model.widths, "network")
    device = next(model.parameters()).device
    values = [v.to(device) for v in values]
    accuracies, start = {}, time.perf_counter()
    for k in ks:
        masks = [torch.zeros(w, dtype=torch.bool, device=device) for w in model.widths]
        for p in order[:k]:
            masks[layer_of[p]][index_of[p]] = True
        accuracies[k] = notebook_accuracy(model, loader, masks, values)
    return (time.perf_counter() - start) / len(ks), accuracies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist", choices=DATASETS)
    parser.add_argument("--mode", default="zero", choices=MODES)
    parser.add_argument("--repeats", type=int, default=3, help="fast-engine repeats (best is reported)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random ablation order")
    parser.add_argument("--notebook-k", type=int, default=3, help="how many k the notebook loop is timed on")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when available, else CPU)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    print(machine_line(device))
    config = default_config(args.dataset)
    splits = load_splits(
        config.dataset, val_size=config.val_size, seed=config.split_seed, standardize=config.standardize
    )
    model = train_or_load(config, splits, device=device).model.eval()
    means = [h.mean(0) for h in model.hidden_outputs(splits.val.x)] if args.mode == "mean" else None
    n = sum(model.widths)
    order = neuron_orders(None, "random", n_random=1, seed=args.seed, n=n)[0]
    x, y = splits.test.x, splits.test.y
    print(
        f"network {splits.train.x.shape[1]}-{'-'.join(map(str, model.widths))}-{splits.n_classes}, "
        f"{len(x)} test images, whole-network curve of {n + 1} points (k = 0..{n}), mode={args.mode}, "
        f"on {device.type}"
    )

    def curve(engine: str) -> np.ndarray:
        return cumulative_curve(
            model, x, y, order, scope="network", mode=args.mode, means=means, engine=engine, device=device
        )

    fast_s, fast = best_time(lambda: curve("fast"), args.repeats)
    reference_s, reference = best_time(lambda: curve("reference"), 1)
    ks = [int(k) for k in np.linspace(0, n, args.notebook_k).round()]
    values = ablation_values(model.widths, args.mode, means)
    model_there = copy.deepcopy(model).to(device)
    per_k, points = notebook_curve_points(model_there, x, y, order, ks, values)
    notebook_s = per_k * (n + 1)

    print("\n| engine | whole-network curve | x fast |\n|---|---|---|")
    print(f"| fast | {fast_s:.2f} s (best of {args.repeats}) | 1.0 |")
    print(f"| reference | {reference_s:.2f} s | {reference_s / fast_s:.1f} |")
    print(
        f"| notebook-style loop | {notebook_s:.0f} s (extrapolated: {per_k:.2f} s per k, timed on "
        f"k = {', '.join(map(str, ks))}) | {notebook_s / fast_s:.0f} |"
    )
    print(
        f"\nlargest difference fast vs reference: {np.abs(fast - reference).max() * len(x):.0f} test images"
    )
    worst = max(abs(points[k] - reference[k]) for k in ks) * len(x)
    print(f"largest difference notebook loop vs reference at the timed k: {worst:.0f} test images")

    print(
        "\n| layer curve | certified | every changed row | ratio | largest difference |"
        "\n|---|---|---|---|---|"
    )
    intact = model_there.hidden_outputs(x.to(device))
    for layer, width in enumerate(model.widths):
        layer_order = neuron_orders(None, "random", n_random=1, seed=args.seed, n=width)[0]

        def layer_curve(certify: bool, layer: int = layer, order: np.ndarray = layer_order) -> np.ndarray:
            return cumulative_curve(
                model,
                x,
                y,
                order,
                scope=layer,
                mode=args.mode,
                means=means,
                intact=intact,
                certify=certify,
                device=device,
            )

        certified_s, certified = best_time(lambda: layer_curve(True), args.repeats)
        plain_s, plain = best_time(lambda: layer_curve(False), args.repeats)
        print(
            f"| layer {layer} ({width} neurons) | {certified_s:.2f} s | {plain_s:.2f} s | "
            f"{plain_s / certified_s:.2f} | {np.abs(certified - plain).max() * len(x):.0f} test images |"
        )


if __name__ == "__main__":
    main()
