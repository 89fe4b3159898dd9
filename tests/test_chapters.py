"""Chapter records and the staleness-aware book build, with tiny templates (a few seconds per chapter)."""

from __future__ import annotations

import ast
import copy
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import torch

import nbsrc
from nbsrc import chapters
from nbsrc.__main__ import main
from nbsrc.chapters import (
    ACTIVATIONS_CHAPTERS,
    COMPARED_FIELDS,
    DATASET_PARAMETERS,
    ESTIMATOR_CHAPTERS,
    INFOPLANE_CHAPTERS,
    PAPER_CHAPTERS,
    PRUNING_CHAPTERS,
    RAW_CHAPTERS,
    REGULARISER_CHAPTERS,
    TEMPLATES,
    Chapter,
    ChapterFailed,
    book_chapters,
    chapter_states,
    dataset_chapter,
    describe,
    record_differences,
    record_now,
    run_details,
    source_sha256,
    stale_chapters,
    update_book,
)

# ------------------------------------------------------------------------------- the pure staleness rule

RECORD = {
    "template": "a" * 64,
    "parameters": {"dataset": "mnist", "seeds": [0, 1, 2], "epochs": None},
    "source": "b" * 64,
    "data": {"mnist": "0123456789abcdef"},
    "versions": {"torch": "2.14.1", "jupyter-book": "1.0.4.post1", "myst-nb": "1.4.0", "papermill": "2.7.0"},
}
STORED = {**copy.deepcopy(RECORD), "commit": "deadbeef", "executed": "2026-11-26T10:00:00Z", "seconds": 312}


def test_a_current_record_is_not_flagged():
    assert record_differences(RECORD, STORED) == []
    # the informative fields (commit, date, duration) never make a chapter stale
    later = {**STORED, "commit": "cafe", "executed": "2027-01-01T00:00:00Z", "seconds": 1}
    assert record_differences(RECORD, later) == []
    # key order and tuples vs lists (as JSON reads back) do not matter either
    now = {**RECORD, "parameters": {"epochs": None, "seeds": (0, 1, 2), "dataset": "mnist"}}
    assert record_differences(now, STORED) == []


@pytest.mark.parametrize(
    ("field", "change"),
    [
        ("template", lambda r: r.update(template="c" * 64)),
        ("parameters", lambda r: r["parameters"].update(epochs=1)),
        ("parameters", lambda r: r["parameters"].update(n_random=3)),  # a new parameter
        ("source", lambda r: r.update(source="d" * 64)),
        ("data", lambda r: r["data"].update(mnist="fedcba9876543210")),
        ("data", lambda r: r["data"].update({"results/mnist-claims.csv": "e" * 64})),
        ("versions", lambda r: r["versions"].update(torch="2.15.0")),
        ("versions", lambda r: r["versions"].update(papermill="2.8.0")),
    ],
)
def test_every_compared_field_flags_a_change(field, change):
    now = copy.deepcopy(RECORD)
    change(now)
    assert record_differences(now, STORED) == [field]
    assert field in COMPARED_FIELDS


def test_no_record_and_several_changes():
    assert record_differences(RECORD, None) == ["record"]
    assert record_differences(RECORD, {}) == ["record"]
    now = {**copy.deepcopy(RECORD), "source": "d" * 64, "versions": {**RECORD["versions"], "torch": "3"}}
    assert record_differences(now, STORED) == ["source", "versions"]
    words = describe(["source", "versions"], now, STORED)
    assert words == "nbsrc source changed; versions changed: torch 2.14.1 -> 3"
    now = {**copy.deepcopy(RECORD), "parameters": {**RECORD["parameters"], "epochs": 1}}
    assert describe(["parameters"], now, STORED) == "parameters changed: epochs"


def test_record_now_follows_template_parameters_and_data(tmp_path):
    template = tmp_path / "t.ipynb"
    template.write_text(json.dumps(nbformat.v4.new_notebook()))
    chapter = Chapter("t", template, {"x": 1})
    before = record_now(chapter, tmp_path)
    assert set(before) == set(COMPARED_FIELDS)
    assert record_differences(record_now(chapter, tmp_path), before) == []
    assert record_differences(record_now(Chapter("t", template, {"x": 2}), tmp_path), before) == [
        "parameters"
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 3")])
    template.write_text(json.dumps(notebook))
    assert record_differences(record_now(chapter, tmp_path), before) == ["template"]


def test_dataset_chapters_depend_on_their_data_and_the_summary_on_their_results(tmp_path):
    mnist, smaller_val = dataset_chapter("mnist"), dataset_chapter("mnist", val_size=5000)
    assert set(record_now(mnist, tmp_path)["data"]) == {"mnist"}
    assert record_differences(record_now(smaller_val, tmp_path), record_now(mnist, tmp_path)) == [
        "parameters",
        "data",  # another split of the training set: another data fingerprint
    ]
    assert record_now(Chapter("method", "method"), tmp_path)["data"] == {}
    summary = book_chapters()[-1]
    assert summary.name == "summary"
    assert summary.after == (
        "mnist",
        "fashion_mnist",
        "cifar10",
        *PAPER_CHAPTERS,
        *RAW_CHAPTERS,
        *PRUNING_CHAPTERS,
        *ACTIVATIONS_CHAPTERS,
        *REGULARISER_CHAPTERS,
    )
    empty = record_now(summary, tmp_path)
    assert empty["data"] == {}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "mnist-claims.csv").write_text("claim,verdict\nC1,agrees\n")
    (tmp_path / "results" / "summary.md").write_text("written by the summary itself, not read")
    (tmp_path / "results" / "paper_mnist-claims.csv").write_text("claim,verdict\nC1,partly\n")
    first = record_now(summary, tmp_path)
    assert sorted(first["data"]) == ["results/mnist-claims.csv", "results/paper_mnist-claims.csv"]
    (tmp_path / "results" / "mnist-claims.csv").write_text("claim,verdict\nC1,disagrees\n")
    assert record_differences(record_now(summary, tmp_path), first) == ["data"]


def test_source_hash_covers_python_files_and_templates_only(tmp_path):
    package = tmp_path / "nbsrc"
    shutil.copytree(Path(nbsrc.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    sha = source_sha256.__wrapped__  # without the cache
    original = sha(package)
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (package / "notes.txt").write_text("not source")
    assert sha(package) == original
    code = (package / "measures.py").read_text()
    (package / "measures.py").write_text(code + "\n# a comment\n")
    assert sha(package) != original
    (package / "measures.py").write_text(code)
    assert sha(package) == original
    shutil.copy(package / "templates" / "method.ipynb", package / "templates" / "extra.ipynb")
    assert sha(package) != original


# ------------------------------------------------------------------------------------ the dataset template


def test_dataset_template_parameters_cell_defines_exactly_the_dataset_parameters():
    notebook = nbformat.read(TEMPLATES / "dataset.ipynb", as_version=4)
    cells = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1
    defaults = {}
    for statement in ast.parse(cells[0].source).body:
        assert isinstance(statement, ast.Assign) and len(statement.targets) == 1, ast.dump(statement)
        defaults[statement.targets[0].id] = ast.literal_eval(statement.value)
    assert defaults == DATASET_PARAMETERS
    assert list(defaults) == list(DATASET_PARAMETERS)


# ------------------------------------------------------------------------------------------ run details


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.seen: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append(tag)
        self.open.append(tag)

    def handle_endtag(self, tag):
        assert self.open and self.open.pop() == tag, (tag, self.open)


def test_run_details_is_a_collapsed_html_table():
    text = run_details({"dataset": "mnist", "seeds": [0, 1], "lr": None, "note": "<b>"})
    assert text.startswith("<details>\n<summary>Run details</summary>")
    parser = _Tags()
    parser.feed(text)
    assert parser.open == []  # every tag closed, in order
    assert parser.seen.count("table") == 2 and "tr" in parser.seen
    assert "<td><code>seeds</code></td><td><code>[0, 1]</code></td>" in text
    assert "<code>null</code>" in text and "&lt;b&gt;" in text and "<b>" not in text
    assert f"<td>nbsrc</td><td>{nbsrc.__version__}</td>" in text
    assert f"<td>torch</td><td>{torch.__version__}</td>" in text
    assert "UTC" in text and "commit" in text
    assert "no parameters" in run_details({})


# ------------------------------------------------------------------------- executing a book of tiny chapters


def _template(path: Path, body: str, title: bool = True) -> Path:
    cells = [nbformat.v4.new_markdown_cell("# {title}")] if title else []
    parameters = nbformat.v4.new_code_cell("x = 1\nname = 'a'")
    parameters.metadata["tags"] = ["parameters"]
    cells += [parameters, nbformat.v4.new_code_cell(body)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


WRITE = (
    "import pathlib\n"
    "pathlib.Path('results').mkdir(exist_ok=True)\n"
    "pathlib.Path(f'results/{name}-value.txt').write_text(str(x))\n"
    "print(f'chapter {name} computed x = {x}')"
)
TOTAL = (
    "import pathlib\n"
    "total = sum(int(p.read_text()) for p in sorted(pathlib.Path('results').glob('*-value.txt')))\n"
    "print(f'total = {total}')"
)


def tiny_chapters(templates: Path, x_a: int = 1, x_b: int = 2) -> list[Chapter]:
    writer, total = templates / "writer.ipynb", templates / "total.ipynb"
    return [
        Chapter("a", writer, {"x": x_a, "name": "a"}, title="Chapter A"),
        Chapter("b", writer, {"x": x_b, "name": "b"}, title="Chapter B"),
        Chapter("total", total, {"x": 0}, reads=("results/a-*", "results/b-*"), after=("a", "b")),
    ]


def snapshot(book: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(book.glob("*.ipynb"))}


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory) -> tuple[Path, Path, str]:
    """A book of three tiny chapters (``a``, ``b`` and ``total`` reading their results), executed."""
    root = tmp_path_factory.mktemp("tiny")
    templates = root / "templates"
    templates.mkdir()
    _template(templates / "writer.ipynb", WRITE)
    _template(templates / "total.ipynb", TOTAL, title=False)
    book = root / "project" / "book"
    book.mkdir(parents=True)
    import io

    out = io.StringIO()
    executed = update_book(book, tiny_chapters(templates), out=out)
    assert executed == ["a", "b", "total"]
    return book, templates, out.getvalue()


@pytest.fixture
def book_copy(tiny_book, tmp_path) -> tuple[Path, Path]:
    book, templates, _ = tiny_book
    copy_ = tmp_path / "project" / "book"
    shutil.copytree(book, copy_, copy_function=shutil.copy2)
    return copy_, templates


def test_executed_chapters_hide_their_parameter_cells_and_carry_their_record(tiny_book):
    book, templates, console = tiny_book
    for chapter in tiny_chapters(templates):
        notebook = nbformat.read(book / f"{chapter.name}.ipynb", as_version=4)
        tagged = {
            tag: cell.metadata["tags"] for cell in notebook.cells for tag in cell.metadata.get("tags", [])
        }
        assert "remove-cell" in tagged["parameters"]
        assert "remove-cell" in tagged["injected-parameters"]
        untagged = [c for c in notebook.cells if c.cell_type == "code" and not c.metadata.get("tags")]
        assert untagged and all(c.outputs for c in untagged)
        if chapter.title:
            assert notebook.cells[0].source == f"# {chapter.title}"
        record = notebook.metadata["nbsrc"]["record"]
        assert record_differences(record_now(chapter, book), record) == []
        assert record["executed"].endswith("Z") and record["parameters"] == chapter.parameters
    assert (book / "results" / "a-value.txt").read_text() == "1"
    # the console: one line per chapter, no cell output; papermill's log in _build/logs
    assert console.splitlines()[0] == "0 chapters current, 3 to execute"
    assert "a: stale (not executed yet), executing (log: " in console and " done in " in console
    assert "computed x" not in console
    log = book.parent / "_build" / "logs" / "a.log"
    assert "chapter a computed x = 1" in log.read_text()
    assert not (book.parent / "_build" / "logs" / "a.ipynb").exists()  # moved into the book


def test_a_current_book_is_not_rewritten(book_copy, capsys):
    book, templates = book_copy
    before = snapshot(book)
    assert stale_chapters(book, tiny_chapters(templates)) == {}
    assert update_book(book, tiny_chapters(templates)) == []
    assert snapshot(book) == before
    assert capsys.readouterr().out.splitlines() == [
        "3 chapters current, 0 to execute",
        "a: current",
        "b: current",
        "total: current",
    ]


def test_a_changed_parameter_reexecutes_exactly_that_chapter_and_its_reader(book_copy):
    book, templates = book_copy
    before = snapshot(book)
    changed = tiny_chapters(templates, x_a=5)
    assert stale_chapters(book, changed) == {"a": ["parameters"], "total": ["upstream:a"]}
    assert update_book(book, changed) == ["a", "total"]  # the result of a changed, so total re-executes
    after = snapshot(book)
    assert after["b.ipynb"] == before["b.ipynb"]  # neither rewritten nor touched
    assert after["a.ipynb"] != before["a.ipynb"] and after["total.ipynb"] != before["total.ipynb"]
    total = nbformat.read(book / "total.ipynb", as_version=4)
    assert "total = 7" in total.cells[-1].outputs[0].text
    assert stale_chapters(book, changed) == {}


def test_force_reexecutes_and_an_unchanged_result_leaves_its_reader_current(book_copy, capsys):
    book, templates = book_copy
    before = snapshot(book)
    assert update_book(book, tiny_chapters(templates), force=["b"]) == ["b"]
    after = snapshot(book)
    assert after["a.ipynb"] == before["a.ipynb"] and after["total.ipynb"] == before["total.ipynb"]
    assert after["b.ipynb"][0] != before["b.ipynb"][0]
    console = capsys.readouterr().out
    assert "b: forced, executing" in console
    assert "total: current" in console
    with pytest.raises(ValueError, match="invalid chapter"):
        update_book(book, tiny_chapters(templates), force=["c"])


def test_a_failing_chapter_leaves_the_book_as_it_was(book_copy):
    book, templates = book_copy
    before = snapshot(book)
    broken = templates.parent / "broken.ipynb"
    _template(broken, "raise RuntimeError('boom')")
    chapters_ = [
        Chapter("a", broken, {"x": 1, "name": "a"}, title="Chapter A"),
        *tiny_chapters(templates)[1:],
    ]
    with pytest.raises(ChapterFailed, match="RuntimeError: boom"):
        update_book(book, chapters_)
    assert snapshot(book) == before
    failed = nbformat.read(book.parent / "_build" / "logs" / "a.ipynb", as_version=4)
    assert any(o.output_type == "error" for c in failed.cells for o in c.get("outputs", []))


def test_check_exits_1_on_a_stale_book_and_0_on_a_current_one(book_copy, monkeypatch, capsys):
    book, templates = book_copy
    monkeypatch.setattr(chapters, "book_chapters", lambda: tiny_chapters(templates))
    assert main(["book", "--check", "--book-dir", str(book)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "a: current",
        "b: current",
        "total: current",
        "3 chapters current, 0 stale",
    ]
    (book / "b.ipynb").unlink()
    monkeypatch.setattr(chapters, "book_chapters", lambda: tiny_chapters(templates, x_a=3))
    assert main(["book", "--check", "--book-dir", str(book)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "a: stale (parameters changed: x)",
        "b: stale (not executed yet)",
        "total: stale (reads the results of stale chapters (a, b))",
        "0 chapters current, 3 stale",
    ]
    with pytest.raises(SystemExit):
        main(["book", "--check", "--force", "nope", "--book-dir", str(book)])


def test_check_of_the_real_book_on_an_empty_folder(tmp_path, capsys):
    assert main(["book", "--check", "--book-dir", str(tmp_path / "book")]) == 1
    lines = capsys.readouterr().out.splitlines()
    names = (
        "method",
        *INFOPLANE_CHAPTERS,
        "mnist",
        "fashion_mnist",
        "cifar10",
        *PAPER_CHAPTERS,
        *RAW_CHAPTERS,
        *ESTIMATOR_CHAPTERS,
        *PRUNING_CHAPTERS,
        *ACTIVATIONS_CHAPTERS,
        *REGULARISER_CHAPTERS,
    )
    assert lines == [f"{name}: stale (not executed yet)" for name in (*names, "summary")] + [
        "0 chapters current, 25 stale"
    ]


def test_the_book_states_cover_every_chapter(tmp_path):
    states = chapter_states(tmp_path, book_chapters())
    assert list(states) == [
        "method", *INFOPLANE_CHAPTERS, "mnist", "fashion_mnist", "cifar10", *PAPER_CHAPTERS, *RAW_CHAPTERS,
        *ESTIMATOR_CHAPTERS, *PRUNING_CHAPTERS, *ACTIVATIONS_CHAPTERS, *REGULARISER_CHAPTERS, "summary",
    ]  # fmt: skip
    assert states["summary"].fields == ["missing"]
