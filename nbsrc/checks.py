"""Argument validation shared by every module: one wording for every bad-input error."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any


def check_choice(param: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``allowed``; else raise a ValueError naming all three."""
    allowed = list(allowed)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"invalid {param}={value!r}; allowed values: {options}")
    return value


def fail(param: str, value: Any, requirement: str) -> None:
    """Raise the project's ValueError for a parameter that breaks ``requirement``."""
    raise ValueError(f"invalid {param}={value!r}; {requirement}")


def check_int(param: str, value: Any, minimum: int, below: int | None = None, why: str = "") -> int:
    """Return ``value`` as an int if it is an integer (numpy ones included), >= ``minimum`` and, when
    given, < ``below``; else raise the project's ValueError (``why`` is appended to the message)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
        or (below is not None and value >= below)
    ):
        bounds = f"with {minimum} <= {param} < {below}" if below is not None else f">= {minimum}"
        fail(param, value, f"must be an integer {bounds}{why}")
    return int(value)
