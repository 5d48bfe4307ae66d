"""Analysing: numbers derived from the measurements (fit costs, representative subsets, the
balanced workload, makespans, the same-work check), used while measuring and while rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.common.measure import Measure
from harness.language.spec import load_spec_file

__all__ = [
    "coef_check", "granularity_bound", "greedy_makespan", "parallel_sets", "pick_balanced", "pick_subset", "refitted",
    "spec_cost", "spec_cost_raw",
]  # fmt: skip


def spec_cost(m: Measure, spec_id: str) -> float:
    s = m.extra["specs"][spec_id]
    return float(s.get("python_s") or 0.0) + float(s.get("r_s") or 0.0)


def pick_subset(full: Measure, spec_file_path: Path, size: int = 3) -> list[str]:
    """Representative specs: the most common learner families of the suite, the cheapest spec of
    each (the full suite's own timings decide), so a subset can be repeated within the budget."""
    spec_file = load_spec_file(spec_file_path)
    families: dict[tuple[str, ...], list[str]] = {}
    for spec in spec_file.specs:
        if full.extra["specs"][spec.id]["status"] == "error":
            continue
        names = set()
        for n in spec.nuisances:
            choice = spec.learner_for(n)
            names.add(choice if isinstance(choice, str) else choice["name"])
        families.setdefault(tuple(sorted(names)), []).append(spec.id)
    ranked = sorted(families.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:size]
    return [min(ids, key=lambda i: spec_cost(full, i)) for _, ids in ranked]


def pick_balanced(full: Measure | dict[str, Any], exclude_below: float = 10.0) -> str:
    """The cheapest spec whose fits take at least ``exclude_below`` s: copies of it make a balanced
    workload for two workers that is not dominated by start-up (each worker starts its own Python
    and R, ~7 s on this machine, so 4 copies of a 3 s spec measure start-up, not parallelism)."""
    specs = full["extra"]["specs"] if isinstance(full, dict) else full.extra["specs"]
    costs = {i: float(s.get("python_s") or 0.0) + float(s.get("r_s") or 0.0) for i, s in specs.items() if s["status"] != "error"}
    eligible = [i for i, c in costs.items() if c >= exclude_below] or list(costs)
    return min(eligible, key=lambda i: costs[i])


def greedy_makespan(costs: list[float], workers: int = 2) -> float:
    """Makespan of dispatching ``costs`` in order to the first free worker (what joblib does)."""
    free = [0.0] * workers
    for c in costs:
        i = free.index(min(free))
        free[i] += c
    return max(free)


def coef_check(tool: Measure, bare_py: Measure, bare_r: Measure) -> dict[str, float]:
    """Largest relative difference between the bare scripts' and the tool's estimates."""

    def rel(a: float, b: float) -> float:
        return abs(a - b) / max(abs(a), abs(b), 1e-300)

    py = [
        rel(s["coef"], tool.extra["specs"][s["id"]]["coef_py"])
        for s in bare_py.extra["specs"]
        if tool.extra["specs"][s["id"]]["coef_py"] is not None
    ]
    r = [
        rel(s["coef"], tool.extra["specs"][s["id"]]["coef_r"])
        for s in bare_r.extra["specs"]
        if tool.extra["specs"][s["id"]]["coef_r"] is not None
    ]
    return {"python": max(py, default=float("nan")), "r": max(r, default=float("nan"))}


def spec_cost_raw(m: dict, spec_id: str) -> float:
    s = m["extra"]["specs"][spec_id]
    return float(s.get("python_s") or 0.0) + float(s.get("r_s") or 0.0)


def parallel_sets(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The parallel measurements: the bench's own and, if made, a later re-measurement."""
    sets = [
        (
            "bench run",
            {
                "full_jobs1": raw["full_jobs1"],
                "full_jobs2": raw["full_jobs2"],
                "balanced": raw["balanced"],
                "balanced_spec": raw["balanced_spec"],
            },
        )
    ]
    reruns = raw.get("parallel_reruns") or ([raw["parallel_rerun"]] if raw.get("parallel_rerun") else [])
    for k, rerun in enumerate(reruns):
        sets.append((f"again #{k + 1}" if len(reruns) > 1 else "again", rerun))
    return sets


def granularity_bound(full1: dict[str, Any]) -> float:
    costs = [spec_cost_raw(full1, i) for i in full1["extra"]["specs"]]
    return sum(costs) / greedy_makespan(costs)


def refitted(m: dict[str, Any]) -> list[str]:
    """Specs a run that should have been served from the cache fitted anyway."""
    return [i for i, spec in m["extra"]["specs"].items() if not spec.get("cached")]
