"""Command line.

``python -m nbsrc book``: execute the chapters whose record is stale (their template, parameters, the
nbsrc source, their data or the tool versions changed), then build the HTML book.
``python -m nbsrc book --check``: print each chapter's state; exit 1 when any is stale.
``python -m nbsrc chapter <dataset> [--param value ...] [--output path.ipynb]``: rerun one dataset
chapter with other parameters.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbsrc import chapters
from nbsrc.data import DATASETS


def _default_book_dir() -> Path:
    """``book/`` of the checkout the package runs from, else ``./book``."""
    return chapters.BOOK if (chapters.ROOT / "_config.yml").exists() else Path.cwd() / "book"


def book(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    book_dir = (args.book_dir or _default_book_dir()).resolve()
    if not (book_dir.parent / "_config.yml").exists() and not (args.check or args.execute_only):
        parser.error(f"no Jupyter Book configuration {book_dir.parent / '_config.yml'}; give --book-dir")
    book_chapters = chapters.book_chapters()
    names = [c.name for c in book_chapters]
    force = set(args.force or ())
    unknown = force - {*names, "all"}
    if unknown:
        parser.error(f"invalid --force {sorted(unknown)}; allowed values: {', '.join(names)} or all")
    if args.check:
        states = chapters.chapter_states(book_dir, book_chapters)
        for name, state in states.items():
            print(f"{name}: {'stale (' + state.describe() + ')' if state.stale else 'current'}")
        n_stale = sum(state.stale for state in states.values())
        print(f"{chapters.counted(len(states) - n_stale)} current, {n_stale} stale")
        return 1 if n_stale else 0
    if not args.build_only:
        try:
            chapters.update_book(book_dir, book_chapters, force)
        except chapters.ChapterFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if not args.execute_only:
        index = chapters.build_html(book_dir.parent, strict=args.strict)
        print(f"book built: {index}")
    return 0


#: The templates ``chapter`` reruns: their parameter check and their chapter.
TEMPLATE_KINDS = {
    "dataset": (chapters.dataset_setup, chapters.dataset_chapter),
    "estimators": (chapters.estimator_setup, chapters.estimator_chapter),
    "infoplane": (chapters.infoplane_setup, chapters.infoplane_chapter),
    "pruning": (chapters.pruning_setup, chapters.pruning_chapter),
    "activations": (chapters.activations_setup, chapters.activations_chapter),
    "regularisers": (chapters.regularisers_setup, chapters.regularisers_chapter),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m nbsrc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    book_parser = commands.add_parser(
        "book",
        help="execute the stale chapters into book/ and build the HTML book",
        description="Execute exactly the chapters whose record differs from now (any named by --force "
        "too), then build the HTML with Jupyter Book, execution off. Papermill's log of each chapter "
        "goes to _build/logs/<chapter>.log.",
    )
    steps = book_parser.add_mutually_exclusive_group()
    steps.add_argument("--execute-only", action="store_true", help="execute the stale chapters, do not build")
    steps.add_argument("--build-only", action="store_true", help="build the HTML from the executed chapters")
    steps.add_argument(
        "--check", action="store_true", help="print each chapter's state; exit 1 when any is stale"
    )
    book_parser.add_argument(
        "--force",
        action="append",
        metavar="CHAPTER",
        help="execute this chapter even when current (repeatable; 'all' for every chapter)",
    )
    book_parser.add_argument(
        "--book-dir", type=Path, help="the folder of the executed chapters (default: book/ of the checkout)"
    )
    book_parser.add_argument("--strict", action="store_true", help="every Sphinx warning is an error")
    chapter = commands.add_parser(
        "chapter",
        help="rerun one dataset chapter with other parameters",
        epilog="Parameters (JSON values): "
        + ", ".join(f"--{k.replace('_', '-')}" for k in chapters.DATASET_PARAMETERS if k != "dataset")
        + "; the estimators template also takes "
        + ", ".join(f"--{k.replace('_', '-')}" for k in chapters.ESTIMATOR_EXTRA)
        + "; the infoplane template takes "
        + ", ".join(f"--{k.replace('_', '-')}" for k in chapters.INFOPLANE_PARAMETERS if k != "dataset")
        + "; the pruning template takes "
        + ", ".join(f"--{k.replace('_', '-')}" for k in chapters.PRUNING_PARAMETERS if k != "dataset")
        + "; the activations template takes "
        + ", ".join(f"--{k.replace('_', '-')}" for k in chapters.ACTIVATIONS_PARAMETERS if k != "dataset")
        + "; the regularisers template takes "
        + ", ".join(f"--{k.replace('_', '-')}" for k in chapters.REGULARISERS_PARAMETERS if k != "dataset"),
    )
    chapter.add_argument("dataset", choices=DATASETS)
    chapter.add_argument(
        "--template",
        choices=tuple(TEMPLATE_KINDS),
        default="dataset",
        help="the chapter template: dataset (default), estimators, infoplane, pruning, activations or "
        "regularisers",
    )
    chapter.add_argument(
        "--output", type=Path, help="where to write the executed notebook (default: ./<dataset>-rerun.ipynb)"
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "book":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        return book(args, parser)
    try:
        overrides = chapters.parse_overrides(rest)
        if "dataset" in overrides:
            raise ValueError("invalid parameter='dataset'; give the dataset as the first argument")
        setup, make_chapter = TEMPLATE_KINDS[args.template]
        setup(dataset=args.dataset, **overrides)  # fail at once, before any training
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = (args.output or Path(f"{args.dataset}-rerun.ipynb")).resolve()
    spec = make_chapter(args.dataset, **overrides)
    chapters.execute(
        spec.template,
        output,
        spec.parameters,
        title=spec.title,
        record=chapters.record_now(spec, output.parent),
    )
    print(f"[nbsrc] chapter written: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
