"""The chapter templates, executed with smoke parameters for every dataset, and the book built from them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from nbsrc.chapters import (
    ACTIVATIONS_CHAPTERS,
    BOOK,
    ESTIMATOR_CHAPTERS,
    INFOPLANE_CHAPTERS,
    PAPER_CHAPTERS,
    PRUNING_CHAPTERS,
    RAW_CHAPTERS,
    REGULARISER_CHAPTERS,
    TEMPLATES,
    stale_chapters,
)
from nbsrc.claims import ELSEWHERE, PAPER
from nbsrc.data import DATASETS
from nbsrc.stability import STABILITY, UNJUDGED
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
    chapters = ["method", *RESULT_PAGES, *OTHER_PAGES, "summary"]
    for name in chapters:
        notebook = nbformat.read(smoke_book / "book" / f"{name}.ipynb", as_version=4)
        assert errors(notebook) == [], name
        assert any(cell.get("outputs") for cell in notebook.cells), name


def page(smoke_book: Path, name: str) -> BeautifulSoup:
    return BeautifulSoup(
        (smoke_book / "_build" / "html" / "book" / f"{name}.html").read_text(), "html.parser"
    )


def article(soup: BeautifulSoup):
    """The page's content column (the chapter itself, without sidebars)."""
    return soup.select_one("article.bd-article") or soup.find("main")


def html_tables(node) -> list[list[list[str]]]:
    """Every HTML table under ``node`` as rows of cell texts (header row first)."""
    return [
        [
            [cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
            for row in table.find_all("tr")
        ]
        for table in node.find_all("table")
    ]


def shown_column(table: list[list[str]], name: str) -> list[str]:
    """The cells of the column headed ``name`` in an ``html_tables`` table, header row left out."""
    at = table[0].index(name)
    return [row[at] for row in table[1:]]


def assert_claims_shown(table: list[list[str]], claims: pd.DataFrame) -> None:
    """A chapter's claims table shows the result file's verdicts and, beside them, what leaving one seed
    out does to each (the smoke chapters train two seeds: too few to leave one out)."""
    assert shown_column(table, "verdict") == list(claims.verdict)
    assert shown_column(table, STABILITY) == list(claims[STABILITY]) == [UNJUDGED] * len(claims)


RESULT_PAGES = [*DATASETS, *PAPER_CHAPTERS, *RAW_CHAPTERS]  # the chapters executed from the dataset template
# from templates of their own
OTHER_PAGES = [
    *ESTIMATOR_CHAPTERS,
    *INFOPLANE_CHAPTERS,
    *PRUNING_CHAPTERS,
    *ACTIVATIONS_CHAPTERS,
    *REGULARISER_CHAPTERS,
]
PAGES = ["intro", "method", *RESULT_PAGES, *OTHER_PAGES, "summary"]
PIPE_TABLE = re.compile(r"\|\s*:?-{3,}:?\s*\|")


@pytest.mark.parametrize("name", PAGES)
def test_no_page_shows_raw_pipe_tables_or_parameter_cells(smoke_book, name):
    soup = page(smoke_book, name)
    text = article(soup).get_text("\n")
    assert not PIPE_TABLE.search(text), f"{name}: a Markdown table rendered as text"
    # the parameters cell's code (the run-details table at the end lists the values, which is fine)
    assert not re.search(r"\bresults_dir\s*=", text), f"{name}: parameters visible"
    assert "Parameters (papermill)" not in text, f"{name}: parameters visible"
    assert not soup.select(".tag_parameters, .tag_injected-parameters")
    if name in RESULT_PAGES:
        # accuracy, KS, AUC, thresholds, gaps, damage, claims (+ bias-balancing gains in the paper setting)
        assert len(html_tables(article(soup))) >= (8 if name in PAPER_CHAPTERS else 7)


@pytest.mark.parametrize(
    "name",
    [
        "method",
        *RESULT_PAGES,
        *ESTIMATOR_CHAPTERS,
        *INFOPLANE_CHAPTERS,
        *ACTIVATIONS_CHAPTERS,
        *REGULARISER_CHAPTERS,
        "summary",
    ],
)
def test_every_figure_is_numbered_with_a_caption(smoke_book, name):
    images = article(page(smoke_book, name)).find_all("img")
    assert images, name
    for image in images:
        figure = image.find_parent("figure")
        assert figure is not None, f"{name}: an image outside a figure"
        caption = figure.find("figcaption")
        assert caption is not None and "Fig." in caption.get_text(), f"{name}: a figure without number"
        assert len(caption.select_one(".caption-text").get_text(strip=True)) > 40, f"{name}: short caption"


def test_images_fit_the_content_column(smoke_book):
    """Every figure is saved at most 7.5 in wide (at its own dpi), so it is shown near its drawn size."""
    images = sorted((smoke_book / "_build" / "html" / "_images").glob("*.png"))
    assert len(images) >= 5 * len(DATASETS)
    for path in images:
        with Image.open(path) as image:
            dpi = image.info.get("dpi", (72, 72))[0]
            assert image.width / dpi <= 7.5 * 1.02, f"{path.name}: {image.width / dpi:.2f} in wide"


@pytest.mark.parametrize("name", RESULT_PAGES)
def test_dataset_chapter_claims_table_equals_its_results(smoke_book, name):
    dataset = name.removeprefix("paper_").removeprefix("raw_constant_")
    claims = pd.read_csv(smoke_book / "book" / "results" / f"{name}-claims.csv", keep_default_na=False)
    assert list(claims.claim) == [c for c in PAPER if c not in ELSEWHERE]
    assert set(claims.verdict) <= set(VERDICTS)
    assert claims.measured.str.len().min() > 20
    soup = page(smoke_book, name)
    tables = [t for t in html_tables(article(soup)) if t and t[0][:1] == ["claim"] and "verdict" in t[0]]
    assert len(tables) == 1 and shown_column(tables[0], "claim") == list(claims.claim)
    assert_claims_shown(tables[0], claims)
    title = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}[dataset]
    assert soup.find("h1").get_text(strip=True).startswith(title)
    headings = [h.get_text(strip=True) for h in article(soup).find_all("h2")]
    assert any(h.startswith("What this chapter finds") for h in headings), headings
    run_details = [
        d for d in article(soup).find_all("details") if "Run details" in d.find("summary").get_text()
    ]
    assert len(run_details) == 1 and run_details[0].find("table") is not None


@pytest.mark.parametrize("name", RAW_CHAPTERS)
def test_raw_input_chapters_state_their_recipe(smoke_book, name):
    text = " ".join(article(page(smoke_book, name)).get_text(" ").replace("’", "'").split())  # one space
    assert "Recipe: raw inputs, constant learning rate" in text
    assert "a constant learning rate" in text and "raw inputs in [0, 1]" in text
    assert "This chapter ablates by zeroing only" in text


@pytest.mark.parametrize("name", INFOPLANE_CHAPTERS)
def test_infoplane_chapters_show_both_network_kinds_and_a_computed_paragraph(smoke_book, name):
    content = article(page(smoke_book, name))
    text = " ".join(content.get_text(" ").split())  # one space between the words of a bold run and the next
    assert "not a claim of the paper" in text
    for network in ("ReLU 512-256-128", "sigmoid 200-200"):
        assert f"{network} (best validation accuracy at epoch" in text
    tables = [t for t in html_tables(content) if t and t[0][:2] == ["network", "layer"]]
    assert len(tables) == 1 and len(tables[0]) == 1 + 3 + 2  # three ReLU layers, two sigmoid layers
    assert len(content.find_all("img")) == 2


@pytest.mark.parametrize("name", PRUNING_CHAPTERS)
def test_pruning_chapters_show_the_c7_verdict_of_each_network_kind(smoke_book, name):
    content = article(page(smoke_book, name))
    claims = pd.read_csv(smoke_book / "book" / "results" / f"{name}-claims.csv", keep_default_na=False)
    assert list(claims.network) == ["ReLU 512-256-128", "sigmoid 200-200"] and set(claims.claim) == {"C7"}
    tables = [t for t in html_tables(content) if t and t[0][:2] == ["claim", "network"]]
    assert len(tables) == 1
    assert_claims_shown(tables[0], claims)
    shares = [t for t in html_tables(content) if t and t[0][0] == "criterion"]
    assert len(shares) == 2 and all(len(t) == 1 + 6 for t in shares)  # six criteria per network kind
    assert len(content.find_all("img")) == 2


def test_summary_shows_the_pruning_verdicts(smoke_book):
    results = smoke_book / "book" / "results"
    claims = pd.concat(
        pd.read_csv(results / f"{name}-claims.csv", keep_default_na=False) for name in PRUNING_CHAPTERS
    )
    tables = [
        t
        for t in html_tables(article(page(smoke_book, "summary")))
        if t and t[0][:2] == ["dataset", "network"]
    ]
    assert len(tables) == 1 and [row[-1] for row in tables[0][1:]] == list(claims.verdict)


@pytest.mark.parametrize("name", ACTIVATIONS_CHAPTERS)
def test_activation_chapters_show_their_verdicts_per_activation(smoke_book, name):
    content = article(page(smoke_book, name))
    claims = pd.read_csv(smoke_book / "book" / "results" / f"{name}-claims.csv", keep_default_na=False)
    assert list(dict.fromkeys(claims.claim)) == ["C2", "C2w", "C6", "C5"]
    assert set(claims.verdict) <= set(VERDICTS)
    tables = [t for t in html_tables(content) if t and t[0][:2] == ["claim", "activation"]]
    assert len(tables) == 1
    assert_claims_shown(tables[0], claims)
    header = ["scope", "quantity", "direction", "ReLU", "sigmoid", "tanh"]
    gains = [t for t in html_tables(content) if t and t[0] == header]
    assert len(gains) == 1 and len(gains[0]) == 1 + 4 * 2 * 2  # 4 scopes × MI, KL sel. × 2 directions
    assert len(content.find_all("img")) == 5
    text = " ".join(content.get_text(" ").split())
    assert "C5, whether the relation and the gain of bias balancing depend on the activation:" in text


def test_summary_shows_the_activation_verdicts(smoke_book):
    results = smoke_book / "book" / "results"
    claims = pd.concat(
        pd.read_csv(results / f"{name}-claims.csv", keep_default_na=False) for name in ACTIVATIONS_CHAPTERS
    )
    for name in ("summary", "intro"):
        tables = [
            t for t in html_tables(article(page(smoke_book, name))) if t and t[0][:2] == ["claim", "dataset"]
        ]
        assert len(tables) == 1, name
        c5 = [row[-1] for row in tables[0][1:] if row[0] == "C5"]
        assert c5 == list(claims[claims.claim == "C5"].verdict), name


@pytest.mark.parametrize("name", REGULARISER_CHAPTERS)
def test_regulariser_chapters_show_c9_and_the_morcos_comparison(smoke_book, name):
    from nbsrc.regularisers import VARIANTS

    content = article(page(smoke_book, name))
    results = smoke_book / "book" / "results"
    claims = pd.read_csv(results / f"{name}-claims.csv", keep_default_na=False)
    # two smoke seeds per variant: C9 reaches a verdict (n/a only without a seed spread)
    assert list(claims.claim) == ["C9"] and set(claims.verdict) <= set(VERDICTS) - {"n/a"}
    tables = [t for t in html_tables(content) if t and t[0][:2] == ["claim", "measured"]]
    assert len(tables) == 1
    assert_claims_shown(tables[0], claims)
    # a row per variant; columns: the network and the two smoke layers
    robustness = [
        t for t in html_tables(content) if t and t[0] == ["variant", "network", "layer 1", "layer 2"]
    ]
    assert len(robustness) == 1 and [row[0] for row in robustness[0][1:]] == list(VARIANTS)
    assert not any("nan" in cell for row in robustness[0] for cell in row)
    means = [
        t for t in html_tables(content) if t and t[0] == ["scope", "variant", "H", "MI", "KL sel.", "CSI"]
    ]
    assert len(means) == 1 and len(means[0]) == 1 + 2 * len(VARIANTS)  # two smoke layers x the variants
    assert len(content.find_all("img")) == 4  # distributions, weight norms, random curves, Morcos
    saved = pd.read_csv(results / f"{name}-robustness.csv")
    assert list(saved.variant) == [v for v in VARIANTS for _ in (0, 1)]  # two smoke seeds per variant
    text = " ".join(content.get_text(" ").replace("’", "'").split())
    assert "not a claim of the paper" in text and "Spearman's ρ" in text


def test_summary_shows_c9_and_accuracy_against_robustness_for_every_network(smoke_book):
    from nbsrc.report import morcos_table, robustness_points

    results = smoke_book / "book" / "results"
    claims = pd.concat(
        pd.read_csv(results / f"{name}-claims.csv", keep_default_na=False) for name in REGULARISER_CHAPTERS
    )
    for name in ("summary", "intro"):
        tables = [
            t
            for t in html_tables(article(page(smoke_book, name)))
            if t and t[0][:3] == ["dataset", "claim", "verdict"]
        ]
        assert len(tables) == 1, name
        assert [row[2] for row in tables[0][1:]] == list(claims.verdict), name
    names = [*DATASETS, *RAW_CHAPTERS, *PAPER_CHAPTERS, *ACTIVATIONS_CHAPTERS, *REGULARISER_CHAPTERS]
    expected = morcos_table(robustness_points(names, results))
    content = article(page(smoke_book, "summary"))
    tables = [t for t in html_tables(content) if t and t[0][:2] == ["dataset", "networks"]]
    assert len(tables) == 1
    assert [int(row[1]) for row in tables[0][1:]] == list(expected.networks)
    rho, plain = "Spearman ρ (accuracy, relative AUC)", "Spearman ρ (accuracy, AUC)"
    assert tables[0][0][2:] == [rho, "p", "reading", plain]
    signed = [row[2] for row in tables[0][1:]] + [row[5] for row in tables[0][1:]]
    assert all(re.fullmatch(r"[+-]\d\.\d\d|–", cell) for cell in signed), signed
    text = " ".join(content.get_text(" ").split())
    assert "C9" in text and "Morcos et al.'s finding" in text.replace("’", "'")


@pytest.mark.parametrize("name", PAPER_CHAPTERS)
def test_paper_chapters_state_their_recipe_and_compare_bias_balancing(smoke_book, name):
    content = article(page(smoke_book, name))
    text = content.get_text(" ").replace("’", "'")  # Sphinx's smart quotes
    assert "the paper's first version" in text and "Not known from the paper, chosen by this book" in text
    assert "sigmoid" in text and "batch 32" in text
    assert "Fixing ablated neurons to their validation mean instead of zero changes the AUC" in text
    columns = ["scope", "quantity", "ascending", "descending", "random orders"]
    gains = [t for t in html_tables(content) if t and t[0] == columns]
    assert len(gains) == 1
    header, *rows = gains[0]
    assert len(rows) == 5 * 3  # five quantities; the whole network and its two hidden layers
    assert all(re.fullmatch(r"[+−-]?\d\.\d{3} ± \d\.\d{3}", cell) for row in rows for cell in row[2:4])
    captions = [c.get_text(" ") for c in content.find_all("figcaption")]
    assert sum("with bias balancing" in c for c in captions) == 2


def test_dataset_chapters_say_they_do_not_compare_bias_balancing(smoke_book):
    text = article(page(smoke_book, DATASETS[0])).get_text(" ").replace("’", "'")  # Sphinx's smart quotes
    assert "This chapter ablates by zeroing only" in text and "this book's default" in text


def test_summary_shows_the_damage_correlations_of_every_dataset(smoke_book):
    from nbsrc.report import damage_summary, join_results

    expected = damage_summary(join_results(list(DATASETS), smoke_book / "book" / "results", "damage"))
    tables = [t for t in html_tables(article(page(smoke_book, "summary"))) if t and "layer 1" in t[0]]
    assert len(tables) == 1
    header, *rows = tables[0]
    got = {row[0]: dict(zip(header[1:], row[1:], strict=True)) for row in rows}
    assert got == {title: expected.loc[title].to_dict() for title in expected.index}


def test_summary_joins_the_dataset_results_and_feeds_the_intro(smoke_book):
    joined = pd.concat(
        pd.read_csv(smoke_book / "book" / "results" / f"{d}-claims.csv", keep_default_na=False)
        for d in DATASETS
    )
    expected = {(r.claim, r.dataset): r.verdict for r in joined.itertuples()}
    titles = {"MNIST": "mnist", "Fashion-MNIST": "fashion_mnist", "CIFAR-10": "cifar10"}
    for name in ("summary", "intro"):
        tables = html_tables(article(page(smoke_book, name)))
        # the verdict matrix (one verdict per cell), not the matrix of the recipes ("a / b / c")
        matrices = [t for t in tables if t and "MNIST" in t[0] and not any(" / " in c for r in t for c in r)]
        assert len(matrices) == 1, name
        header, *rows = matrices[0]
        got = {(row[0], titles[col]): row[i] for row in rows for i, col in enumerate(header) if col in titles}
        assert got == expected, name
    intro = article(page(smoke_book, "intro")).get_text(" ")
    assert "C5" in intro and "C9" in intro  # the activation and regulariser verdicts are listed


def test_summary_shows_each_verdict_under_the_three_recipes(smoke_book):
    results = smoke_book / "book" / "results"

    def verdicts(prefix: str) -> dict[tuple[str, str], str]:
        table = pd.concat(
            pd.read_csv(results / f"{prefix}{d}-claims.csv", keep_default_na=False) for d in DATASETS
        )
        return {(r.claim, r.dataset.removeprefix(prefix)): r.verdict for r in table.itertuples()}

    book, raw, paper = verdicts(""), verdicts("raw_constant_"), verdicts("paper_")
    titles = {"MNIST": "mnist", "Fashion-MNIST": "fashion_mnist", "CIFAR-10": "cifar10"}
    tables = html_tables(article(page(smoke_book, "summary")))
    matrices = [t for t in tables if t and "MNIST" in t[0] and any(" / " in c for r in t for c in r)]
    assert len(matrices) == 1
    header, *rows = matrices[0]
    got = {(row[0], titles[col]): row[i] for row in rows for i, col in enumerate(header) if col in titles}
    common = book.keys() & raw.keys() & paper.keys()
    assert got == {key: f"{book[key]} / {raw[key]} / {paper[key]}" for key in common}
    text = article(page(smoke_book, "summary")).get_text(" ")
    assert f"Of the {len(common)} verdicts (claim × dataset) judged under all 3 recipes" in text


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


def test_committed_chapters_are_current():
    """The committed book shows what the current code computes: no chapter's record differs from now."""
    stale = stale_chapters(BOOK)
    assert not stale, (
        "committed chapters are stale: "
        + "; ".join(f"{name} ({', '.join(fields)})" for name, fields in stale.items())
        + ". Re-execute them with `make chapters` (or `.venv/bin/python -m nbsrc book --force NAME`) "
        "and commit book/."
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["--template", "estimators", "--n-boot", "1"], "invalid n_boot=1"),
        (["--template", "estimators", "--sizes", "[5]"], "invalid sizes=[5]"),
        (["--n-boot", "5"], "invalid parameter='n_boot'"),  # the dataset template has no n_boot
    ],
)
def test_cli_checks_each_templates_parameters_before_training(args, message):
    command = [sys.executable, "-m", "nbsrc", "chapter", "mnist", *args]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and message in run.stderr, run.stderr
