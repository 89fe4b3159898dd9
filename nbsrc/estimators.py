"""How far the estimates can be trusted: quantisation and sample size (METHOD.md sections 2 and 6).

*Quantisation.* Every information quantity (H, MI, KL sel.) of every hidden neuron under the binary code
and under B equal-width or equal-mass bins (B in :data:`BINS`); per layer, the Spearman correlation of each
ranking with the binary one; and the curves ordered by MI under each quantisation (every hidden layer and
the whole network, both directions), against the network's random orders (which no quantisation changes).

*Sample size.* The quantities from n validation samples (a random subset, n in :data:`SIZES`), plug-in and
Miller-Madow, each with a 5-95 % bootstrap percentile interval (``n_boot`` resamples of the n samples),
and the Spearman correlation of the ranking from n samples with the ranking from the full validation split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from nbsrc.ablation import neuron_orders
from nbsrc.analysis import (
    AnalysisSettings,
    analyse_network,
    cached_curves,
    chapter_networks,
    curve_frames,
    spearman,
    validation_data,
)
from nbsrc.checks import check_int, fail
from nbsrc.data import Splits
from nbsrc.measures import information_measures
from nbsrc.models import MLP
from nbsrc.quantize import quantize
from nbsrc.train import TrainConfig
from nbsrc.vocabulary import DIRECTIONS, layer_scope, scope_layer, scope_names

#: Bin counts of the equal-width and equal-mass quantisers.
BINS = (2, 4, 8, 16, 32)
#: Every quantisation studied, as (method, bins); the binary code first (it is the book's default).
QUANTIZATIONS: tuple[tuple[str, int], ...] = (("binary", 2),) + tuple(
    (method, b) for method in ("equal_width", "equal_mass") for b in BINS
)
#: The quantities that depend on the quantisation and the sample (CSI and the weight norm do not).
INFORMATION_QUANTITIES = ("entropy", "mutual_information", "kl_selectivity")
#: The quantity whose orders are ablated under every quantisation.
CURVE_QUANTITY = "mutual_information"
#: Validation sample sizes of the sample-size study (those above the split's size are left out).
SIZES = (100, 200, 500, 1000, 2000, 5000, 10000)
#: Bootstrap resamples per sample size and estimator.
N_BOOT = 50
#: The two estimators: plug-in (None) and Miller-Madow.
ESTIMATORS = (None, "miller_madow")
#: Part of the cache name of the quantisation curves: bump when their computation changes.
QUANTIZATION_VERSION = 1


def check_sizes(sizes: object) -> None:
    """Raise ValueError naming ``sizes`` unless it is a non-empty list of integers >= 10."""
    valid = isinstance(sizes, list | tuple) and sizes and all(isinstance(n, int) and n >= 10 for n in sizes)
    if not valid:
        fail("sizes", sizes, "a non-empty list of validation sample sizes, each an integer >= 10")


def quantization_label(method: str, n_bins: int) -> str:
    """A quantisation's short name: "binary", "width 8", "mass 8"."""
    return "binary" if method == "binary" else f"{method.removeprefix('equal_')} {n_bins}"


#: The labels of :data:`QUANTIZATIONS`, in order (the x axis of the quantisation figures).
QUANTIZATION_LABELS = tuple(quantization_label(m, b) for m, b in QUANTIZATIONS)


def layer_information(
    outputs: list[torch.Tensor],
    y: torch.Tensor,
    n_classes: int,
    activation: str,
    method: str = "binary",
    n_bins: int = 2,
    bias_correction: str | None = None,
) -> dict[str, list[np.ndarray]]:
    """H, MI and KL selectivity of every neuron of every layer (bits) from its outputs under one
    quantisation: quantity -> one array per layer."""
    result: dict[str, list[np.ndarray]] = {q: [] for q in INFORMATION_QUANTITIES}
    for t in outputs:
        codes, n_values = quantize(t, method, activation, n_bins)
        info = information_measures(codes, y, n_values, n_classes, bias_correction)
        for quantity in INFORMATION_QUANTITIES:
            result[quantity].append(getattr(info, quantity).cpu().numpy())
    return result


def _validation_outputs(
    model: MLP, splits: Splits, settings: AnalysisSettings
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Each hidden layer's outputs on the settings' validation samples, and their labels."""
    x_val, y_val = validation_data(splits, settings)
    device = next(model.parameters()).device
    with torch.no_grad():
        return model.hidden_outputs(x_val.to(device)), y_val.to(device)


def quantization_study(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every quantisation's measures and MI-ordered curves, for every seed.

    Returns ``(measures, auc)``: measures [seed, layer, neuron, quantization, quantity, value] and the AUC
    table [seed, scope, quantization, direction, order, auc, threshold_fraction] of the MI orders under
    each quantisation (direction ascending / descending) and of the network's random orders
    (quantization "random", direction "random"). The curves are cached per network next to its analysis.
    """
    measures, aucs = [], []
    for trained, splits in chapter_networks(configs, cache, device, progress, "quantisations"):
        model, seed = trained.model, trained.config.seed
        outputs, y_val = _validation_outputs(model, splits, settings)
        per_quantization = {
            quantization_label(m, b): layer_information(
                outputs, y_val, splits.n_classes, model.activation, m, b
            )
            for m, b in QUANTIZATIONS
        }
        for label, values in per_quantization.items():
            for quantity, per_layer in values.items():
                for layer, v in enumerate(per_layer, start=1):
                    measures.append(
                        pd.DataFrame({"seed": seed, "layer": layer, "neuron": np.arange(len(v)),
                                      "quantization": label, "quantity": quantity, "value": v})
                    )  # fmt: skip
        analysis = analyse_network(trained, splits, settings, cache, progress, device)
        scopes = scope_names(len(model.widths))
        orders = {}
        for scope in scopes:
            layer = scope_layer(scope)
            for label in QUANTIZATION_LABELS:
                per_layer = per_quantization[label][CURVE_QUANTITY]
                scores = np.concatenate(per_layer) if layer is None else per_layer[layer - 1]
                for d in DIRECTIONS:
                    engine_scope = "network" if layer is None else layer - 1
                    orders[f"{scope}|{label}|{d}"] = (engine_scope, neuron_orders(scores, d)[0])
        name = f"quantizations-v{QUANTIZATION_VERSION}"
        curves = cached_curves(trained, splits, settings, name, orders, cache, device, progress)
        curves = {**curves, **{f"{s}|random|random": analysis.curves[f"{s}|random|random"] for s in scopes}}
        for name, curve in curves.items():
            scope, label, direction = name.split("|")
            # curve_frames reads "scope|quantity|direction"; the middle field is the quantisation here
            aucs.append(
                curve_frames(seed, name, curve, splits.n_classes)[1].rename(
                    columns={"quantity": "quantization"}
                )
            )
    return pd.concat(measures, ignore_index=True), pd.concat(aucs, ignore_index=True)


def ranking_agreement(measures: pd.DataFrame) -> pd.DataFrame:
    """Per seed, layer, quantisation and quantity: the Spearman ρ of the neurons' values with their
    values under the binary code (NaN where either is constant over the layer). ``measures`` is
    :func:`quantization_study`'s. Columns: seed, layer, quantization, quantity, rho."""
    binary = measures[measures.quantization == "binary"].set_index(["seed", "layer", "quantity", "neuron"])
    binary = binary.value.sort_index()
    rows = []
    for (seed, layer, label, quantity), g in measures.groupby(
        ["seed", "layer", "quantization", "quantity"], sort=False
    ):
        reference = binary.loc[(seed, layer, quantity)].reindex(g.neuron).to_numpy()
        rows.append({"seed": seed, "layer": layer, "quantization": label, "quantity": quantity,
                     "rho": spearman(g.value.to_numpy(), reference)})  # fmt: skip
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------- sample size


def sample_size_study(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    sizes: tuple[int, ...] = SIZES,
    n_boot: int = N_BOOT,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """The quantities from n validation samples, plug-in and Miller-Madow, with bootstrap intervals.

    For every seed and n in ``sizes`` (at most the validation split's size): a random subset of n samples
    (``default_rng(1000 * seed + n)``), the quantities on it, and ``n_boot`` bootstrap resamples of it
    (the same resamples for both estimators). Columns: seed, layer, neuron, n, estimator ("plug-in" or
    "Miller-Madow"), quantity, value, lo, hi (5 and 95 % bootstrap percentiles), full (the plug-in value
    on the whole validation split, the reference ranking). The settings' quantiser is used throughout.
    """
    check_int("n_boot", n_boot, 2)
    check_sizes(sizes)
    frames = []
    for trained, splits in chapter_networks(configs, cache, device, progress, "sample sizes"):
        model, seed = trained.model, trained.config.seed
        outputs, y_val = _validation_outputs(model, splits, settings)
        coded = [quantize(t, settings.quantizer, model.activation, settings.n_bins) for t in outputs]
        codes = torch.cat([c for c, _ in coded], dim=1)
        n_values = max(v for _, v in coded)
        layers = np.concatenate([np.full(t.shape[1], i) for i, t in enumerate(outputs, start=1)])
        neurons = np.concatenate([np.arange(t.shape[1]) for t in outputs])
        full = information_measures(codes, y_val, n_values, splits.n_classes)
        usable = [n for n in sizes if n <= len(y_val)]
        if not usable:
            fail("sizes", sizes, f"at least one size must fit the {len(y_val)} validation samples used")
        for n in tqdm(usable, desc=f"seed {seed}: sample sizes", disable=not progress, leave=False):
            rng = np.random.default_rng(1000 * seed + n)
            subset = torch.as_tensor(rng.choice(len(y_val), n, replace=False), device=codes.device)
            resamples = [
                subset[torch.as_tensor(rng.integers(0, n, n), device=codes.device)] for _ in range(n_boot)
            ]
            for estimator in ESTIMATORS:
                point = information_measures(
                    codes[subset], y_val[subset], n_values, splits.n_classes, estimator
                )
                boot = [
                    information_measures(codes[r], y_val[r], n_values, splits.n_classes, estimator)
                    for r in resamples
                ]
                for quantity in INFORMATION_QUANTITIES:
                    draws = torch.stack([getattr(b, quantity) for b in boot]).cpu().numpy()
                    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
                    frames.append(
                        pd.DataFrame({"seed": seed, "layer": layers, "neuron": neurons, "n": n,
                                      "estimator": "plug-in" if estimator is None else "Miller-Madow",
                                      "quantity": quantity, "value": getattr(point, quantity).cpu().numpy(),
                                      "lo": lo, "hi": hi, "full": getattr(full, quantity).cpu().numpy()})
                    )  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def sample_size_summary(samples: pd.DataFrame) -> pd.DataFrame:
    """Per seed, layer, n, estimator and quantity: the Spearman ρ of the values from n samples with the
    full-split ranking, the median bootstrap interval width (hi - lo, bits) and the mean error against
    the full-split plug-in value (bits). Columns: seed, layer, n, estimator, quantity, rho, width, bias."""
    rows = []
    for key, g in samples.groupby(["seed", "layer", "n", "estimator", "quantity"], sort=False):
        rows.append(
            dict(zip(["seed", "layer", "n", "estimator", "quantity"], key, strict=True))
            | {
                "rho": spearman(g.value.to_numpy(), g.full.to_numpy()),
                "width": float((g.hi - g.lo).median()),
                "bias": float((g.value - g.full).mean()),
            }
        )
    return pd.DataFrame(rows)


def stable_size(summary: pd.DataFrame, threshold: float = 0.9) -> pd.DataFrame:
    """Per layer, estimator and quantity: the smallest n whose seed-mean ρ with the full-split ranking
    reaches ``threshold`` (NaN if none does). Columns: scope, layer, estimator, quantity, n."""
    means = summary.groupby(["layer", "estimator", "quantity", "n"], sort=True).rho.mean().reset_index()
    rows = []
    for (layer, estimator, quantity), g in means.groupby(["layer", "estimator", "quantity"], sort=False):
        reached = g[g.rho >= threshold].n
        rows.append(
            {"scope": layer_scope(layer), "layer": layer, "estimator": estimator, "quantity": quantity,
             "n": float(reached.min()) if len(reached) else np.nan}
        )  # fmt: skip
    return pd.DataFrame(rows)
