"""One chapter's computation: measure every hidden neuron, ablate by each measure, summarise.

For each trained network (one per seed) :func:`analyse_network` computes, on the validation split,
the per-neuron quantities of METHOD.md section 3, then the cumulative-ablation curves on the test
split for every scope (the whole network and each hidden layer), every quantity (or the settings'
``ordered`` subset) in ascending and descending order, and ``n_random`` random orders. A network's
results are cached on disk (atomically, keyed by the network and the settings), so an interrupted
chapter resumes where it stopped. :func:`run_chapter` does this for all seeds and returns long-format tables.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import torch
from tqdm import tqdm

from nbsrc.ablation import MODES, cumulative_curve, neuron_orders, scope_neurons, single_neuron_accuracy
from nbsrc.checks import check_choice, check_int, fail
from nbsrc.data import N_CLASSES, Split, Splits
from nbsrc.measures import (
    BIAS_CORRECTIONS,
    class_selectivity_index,
    information_measures,
    outgoing_weight_norm,
)
from nbsrc.models import MLP, resolve_device
from nbsrc.quantize import QUANTIZERS, quantize
from nbsrc.storage import cache_root, load_or_discard, write_atomic
from nbsrc.train import TrainConfig, TrainedNetwork, accuracy, config_splits, train_or_load
from nbsrc.vocabulary import DIRECTIONS, NETWORK, QUANTITIES, layer_scope, scope_layer, scope_names

# Bump when the analysis changes in a way that changes its cached results.
ANALYSIS_CODE_VERSION = 3  # 3: the fast engine compacts its state (float32 sums may round differently)
# How the random orders of a scope are seeded (part of the cache key: changing it changes the curves).
RANDOM_SEEDING = "default_rng(1000 * training seed + scope position); network = 0, layer l = l"
# The engine that computes every curve, and its dtype (part of the cache key).
ENGINE, ENGINE_DTYPE = "fast", torch.float32


@dataclass(frozen=True)
class AnalysisSettings:
    """How neurons are measured and ablated (everything but the network)."""

    quantizer: str = "binary"
    n_bins: int = 2
    bias_correction: str | None = None
    mode: str = "zero"
    n_random: int = 20
    val_limit: int | None = None  # measure on the first n validation samples only (smoke runs)
    test_limit: int | None = None  # evaluate on the first n test samples only (smoke runs)
    #: The quantities that get ordered curves (ascending and descending), in the book's order; None: every
    #: quantity; empty: none (random orders only). Every quantity is measured either way.
    ordered: tuple[str, ...] | None = None
    #: Whether every scope gets its ``n_random`` random orders; False: the ordered curves only (e.g. a
    #: second ablation mode compared with the first on the ordered curves).
    random_orders: bool = True

    def __post_init__(self) -> None:
        check_choice("quantizer", self.quantizer, QUANTIZERS)
        check_int("n_bins", self.n_bins, 2)
        check_choice("bias_correction", self.bias_correction, BIAS_CORRECTIONS)
        check_choice("mode", self.mode, MODES)
        check_int("n_random", self.n_random, 1)
        for name in ("val_limit", "test_limit"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 10)
        check_choice("random_orders", self.random_orders, (True, False))
        if self.ordered is not None:
            if isinstance(self.ordered, str) or not isinstance(self.ordered, list | tuple):
                fail("ordered", self.ordered, f"must be None or a list of quantities from {QUANTITIES}")
            for quantity in self.ordered:
                check_choice("ordered", quantity, QUANTITIES)
            # one spelling per subset (the book's order, no repeats), so equal subsets share a cache key
            object.__setattr__(self, "ordered", tuple(q for q in QUANTITIES if q in self.ordered))
        if not self.ordered_quantities and not self.random_orders:
            fail("ordered", self.ordered, "may be empty only with random_orders=True (nothing to compute)")

    @property
    def ordered_quantities(self) -> tuple[str, ...]:
        """The quantities whose ordered curves the analysis computes (every quantity by default)."""
        return QUANTITIES if self.ordered is None else self.ordered

    def key(self, network_key: str, device: str | torch.device = "cpu") -> str:
        """Cache key of one network's analysis: SHA-256 over everything that changes a result (these
        settings, the quantities and directions, the random-order seeding, the engine and its dtype,
        the network's own key, the device kind) and the analysis code version. With ``ordered`` and
        ``random_orders`` at their defaults (None, True) the payload is the same as before those fields
        existed, so earlier caches stay valid."""
        settings = asdict(self)
        if self.ordered is None:
            del settings["ordered"]
        else:
            settings["ordered"] = list(self.ordered)
        if self.random_orders:
            del settings["random_orders"]
        payload = {
            "settings": settings,
            "quantities": QUANTITIES,
            "directions": DIRECTIONS,
            "random_seeding": RANDOM_SEEDING,
            "engine": [ENGINE, str(ENGINE_DTYPE)],
            "network": network_key,
            "device": torch.device(device).type,
            "code": ANALYSIS_CODE_VERSION,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def neuron_measures(
    model: MLP,
    x: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    settings: AnalysisSettings,
    device: str | torch.device | None = None,
) -> dict[str, list[np.ndarray]]:
    """Every quantity for every hidden neuron, per layer, from the outputs on (x, y), computed on
    ``device`` (default: CUDA when available, else the CPU)."""
    model, x, y = _on_device(model, x, y, device)
    outputs = model.hidden_outputs(x)
    next_weights = model.affine_layers(torch.float64).weights[1:]  # batch norm of the next layer folded in
    result: dict[str, list[np.ndarray]] = {q: [] for q in QUANTITIES}
    for t, w_next in zip(outputs, next_weights, strict=True):
        codes, n_values = quantize(t, settings.quantizer, model.activation, settings.n_bins)
        info = information_measures(codes, y, n_values, n_classes, settings.bias_correction)
        values = {
            "entropy": info.entropy,
            "mutual_information": info.mutual_information,
            "kl_selectivity": info.kl_selectivity,
            "csi": class_selectivity_index(t, y, n_classes),
            "weight_norm": outgoing_weight_norm(w_next),
        }
        for quantity, v in values.items():
            result[quantity].append(v.cpu().numpy())
    return result


def _on_device(
    model: MLP, x: torch.Tensor, y: torch.Tensor, device: str | torch.device | None
) -> tuple[MLP, torch.Tensor, torch.Tensor]:
    """The model (a copy unless it is there already) and the data on ``device``."""
    device = resolve_device(device)
    if next(model.parameters()).device != device:
        model = copy.deepcopy(model).to(device)
    return model, x.to(device), y.to(device)


def ablation_means(model: MLP, splits: Splits, settings: AnalysisSettings) -> list[torch.Tensor] | None:
    """Each hidden layer's mean output on the validation split (on the model's device) when the settings
    ablate to the mean (bias balancing); None for zero ablation."""
    if settings.mode != "mean":
        return None
    x_val = validation_data(splits, settings)[0].to(next(model.parameters()).device)
    with torch.no_grad():
        return [t.mean(0) for t in model.hidden_outputs(x_val)]


def validation_data(splits: Splits, settings: AnalysisSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """The validation inputs and labels the settings measure on (the first ``val_limit`` samples, or all)."""
    return _limit(splits.val.x, settings.val_limit), _limit(splits.val.y, settings.val_limit)


def test_data(splits: Splits, settings: AnalysisSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """The test inputs and labels the settings evaluate on (the first ``test_limit`` samples, or all)."""
    return _limit(splits.test.x, settings.test_limit), _limit(splits.test.y, settings.test_limit)


def _scope_arg(scope: str) -> int | str:
    """The engine's scope argument: "network" or the 0-based layer index."""
    layer = scope_layer(scope)
    return "network" if layer is None else layer - 1


def ablation_curves(
    model: MLP,
    splits: Splits,
    measures: dict[str, list[np.ndarray]],
    settings: AnalysisSettings,
    seed: int,
    progress: bool = True,
    device: str | torch.device | None = None,
    seconds: dict[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """Accuracy curves keyed "scope|quantity|direction" ([n+1]) and "scope|random|random" ([R, n+1]); the
    ordered curves of the settings' ``ordered_quantities`` only, the random ones with ``random_orders``.

    ``seconds``, when given, receives the wall time spent on the "ordered" and the "random" curves.
    """
    model, x_test, y_test = _on_device(model, *test_data(splits, settings), device)
    means = ablation_means(model, splits, settings)
    intact = model.hidden_outputs(x_test)  # shared by every curve: the layers below an ablation
    scopes = scope_names(len(model.widths))
    quantities = settings.ordered_quantities
    n_random = settings.n_random if settings.random_orders else 0
    total = len(scopes) * (len(quantities) * len(DIRECTIONS) + n_random)
    bar = tqdm(total=total, desc=f"ablation seed {seed}", disable=not progress, leave=False)
    curves: dict[str, np.ndarray] = {}
    spent = {"ordered": 0.0, "random": 0.0}
    for scope_id, scope in enumerate(scopes):
        scope_arg = _scope_arg(scope)

        def curve(order: np.ndarray, kind: str, scope_arg: int | str = scope_arg) -> np.ndarray:
            start = time.perf_counter()
            result = cumulative_curve(
                model,
                x_test,
                y_test,
                order,
                scope=scope_arg,
                mode=settings.mode,
                means=means,
                engine=ENGINE,
                dtype=ENGINE_DTYPE,
                device=device,
                intact=intact,
            )
            spent[kind] += time.perf_counter() - start
            bar.update()
            return result

        for quantity in quantities:
            per_layer = measures[quantity]
            scores = np.concatenate(per_layer) if scope == "network" else per_layer[scope_arg]
            for direction in DIRECTIONS:
                order = neuron_orders(scores, direction)[0]
                curves[f"{scope}|{quantity}|{direction}"] = curve(order, "ordered")
        if settings.random_orders:
            n_scope = len(scope_neurons(model.widths, scope_arg)[0])
            orders = neuron_orders(None, "random", n_random, seed=1000 * seed + scope_id, n=n_scope)
            curves[f"{scope}|random|random"] = np.stack([curve(order, "random") for order in orders])
    bar.close()
    if seconds is not None:
        seconds.update(spent)
    return curves


def _limit(t: torch.Tensor, limit: int | None) -> torch.Tensor:
    return t if limit is None else t[:limit]


@dataclass
class NetworkAnalysis:
    """One trained network with its measures and ablation curves."""

    trained: TrainedNetwork
    test_accuracy: float
    measures: dict[str, list[np.ndarray]]
    curves: dict[str, np.ndarray]


def analyse_network(
    trained: TrainedNetwork,
    splits: Splits,
    settings: AnalysisSettings,
    cache: str | Path | None = None,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> NetworkAnalysis:
    """Measures and curves for one network, from the analysis cache when present."""
    if not trained.key:
        fail("trained.key", trained.key, "the network needs its cache key (use train_or_load or train)")
    n_layers = len(trained.model.widths)
    path = cache_root(cache) / "analysis" / f"{settings.key(trained.key, resolve_device(device))}.npz"
    expected = {"test_accuracy", *(f"measure|{q}|{i}" for q in QUANTITIES for i in range(n_layers))}
    for scope in scope_names(n_layers):
        expected |= {f"curve|{scope}|{q}|{d}" for q in settings.ordered_quantities for d in DIRECTIONS}
        if settings.random_orders:
            expected.add(f"curve|{scope}|random|random")

    def read(file: Path) -> dict[str, np.ndarray]:
        with np.load(file) as stored:
            arrays = {name: stored[name] for name in stored.files}
        if not expected <= set(arrays):
            raise ValueError(f"missing arrays {sorted(expected - set(arrays))[:3]}")
        return arrays

    arrays = load_or_discard(path, read)
    if arrays is None:
        x_val, y_val = validation_data(splits, settings)
        measures = neuron_measures(trained.model, x_val, y_val, splits.n_classes, settings, device)
        curves = ablation_curves(
            trained.model, splits, measures, settings, trained.config.seed, progress, device
        )
        arrays = {f"measure|{q}|{i}": v[i] for q, v in measures.items() for i in range(n_layers)}
        arrays |= {f"curve|{name}": c for name, c in curves.items()}
        test = Split(*test_data(splits, settings))
        arrays["test_accuracy"] = np.array(accuracy(trained.model, test))  # the curves' k = 0
        write_atomic(path, lambda f: np.savez(f, **arrays))
    measures = {q: [arrays[f"measure|{q}|{i}"] for i in range(n_layers)] for q in QUANTITIES}
    curves = {name.split("|", 1)[1]: a for name, a in arrays.items() if name.startswith("curve|")}
    return NetworkAnalysis(trained, float(arrays["test_accuracy"]), measures, curves)


def auc(curve: np.ndarray) -> np.ndarray:
    """Area under accuracy vs fraction ablated (trapezoid over k/n in [0, 1]); works row-wise."""
    n = curve.shape[-1] - 1
    return np.trapezoid(curve, dx=1.0 / n, axis=-1)


def relative_auc(auc: pd.DataFrame, accuracies: pd.DataFrame, n_classes: int = N_CLASSES) -> pd.DataFrame:
    """A chapter's ``auc`` table with each curve's AUC relative to its network's intact accuracy above chance:

    (AUC − c) / (acc₀ − c) = ∫₀¹ (acc(f) − c) / (acc₀ − c) df,  c = 1 / n_classes,

    where acc₀ is the curves' first point, the seed's test accuracy (``accuracies``: seed, test_accuracy).
    1: no loss at any share f ablated; 0: at chance on average. Unlike the plain AUC, which starts at acc₀
    and ends near c, it does not rise with the intact accuracy by construction, so networks of different
    accuracy compare on it."""
    chance = 1.0 / n_classes
    intact = auc.seed.map(accuracies.set_index("seed").test_accuracy)
    return auc.assign(auc=(auc.auc - chance) / (intact - chance))


def threshold_fraction(curve: np.ndarray, n_classes: int) -> np.ndarray:
    """First k/n where accuracy < chance + (intact - chance) / 2; NaN if it never falls that low."""
    chance = 1.0 / n_classes
    threshold = chance + (curve[..., :1] - chance) / 2
    below = curve < threshold
    first = np.where(below.any(axis=-1), np.argmax(below, axis=-1), np.nan)
    return first / (curve.shape[-1] - 1)


@dataclass
class ChapterResults:
    """Long-format tables for one chapter (one dataset / setting, several seeds)."""

    configs: list[TrainConfig]
    settings: AnalysisSettings
    histories: pd.DataFrame  # seed, epoch, train_loss, val_accuracy
    accuracies: pd.DataFrame  # seed, test_accuracy
    measures: pd.DataFrame  # seed, layer (1-based), neuron, quantity, value
    curves: pd.DataFrame  # seed, scope, quantity, direction, order, k, fraction, accuracy
    auc: pd.DataFrame  # seed, scope, quantity, direction, order, auc, threshold_fraction


def curve_frames(
    seed: int, name: str, curve: np.ndarray, n_classes: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One seed's curve(s) ``"scope|quantity|direction"`` ([n+1] or [R, n+1]) as rows of the chapter's
    ``curves`` table and of its ``auc`` table."""
    scope, quantity, direction = name.split("|")
    rows = np.atleast_2d(curve)
    n = rows.shape[1] - 1
    k = np.tile(np.arange(n + 1), len(rows))
    curves = pd.DataFrame(
        {
            "seed": seed,
            "scope": scope,
            "quantity": quantity,
            "direction": direction,
            "order": np.repeat(np.arange(len(rows)), n + 1),
            "k": k,
            "fraction": k / n,
            "accuracy": rows.reshape(-1),
        }
    )
    aucs = pd.DataFrame(
        {
            "seed": seed,
            "scope": scope,
            "quantity": quantity,
            "direction": direction,
            "order": np.arange(len(rows)),
            "auc": auc(rows),
            "threshold_fraction": threshold_fraction(rows, n_classes),
        }
    )
    return curves, aucs


def _tables(analyses: list[NetworkAnalysis], n_classes: int) -> dict[str, pd.DataFrame]:
    histories, accuracies, measures, curves, aucs = [], [], [], [], []
    for a in analyses:
        seed = a.trained.config.seed
        histories.append(pd.DataFrame(a.trained.history).assign(seed=seed))
        accuracies.append({"seed": seed, "test_accuracy": a.test_accuracy})
        for quantity, per_layer in a.measures.items():
            for layer, values in enumerate(per_layer, start=1):
                measures.append(
                    pd.DataFrame(
                        {
                            "seed": seed,
                            "layer": layer,
                            "neuron": np.arange(len(values)),
                            "quantity": quantity,
                            "value": values,
                        }
                    )
                )
        for name, curve in a.curves.items():
            curve_rows, auc_rows = curve_frames(seed, name, curve, n_classes)
            curves.append(curve_rows)
            aucs.append(auc_rows)
    return {
        "histories": pd.concat(histories, ignore_index=True)[["seed", "epoch", "train_loss", "val_accuracy"]],
        "accuracies": pd.DataFrame(accuracies),
        "measures": pd.concat(measures, ignore_index=True),
        "curves": pd.concat(curves, ignore_index=True),
        "auc": pd.concat(aucs, ignore_index=True),
    }


def chapter_networks(
    configs: list[TrainConfig],
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
    what: str = "networks",
) -> Iterator[tuple[TrainedNetwork, Splits]]:
    """Each configuration's trained network (from the model cache, trained if missing) with the splits
    of the chapter (the first configuration's: every configuration of a chapter shares them)."""
    splits = config_splits(configs[0])
    for config in tqdm(configs, desc=f"{configs[0].dataset}: {what}", disable=not progress):
        yield train_or_load(config, splits, cache, device, progress), splits


def cached_curves(
    trained: TrainedNetwork,
    splits: Splits,
    settings: AnalysisSettings,
    name: str,
    orders: dict[str, tuple[int | str, np.ndarray]],
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Curves of further orders of one network (beyond its analysis), cached next to the analysis as
    ``<analysis key>-<name>.npz``: ``orders`` maps each curve's name to (engine scope: a 0-based layer or
    "network", order). Computed with the analysis' engine, test split and ablation mode."""
    key = settings.key(trained.key, resolve_device(device))
    path = cache_root(cache) / "analysis" / f"{key}-{name}.npz"

    def read(file: Path) -> dict[str, np.ndarray]:
        with np.load(file) as stored:
            return {curve: stored[curve] for curve in orders}

    curves = load_or_discard(path, read)
    if curves is None:
        x_test, y_test = test_data(splits, settings)
        means = ablation_means(trained.model, splits, settings)
        curves = {}
        desc = f"seed {trained.config.seed}: {name}"
        for curve, (scope, order) in tqdm(orders.items(), desc=desc, disable=not progress, leave=False):
            curves[curve] = cumulative_curve(
                trained.model, x_test, y_test, order, scope=scope, mode=settings.mode, means=means,
                engine=ENGINE, dtype=ENGINE_DTYPE, device=device,
            )  # fmt: skip
        write_atomic(path, lambda f: np.savez(f, **curves))
    return curves


def run_chapter(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> ChapterResults:
    """Train (or load) every configuration, analyse each network, and return the chapter's tables."""
    analyses = []
    for trained, splits in chapter_networks(configs, cache, device, progress):
        analyses.append(analyse_network(trained, splits, settings, cache, progress, device))
    return ChapterResults(configs, settings, **_tables(analyses, splits.n_classes))


def network_order_layers(measures: pd.DataFrame) -> pd.DataFrame:
    """Which layers the whole-network orders take their neurons from.

    For every seed, quantity and direction, the whole-network order (all hidden neurons ranked in one
    list, as in :func:`ablation_curves`) and, for every k = 1..n, the share of the first k ablated
    neurons that lie in each hidden layer. Columns: seed, quantity, direction, k, fraction (k / n),
    layer (1-based), share (in [0, 1]; the layers' shares sum to 1 at every k).
    """
    frames = []
    for (seed, quantity), rows in measures.groupby(["seed", "quantity"], sort=False):
        rows = rows.sort_values(["layer", "neuron"])
        layers = rows.layer.to_numpy()
        n = len(layers)
        k = np.arange(1, n + 1)
        for direction in DIRECTIONS:
            order = neuron_orders(rows.value.to_numpy(copy=True), direction)[0]
            ablated = layers[order]
            for layer in np.unique(layers):
                frames.append(
                    pd.DataFrame(
                        {
                            "seed": seed,
                            "quantity": quantity,
                            "direction": direction,
                            "k": k,
                            "fraction": k / n,
                            "layer": layer,
                            "share": np.cumsum(ablated == layer) / k,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


def paired_auc_gain(auc_base: pd.DataFrame, auc_other: pd.DataFrame) -> pd.DataFrame:
    """AUC of the same orders under two settings (e.g. zero and mean ablation), paired per seed.

    Ordered curves pair one to one (seed, scope, quantity, direction); the random orders of a seed
    and scope are averaged first (the two settings use the same random orders). ``auc_other`` may hold
    a subset of ``auc_base``'s curves (e.g. no random orders): the pairs are its curves. Columns: seed,
    scope, quantity, direction, auc_base, auc_other, gain (= auc_other - auc_base).
    """
    keys = ["seed", "scope", "quantity", "direction"]
    base = auc_base.groupby(keys, sort=False)["auc"].mean().rename("auc_base")
    other = auc_other.groupby(keys, sort=False)["auc"].mean().rename("auc_other")
    if not set(other.index) <= set(base.index):
        fail("auc_other", f"{len(other)} curves", f"must hold curves of auc_base ({len(base)}) only")
    paired = pd.concat([base.reindex(other.index), other], axis=1).reset_index()
    return paired.assign(gain=paired.auc_other - paired.auc_base)


def neuron_damage(
    configs: list[TrainConfig],
    settings: AnalysisSettings,
    cache: str | Path | None = None,
    device: str | torch.device | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Every hidden neuron's single-neuron ablation damage on the test split, for every seed.

    Columns: seed, layer (1-based), neuron, accuracy (with that neuron alone ablated, the settings'
    mode), drop (intact accuracy - accuracy: positive when the neuron matters). The networks come from
    the model cache (trained if missing); the damage is a few seconds per network and is not cached.
    """
    frames = []
    for trained, splits in chapter_networks(configs, cache, device, progress, "single-neuron damage"):
        model = trained.model
        x_test, y_test = test_data(splits, settings)
        means = ablation_means(model, splits, settings)
        intact = accuracy(model, Split(x_test, y_test))
        per_layer = single_neuron_accuracy(model, x_test, y_test, settings.mode, means, device=device)
        for layer, acc in enumerate(per_layer, start=1):
            frames.append(
                pd.DataFrame(
                    {
                        "seed": trained.config.seed,
                        "layer": layer,
                        "neuron": np.arange(len(acc)),
                        "accuracy": acc,
                    }
                ).assign(drop=intact - acc)
            )
    return pd.concat(frames, ignore_index=True)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ of two rankings; NaN when either is constant (no order to compare)."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return np.nan
    return float(scipy.stats.spearmanr(a, b).statistic)


def damage_correlations(measures: pd.DataFrame, damage: pd.DataFrame) -> pd.DataFrame:
    """Spearman correlation between each quantity and the single-neuron damage (drop), per seed and
    scope: every layer on its own and the whole network (all hidden neurons in one ranking).

    Columns: seed, scope, quantity, rho (NaN where a quantity or the damage is constant over the scope).
    """
    joined = measures.merge(damage[["seed", "layer", "neuron", "drop"]], on=["seed", "layer", "neuron"])
    rows = []
    for (seed, quantity), group in joined.groupby(["seed", "quantity"], sort=False):
        scopes = [(NETWORK, group)] + [(layer_scope(layer), g) for layer, g in group.groupby("layer")]
        for scope, g in scopes:
            rho = spearman(g["value"].to_numpy(), g["drop"].to_numpy())
            rows.append({"seed": seed, "scope": scope, "quantity": quantity, "rho": rho})
    return pd.DataFrame(rows)
