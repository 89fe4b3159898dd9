"""Tests for nbsrc.train: config validation, determinism, the model cache and its crash safety."""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import nbsrc.train as train_mod
from nbsrc.data import load_splits
from nbsrc.models import MLP
from nbsrc.train import (
    DEFAULT_CONFIGS,
    TrainConfig,
    accuracy,
    cache_dir,
    default_config,
    train,
    train_or_load,
)

VAL = 1000
SMALL = TrainConfig("mnist", (32, 16, 8), epochs=1, train_limit=2000, val_size=VAL, standardize=True)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def splits():
    return load_splits("mnist", val_size=VAL, standardize=True)


@pytest.fixture(scope="module")
def trained(splits):
    return train(SMALL, splits, device="cpu", progress=False)


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def cache_files(root: Path) -> list[str]:
    """The entries of the model cache under the cache root ``root`` (its models/ folder)."""
    folder = root / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dataset", "svhn"),
        ("activation", "gelu"),
        ("lr_schedule", "step"),
        ("epochs", 0),
        ("epochs", 2.0),
        ("batch_size", -1),
        ("lr", 0),
        ("lr", -1e-3),
        ("dropout", 1.5),
        ("dropout", 1.0),
        ("weight_decay", -1),
        ("widths", ()),
        ("widths", (8, 0)),
        ("train_limit", 0),
    ],
)
def test_config_validation(field, value):
    kwargs = {"dataset": "mnist", "widths": (8,), field: value}
    with pytest.raises(ValueError, match=re.escape(f"invalid {field}={value!r}")):
        TrainConfig(**kwargs)


def test_config_lists_allowed_choices():
    with pytest.raises(ValueError) as info:
        TrainConfig("mnist", (8,), lr_schedule="step")
    assert "'constant'" in str(info.value) and "'cosine'" in str(info.value)


def test_default_config_unknown_override():
    with pytest.raises(ValueError, match="bogus"):
        default_config("mnist", bogus=1)
    with pytest.raises(ValueError, match=re.escape("invalid dataset='svhn'")):
        default_config("svhn")
    # overrides are validated too
    with pytest.raises(ValueError, match="epochs"):
        default_config("mnist", epochs=0)


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist", "cifar10"])
def test_default_config(dataset):
    assert default_config(dataset) == DEFAULT_CONFIGS[dataset]
    c = default_config(dataset, epochs=3, widths=[4, 2], seed=7)
    assert c.epochs == 3 and c.widths == (4, 2) and c.seed == 7
    assert c.dataset == dataset
    assert (
        replace(c, epochs=DEFAULT_CONFIGS[dataset].epochs, widths=DEFAULT_CONFIGS[dataset].widths, seed=0)
        == DEFAULT_CONFIGS[dataset]
    )


def test_mnist_defaults():
    c = default_config("mnist")
    assert (c.widths, c.activation, c.epochs, c.standardize) == ((512, 256, 128), "relu", 10, True)


def test_config_key_depends_on_every_field_and_data():
    base = SMALL.key("f" * 16)
    assert base == SMALL.key("f" * 16)
    assert len(base) == 24
    assert SMALL.key("0" * 16) != base
    for change in (
        {"lr": 2e-3},
        {"epochs": 2},
        {"seed": 1},
        {"widths": (32, 16)},
        {"train_limit": None},
        {"batch_norm": True},
        {"dropout": 0.1},
        {"lr_schedule": "constant"},
    ):
        assert replace(SMALL, **change).key("f" * 16) != base, change


def test_cache_dir(monkeypatch, tmp_path):
    """The model cache is models/ under the cache root: the argument, NBSRC_CACHE, else XDG / home."""
    assert cache_dir(tmp_path) == tmp_path / "models"
    assert cache_dir(str(tmp_path)) == tmp_path / "models"
    monkeypatch.setenv("NBSRC_CACHE", str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env" / "models"
    assert cache_dir(tmp_path / "arg") == tmp_path / "arg" / "models"
    monkeypatch.delenv("NBSRC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "nbsrc" / "models"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "nbsrc" / "models"


# ------------------------------------------------------------------------------------------- training


def test_training_is_deterministic(splits, trained):
    again = train(SMALL, splits, device="cpu", progress=False)
    assert same_state(trained.model.state_dict(), again.model.state_dict())
    assert trained.history == again.history
    other = train(replace(SMALL, seed=1), splits, device="cpu", progress=False)
    assert not torch.equal(other.model.hidden[0].weight, trained.model.hidden[0].weight)


def test_training_matches_a_reference_loop(splits):
    """Adam + cross-entropy, cosine annealed per batch, batches from a generator seeded with the seed; the
    engine's multi-tensor Adam gives the per-parameter loop's weights bit for bit."""
    config = replace(SMALL, train_limit=700, batch_size=100, epochs=2, seed=5, lr=2e-3, weight_decay=1e-3)
    result = train(config, splits, device="cpu", progress=False)
    torch.manual_seed(config.seed)
    model = MLP(784, config.widths, 10)
    x, y = splits.train.x[:700], splits.train.y[:700]
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=False)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 2 * 7)
    gen = torch.Generator().manual_seed(config.seed)
    for _ in range(2):
        for batch in torch.randperm(700, generator=gen).split(100):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
            sched.step()
    assert sched.get_last_lr()[0] == pytest.approx(0, abs=1e-12)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(result.model.state_dict()[k], v, rtol=0, atol=0)


def test_training_with_dropout_and_batch_norm_is_deterministic(splits):
    config = replace(SMALL, dropout=0.2, batch_norm=True, train_limit=600, lr_schedule="constant")
    a = train(config, splits, device="cpu", progress=False)
    b = train(config, splits, device="cpu", progress=False)
    assert same_state(a.model.state_dict(), b.model.state_dict())
    assert a.history == b.history


def test_history_and_result(splits, trained):
    config = replace(SMALL, epochs=2, train_limit=1000)
    result = train(config, splits, device="cpu", progress=False)
    h = result.history
    assert h["epoch"] == [1, 2]
    assert len(h["train_loss"]) == len(h["val_accuracy"]) == 2
    assert all(loss > 0 for loss in h["train_loss"])
    assert all(0 <= a <= 1 for a in h["val_accuracy"])
    assert result.config == config and result.from_cache is False
    assert not result.model.training
    assert next(result.model.parameters()).device.type == "cpu"
    assert h["val_accuracy"][-1] == accuracy(result.model, splits.val)
    th = trained.history
    assert th["epoch"] == [1] and len(th["train_loss"]) == len(th["val_accuracy"]) == 1


def test_accuracy_matches_manual_argmax(splits, trained):
    model = trained.model
    model.train()
    with torch.no_grad():
        model.eval()
        predicted = model(splits.val.x).argmax(1)
        model.train()
    expected = float((predicted == splits.val.y).double().mean())
    assert accuracy(model, splits.val, batch_size=333) == pytest.approx(expected, abs=1e-12)
    assert model.training  # mode restored
    model.eval()


def test_short_training_learns(splits):
    # (32, 16, 8) is too narrow to pass 0.8 after one short epoch (~0.33-0.49); (128, 64) gets ~0.87
    config = replace(SMALL, widths=(128, 64), batch_size=64, train_limit=5000)
    result = train(config, splits, device="cpu", progress=False)
    assert result.history["val_accuracy"][-1] > 0.8
    assert accuracy(result.model, splits.test) > 0.8


# ---------------------------------------------------------------------------------------------- cache


def test_cache_roundtrip(splits, trained, tmp_path, monkeypatch):
    # on the CPU, as the fixture ``trained`` (a GPU's weights differ; its key is checked in test_ablation.py)
    first = train_or_load(SMALL, splits, cache=tmp_path, device="cpu", progress=False)
    assert first.from_cache is False
    assert first.key == SMALL.key(splits.fingerprint)
    files = cache_files(tmp_path)
    assert files == [f"mnist-{first.key}.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # nothing beside models/
    assert same_state(first.model.state_dict(), trained.model.state_dict())

    # the entry loads under weights_only=True
    payload = torch.load(tmp_path / "models" / files[0], map_location="cpu", weights_only=True)
    assert same_state(payload["state_dict"], first.model.state_dict())
    assert payload["history"] == first.history

    def no_training(*args, **kwargs):
        raise AssertionError("train() called on a cache hit")

    monkeypatch.setattr(train_mod, "train", no_training)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a good entry loads without a warning
        second = train_or_load(SMALL, splits, cache=tmp_path, device="cpu", progress=False)
    assert second.from_cache is True
    assert second.key == first.key
    assert second.history == first.history
    assert same_state(second.model.state_dict(), first.model.state_dict())
    assert not second.model.training
    x = splits.val.x[:50]
    with torch.no_grad():
        assert torch.equal(second.model(x), first.model(x))
    assert cache_files(tmp_path) == files


@pytest.mark.parametrize("change", [{"lr": 2e-3}, {"epochs": 2}, {"seed": 3}])
def test_changed_config_is_a_miss(splits, tmp_path, change):
    base = replace(SMALL, train_limit=300)
    first = train_or_load(base, splits, cache=tmp_path, progress=False)
    changed = replace(base, **change)
    second = train_or_load(changed, splits, cache=tmp_path, progress=False)
    assert second.from_cache is False
    assert second.key != first.key
    assert len(cache_files(tmp_path)) == 2
    assert train_or_load(changed, splits, cache=tmp_path, progress=False).from_cache is True


def test_mismatched_splits_raise(splits, tmp_path):
    with pytest.raises(ValueError, match="splits"):
        train_or_load(replace(SMALL, val_size=VAL + 1), splits, cache=tmp_path, progress=False)
    with pytest.raises(ValueError, match="splits"):
        train_or_load(replace(SMALL, standardize=False), splits, cache=tmp_path, progress=False)
    assert cache_files(tmp_path) == []
    assert list(tmp_path.iterdir()) == []  # not even an empty models/ folder


@pytest.mark.parametrize("exc", [KeyboardInterrupt, RuntimeError])
def test_crash_during_save_leaves_no_entry(splits, tmp_path, monkeypatch, exc):
    config = replace(SMALL, train_limit=300)
    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial")
        raise exc("simulated crash")

    monkeypatch.setattr(train_mod.torch, "save", crashing_save)
    with pytest.raises(exc, match="simulated crash"):
        train_or_load(config, splits, cache=tmp_path, progress=False)
    assert (tmp_path / "models").is_dir()  # the write began there ...
    assert cache_files(tmp_path) == []  # ... and left neither a .pt entry nor a temporary file

    monkeypatch.setattr(train_mod.torch, "save", real_save)
    result = train_or_load(config, splits, cache=tmp_path, progress=False)
    assert result.from_cache is False
    assert cache_files(tmp_path) == [f"mnist-{result.key}.pt"]
    assert train_or_load(config, splits, cache=tmp_path, progress=False).from_cache is True


def test_nbsrc_cache_names_the_root_and_models_go_under_it(splits, tmp_path, monkeypatch):
    """NBSRC_CACHE=<root> puts the networks in <root>/models, never in <root> itself or beside it."""
    root = tmp_path / "root"
    monkeypatch.setenv("NBSRC_CACHE", str(root))
    config = replace(SMALL, train_limit=300)
    first = train_or_load(config, splits, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
    assert sorted(p.name for p in root.iterdir()) == ["models"]
    assert cache_files(root) == [f"mnist-{first.key}.pt"]
    monkeypatch.delenv("NBSRC_CACHE")
    assert train_or_load(config, splits, cache=root, progress=False).from_cache is True  # the same entry


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    if how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "truncate_tail":  # the end of the zip archive (its central directory) is missing
        path.write_bytes(data[:-10])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(b"not a torch file" * 100)
    elif how == "wrong_payload":  # a readable file that is not this network
        torch.save({"state_dict": {"w": torch.zeros(2)}, "history": {}}, path)
    else:
        raise ValueError(how)


@pytest.mark.parametrize("how", ["truncate", "truncate_tail", "empty", "garbage", "wrong_payload"])
def test_corrupted_model_entry_is_reported_and_retrained(splits, tmp_path, monkeypatch, how):
    config = replace(SMALL, train_limit=300)
    first = train_or_load(config, splits, cache=tmp_path, progress=False)
    (name,) = cache_files(tmp_path)
    path = tmp_path / "models" / name
    _damage(path, how)

    calls = []
    real_train = train_mod.train

    def counted(*args, **kwargs):
        calls.append(1)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(train_mod, "train", counted)
    with pytest.warns(UserWarning, match=rf"(?s)corrupted cache entry .*{re.escape(name)}.*recomputing"):
        second = train_or_load(config, splits, cache=tmp_path, progress=False)
    assert calls == [1]  # retrained, once
    assert second.from_cache is False and second.key == first.key
    assert same_state(second.model.state_dict(), first.model.state_dict())
    assert second.history == first.history
    assert cache_files(tmp_path) == [name]  # replaced under the same name, nothing beside it
    payload = torch.load(path, map_location="cpu", weights_only=True)
    assert same_state(payload["state_dict"], first.model.state_dict())

    # the new entry is a plain hit: no warning, no training
    monkeypatch.setattr(train_mod, "train", lambda *a, **k: pytest.fail("trained on a cache hit"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third = train_or_load(config, splits, cache=tmp_path, progress=False)
    assert third.from_cache is True
    assert same_state(third.model.state_dict(), first.model.state_dict())
