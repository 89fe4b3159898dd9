"""Static assets of the book, served from the book itself so that it works offline: MathJax 3.

Sphinx's default ``mathjax_path`` is a CDN address, so a built book opened without a network shows raw TeX.
``prepare(book_root)`` makes sure the book carries its own copy:

1. the npm archive ``mathjax-3.2.2.tgz`` is taken from the asset cache (``{cache_root}/assets/``), else from
   a local folder (``source_dir`` or env ``NBSRC_SOURCE_DIR``, for air-gapped machines), else fetched with
   ``npm pack mathjax@3.2.2`` into a temporary folder (never installed); it must hash to ``MATHJAX_SHA256``;
2. only the files the book needs are unpacked into ``{cache_root}/assets/mathjax-3.2.2/`` (the
   ``tex-mml-chtml`` component, its CHTML fonts and what it may load at run time; ``es5/`` dropped), with
   a manifest of their SHA-256 sums;
3. they are copied into ``{book_root}/_vendor/mathjax/`` (git-ignored), which ``_config.yml`` names in
   ``html_static_path``, so Sphinx copies it to ``_build/html/_static/mathjax/``; ``mathjax_path`` points
   there (a relative ``mathjax_path`` is resolved under ``_static``).

Every step checks what is already there first, so a second run only hashes a few megabytes.
``python -m nbsrc.assets`` prepares the repository's book.

The folder is deliberately not named ``_static``: when a book has a ``_static/`` folder, Jupyter Book adds
every ``.js`` file of every ``html_static_path`` entry to every page as a script, which would load all
of MathJax's components eagerly.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from nbsrc.storage import cache_root, file_sha256, write_atomic

log = logging.getLogger("nbsrc.assets")

ROOT = Path(__file__).resolve().parents[1]

MATHJAX_VERSION = "3.2.2"
MATHJAX_NPM_SPEC = f"mathjax@{MATHJAX_VERSION}"
MATHJAX_ARCHIVE = f"mathjax-{MATHJAX_VERSION}.tgz"
# SHA-256 of the npm registry's archive (its SHA-512 integrity, Bt+SSVU8eBG27zChVewOic..., matches too).
MATHJAX_SHA256 = "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09"

# What the book needs from the archive (paths under ``package/``; a trailing "/" takes a whole folder):
# the combined TeX + MathML input / CHTML output component (the file Sphinx loads from its CDN by default),
# its web fonts, and the parts it loads on demand: TeX extensions (autoload: \cancel, \color, ...), the
# MathML 3 extension, the accessibility components of the menu and the English speech rules.
MATHJAX_ENTRY = "tex-mml-chtml.js"
MATHJAX_MEMBERS = (
    "LICENSE",
    f"es5/{MATHJAX_ENTRY}",
    "es5/output/chtml/fonts/woff-v2/",
    "es5/input/tex/extensions/",
    "es5/input/mml/extensions/",
    "es5/a11y/",
    "es5/sre/mathmaps/base.json",
    "es5/sre/mathmaps/en.json",
    "es5/sre/mathmaps/nemeth.json",
)

# Where the book carries its static copy, relative to the book root (an ``html_static_path`` entry), and
# the ``mathjax_path`` that loads it (relative to ``_build/html/_static``).
STATIC_DIR = "_vendor"
MATHJAX_DIR = "mathjax"
MATHJAX_PATH = f"{MATHJAX_DIR}/{MATHJAX_ENTRY}"

MANIFEST = ".manifest.json"
_SUBPROCESS_TIMEOUT_S = 600


class AssetUnavailableError(RuntimeError):
    """An asset could not be fetched, verified or installed; the message says how to fix it."""


# ------------------------------------------------------------------------------------------- hashing


def verify_archive(path: str | Path, expected: str = MATHJAX_SHA256) -> None:
    """Raise ``AssetUnavailableError`` unless the file at ``path`` hashes to ``expected``."""
    got = file_sha256(path)
    if got != expected:
        raise AssetUnavailableError(f"checksum mismatch for {path}: expected SHA-256 {expected}, got {got}")


def _tree_matches(folder: Path, manifest: dict[str, str]) -> bool:
    """Whether ``folder`` holds exactly the files of ``manifest`` (relative path -> SHA-256)."""
    if not folder.is_dir():
        return False
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} - {MANIFEST}
    if present != set(manifest):
        return False
    return all(file_sha256(folder / rel) == sha for rel, sha in manifest.items())


# ------------------------------------------------------------------------------------------- archive


def assets_dir(cache: str | Path | None = None) -> Path:
    """The asset cache: ``assets/`` under the cache root (``NBSRC_CACHE``, else ``~/.cache/nbsrc``)."""
    return cache_root(cache) / "assets"


def _npm_pack(dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise AssetUnavailableError("npm not found on the PATH")
    try:
        res = subprocess.run(
            [npm, "pack", MATHJAX_NPM_SPEC, "--pack-destination", str(dest)],
            cwd=dest,
            capture_output=True,
            text=True,
            timeout=_SUBPROCESS_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired as e:
        raise AssetUnavailableError(f"npm pack {MATHJAX_NPM_SPEC} timed out after {e.timeout} s") from e
    archive = dest / MATHJAX_ARCHIVE
    if res.returncode != 0 or not archive.is_file():
        tail = "\n".join((res.stderr or res.stdout).strip().splitlines()[-5:])
        raise AssetUnavailableError(f"npm pack {MATHJAX_NPM_SPEC} failed (exit {res.returncode}): {tail}")
    return archive


def fetch_archive(cache: str | Path | None = None, source_dir: str | Path | None = None) -> Path:
    """The verified ``mathjax-3.2.2.tgz`` in the asset cache, fetched there when missing or corrupted.

    Tries the cached copy (deleted when its checksum is wrong), then ``source_dir`` (or env
    ``NBSRC_SOURCE_DIR``), then ``npm pack``. Raises ``AssetUnavailableError`` naming every route tried.
    """
    folder = assets_dir(cache)
    target = folder / MATHJAX_ARCHIVE
    tried = []
    if target.is_file():
        try:
            verify_archive(target)
            return target
        except AssetUnavailableError as e:
            log.warning("cached %s is corrupt (%s); deleting it", target, e)
            target.unlink(missing_ok=True)
            tried.append(f"cache: {e}, deleted")
    source_dir = source_dir or os.environ.get("NBSRC_SOURCE_DIR")
    if source_dir:
        candidates = sorted(Path(source_dir).expanduser().rglob(MATHJAX_ARCHIVE))
        for candidate in candidates:
            try:
                verify_archive(candidate)
            except AssetUnavailableError as e:
                tried.append(f"local: {e}")
                continue
            write_atomic(target, lambda f, src=candidate: f.write(src.read_bytes()))
            return target
        if not candidates:
            tried.append(f"local: no {MATHJAX_ARCHIVE} in {source_dir}")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-mathjax-", dir=folder) as tmp:
        try:
            archive = _npm_pack(Path(tmp))
            verify_archive(archive)
        except AssetUnavailableError as e:
            tried.append(f"registry: {e}")
        else:
            os.replace(archive, target)
            return target
    raise AssetUnavailableError(
        f"MathJax {MATHJAX_VERSION} (npm package {MATHJAX_NPM_SPEC}, {MATHJAX_ARCHIVE}, SHA-256 "
        f"{MATHJAX_SHA256}) is not available:\n  - " + "\n  - ".join(tried) + "\nTo fix: run "
        f"`python -m nbsrc.assets` on a machine with npm and access to the npm registry; or run "
        f"`npm pack {MATHJAX_NPM_SPEC}` elsewhere and put {MATHJAX_ARCHIVE} into {folder} or into a "
        "folder named by NBSRC_SOURCE_DIR."
    )


def _wanted(name: str) -> bool:
    """Whether the archive member ``name`` (``package/`` optional) is one of ``MATHJAX_MEMBERS``."""
    rel = name.removeprefix("package/")
    return any(rel == m or (m.endswith("/") and rel.startswith(m)) for m in MATHJAX_MEMBERS)


def _dest_name(name: str) -> str:
    """Where archive member ``name`` goes in the static folder: ``package/`` and ``es5/`` dropped, so the
    entry script sits at the top (MathJax finds its fonts and components relative to that script)."""
    return name.removeprefix("package/").removeprefix("es5/")


def _archive_name(rel: str) -> str:
    """The archive member (without ``package/``) of a file of the static folder."""
    return rel if rel == "LICENSE" else f"es5/{rel}"


def unpack(archive: str | Path, dest: str | Path) -> dict[str, str]:
    """Verify ``archive``, extract the files of ``MATHJAX_MEMBERS`` into ``dest`` (``package/`` dropped)
    and return their manifest (relative path -> SHA-256), also written to ``dest/.manifest.json``."""
    verify_archive(archive)
    dest = Path(dest)
    manifest: dict[str, str] = {}
    with tarfile.open(archive, "r:gz") as tf:
        for member in tf.getmembers():
            if not (member.isfile() and _wanted(member.name)):
                continue
            rel = _dest_name(member.name)
            path = dest / rel
            if ".." in Path(rel).parts or Path(rel).is_absolute():
                raise AssetUnavailableError(f"unsafe path {member.name!r} in {archive}")
            data = tf.extractfile(member).read()
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            manifest[rel] = hashlib.sha256(data).hexdigest()
    missing = _missing_members(manifest)
    if missing:
        raise AssetUnavailableError(f"{archive} lacks {', '.join(missing)}")
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def _missing_members(manifest: dict[str, str]) -> list[str]:
    """The entries of ``MATHJAX_MEMBERS`` that no file of ``manifest`` comes from."""
    have = [_archive_name(rel) for rel in manifest]
    return [
        m for m in MATHJAX_MEMBERS if not any(h == m or (m.endswith("/") and h.startswith(m)) for h in have)
    ]


def _manifest_current(manifest: dict[str, str] | None) -> bool:
    """Whether a cached manifest lists exactly what ``MATHJAX_MEMBERS`` asks for (it may have changed)."""
    if manifest is None:
        return False
    return all(_wanted(_archive_name(rel)) for rel in manifest) and not _missing_members(manifest)


def _read_manifest(folder: Path) -> dict[str, str] | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _replace_tree(build: Path, target: Path) -> None:
    """Put the finished folder ``build`` at ``target`` (replacing what was there)."""
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
        os.replace(build, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(build, target)


def mathjax_cache(cache: str | Path | None = None, source_dir: str | Path | None = None) -> Path:
    """The unpacked, verified MathJax files in ``{cache_root}/assets/mathjax-3.2.2/``."""
    folder = assets_dir(cache) / f"mathjax-{MATHJAX_VERSION}"
    manifest = _read_manifest(folder)
    if _manifest_current(manifest) and _tree_matches(folder, manifest):
        return folder
    archive = fetch_archive(cache, source_dir)
    log.info("unpacking %s into %s", archive.name, folder)
    build = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        unpack(archive, build)
        _replace_tree(build, folder)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return folder


# ----------------------------------------------------------------------------------------- the book


def mathjax_static(book_root: str | Path = ROOT) -> Path:
    """The book's static MathJax folder: ``{book_root}/_vendor/mathjax``."""
    return Path(book_root) / STATIC_DIR / MATHJAX_DIR


def prepare(
    book_root: str | Path = ROOT, cache: str | Path | None = None, source_dir: str | Path | None = None
) -> Path:
    """Make sure ``{book_root}/_vendor/mathjax/`` holds the verified MathJax files; return the entry script.

    Fast when they are already there (the files are hashed against the cache's manifest). Raises
    ``AssetUnavailableError`` with a fix when MathJax can be neither found nor fetched.
    """
    target = mathjax_static(book_root)
    cached = mathjax_cache(cache, source_dir)
    manifest = _read_manifest(cached)
    if manifest is None:  # written by mathjax_cache a moment ago
        raise AssetUnavailableError(f"{cached / MANIFEST} is missing; delete {cached} and run again")
    if not _tree_matches(target, manifest):
        log.info("copying MathJax %s into %s", MATHJAX_VERSION, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f".{MATHJAX_DIR}-", dir=target.parent))
        try:
            for rel in manifest:
                (build / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(cached / rel, build / rel)
            if not _tree_matches(build, manifest):
                raise AssetUnavailableError(f"copy of {cached} into {target} does not verify")
            _replace_tree(build, target)
        finally:
            shutil.rmtree(build, ignore_errors=True)
    return target / MATHJAX_ENTRY


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nbsrc.assets [BOOK_ROOT]``: put MathJax into the book's static files (default: this
    repository's book)."""
    p = argparse.ArgumentParser(prog="python -m nbsrc.assets", description=main.__doc__)
    p.add_argument("book_root", nargs="?", default=str(ROOT), help="folder holding _config.yml")
    p.add_argument("--source-dir", help="folder holding mathjax-3.2.2.tgz (default: $NBSRC_SOURCE_DIR)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        entry = prepare(args.book_root, source_dir=args.source_dir)
    except AssetUnavailableError as e:
        log.error("%s", e)
        return 1
    print(f"mathjax {MATHJAX_VERSION}: {entry}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
