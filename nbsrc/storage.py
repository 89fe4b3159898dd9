"""Atomic file writes: a reader (or a crash) never sees a half-written cache entry."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def cache_folder(path: str | Path | None, env: str, name: str) -> Path:
    """``path`` if given, else env ``env``, else ``$XDG_CACHE_HOME/nbsrc/<name>`` (``~/.cache``)."""
    if path is not None:
        return Path(path).expanduser()
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "nbsrc" / name


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
