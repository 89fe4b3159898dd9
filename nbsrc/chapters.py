"""The book's chapters: their parameters, their execution with papermill, and the book build.

Each kind of chapter has one template in ``nbsrc/templates`` (no outputs, a cell tagged
``parameters``); ``python -m nbsrc book`` executes each template once per dataset / setting into
``book/`` and then builds the HTML with Jupyter Book 1.x, execution off.

Every executed chapter carries in its metadata (``metadata["nbsrc"]["record"]``) what produced it:
the SHA-256 of its template, its parameters, a SHA-256 of the ``nbsrc`` source (every ``.py`` file and
template of the package), the fingerprints of the data it uses (a dataset, or the result files of
other chapters) and the versions of torch and the book tools; the git commit, the UTC date and the
duration of the run are recorded too, for information only. A chapter is *current* when the record
computed now equals the stored one on every compared field (``COMPARED_FIELDS``), and only stale
chapters are executed again: a current chapter is never rewritten.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import nbformat
import torch

import nbsrc
from nbsrc.analysis import AnalysisSettings
from nbsrc.checks import check_choice, check_int, fail
from nbsrc.data import DATASETS, fingerprint
from nbsrc.estimators import N_BOOT, SIZES, check_sizes
from nbsrc.infoplane import FIRST_EPOCH_POINTS
from nbsrc.models import ACTIVATIONS
from nbsrc.pruning import FINE_TUNE_STEPS, KEPT, kept_widths
from nbsrc.recipes import recipe_config
from nbsrc.regularisers import REGULARISER_DATASETS, VARIANTS
from nbsrc.storage import file_sha256
from nbsrc.train import TrainConfig, first_epoch_steps
from nbsrc.vocabulary import QUANTITIES, TITLES, counted

# The package, wherever it is installed; its templates ship with it (package data).
PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "templates"
# The repository holding the book; only meaningful for the book build from a checkout.
ROOT = PACKAGE.parent
BOOK = ROOT / "book"

# The dataset chapter's parameters and their defaults (None: the dataset's default, see nbsrc.train).
DATASET_PARAMETERS: dict[str, Any] = {
    "dataset": "mnist",
    "recipe": "book",
    "widths": None,
    "activation": None,
    "epochs": None,
    "lr": None,
    "batch_size": None,
    "dropout": None,
    "batch_norm": None,
    "weight_decay": None,
    "seeds": [0, 1, 2],
    "n_random": 20,
    "quantizer": "binary",
    "n_bins": 2,
    "bias_correction": None,
    "ablation_mode": "zero",
    "compare_bias_balancing": False,
    "val_size": 10000,
    "train_limit": None,
    "val_limit": None,
    "test_limit": None,
    "results_dir": "results",
    "results_name": None,
}
# Parameters for a smoke run: a few thousand samples, one epoch, one seed, few random orders.
SMOKE_PARAMETERS: dict[str, Any] = {
    "epochs": 1,
    "seeds": [0],
    "n_random": 3,
    "train_limit": 3000,
    "val_limit": 2000,
    "test_limit": 2000,
}

#: The fields of a record that decide whether a chapter is current.
COMPARED_FIELDS = ("template", "parameters", "source", "data", "versions")
#: The packages whose versions a record holds (a changed version makes every chapter stale).
VERSIONED_PACKAGES = ("torch", "jupyter-book", "myst-nb", "papermill")
#: Cell tags that Jupyter Book 1.x (myst-nb) removes from the page, given to the parameter cells.
REMOVE_TAG = "remove-cell"
PARAMETER_TAGS = ("parameters", "injected-parameters")


def dataset_setup(**parameters: Any) -> tuple[list[TrainConfig], AnalysisSettings]:
    """Validate a dataset chapter's parameters; return one training config per seed and the settings.

    Raises ValueError, before any training, for an unknown parameter or a bad value.
    """
    for name in parameters:
        check_choice("parameter", name, DATASET_PARAMETERS)
    p = {**DATASET_PARAMETERS, **parameters}
    check_choice("dataset", p["dataset"], DATASETS)
    if not isinstance(p["seeds"], list | tuple) or not p["seeds"]:
        check_choice("seeds", p["seeds"], ["a non-empty list of integers, e.g. [0, 1, 2]"])
    overridable = (
        "widths",
        "activation",
        "epochs",
        "lr",
        "batch_size",
        "dropout",
        "batch_norm",
        "weight_decay",
    )
    overrides = {name: p[name] for name in overridable if p[name] is not None}
    fixed = {name: p[name] for name in ("val_size", "train_limit")}
    configs = [
        recipe_config(p["recipe"], p["dataset"], **overrides, **fixed, seed=seed) for seed in p["seeds"]
    ]
    check_choice("compare_bias_balancing", p["compare_bias_balancing"], (False, True))
    if p["compare_bias_balancing"] and p["ablation_mode"] != "zero":
        fail(
            "ablation_mode",
            p["ablation_mode"],
            "must be 'zero' with compare_bias_balancing=True (the comparison adds mean ablation)",
        )
    settings = AnalysisSettings(
        quantizer=p["quantizer"],
        n_bins=p["n_bins"],
        bias_correction=p["bias_correction"],
        mode=p["ablation_mode"],
        n_random=p["n_random"],
        val_limit=p["val_limit"],
        test_limit=p["test_limit"],
    )
    return configs, settings


def check_choices(plural: str, values: Any, allowed: Sequence[Any]) -> None:
    """Raise ValueError naming ``plural`` unless ``values`` is a non-empty list without repeats, each value
    one of ``allowed``."""
    if not isinstance(values, list | tuple) or not values or len(set(values)) != len(values):
        check_choice(plural, values, [f"a non-empty list without repeats from {list(allowed)}"])
    for value in values:
        check_choice(plural, value, allowed)


def setup_each(
    plural: str, values: Any, singular: str, example: str, **parameters: Any
) -> tuple[dict[str, list[TrainConfig]], AnalysisSettings]:
    """The dataset chapter's set-up once per value of a list parameter (``plural``, e.g. "recipes"), each
    value given as the dataset parameter ``singular`` (e.g. "recipe"): one list of training configs (one
    per seed) per value, and the settings (the same for every value). ``values`` must be a non-empty list
    without repeats (``example`` shows one in the error)."""
    if not isinstance(values, list | tuple) or not values or len(set(values)) != len(values):
        check_choice(plural, values, [f"a non-empty list without repeats, e.g. {example}"])
    configs, settings = {}, None
    for value in values:
        configs[value], settings = dataset_setup(**parameters, **{singular: value})
    return configs, settings


# ------------------------------------------------------------------------------------------- chapters


@dataclass(frozen=True)
class Chapter:
    """One chapter of the book: ``<book_dir>/<name>.ipynb``, executed from ``template``.

    ``template`` is a template name in ``nbsrc/templates`` or a path to a notebook. ``datasets``: the
    datasets whose fingerprints the chapter depends on. ``reads``: glob patterns, relative to the book
    folder, of the files of other chapters it reads (hashed into its record). ``after``: the chapters
    that write those files; they are executed first and their staleness makes this chapter stale.
    """

    name: str
    template: str | Path
    parameters: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    datasets: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    after: tuple[str, ...] = ()

    @property
    def template_path(self) -> Path:
        return template_path(self.template)


def template_path(template: str | Path) -> Path:
    """``nbsrc/templates/<template>.ipynb`` for a template name; a path to a notebook as it is."""
    if isinstance(template, Path) or str(template).endswith(".ipynb"):
        return Path(template)
    return TEMPLATES / f"{template}.ipynb"


def dataset_chapter(dataset: str, **parameters: Any) -> Chapter:
    """The chapter of one dataset; its recorded parameters are the full set (defaults filled in)."""
    full = {**DATASET_PARAMETERS, **parameters, "dataset": dataset}
    return Chapter(dataset, "dataset", full, title=TITLES[dataset], datasets=(dataset,))


#: The chapters of other training recipes: the prefix of their names (``<prefix>_<dataset>``), the end of
#: their titles, and the parameters beyond the recipe (the paper's setting also compares bias balancing,
#: as the paper does).
RECIPE_CHAPTERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "paper_v1": ("paper", "in the paper's setting", {"compare_bias_balancing": True}),
    "raw_constant": ("raw_constant", "on raw inputs with a constant learning rate", {}),
}


def recipe_chapter(recipe: str, dataset: str, **parameters: Any) -> Chapter:
    """The dataset chapter of ``dataset`` under another training recipe (see ``RECIPE_CHAPTERS``); its
    results are saved as ``<prefix>_<dataset>-*`` for the summary."""
    prefix, title, extra = RECIPE_CHAPTERS[check_choice("recipe", recipe, tuple(RECIPE_CHAPTERS))]
    name = f"{prefix}_{dataset}"
    full = {
        **DATASET_PARAMETERS,
        "recipe": recipe,
        **extra,
        "results_name": name,
        **parameters,
        "dataset": dataset,
    }
    return Chapter(name, "dataset", full, title=f"{TITLES[dataset]} {title}", datasets=(dataset,))


def paper_chapter(dataset: str, **parameters: Any) -> Chapter:
    """The chapter of one dataset in the paper's first-version setting (recipe ``paper_v1``), with zero
    ablation compared to bias balancing; its results are saved as ``paper_<dataset>-*``."""
    return recipe_chapter("paper_v1", dataset, **parameters)


def recipe_results(recipe: str, datasets: Sequence[str] = DATASETS) -> list[str]:
    """The result names (chapter names) of ``recipe``'s chapters on ``datasets``."""
    return [f"{RECIPE_CHAPTERS[recipe][0]}_{dataset}" for dataset in datasets]


#: The chapters in the paper's own setting, one per dataset.
PAPER_CHAPTERS = tuple(recipe_results("paper_v1"))
#: The chapters on raw inputs with a constant learning rate, one per dataset.
RAW_CHAPTERS = tuple(recipe_results("raw_constant"))

#: The estimator chapter's parameters beyond a dataset chapter's: the validation sample sizes and the
#: bootstrap resamples of the sample-size study.
ESTIMATOR_EXTRA = {"sizes": list(SIZES), "n_boot": N_BOOT}
ESTIMATOR_PARAMETERS: dict[str, Any] = {**DATASET_PARAMETERS, **ESTIMATOR_EXTRA}


def estimator_setup(**parameters: Any) -> tuple[list[TrainConfig], AnalysisSettings, tuple[int, ...], int]:
    """Validate an estimator chapter's parameters: the dataset chapter's (the same networks, so they come
    from the model cache) plus ``sizes`` and ``n_boot``. Returns configs, settings, sizes, n_boot."""
    for name in parameters:
        check_choice("parameter", name, ESTIMATOR_PARAMETERS)
    p = {**ESTIMATOR_PARAMETERS, **parameters}
    sizes, n_boot = p.pop("sizes"), p.pop("n_boot")
    check_sizes(sizes)
    check_int("n_boot", n_boot, 2)
    configs, settings = dataset_setup(**p)
    return configs, settings, tuple(sizes), n_boot


def estimator_chapter(dataset: str, **parameters: Any) -> Chapter:
    """How far one dataset's estimates can be trusted (quantisation, sample size), on the networks of its
    dataset chapter; results are not saved for the summary."""
    full = {**ESTIMATOR_PARAMETERS, **parameters, "dataset": dataset}
    title = f"{TITLES[dataset]}: how far the estimates can be trusted"
    return Chapter(f"estimators_{dataset}", "estimators", full, title=title, datasets=(dataset,))


#: The estimator chapters, one per dataset.
ESTIMATOR_CHAPTERS = tuple(f"estimators_{dataset}" for dataset in DATASETS)


#: How a list of recipes is written (for the errors of the chapters that take one).
RECIPES_EXAMPLE = "['book', 'paper_v1']"

#: The information-plane chapter's parameters: the recipes whose networks it records (ReLU and sigmoid:
#: the networks of the dataset chapters and of the paper-setting chapters), seeds and the measurement.
INFOPLANE_PARAMETERS: dict[str, Any] = {
    "dataset": "mnist",
    "recipes": ["book", "paper_v1"],
    "seeds": [0, 1, 2],
    "epochs": None,
    "quantizer": "binary",
    "n_bins": 2,
    "bias_correction": None,
    "first_epoch_points": FIRST_EPOCH_POINTS,
    "val_size": 10000,
    "train_limit": None,
    "val_limit": None,
}


def infoplane_setup(**parameters: Any) -> tuple[dict[str, list[TrainConfig]], AnalysisSettings, int]:
    """Validate an information-plane chapter's parameters; return one list of training configs (one per
    seed) per recipe, the measurement settings and the number of checkpoints within the first epoch."""
    for name in parameters:
        check_choice("parameter", name, INFOPLANE_PARAMETERS)
    p = {**INFOPLANE_PARAMETERS, **parameters}
    recipes, points = p.pop("recipes"), p.pop("first_epoch_points")
    configs, settings = setup_each("recipes", recipes, "recipe", RECIPES_EXAMPLE, **p)
    first_epoch_steps(1, points)  # checks the number of points
    return configs, settings, points


def infoplane_chapter(dataset: str, **parameters: Any) -> Chapter:
    """The single-neuron information plane during training (C10) of one dataset's networks."""
    full = {**INFOPLANE_PARAMETERS, **parameters, "dataset": dataset}
    title = f"{TITLES[dataset]}: single neurons in the information plane"
    return Chapter(f"infoplane_{dataset}", "infoplane", full, title=title, datasets=(dataset,))


#: The information-plane chapters, one per dataset.
INFOPLANE_CHAPTERS = tuple(f"infoplane_{dataset}" for dataset in DATASETS)


#: How the chapters that measure networks of their own kind (pruning, activations) measure them, and the
#: smoke limits they take.
MEASUREMENT_PARAMETERS: dict[str, Any] = {
    "quantizer": "binary",
    "n_bins": 2,
    "bias_correction": None,
    "val_size": 10000,
    "train_limit": None,
    "val_limit": None,
    "test_limit": None,
}

#: The pruning chapter's parameters: the recipes whose networks it prunes (from the model cache), those
#: that also get the small networks trained from scratch (the recipe's full training per kept fraction and
#: seed: the paper's batch-32 recipe is left out for its cost), the kept fractions, the fine-tuning steps.
PRUNING_PARAMETERS: dict[str, Any] = {
    "dataset": "mnist",
    "recipes": ["book", "paper_v1"],
    "scratch_recipes": ["book"],
    "seeds": [0, 1, 2],
    "epochs": None,
    "kept": list(KEPT),
    "fine_tune_steps": FINE_TUNE_STEPS,
    **MEASUREMENT_PARAMETERS,
    "results_dir": "results",
}


def pruning_setup(**parameters: Any) -> tuple[dict[str, list[TrainConfig]], AnalysisSettings, dict[str, Any]]:
    """Validate a pruning chapter's parameters; return the training configs per recipe, the measurement
    settings and the pruning options (kept, steps, scratch recipes)."""
    for name in parameters:
        check_choice("parameter", name, PRUNING_PARAMETERS)
    p = {**PRUNING_PARAMETERS, **parameters}
    recipes = p.pop("recipes")
    options = {name: p.pop(name) for name in ("scratch_recipes", "kept", "fine_tune_steps")}
    p.pop("results_dir")
    configs, settings = setup_each("recipes", recipes, "recipe", RECIPES_EXAMPLE, **p)
    for name in options["scratch_recipes"]:
        check_choice("scratch_recipes", name, recipes)
    if not isinstance(options["kept"], list | tuple) or not options["kept"]:
        check_choice("kept", options["kept"], ["a non-empty list of fractions in (0, 1), e.g. [0.5, 0.1]"])
    for fraction in options["kept"]:
        kept_widths((1,), fraction)
    check_int("fine_tune_steps", options["fine_tune_steps"], 1)
    return configs, settings, options


def pruning_chapter(dataset: str, **parameters: Any) -> Chapter:
    """Pruning by each criterion (C7) of one dataset's networks; its C7 verdicts are saved as
    ``pruning_<dataset>-claims.csv`` for the summary."""
    full = {**PRUNING_PARAMETERS, **parameters, "dataset": dataset}
    title = f"{TITLES[dataset]}: pruning with and without bias balancing"
    return Chapter(f"pruning_{dataset}", "pruning", full, title=title, datasets=(dataset,))


#: The pruning chapters, one per dataset.
PRUNING_CHAPTERS = tuple(f"pruning_{dataset}" for dataset in DATASETS)


#: The activation chapter's parameters (issue 8): networks of one shape with equal widths, one per
#: activation and seed, the book's recipe otherwise; ordered curves for MI and KL selectivity only (every
#: quantity is measured), zero ablation and bias balancing. Widths 128, not the issue's example 256: sigmoid
#: and tanh neurons are never silent, so every ablation step sends all test rows through the layers above,
#: and the cost grows with the cube of the width (2 CPU cores).
ACTIVATIONS_PARAMETERS: dict[str, Any] = {
    "dataset": "mnist",
    "activations": list(ACTIVATIONS),
    "widths": [128, 128, 128],
    "seeds": [0, 1, 2],
    "epochs": None,
    "ordered": ["mutual_information", "kl_selectivity"],
    "n_random": 20,
    **MEASUREMENT_PARAMETERS,
    "results_dir": "results",
    "results_name": None,
}


def activations_setup(**parameters: Any) -> tuple[dict[str, list[TrainConfig]], AnalysisSettings]:
    """Validate an activation chapter's parameters; return the training configs per activation (the book's
    recipe with the chapter's equal ``widths``, one per seed) and the zero-ablation settings, whose ordered
    curves are those of ``ordered`` (bias balancing is the same settings with mode "mean")."""
    for name in parameters:
        check_choice("parameter", name, ACTIVATIONS_PARAMETERS)
    p = {**ACTIVATIONS_PARAMETERS, **parameters}
    activations, ordered = p.pop("activations"), p.pop("ordered")
    p.pop("results_dir")
    p.pop("results_name")
    check_choices("activations", activations, ACTIVATIONS)
    widths = p["widths"]
    if not isinstance(widths, list | tuple) or not widths or len(set(widths)) != 1:
        check_choice("widths", widths, ["a non-empty list of equal widths, e.g. [128, 128, 128]"])
    if not isinstance(ordered, list | tuple) or not ordered:
        check_choice("ordered", ordered, [f"a non-empty list of quantities from {list(QUANTITIES)}"])
    p["widths"] = tuple(widths)
    configs, settings = setup_each("activations", activations, "activation", str(list(ACTIVATIONS)), **p)
    return configs, replace(settings, ordered=tuple(ordered))


def activations_chapter(dataset: str, **parameters: Any) -> Chapter:
    """Activation functions on equal widths (C2 per activation, C5, C6 re-tested) on one dataset; its
    results are saved as ``activations_<dataset>-*`` for the summary."""
    name = f"activations_{dataset}"
    full = {**ACTIVATIONS_PARAMETERS, "results_name": name, **parameters, "dataset": dataset}
    title = f"{TITLES[dataset]}: activation functions on equal widths"
    # the dataset chapter's results, shown for reference (today's default networks)
    reads = tuple(f"{full['results_dir']}/{dataset}-{kind}.csv" for kind in ("claims", "accuracy"))
    return Chapter(name, "activations", full, title=title, datasets=(dataset,), reads=reads, after=(dataset,))


#: A smoke run of an activation chapter also narrows its networks (each activation trains and ablates).
ACTIVATIONS_SMOKE: dict[str, Any] = {"widths": [32, 32, 32]}

#: The activation chapters, one per dataset.
ACTIVATIONS_CHAPTERS = tuple(f"activations_{dataset}" for dataset in DATASETS)


#: The regulariser chapter's parameters (C9, the book's extension): the book's ReLU networks (its recipe and
#: default widths) once per variant of ``nbsrc.regularisers.VARIANTS`` and seed, analysed with the dataset
#: chapter's settings, so that the variant "none" is that chapter's networks and analysis (the same keys).
REGULARISERS_PARAMETERS: dict[str, Any] = {
    "dataset": "mnist",
    "variants": list(VARIANTS),
    "widths": None,  # None: the book's widths (the dataset chapter's networks for "none")
    "seeds": [0, 1, 2],
    "epochs": None,
    "n_random": 20,
    **MEASUREMENT_PARAMETERS,
    "results_dir": "results",
    "results_name": None,
}


def regularisers_setup(**parameters: Any) -> tuple[dict[str, list[TrainConfig]], AnalysisSettings]:
    """Validate a regulariser chapter's parameters; return the training configs per variant (the book's
    recipe with the variant's fields, one per seed; "none" exactly the dataset chapter's) and the settings
    (the dataset chapter's: every quantity, ordered curves and random orders, zero ablation; the chapter
    analyses each variant with ``nbsrc.regularisers.variant_settings``, which keeps them for "none" and
    drops the ordered curves of every other variant: random orders only)."""
    for name in parameters:
        check_choice("parameter", name, REGULARISERS_PARAMETERS)
    p = {**REGULARISERS_PARAMETERS, **parameters}
    variants = p.pop("variants")
    p.pop("results_dir")
    p.pop("results_name")
    check_choices("variants", variants, VARIANTS)
    configs, settings = {}, None
    for variant in variants:
        configs[variant], settings = dataset_setup(**p, **VARIANTS[variant])
    return configs, settings


def regularisers_chapter(dataset: str, **parameters: Any) -> Chapter:
    """Regularisers (C9, the book's extension) on one dataset's networks; its results are saved as
    ``regularisers_<dataset>-*`` for the summary."""
    name = f"regularisers_{dataset}"
    full = {**REGULARISERS_PARAMETERS, "results_name": name, **parameters, "dataset": dataset}
    title = f"{TITLES[dataset]}: regularisers (the book's extension)"
    return Chapter(name, "regularisers", full, title=title, datasets=(dataset,))


#: A smoke run of a regulariser chapter also narrows its networks (each variant trains and ablates) and keeps
#: two seeds, so that C9 has a seed spread and reaches a verdict.
REGULARISERS_SMOKE: dict[str, Any] = {"widths": [32, 16], "seeds": [0, 1]}

#: The regulariser chapters, one per dataset of ``REGULARISER_DATASETS``.
REGULARISER_CHAPTERS = tuple(f"regularisers_{dataset}" for dataset in REGULARISER_DATASETS)


def _smoke(parameters: dict[str, Any], accepted: dict[str, Any]) -> dict[str, Any]:
    """The smoke parameters a kind of chapter accepts."""
    return {k: v for k, v in parameters.items() if k in accepted}


def book_chapters(smoke: bool = False, datasets: Sequence[str] = DATASETS) -> list[Chapter]:
    """The book's chapters in execution order: the method, one per dataset on the information plane (it
    trains the networks of the dataset and paper-setting chapters while recording them), one per dataset,
    one per dataset under each other recipe (the paper's setting, raw inputs with a constant learning
    rate), one per dataset on the estimators, the pruning and the activation functions, one per dataset of
    ``REGULARISER_DATASETS`` on the regularisers, the summary."""
    extra = SMOKE_PARAMETERS if smoke else {}
    activation_smoke = ACTIVATIONS_SMOKE if smoke else {}
    regulariser_smoke = REGULARISERS_SMOKE if smoke else {}
    others = [recipe_chapter(r, d, **extra) for r in RECIPE_CHAPTERS for d in datasets]
    for chapter in [*(dataset_chapter(d, **extra) for d in datasets), *others]:
        dataset_setup(**chapter.parameters)  # fail fast on bad parameters
    results_dir = DATASET_PARAMETERS["results_dir"]
    papers, raws = recipe_results("paper_v1", datasets), recipe_results("raw_constant", datasets)
    prunings = [f"pruning_{dataset}" for dataset in datasets]
    activations = [f"activations_{dataset}" for dataset in datasets]
    regularised = [d for d in datasets if d in REGULARISER_DATASETS]
    regularisers = [f"regularisers_{dataset}" for dataset in regularised]
    summary = Chapter(
        "summary",
        "summary",
        {
            "datasets": list(datasets),
            "results_dir": results_dir,
            "paper_results": papers,
            "raw_results": raws,
            "pruning_results": prunings,
            "activation_results": activations,
            "regulariser_results": regularisers,
        },
        reads=tuple(
            f"{results_dir}/{name}-*"
            for name in (*datasets, *papers, *raws, *prunings, *activations, *regularisers)
        ),
        after=(*datasets, *papers, *raws, *prunings, *activations, *regularisers),
    )
    # executed before the chapters whose networks they record, so that a cold build trains each network once
    infoplanes = [infoplane_chapter(d, **_smoke(extra, INFOPLANE_PARAMETERS)) for d in datasets]
    return [
        Chapter("method", "method"),
        *infoplanes,
        *(dataset_chapter(d, **extra) for d in datasets),
        *others,
        *(estimator_chapter(d, **extra) for d in datasets),
        *(pruning_chapter(d, **_smoke(extra, PRUNING_PARAMETERS)) for d in datasets),
        *(
            activations_chapter(d, **_smoke(extra, ACTIVATIONS_PARAMETERS), **activation_smoke)
            for d in datasets
        ),
        *(
            regularisers_chapter(d, **{**_smoke(extra, REGULARISERS_PARAMETERS), **regulariser_smoke})
            for d in regularised
        ),
        summary,
    ]


# -------------------------------------------------------------------------------------------- records


def _json(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so records compare as stored."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


@functools.lru_cache(maxsize=4)
def source_sha256(package: Path = PACKAGE) -> str:
    """SHA-256 over the package source: every ``**/*.py`` and ``templates/*.ipynb``, sorted by path."""
    files = sorted({*package.rglob("*.py"), *package.glob("templates/*.ipynb")})
    digest = hashlib.sha256()
    for path in files:
        if "__pycache__" in path.parts:
            continue
        content = path.read_bytes()
        digest.update(f"{path.relative_to(package).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Installed versions of torch and the book tools (None where one is not installed).

    The public version only, as pinned in pyproject.toml: a local build label (torch ``2.14.1+cu130``
    or ``2.14.1+cpu``, from the index the wheel came from) does not make a chapter stale.
    """
    versions: dict[str, str | None] = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(root: Path = ROOT) -> str | None:
    """The checkout's commit (``+dirty`` when ``nbsrc/`` has uncommitted changes); None outside git."""
    if not (root / ".git").exists() or shutil.which("git") is None:
        return None
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=30
        )
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", "nbsrc"],
            capture_output=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.returncode == 1 else "")


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def data_fingerprints(chapter: Chapter, book_dir: Path) -> dict[str, str]:
    """The fingerprints of what the chapter reads: its datasets (data and split, see
    ``nbsrc.data.fingerprint``) and the SHA-256 of every file matching its ``reads`` patterns."""
    found: dict[str, str] = {}
    for name in chapter.datasets:
        configs = dataset_setup(**chapter.parameters)[0] if chapter.template == "dataset" else []
        config = next((c for c in configs if c.dataset == name), None)
        found[name] = (
            fingerprint(name, config.val_size, config.split_seed, config.standardize)
            if config
            else fingerprint(name)
        )
    for pattern in chapter.reads:
        for path in sorted(Path(book_dir).glob(pattern)):
            if path.is_file():
                found[path.relative_to(book_dir).as_posix()] = file_sha256(path)
    return found


def record_now(chapter: Chapter, book_dir: Path) -> dict[str, Any]:
    """What would produce ``chapter`` if it were executed now (the compared fields only)."""
    return {
        "template": file_sha256(chapter.template_path),
        "parameters": _json(chapter.parameters),
        "source": source_sha256(),
        "data": data_fingerprints(chapter, Path(book_dir)),
        "versions": package_versions(),
    }


def record_differences(now: dict[str, Any], stored: dict[str, Any] | None) -> list[str]:
    """The compared fields in which ``stored`` differs from ``now``; ``["record"]`` without a record.

    A pure function: the chapter is current exactly when the list is empty.
    """
    if not stored:
        return ["record"]
    return [name for name in COMPARED_FIELDS if _json(now.get(name)) != _json(stored.get(name))]


def read_record(notebook: Path) -> dict[str, Any] | None:
    """The record stored in an executed chapter, None if it has none."""
    with open(notebook, encoding="utf-8") as f:
        content = json.load(f)
    return content.get("metadata", {}).get("nbsrc", {}).get("record")


def _changed_keys(now: Any, stored: Any) -> list[str]:
    now, stored = now if isinstance(now, dict) else {}, stored if isinstance(stored, dict) else {}
    return sorted(k for k in {*now, *stored} if _json(now.get(k)) != _json(stored.get(k)))


def describe(fields: Iterable[str], now: dict[str, Any], stored: dict[str, Any] | None) -> str:
    """Human words for the differing ``fields`` (of ``record_differences`` or ``chapter_states``)."""
    words = []
    stored = stored or {}
    for name in fields:
        if name == "missing":
            words.append("not executed yet")
        elif name == "record":
            words.append("no record of what produced it")
        elif name == "source":
            words.append("nbsrc source changed")
        elif name == "template":
            words.append("template changed")
        elif name == "parameters":
            words.append("parameters changed: " + ", ".join(_changed_keys(now[name], stored.get(name))))
        elif name == "data":
            words.append("data changed: " + ", ".join(_changed_keys(now[name], stored.get(name))))
        elif name == "versions":
            old, new = stored.get(name) or {}, now[name]
            words.append(
                "versions changed: "
                + ", ".join(f"{k} {old.get(k)} -> {new.get(k)}" for k in _changed_keys(new, old))
            )
        elif name.startswith("upstream"):
            words.append(f"reads the results of stale chapters ({name.partition(':')[2]})")
        else:
            words.append(f"{name} changed")
    return "; ".join(words)


@dataclass
class ChapterState:
    chapter: Chapter
    path: Path
    now: dict[str, Any]
    stored: dict[str, Any] | None
    fields: list[str]

    @property
    def stale(self) -> bool:
        return bool(self.fields)

    def describe(self) -> str:
        return describe(self.fields, self.now, self.stored) if self.fields else "current"


def _state(chapter: Chapter, book_dir: Path, stale_upstream: Iterable[str] = ()) -> ChapterState:
    path = Path(book_dir) / f"{chapter.name}.ipynb"
    now = record_now(chapter, book_dir)
    if not path.exists():
        return ChapterState(chapter, path, now, None, ["missing"])
    stored = read_record(path)
    fields = record_differences(now, stored)
    upstream = [name for name in chapter.after if name in set(stale_upstream)]
    if upstream:
        fields.append("upstream:" + ", ".join(upstream))
    return ChapterState(chapter, path, now, stored, fields)


def chapter_states(
    book_dir: Path = BOOK, chapters: Sequence[Chapter] | None = None
) -> dict[str, ChapterState]:
    """The state of every chapter, in order: its record now, the stored one and how they differ.

    A chapter that reads the results of a stale chapter (``after``) is stale too (``upstream:<names>``).
    """
    chapters = book_chapters() if chapters is None else chapters
    states: dict[str, ChapterState] = {}
    for chapter in chapters:
        stale = [name for name, state in states.items() if state.stale]
        states[chapter.name] = _state(chapter, book_dir, stale)
    return states


def stale_chapters(book_dir: Path = BOOK, chapters: Sequence[Chapter] | None = None) -> dict[str, list[str]]:
    """``{chapter name: differing fields}`` for every stale chapter (empty when the book is current)."""
    return {name: s.fields for name, s in chapter_states(book_dir, chapters).items() if s.stale}


# ------------------------------------------------------------------------------------------ execution


def run_details(parameters: dict[str, Any]) -> str:
    """HTML for a collapsed "Run details" block closing a chapter: the parameters, the versions of
    nbsrc and torch, the git commit (when run from a checkout) and the UTC date of execution.

    Display it with ``display(HTML(chapters.run_details(parameters)))``: Jupyter Book 1.x renders a
    ``text/html`` output verbatim, so the block is a real collapsed ``<details>`` with a table.
    """

    def row(name: str, value: str) -> str:
        return f"<tr><td>{name}</td><td>{value}</td></tr>"

    def code(value: Any) -> str:
        return f"<code>{html.escape(json.dumps(value, default=str))}</code>"

    rows = "".join(row(f"<code>{html.escape(str(k))}</code>", code(v)) for k, v in parameters.items())
    commit = git_commit()
    run = [
        row("nbsrc", html.escape(nbsrc.__version__)),
        row("torch", html.escape(torch.__version__)),
        row("Python", html.escape(sys.version.split()[0])),
        row("commit", f"<code>{html.escape(commit)}</code>" if commit else "(not run from a git checkout)"),
        row("executed", html.escape(dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))),
    ]
    parameters_table = (
        '<table class="table">\n<thead><tr><th>parameter</th><th>value</th></tr></thead>\n'
        f"<tbody>{rows}</tbody>\n</table>\n"
        if parameters
        else "<p>This chapter has no parameters.</p>\n"
    )
    return (
        "<details>\n<summary>Run details</summary>\n"
        + parameters_table
        + '<table class="table">\n<thead><tr><th>run</th><th></th></tr></thead>\n'
        + f"<tbody>{''.join(run)}</tbody>\n</table>\n</details>\n"
    )


def hide_parameter_cells(notebook: nbformat.NotebookNode) -> int:
    """Tag the ``parameters`` and ``injected-parameters`` cells ``remove-cell``; return how many."""
    count = 0
    for cell in notebook.cells:
        tags = cell.metadata.get("tags", [])
        if any(tag in tags for tag in PARAMETER_TAGS):
            if REMOVE_TAG not in tags:
                cell.metadata["tags"] = [*tags, REMOVE_TAG]
            count += 1
    return count


def finish_notebook(path: Path, title: str | None = None, record: dict[str, Any] | None = None) -> None:
    """After papermill: hide the parameter cells, fill in ``{title}``, store the record."""
    notebook = nbformat.read(path, as_version=4)
    hide_parameter_cells(notebook)
    if title is not None:
        for cell in notebook.cells:
            if cell.cell_type == "markdown" and "{title}" in cell.source:
                cell.source = cell.source.replace("{title}", title)
                break
    if record is not None:
        notebook.metadata.setdefault("nbsrc", {})["record"] = record
    nbformat.write(notebook, path)


def _kernel_manager(stream: TextIO) -> type:
    """A kernel manager whose kernel process writes its own stdout / stderr to ``stream``."""
    from jupyter_client import AsyncKernelManager

    class KernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
            kw.setdefault("stdout", stream)
            kw.setdefault("stderr", stream)
            return await super()._async_pre_start_kernel(**kw)

    return KernelManager


class ChapterFailed(RuntimeError):
    """A chapter raised during execution; the message names the error, the log and the notebook."""


def execute(
    template: str | Path,
    output: Path,
    parameters: dict[str, Any],
    title: str | None = None,
    *,
    cwd: Path | None = None,
    log_file: Path | None = None,
    progress: str | None = None,
    record: dict[str, Any] | None = None,
) -> Path:
    """Execute a template (a name in ``nbsrc/templates`` or a path) with papermill into ``output``.

    The working directory is ``cwd`` (default: the output's folder; results land there). ``title``
    replaces the ``{title}`` placeholder of the template's first heading; the parameter cells are
    tagged ``remove-cell``; ``record`` (if given) is stored in the metadata with the commit and date.

    Without ``log_file`` papermill's log (every cell's output) streams to this terminal; with it, the
    log goes to that file and the terminal shows one progress bar over the cells (described by
    ``progress``, on a terminal only).
    """
    import papermill

    source = template_path(template)
    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    cwd = Path(cwd).resolve() if cwd is not None else output.parent
    cwd.mkdir(parents=True, exist_ok=True)
    # The chapter's own progress bars, stored in the notebook, refresh every 10 s only.
    os.environ.setdefault("TQDM_MININTERVAL", "10")
    start = time.perf_counter()
    options: dict[str, Any] = dict(
        parameters=parameters, cwd=str(cwd), kernel_name="python3", log_output=True
    )
    if log_file is None:
        print(f"[nbsrc] executing {source.name} -> {output}", file=sys.stderr, flush=True)
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        papermill.execute_notebook(str(source), str(output), progress_bar=True, **options)
    else:
        log_file = Path(log_file)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text("")
        logger = logging.getLogger("papermill")
        handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        saved = logger.level, logger.propagate
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logger.addHandler(handler)
        try:
            with open(log_file, "a", encoding="utf-8") as kernel_output:
                bar = {"desc": progress or output.stem, "leave": False, "disable": None, "file": sys.stderr}
                papermill.execute_notebook(
                    str(source),
                    str(output),
                    progress_bar=bar,
                    kernel_manager_class=_kernel_manager(kernel_output),
                    **options,
                )
        finally:
            logger.removeHandler(handler)
            handler.close()
            logger.setLevel(saved[0])
            logger.propagate = saved[1]
    if record is not None:
        seconds = round(time.perf_counter() - start)
        record = {**record, "commit": git_commit(), "executed": utc_now(), "seconds": seconds}
    finish_notebook(output, title, record)
    if log_file is None:
        print(
            f"[nbsrc] {output.name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True
        )
    return output


def _shown(path: Path) -> str:
    """A path relative to the working directory when it lies below it."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _execute_chapter(state: ChapterState, book_dir: Path, log_dir: Path, why: str, out: TextIO) -> None:
    """Execute one chapter into the log folder, then move it into the book (a failure leaves the book
    as it was and the failed notebook beside its log)."""
    import papermill

    chapter = state.chapter
    log, partial = log_dir / f"{chapter.name}.log", log_dir / f"{chapter.name}.ipynb"
    line = f"{chapter.name}: {why}, executing (log: {_shown(log)}) ..."
    terminal = sys.stderr.isatty()
    if not terminal:
        print(line, end="", file=out, flush=True)
    start = time.perf_counter()
    try:
        execute(
            chapter.template,
            partial,
            chapter.parameters,
            chapter.title,
            cwd=book_dir,
            log_file=log,
            progress=f"{chapter.name}: executing",
            record=state.now,
        )
    except BaseException as error:
        what = (
            f"{error.ename}: {error.evalue}"
            if isinstance(error, papermill.PapermillExecutionError)
            else f"{type(error).__name__}: {error}"
        )
        print(("" if not terminal else line) + f" FAILED after {time.perf_counter() - start:.0f} s", file=out)
        message = f"{chapter.name} failed ({what}); log: {_shown(log)}, notebook: {_shown(partial)}"
        if isinstance(error, Exception):
            raise ChapterFailed(message) from error
        raise
    shutil.move(partial, state.path)
    print(
        ("" if not terminal else line) + f" done in {time.perf_counter() - start:.0f} s", file=out, flush=True
    )


def update_book(
    book_dir: Path = BOOK,
    chapters: Sequence[Chapter] | None = None,
    force: Iterable[str] = (),
    log_dir: Path | None = None,
    out: TextIO | None = None,
) -> list[str]:
    """Execute every stale chapter (and every chapter named in ``force``, or all with ``"all"``) into
    ``book_dir``, in order; print one line per chapter; return the names of the executed chapters.

    A chapter that reads the results of others (``after``) is judged after they ran: it is executed
    when the results it reads (or anything else in its record) changed. Logs go to ``log_dir``
    (default: ``_build/logs`` beside the book folder).
    """
    out = out or sys.stdout
    book_dir = Path(book_dir).resolve()
    chapters = book_chapters() if chapters is None else list(chapters)
    names = [c.name for c in chapters]
    force = set(force)
    if "all" in force:
        force = set(names)
    unknown = force - set(names)
    if unknown:
        raise ValueError(f"invalid chapter {sorted(unknown)!r} to force; allowed values: {names!r} or 'all'")
    log_dir = Path(log_dir) if log_dir is not None else book_dir.parent / "_build" / "logs"
    states = chapter_states(book_dir, chapters)
    n_run = sum(1 for s in states.values() if s.stale or s.chapter.name in force)
    print(f"{counted(len(chapters) - n_run)} current, {n_run} to execute", file=out, flush=True)
    executed: list[str] = []
    for chapter in chapters:
        state = before = states[chapter.name]
        if any(name in executed for name in chapter.after):  # the results it reads may have changed
            state = _state(chapter, book_dir)
        if chapter.name in force:
            why = "forced" + (f" (and stale: {state.describe()})" if state.stale else "")
        elif state.stale:
            why = f"stale ({state.describe()})"
        else:
            unchanged = " (the results it reads did not change)" if before.stale else ""
            print(f"{chapter.name}: current{unchanged}", file=out, flush=True)
            continue
        _execute_chapter(state, book_dir, log_dir, why, out)
        executed.append(chapter.name)
    return executed


def execute_book(
    book_dir: Path = BOOK,
    smoke: bool = False,
    datasets: tuple[str, ...] = DATASETS,
    force: Iterable[str] = (),
    log_dir: Path | None = None,
) -> list[Path]:
    """Execute the stale chapters of the book (the method chapter, one per dataset, the summary) into
    ``book_dir`` (see ``update_book``); return the paths of the executed chapters."""
    executed = update_book(book_dir, book_chapters(smoke, datasets), force, log_dir)
    return [Path(book_dir) / f"{name}.ipynb" for name in executed]


# ---------------------------------------------------------------------------------------------- build

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PROGRESS = re.compile(r"^(?P<step>[a-z][a-z ]+)\.\.\.\s*\[\s*(?P<percent>\d+)%\]")


def build_html(source: Path = ROOT, strict: bool = False, log_file: Path | None = None) -> Path:
    """``jupyter-book build`` (execution off); with ``strict`` every Sphinx warning is an error.

    Sphinx's output goes to ``log_file`` (default ``<source>/_build/logs/html.log``); the terminal
    shows a progress bar per build step (on a terminal only), every warning and error, and the end of
    the log when the build fails (``subprocess.CalledProcessError``).
    """
    from tqdm import tqdm

    from nbsrc.assets import prepare

    source = Path(source)
    prepare(source)  # MathJax into the book's static files: the HTML renders equations offline
    log_file = Path(log_file) if log_file is not None else source / "_build" / "logs" / "html.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--all"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    print(f"html: building (log: {_shown(log_file)})", flush=True)
    start = time.perf_counter()
    bar, step, lines = None, "", []
    with open(log_file, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for raw in process.stdout:
            log.write(raw)
            line = _ANSI.sub("", raw).rstrip()
            lines = [*lines[-59:], line]
            match = _PROGRESS.match(line.strip())
            if match:
                if bar is None or match["step"].strip() != step:
                    if bar is not None:
                        bar.close()
                    step = match["step"].strip()
                    bar = tqdm(total=100, desc=f"html: {step}", unit="%", leave=False, disable=None)
                bar.update(int(match["percent"]) - bar.n)
            elif "WARNING" in line or "ERROR" in line:
                tqdm.write(line)
        returncode = process.wait()
    if bar is not None:
        bar.close()
    if returncode:
        print("\n".join(lines[-40:]), flush=True)
        print(
            f"html: jupyter-book build failed (exit {returncode}); full log: {_shown(log_file)}", flush=True
        )
        raise subprocess.CalledProcessError(returncode, command)
    print(f"html: done in {time.perf_counter() - start:.0f} s", flush=True)
    return source / "_build" / "html" / "index.html"


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["--epochs", "3", "--seeds", "[0,1]"]`` -> {"epochs": 3, "seeds": [0, 1]} (JSON values, else str)."""
    if len(pairs) % 2 or any(not key.startswith("--") for key in pairs[::2]):
        raise ValueError(f"invalid parameters {pairs!r}; expected pairs of --name value")
    result = {}
    for key, raw in zip(pairs[::2], pairs[1::2], strict=True):
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        result[key[2:].replace("-", "_")] = value
    return result
