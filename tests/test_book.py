"""The chapter templates, executed with smoke parameters for every dataset, and the book built from them."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pandas as pd
import papermill
import pytest

from nbsrc.chapters import TEMPLATES
from nbsrc.claims import PAPER
from nbsrc.data import DATASETS
from nbsrc.vocabulary import VERDICTS


def errors(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        f"{o.ename}: {o.evalue}"
        for cell in notebook.cells
        for o in cell.get("outputs", [])
        if o.output_type == "error"
    ]


def test_templates_carry_no_outputs_and_have_a_parameters_cell():
    for template in TEMPLATES.glob("*.ipynb"):
        notebook = nbformat.read(template, as_version=4)
        assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), template
    for name in ("dataset", "summary"):
        notebook = nbformat.read(TEMPLATES / f"{name}.ipynb", as_version=4)
        assert any("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells), name


def test_every_chapter_executes_without_errors(smoke_book):
    chapters = ["method", *DATASETS, "summary"]
    for name in chapters:
        notebook = nbformat.read(smoke_book / "book" / f"{name}.ipynb", as_version=4)
        assert errors(notebook) == [], name
        assert any(cell.get("outputs") for cell in notebook.cells), name


@pytest.mark.parametrize("dataset", DATASETS)
def test_dataset_chapter_has_its_claims_table_and_figures(smoke_book, dataset):
    claims = pd.read_csv(smoke_book / "book" / "results" / f"{dataset}-claims.csv")
    assert list(claims.claim) == list(PAPER)
    assert set(claims.verdict) <= set(VERDICTS)
    assert claims.measured.str.len().min() > 20
    html = (smoke_book / "_build" / "html" / "book" / f"{dataset}.html").read_text()
    assert html.count("<img") >= 5  # training, distributions, whole network, layer grid, AUC summary
    for claim, verdict in zip(claims.claim, claims.verdict, strict=True):
        assert claim in html and verdict in html
    title = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}[dataset]
    assert f"<h1>{title}" in html


def test_summary_joins_the_three_tables(smoke_book):
    html = (smoke_book / "_build" / "html" / "book" / "summary.html").read_text()
    for title in ("MNIST", "Fashion-MNIST", "CIFAR-10"):
        assert title in html
    intro = (smoke_book / "_build" / "html" / "book" / "intro.html").read_text()
    assert "C1" in intro and "C6" in intro  # the verdict matrix included from results/summary.md


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"dataset": "svhn"}, "invalid dataset='svhn'; allowed values: 'mnist', 'fashion_mnist', 'cifar10'"),
        ({"widths": [-1, 4]}, "invalid widths=(-1, 4); every width must be a positive integer"),
        (
            {"val_size": 60000},
            "invalid val_size=60000; must be smaller than the 60000 training examples of mnist",
        ),
    ],
)
def test_bad_parameters_stop_the_chapter_in_its_first_cell(tmp_path, parameters, message):
    output = tmp_path / "bad.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as failure:
        papermill.execute_notebook(
            str(TEMPLATES / "dataset.ipynb"),
            str(output),
            parameters=parameters,
            cwd=str(tmp_path),
            kernel_name="python3",
            progress_bar=False,
        )
    assert failure.value.ename == "ValueError"
    assert message in failure.value.evalue
    executed = nbformat.read(output, as_version=4)
    code = [cell for cell in executed.cells if cell.cell_type == "code"]
    failing = next(i for i, cell in enumerate(code) if any(o.output_type == "error" for o in cell.outputs))
    assert "dataset_setup" in code[failing].source  # the first cell after the parameters
    assert not (tmp_path / "results").exists()  # nothing ran


def test_cli_rejects_unknown_parameters_before_training():
    run = subprocess.run(
        [sys.executable, "-m", "nbsrc", "chapter", "mnist", "--epoch", "3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "invalid parameter='epoch'; allowed values:" in run.stderr
    assert "'epochs'" in run.stderr
