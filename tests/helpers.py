"""Helpers shared by the test modules (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import pandas as pd
import pytest

from nbsrc.vocabulary import QUANTITIES


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
