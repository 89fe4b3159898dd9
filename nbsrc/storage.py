"""The cache root and atomic file writes: a reader (or a crash) never sees a half-written cache entry,
and a corrupted one is reported and recomputed.

One cache root holds everything: ``models/`` (trained networks), ``analysis/`` (measures and curves)
and ``data/`` (the verified datasets; ``NBSRC_DATA`` may move it on its own).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

T = TypeVar("T")


def cache_root(root: str | Path | None = None) -> Path:
    """``root`` if given, else env ``NBSRC_CACHE``, else ``$XDG_CACHE_HOME/nbsrc`` (``~/.cache/nbsrc``)."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("NBSRC_CACHE"):
        return Path(os.environ["NBSRC_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "nbsrc"


def load_or_discard(path: Path, read: Callable[[Path], T]) -> T | None:
    """``read(path)``; None when there is no entry. An entry that cannot be read (truncated, corrupted,
    incomplete: ``read`` raises) is reported with a warning, deleted, and None is returned, so the
    caller recomputes it."""
    if not path.exists():
        return None
    try:
        return read(path)
    except (MemoryError, PermissionError):  # the machine's problem, not the entry's: keep it
        raise
    except Exception as error:  # any other failure to read means the entry is unusable
        detail = " ".join(str(error).split())[:200]
        warnings.warn(
            f"corrupted cache entry {path} ({type(error).__name__}: {detail}); deleted, recomputing",
            stacklevel=2,
        )
        path.unlink(missing_ok=True)
        return None


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, flush it to disk, then rename.

    The rename is atomic on POSIX; on any exception (KeyboardInterrupt included) the temporary file
    is removed and ``path`` is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the caches are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()
