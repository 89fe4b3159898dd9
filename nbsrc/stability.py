"""How much a verdict rests on a single seed: every claim judged again with each seed left out in turn.

A chapter judges a claim on all its seeds (three by default). Judged again on every set that leaves one
seed out (a jackknife of the verdict), a claim is *stable* when each of those verdicts equals the one on
all seeds, and *borderline* otherwise: one network more or less moves it across a rule's edge. Training
the same seed on another machine gives another network (float32 kernels differ), so a borderline verdict
is one that another machine may well print differently; a stable one is not guaranteed to hold either,
only not decided by any single seed.

:func:`judge_with_stability` runs a judge (a function that returns a claims table) on all seeds and on
each leave-one-out set, and adds the column ``STABILITY``: ``STABLE`` when nothing changes, else the
verdicts that change ("without seed 1: partly; without seed 2: agrees"), ``UNJUDGED`` with fewer than
``MIN_SEEDS`` seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import fields, is_dataclass, replace
from typing import Any

import pandas as pd

#: The claims table's column that says what leaving one seed out does to the verdict.
STABILITY = "without one seed"
#: Its value when no verdict changes.
STABLE = "same"
#: Its value when the chapter has too few seeds to leave one out.
UNJUDGED = "–"
#: A leave-one-out verdict for a row that the judge no longer gives without that seed.
NOT_JUDGED = "not judged"
#: Leaving one seed out needs at least this many (two remain, so that a spread over seeds exists).
MIN_SEEDS = 3


def seeds_in(value: Any) -> set[Any]:
    """The seeds of every table (``pd.DataFrame`` with a ``seed`` column) inside ``value``: the value
    itself, the items of a dict, list or tuple, the fields of a dataclass, recursively. The values are kept
    as the tables hold them, so that :func:`without_seed` compares like with like."""
    if isinstance(value, pd.DataFrame):
        return set(value.seed.dropna().unique()) if "seed" in value.columns else set()
    return set().union(*(seeds_in(part) for part in _parts(value)))


def without_seed(value: Any, seed: Any) -> Any:
    """``value`` with the rows of ``seed`` dropped from every table inside it (as :func:`seeds_in` finds
    them); everything else is passed through unchanged."""
    if isinstance(value, pd.DataFrame):
        return value[value.seed != seed].reset_index(drop=True) if "seed" in value.columns else value
    if isinstance(value, dict):
        return {key: without_seed(part, seed) for key, part in value.items()}
    if isinstance(value, list | tuple):
        parts = [without_seed(part, seed) for part in value]
        return type(value)(*parts) if hasattr(value, "_fields") else type(value)(parts)  # namedtuples too
    if is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: without_seed(getattr(value, f.name), seed) for f in fields(value) if f.init}
        return replace(value, **changed)
    return value


def _parts(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, list | tuple):
        return list(value)
    if is_dataclass(value) and not isinstance(value, type):
        return [getattr(value, f.name) for f in fields(value)]
    return []


def stability_words(verdict: str, without: dict[Any, str]) -> str:
    """The ``STABILITY`` cell of one claim: ``STABLE`` when every leave-one-out verdict (``{seed left out:
    verdict}``) equals ``verdict``, else the ones that differ, by seed."""
    changed = [f"without seed {seed}: {v}" for seed, v in sorted(without.items()) if v != verdict]
    return "; ".join(changed) or STABLE


def judge_with_stability(
    judge: Callable[..., pd.DataFrame], *args: Any, keys: Sequence[str] = ("claim",), **kwargs: Any
) -> pd.DataFrame:
    """``judge(*args, **kwargs)`` (a claims table with a ``verdict`` column and one row per ``keys``) with
    the column ``STABILITY``: for each row, the verdicts that ``judge`` gives instead when the rows of one
    seed are dropped from every table of its arguments (:func:`without_seed`), one seed after the other."""
    table = judge(*args, **kwargs)
    seeds = sorted(seeds_in((args, kwargs)))
    if len(seeds) < MIN_SEEDS:
        return table.assign(**{STABILITY: UNJUDGED})
    keys = list(keys)
    if table.duplicated(keys).any():
        raise ValueError(f"keys {keys} must name one row of the claims table each: some name several")
    without = table[keys]
    for seed in seeds:
        judged = judge(*without_seed(args, seed), **without_seed(kwargs, seed))
        verdicts = judged[[*keys, "verdict"]].rename(columns={"verdict": seed})
        without = without.merge(verdicts, on=keys, how="left", validate="one_to_one")
        without[seed] = without[seed].fillna(NOT_JUDGED)
    cells = [
        stability_words(verdict, {seed: without[seed].iloc[i] for seed in seeds})
        for i, verdict in enumerate(table.verdict)
    ]
    return table.assign(**{STABILITY: cells})


def is_borderline(claims: pd.DataFrame) -> pd.Series:
    """Per row of a claims table with ``STABILITY``: does leaving one seed out change its verdict? (An
    empty cell, from a table joined with one that lacks the column, does not count.)"""
    cells = claims[STABILITY]
    return cells.notna() & ~cells.isin([STABLE, UNJUDGED])


def marked_verdicts(claims: pd.DataFrame, mark: str = "†") -> pd.DataFrame:
    """``claims`` with ``mark`` after each borderline verdict (:func:`is_borderline`), for display only:
    code that compares verdicts reads the unmarked table."""
    verdicts = claims.verdict.where(~is_borderline(claims), claims.verdict + mark)
    return claims.assign(verdict=verdicts)
