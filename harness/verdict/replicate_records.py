"""What a replicated spec's records hold: each engine's estimates over the replicates, replicates
that cannot be used (non-finite, an engine missing), whether they all reported one draw, the
structural checks that failed, the single-draw rule's pass rate, propensity tails, and one entry per
check for the report. :mod:`harness.verdict.replicate_verdict` turns them into the verdict.
"""

from __future__ import annotations

from collections import Counter
from typing import Optional

import numpy as np

from harness.engines.result import ENGINES

__all__ = [
    "IDENTICAL_REL",
    "STRUCTURAL_LAYERS",
    "estimates",
    "identical",
    "merged_checks",
    "missing_somewhere",
    "non_finite",
    "propensity_tails",
    "single_draw_rate",
    "structural_failures",
]

# Checks that hold whatever the learners do: they must pass in every replicate.
STRUCTURAL_LAYERS = ("folds", "learner_free", "rule")


def estimates(results: list[dict], key: str) -> Optional[dict]:
    """Coefficients, ses and intervals of one engine (or of ``learner_free``) over the replicates."""
    rows, reps = [], []
    for result in results:
        entry = result.get(key) or {}
        if key == "learner_free" and "coef" not in entry:
            entry = result.get("r") or {}  # a result from before the learner-free estimate was kept
        if entry.get("coef") is None:
            return None
        rows.append((entry["coef"], entry["se"], *(entry.get("ci") or (np.nan, np.nan))))
        reps.append((entry.get("coef_reps"), entry.get("se_reps")))
    array = np.array(rows, dtype=float)
    out = {"coef": array[:, 0], "se": array[:, 1], "ci": array[:, 2:4]}
    if all(c is not None and s is not None for c, s in reps) and len({len(c) for c, _ in reps}) == 1:
        # (replicates, repetitions)
        out["coef_reps"] = np.array([c for c, _ in reps], dtype=float)
        out["se_reps"] = np.array([s for _, s in reps], dtype=float)
    return out


def non_finite(results: list[dict]) -> list[int]:
    """Replicates whose coefficient or se is NaN or infinite in an engine that ran (a propensity of
    exactly 0 or 1 with no trimming does that): statistics over them would be meaningless."""
    out = []
    for number, result in enumerate(results, 1):
        values = [(result.get(key) or {}).get(q) for key in (*ENGINES, "learner_free") for q in ("coef", "se")]
        if result.get("status") != "error" and any(v is not None and not np.isfinite(v) for v in values):
            out.append(number)
    return out


def missing_somewhere(results: list[dict]) -> list[dict]:
    """Errors for replicates that lack an engine's estimate that other replicates have: the
    statistics would otherwise be taken from whichever replicates happen to have it."""
    out = []
    for key in ENGINES:
        have = [(r.get(key) or {}).get("coef") is not None for r in results]
        if any(have) and not all(have):
            out += [
                {"replicate": i, "error": f"no {key} estimate, which other replicates have"}
                for i, (h, r) in enumerate(zip(have, results, strict=True), 1)
                if not h and r.get("status") != "error"
            ]
    return out


IDENTICAL_REL = 1e-12


def identical(results: list[dict], scale: float) -> bool:
    """Whether every replicate reported replicate 1's numbers (coef, se, and per repetition) in both
    engines and the learner-free estimate, to 1e-12 of the larger of the value and the typical se."""

    def numbers(result: dict) -> np.ndarray:
        values = []
        for key in (*ENGINES, "learner_free"):
            entry = result.get(key) or {}
            for q in ("coef", "se", "coef_reps", "se_reps"):
                values += np.atleast_1d(np.asarray(entry.get(q) if entry.get(q) is not None else [], dtype=float)).tolist()
        return np.asarray(values, dtype=float)

    first = numbers(results[0])
    bound = IDENTICAL_REL * np.maximum(np.abs(first), scale)
    for result in results[1:]:
        other = numbers(result)
        if other.shape != first.shape or np.any(np.abs(other - first) > bound):
            return False
    return True


def structural_failures(results: list[dict]) -> list[dict]:
    out = []
    for number, result in enumerate(results, 1):
        for check in result.get("checks") or []:
            if check.get("layer") in STRUCTURAL_LAYERS and not check.get("ok"):
                out.append(
                    {"replicate": number, "check": check["name"], "value": check.get("value"), "limit": check.get("limit")}
                )
    return out


def single_draw_rate(results: list[dict]) -> dict:
    """How often the single-draw statistical rule (end-to-end and nuisance checks) passed."""
    failures: Counter = Counter()
    passed = 0
    for result in results:
        failed = [
            c["name"] for c in result.get("checks") or [] if c.get("layer") in ("end_to_end", "nuisance") and not c.get("ok")
        ]
        failures.update(failed)
        passed += not failed
    return {"passed": passed, "of": len(results), "failures": dict(sorted(failures.items()))}


def propensity_tails(results: list[dict]) -> Optional[dict]:
    """Per engine and replicate, the share of propensities at the trimming bound and the largest
    inverse-propensity weight (IRM and IIVM; :mod:`harness.verdict.propensity`)."""
    entries = [((r.get("nuisance") or {}).get("ml_m") or {}).get("propensity") for r in results]
    if not entries or any(e is None for e in entries):
        return None
    return {
        engine: {key: [e[engine][key] for e in entries] for key in ("at_bound_share", "max_weight", "min", "max")}
        for engine in ENGINES
    }


def _worst(instances: list[dict]) -> dict:
    """The instance of one check to show: the first failure, else the one nearest its limit."""
    failing = [(i, c) for i, c in instances if not c.get("ok")]
    if failing:
        number, chosen = failing[0]
    else:
        finite = [(i, c) for i, c in instances if c.get("value") is not None and c.get("limit") is not None]
        if not finite:
            number, chosen = instances[0]
        else:
            # at_most checks pass below their limit, at_least checks above it: nearest is worst.
            number, chosen = min(finite, key=lambda ic: abs(ic[1]["limit"] - ic[1]["value"]))
    return {**chosen, "replicate": number, "replicates_failed": len(failing)}


def merged_checks(results: list[dict], layers: Optional[tuple[str, ...]]) -> list[dict]:
    """One entry per check name over all replicates (in replicate 1's order), for the report."""
    by_name: dict[str, list] = {}
    for number, result in enumerate(results, 1):
        for check in result.get("checks") or []:
            if layers is None or check.get("layer") in layers:
                by_name.setdefault(check["name"], []).append((number, check))
    return [_worst(instances) for instances in by_name.values()]
