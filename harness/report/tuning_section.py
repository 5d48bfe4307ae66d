"""The report's "Tuning" section (issue 23): per spec and tuned nuisance, the grid and the point
each package chose, side by side, and whether they match (``tuning`` in results.json,
:mod:`harness.verdict.tuning`)."""

from __future__ import annotations

from collections import Counter

__all__ = ["HEADERS", "INTRO", "tuning_rows"]

HEADERS = ["Spec", "Nuisance", "Grid", "Python chose", "R chose", "Match"]
INTRO = (
    "Both packages searched the same grid on the same inner folds, drawn by the tool inside each "
    "training set; the criterion is the mean over inner folds of the MSE (regressors) or log loss "
    "(classifiers), first best in grid order. Counts are searches (repetitions x folds)."
)


def _point(point: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


def _choices(chosen: list | None) -> str:
    if chosen is None:
        return "not run"
    counts = Counter(_point(p) for row in chosen for p in row)
    total = sum(counts.values())
    return "; ".join(f"{text} ({n}/{total})" for text, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def tuning_rows(specs: list[dict]) -> list[list[str]]:
    rows = []
    for spec in specs:
        for name, entry in ((spec.get("tuning") or {}).get("nuisances") or {}).items():
            grid = " / ".join(_point(p) for p in entry["grid"])
            match = "yes" if entry["match"] else "no"
            rows.append([spec["id"], name, grid, _choices(entry["python"]), _choices(entry["r"]), match])
    return rows
