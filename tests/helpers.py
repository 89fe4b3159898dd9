"""Helpers shared by the test modules (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import pandas as pd
import pytest

from nbsrc.analysis import AnalysisSettings
from nbsrc.train import TrainConfig
from nbsrc.vocabulary import QUANTITIES

# A tiny chapter on real MNIST (a few thousand images, two epochs, two seeds) for the studies end to end.
TINY_WIDTHS = (24, 12, 5)
TINY_SEEDS = (0, 1)
_TINY = {"epochs": 2, "lr": 3e-3, "lr_schedule": "constant", "batch_size": 32, "train_limit": 3000}
TINY_CONFIGS = [
    TrainConfig("mnist", TINY_WIDTHS, seed=seed, val_size=1000, standardize=True, **_TINY)
    for seed in TINY_SEEDS
]
TINY_SETTINGS = AnalysisSettings(mode="mean", n_random=3, val_limit=300, test_limit=400)


def raises_with(*fragments: str):
    """Context manager: ValueError whose message contains every fragment."""

    class _Ctx:
        def __enter__(self):
            self._cm = pytest.raises(ValueError)
            self.info = self._cm.__enter__()
            return self.info

        def __exit__(self, *exc):
            out = self._cm.__exit__(*exc)
            msg = str(self.info.value)
            for frag in fragments:
                assert frag in msg, f"{frag!r} not in {msg!r}"
            return out

    return _Ctx()


def gains_table() -> pd.DataFrame:
    """Two seeds, one scope: gains of every ordered curve and of the random orders, known by construction."""
    rows = []
    for seed, shift in ((0, 0.0), (1, 0.02)):
        for i, quantity in enumerate(QUANTITIES):
            for direction, sign in (("ascending", 1), ("descending", -1)):
                rows.append((seed, "network", quantity, direction, sign * 0.01 * (i + 1) + shift))
        rows.append((seed, "network", "random", "random", 0.05 + shift))
    table = pd.DataFrame(rows, columns=["seed", "scope", "quantity", "direction", "gain"])
    return table.assign(auc_base=0.5, auc_other=0.5 + table.gain)
