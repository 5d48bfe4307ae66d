"""Lines under a spec's status that say where its verdict came from: served from the result cache
(and judged again by this run), fitted again because its cache entry was damaged, and a
statistical-tier verdict from one draw (:mod:`harness.verdict.single_draw`), and, for a fit that did
not agree, what either language's solvers warned and a package that returned no estimate
(:mod:`harness.verdict.solver_warnings`)."""

from __future__ import annotations

from harness.verdict import solver_warnings
from harness.verdict.single_draw import label

__all__ = ["SERVED", "mark_lines", "served_count"]

SERVED = "Served from the cache: the engines' stored outputs, judged again by this run"


def mark_lines(spec: dict) -> list[str]:
    lines = label(spec) + solver_warnings.label(spec)
    if spec.get("cache") == "served":
        lines.append(SERVED)
    elif spec.get("cache") == "refitted":
        lines.append(spec.get("cache_note") or "cache entry damaged; fitted again")
    return lines


def served_count(specs: list[dict]) -> int:
    return sum(1 for spec in specs if spec.get("cache") == "served")
