"""Matrix cases as test classes of a few cases each.

``make test`` runs two pytest-xdist workers with ``--dist loadscope``: a module's tests stay on one
worker (its module fixtures fit once), and each class is a scope of its own — so a matrix split into
shard classes spreads over both workers. (``--dist loadgroup`` would say this with markers, but it
ignores them with the pytest this project pins.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

__all__ = ["add_shards"]


def add_shards(namespace: dict, name: str, cases: Sequence, check: Callable, shards: int = 4, marks: Sequence = ()) -> None:
    """Define ``{name}{i}`` test classes in ``namespace``, class ``i`` holding every ``shards``-th case;
    ``tests/conftest.py`` parametrizes their ``case`` argument from ``CASES``."""
    for i in range(shards):
        body = {"CASES": list(cases[i::shards]), "test_case": lambda self, case: check(case), "pytestmark": list(marks)}
        namespace[f"{name}{i}"] = type(f"{name}{i}", (), body)


def ids(case) -> str:
    return getattr(case, "id", str(case))


def parametrize_from_class(metafunc: pytest.Metafunc) -> None:
    cases = getattr(metafunc.cls, "CASES", None)
    if cases is not None and "case" in metafunc.fixturenames:
        metafunc.parametrize("case", cases, ids=ids)
