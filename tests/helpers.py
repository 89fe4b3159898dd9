"""Helpers shared by the test modules (importable: pytest puts tests/ on sys.path)."""

from __future__ import annotations

import pytest


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
