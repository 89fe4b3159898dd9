"""Command line: ``python -m nbsrc book`` (execute every chapter, build the HTML) and
``python -m nbsrc chapter <dataset> [--param value ...] [--output path.ipynb]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from nbsrc.chapters import (
    BOOK,
    DATASET_PARAMETERS,
    TITLES,
    build_html,
    dataset_setup,
    execute,
    execute_book,
    parse_overrides,
)
from nbsrc.data import DATASETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbsrc", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    book = commands.add_parser("book", help="execute every chapter into book/ and build the HTML book")
    book.add_argument("--execute-only", action="store_true", help="execute the chapters, do not build")
    book.add_argument("--build-only", action="store_true", help="build the HTML from the executed chapters")
    chapter = commands.add_parser(
        "chapter",
        help="rerun one dataset chapter with other parameters",
        epilog="Parameters (JSON values): "
        + ", ".join(f"--{k.replace('_', '-')}" for k in DATASET_PARAMETERS if k != "dataset"),
    )
    chapter.add_argument("dataset", choices=DATASETS)
    chapter.add_argument(
        "--output", type=Path, help="where to write the executed notebook (default: ./<dataset>-rerun.ipynb)"
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "book":
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if not args.build_only:
            execute_book(BOOK)
        if not args.execute_only:
            print(f"[nbsrc] book built: {build_html()}")
        return 0
    try:
        overrides = parse_overrides(rest)
        if "dataset" in overrides:
            raise ValueError("invalid parameter='dataset'; give the dataset as the first argument")
        dataset_setup(dataset=args.dataset, **overrides)  # fail at once, before any training
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output = args.output or Path(f"{args.dataset}-rerun.ipynb")
    execute("dataset", output, {"dataset": args.dataset, **overrides}, title=TITLES[args.dataset])
    print(f"[nbsrc] chapter written: {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
