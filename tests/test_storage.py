"""Tests for nbsrc.storage: the cache root and its layout, load_or_discard, write_atomic."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from nbsrc.data import data_root
from nbsrc.storage import cache_root, load_or_discard, write_atomic
from nbsrc.train import cache_dir


@pytest.fixture
def no_cache_env(monkeypatch, tmp_path):
    """No cache variable set, and HOME / XDG_CACHE_HOME inside tmp_path (never the real home)."""
    for name in ("NBSRC_CACHE", "NBSRC_DATA", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


# ------------------------------------------------------------------------------------------ cache root


def test_cache_root_precedence(no_cache_env, monkeypatch, tmp_path):
    assert cache_root() == tmp_path / "home" / ".cache" / "nbsrc"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "nbsrc"
    monkeypatch.setenv("NBSRC_CACHE", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"  # the variable names the root itself, no "nbsrc" added
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"  # the argument wins
    assert cache_root(str(tmp_path / "arg")) == tmp_path / "arg"
    monkeypatch.setenv("NBSRC_CACHE", "")  # an empty variable counts as unset
    assert cache_root() == tmp_path / "xdg" / "nbsrc"


def test_cache_root_expands_the_user(no_cache_env, monkeypatch, tmp_path):
    monkeypatch.setenv("NBSRC_CACHE", "~/somewhere")
    assert cache_root() == tmp_path / "home" / "somewhere"
    assert cache_root("~/arg") == tmp_path / "home" / "arg"


def test_one_root_holds_models_analysis_and_data(no_cache_env, monkeypatch, tmp_path):
    """models/ and data/ lie under the one cache root, wherever it comes from (analysis/: test_analysis)."""
    home_root = tmp_path / "home" / ".cache" / "nbsrc"
    assert cache_dir() == home_root / "models"
    assert data_root() == home_root / "data"
    root = tmp_path / "root"
    monkeypatch.setenv("NBSRC_CACHE", str(root))
    assert cache_dir() == root / "models"
    assert data_root() == root / "data"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg" / "models"
    # NBSRC_DATA moves the data on its own, and only the data
    monkeypatch.setenv("NBSRC_DATA", str(tmp_path / "datasets"))
    assert data_root() == tmp_path / "datasets"
    assert cache_dir() == root / "models"


# ------------------------------------------------------------------------------------- load_or_discard


def never_called(path: Path):
    raise AssertionError(f"read({path}) called")


def test_load_or_discard_missing_entry_is_none_without_reading(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_or_discard(tmp_path / "absent.bin", never_called) is None
    assert list(tmp_path.iterdir()) == []


def test_load_or_discard_returns_what_read_returns(tmp_path):
    path = tmp_path / "entry.bin"
    path.write_bytes(b"payload")
    seen = []

    def read(file: Path) -> bytes:
        seen.append(file)
        return file.read_bytes()

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good entry gives no warning
        assert load_or_discard(path, read) == b"payload"
    assert seen == [path]
    assert path.read_bytes() == b"payload"  # a good entry is kept
    # a falsy result is returned as it is (only None means "no entry")
    assert load_or_discard(path, lambda file: 0) == 0
    assert load_or_discard(path, lambda file: {}) == {}
    assert path.exists()


@pytest.mark.parametrize(
    "error",
    [ValueError("missing arrays"), OSError("truncated"), EOFError(), RuntimeError("bad zip"), KeyError("x")],
    ids=lambda e: type(e).__name__,
)
def test_load_or_discard_warns_deletes_and_returns_none(tmp_path, error):
    path = tmp_path / "entry.npz"
    path.write_bytes(b"PK\x03\x04 half an archive")
    other = tmp_path / "other.npz"
    other.write_bytes(b"a neighbour")

    def read(file: Path):
        raise error

    with pytest.warns(UserWarning, match="corrupted cache entry") as record:
        assert load_or_discard(path, read) is None
    assert len(record) == 1
    message = str(record[0].message)
    assert str(path) in message and type(error).__name__ in message and "recomputing" in message
    assert record[0].filename == __file__  # reported at the caller of load_or_discard
    assert not path.exists()  # deleted, so the caller's recomputed entry replaces it
    assert other.read_bytes() == b"a neighbour"  # nothing else is touched
    # the next look finds no entry: no second warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_or_discard(path, never_called) is None


def test_load_or_discard_lets_an_interrupt_through_and_keeps_the_entry(tmp_path):
    """Ctrl-C while reading a good entry must not delete it."""
    path = tmp_path / "entry.pt"
    path.write_bytes(b"a good entry")

    def interrupted(file: Path):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        load_or_discard(path, interrupted)
    assert path.read_bytes() == b"a good entry"


def test_load_or_discard_tolerates_an_entry_removed_meanwhile(tmp_path):
    """Another process may delete (or replace) a bad entry between the read and the clean-up."""
    path = tmp_path / "entry.pt"
    path.write_bytes(b"garbage")

    def read_and_vanish(file: Path):
        file.unlink()
        raise ValueError("garbage")

    with pytest.warns(UserWarning, match="corrupted cache entry"):
        assert load_or_discard(path, read_and_vanish) is None
    assert not path.exists()


# ----------------------------------------------------------------------------------------- write_atomic


def test_write_atomic_creates_folders_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a" / "b" / "entry.bin"
    write_atomic(path, lambda f: f.write(b"first"))
    assert path.read_bytes() == b"first"
    assert os.stat(path).st_mode & 0o777 == 0o644  # shared caches: readable by everyone
    write_atomic(path, lambda f: f.write(b"second"))  # replaces
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["entry.bin"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt, OSError])
def test_write_atomic_crash_keeps_the_old_entry(tmp_path, exc):
    path = tmp_path / "entry.bin"
    path.write_bytes(b"old")

    def crash(f):
        f.write(b"half")
        raise exc("simulated")

    with pytest.raises(exc):
        write_atomic(path, crash)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.bin"]
