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


def check_int(param: str, value: Any, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer (numpy ones included) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        fail(param, value, f"must be an integer >= {minimum}")
    return int(value)
