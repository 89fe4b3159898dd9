"""MathJax served from the book's own static files: the verified npm archive, its unpacked copy, the
book's static folder and the built HTML that loads it."""

from __future__ import annotations

import json
import re
import shutil
import tarfile

import pytest
import yaml

from nbsrc import assets
from nbsrc.assets import (
    MATHJAX_ARCHIVE,
    MATHJAX_ENTRY,
    MATHJAX_PATH,
    MATHJAX_SHA256,
    STATIC_DIR,
    AssetUnavailableError,
)


@pytest.fixture(scope="module")
def archive():
    """The verified npm archive from the default asset cache (fetched with npm pack on first use)."""
    return assets.fetch_archive()


@pytest.fixture
def corrupted(archive, tmp_path):
    """A copy of the archive with one byte flipped in the middle."""
    bad = tmp_path / "corrupted" / MATHJAX_ARCHIVE
    bad.parent.mkdir()
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    return bad


def test_the_archive_hashes_to_the_pinned_checksum(archive):
    assert archive.name == MATHJAX_ARCHIVE
    assert assets.file_sha256(archive) == MATHJAX_SHA256
    assets.verify_archive(archive)


def test_a_corrupted_archive_is_rejected(corrupted, tmp_path):
    with pytest.raises(AssetUnavailableError, match="checksum mismatch"):
        assets.verify_archive(corrupted)
    with pytest.raises(AssetUnavailableError, match="checksum mismatch"):
        assets.unpack(corrupted, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_corrupted_cached_archive_is_replaced_by_a_verified_one(archive, corrupted, tmp_path):
    cache = tmp_path / "cache"
    (cache / "assets").mkdir(parents=True)
    shutil.copy(corrupted, cache / "assets" / MATHJAX_ARCHIVE)
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(archive, source / MATHJAX_ARCHIVE)
    got = assets.fetch_archive(cache, source_dir=source)  # the local route: no registry needed
    assert got == cache / "assets" / MATHJAX_ARCHIVE
    assert assets.file_sha256(got) == MATHJAX_SHA256


def test_a_missing_archive_names_the_package_and_the_fix(corrupted, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm
    monkeypatch.delenv("NBSRC_SOURCE_DIR", raising=False)
    with pytest.raises(AssetUnavailableError) as error:
        assets.fetch_archive(tmp_path / "cache", source_dir=corrupted.parent)
    message = str(error.value)
    for part in (
        "mathjax@3.2.2",
        MATHJAX_SHA256,
        "npm not found",
        "checksum mismatch",
        "python -m nbsrc.assets",
    ):
        assert part in message


def test_unpack_takes_only_what_the_book_needs(archive, tmp_path):
    manifest = assets.unpack(archive, tmp_path)
    assert MATHJAX_ENTRY in manifest and "LICENSE" in manifest
    assert any(rel.startswith("output/chtml/fonts/woff-v2/MathJax_Main-Regular") for rel in manifest)
    assert "tex-svg-full.js" not in manifest and not any(rel.startswith("es5/") for rel in manifest)
    with tarfile.open(archive) as tf:
        assert len(manifest) < len(tf.getnames())
    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert files == set(manifest) | {assets.MANIFEST}


def test_prepare_installs_verifies_and_repairs_the_static_copy(tmp_path):
    entry = assets.prepare(tmp_path)
    assert entry == tmp_path / STATIC_DIR / MATHJAX_PATH
    assert entry.is_file() and b"MathJax" in entry.read_bytes()[:100_000]
    fonts = entry.parent / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()
    stamp = entry.stat().st_mtime_ns
    assert assets.prepare(tmp_path) == entry and entry.stat().st_mtime_ns == stamp  # nothing rewritten
    expected = json.loads((assets.mathjax_cache() / assets.MANIFEST).read_text())[MATHJAX_ENTRY]
    assert assets.file_sha256(entry) == expected
    entry.write_text("corrupted")
    (entry.parent / "stray.js").write_text("")
    assets.prepare(tmp_path)
    assert assets.file_sha256(entry) == expected and not (entry.parent / "stray.js").exists()


def test_the_book_config_loads_the_local_copy():
    config = yaml.safe_load((assets.ROOT / "_config.yml").read_text())["sphinx"]["config"]
    assert config.get("mathjax_path") == MATHJAX_PATH
    assert STATIC_DIR in config.get("html_static_path", [])


def test_the_built_book_references_only_the_local_mathjax(smoke_book):
    html_dir = smoke_book / "_build" / "html"
    served = html_dir / "_static" / MATHJAX_PATH
    assert served.is_file()
    assert assets.file_sha256(served) == assets.file_sha256(assets.mathjax_static(smoke_book) / MATHJAX_ENTRY)
    pages = [p for p in html_dir.rglob("*.html") if "_static" not in p.parts]
    with_math = 0
    for page in pages:
        html = page.read_text()
        scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
        assert not [s for s in scripts if "://" in s], page  # no script from another host
        mathjax = [s for s in scripts if "mathjax" in s.lower()]
        if 'class="math' in html:
            with_math += 1
            depth = len(page.relative_to(html_dir).parts) - 1
            assert [s.split("?")[0] for s in mathjax] == ["../" * depth + "_static/" + MATHJAX_PATH], page
        assert "cdn.jsdelivr.net" not in html and "mathjax@3" not in html, page
        # Loaded once: Jupyter Book adds every .js under html_static_path as a page script once the book
        # has a _static/ folder, which would load all of MathJax's components eagerly.
        assert len(mathjax) <= 1, page
    assert with_math >= 1  # the method chapter
