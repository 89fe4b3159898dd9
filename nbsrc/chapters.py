"""The book's chapters: their parameters, their execution with papermill, and the book build.

Each kind of chapter has one template in ``nbsrc/templates`` (no outputs, a cell tagged
``parameters``); ``make book`` executes each template once per dataset / setting into ``book/``
and then builds the HTML with Jupyter Book 1.x, execution off.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import torch

import nbsrc
from nbsrc.analysis import AnalysisSettings
from nbsrc.checks import check_choice
from nbsrc.data import DATASETS
from nbsrc.train import TrainConfig, default_config
from nbsrc.vocabulary import TITLES

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
TEMPLATES = Path(__file__).resolve().parent / "templates"

# The dataset chapter's parameters and their defaults (None: the dataset's default, see nbsrc.train).
DATASET_PARAMETERS: dict[str, Any] = {
    "dataset": "mnist",
    "widths": None,
    "activation": "relu",
    "epochs": None,
    "lr": None,
    "batch_size": None,
    "dropout": 0.0,
    "batch_norm": False,
    "weight_decay": 0.0,
    "seeds": [0, 1, 2],
    "n_random": 20,
    "quantizer": "binary",
    "n_bins": 2,
    "bias_correction": None,
    "ablation_mode": "zero",
    "val_size": 10000,
    "train_limit": None,
    "val_limit": None,
    "test_limit": None,
    "results_dir": "results",
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
    overrides = {name: p[name] for name in ("widths", "epochs", "lr", "batch_size") if p[name] is not None}
    fixed = {
        name: p[name]
        for name in ("activation", "dropout", "batch_norm", "weight_decay", "val_size", "train_limit")
    }
    configs = [default_config(p["dataset"], **overrides, **fixed, seed=seed) for seed in p["seeds"]]
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


def header(parameters: dict[str, Any]) -> str:
    """Markdown stating a run's parameters, the package version and the date of the run."""
    rows = "\n".join(f"| `{k}` | `{v!r}` |" for k, v in parameters.items())
    return (
        f"*Executed {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC with nbsrc {nbsrc.__version__}, "
        f"torch {torch.__version__}.*\n\n| parameter | value |\n|---|---|\n{rows}\n"
    )


def execute(template: str, output: Path, parameters: dict[str, Any], title: str | None = None) -> Path:
    """Execute ``nbsrc/templates/<template>.ipynb`` with papermill into ``output``.

    The working directory is the output's folder (results land beside the chapter). ``title``
    replaces the ``{title}`` placeholder of the template's first heading.
    """
    import papermill

    output = Path(output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    print(f"[nbsrc] executing {template} -> {output}", file=sys.stderr, flush=True)
    # Stream the chapter's output (progress bars included, refreshed every 10 s) to this terminal.
    os.environ.setdefault("TQDM_MININTERVAL", "10")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    papermill.execute_notebook(
        str(TEMPLATES / f"{template}.ipynb"),
        str(output),
        parameters=parameters,
        cwd=str(output.parent),
        kernel_name="python3",
        progress_bar=True,
        log_output=True,
    )
    if title is not None:
        notebook = nbformat.read(output, as_version=4)
        heading = next(c for c in notebook.cells if c.cell_type == "markdown" and "{title}" in c.source)
        heading.source = heading.source.replace("{title}", title)
        nbformat.write(notebook, output)
    print(f"[nbsrc] {output.name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    return output


def execute_book(
    book_dir: Path = BOOK, smoke: bool = False, datasets: tuple[str, ...] = DATASETS
) -> list[Path]:
    """Execute every chapter (the method chapter, one per dataset, the summary) into ``book_dir``."""
    extra = SMOKE_PARAMETERS if smoke else {}
    outputs = [execute("method", book_dir / "method.ipynb", {})]
    for dataset in datasets:
        dataset_setup(dataset=dataset, **extra)  # fail fast on bad parameters
        outputs.append(
            execute(
                "dataset", book_dir / f"{dataset}.ipynb", {"dataset": dataset, **extra}, title=TITLES[dataset]
            )
        )
    outputs.append(execute("summary", book_dir / "summary.ipynb", {"datasets": list(datasets)}))
    return outputs


def build_html(source: Path = ROOT, strict: bool = False) -> Path:
    """``jupyter-book build`` (execution off); with ``strict`` every Sphinx warning is an error."""
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source), "--all"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    subprocess.run(command, check=True)
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
