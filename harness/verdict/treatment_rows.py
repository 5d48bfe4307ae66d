"""One result row per treatment.

A spec with several treatments is one fit and one comparison (cached as one result), but the
report, the claims and the baseline read one row per estimate. :func:`treatment_rows` splits such a
result into one row per treatment: id ``<spec id>[<treatment>]``, the treatment's own estimates
(with its joint interval and adjusted p-value), its own checks together with the checks of the whole
fit (folds, bootstrap draws, critical values), and a status judged on exactly those checks. A spec
with one treatment keeps its single row; with joint inference its estimates gain ``p_adjusted``,
``joint_ci`` and ``own_draws``.
"""

from __future__ import annotations

from typing import Optional

from harness.engines.result import ENGINES
from harness.language.spec import Spec
from harness.verdict.compare_extended import treatment_status

__all__ = ["row_id", "treatment_rows"]

NUMBERS = ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps")


def row_id(spec: Spec, treatment: str) -> str:
    return f"{spec.id}[{treatment}]" if spec.several_treatments else spec.id


def _estimate(summary: Optional[dict], i: int) -> Optional[dict]:
    """Treatment ``i``'s numbers from an engine's summary, joint inference flattened in."""
    if summary is None:
        return None
    numbers = summary["treatments"][i] if "treatments" in summary else {k: summary[k] for k in NUMBERS}
    out = dict(numbers)
    inference = summary.get("inference")
    if inference:
        for key, value in inference.get("shared_weights", {}).items():
            out[key] = value[i]
        if "own_draws" in inference:
            out["own_draws"] = {key: value[i] for key, value in inference["own_draws"].items()}
    if summary.get("warnings"):  # the fit's, shared by its treatments (harness.verdict.solver_warnings)
        out["warnings"] = summary["warnings"]
    return out


def treatment_rows(spec: Spec, result: dict) -> list[tuple[str, str, dict]]:
    """``(row id, treatment, result)`` per treatment; the single-treatment result is returned as is
    when there is nothing joint to flatten."""
    treatments = spec.treatments
    has_inference = any(isinstance(result.get(e), dict) and "inference" in result[e] for e in ENGINES)
    if len(treatments) == 1 and not has_inference:
        return [(spec.id, treatments[0], result)]
    rows = []
    per = {entry["d"]: entry for entry in result.get("treatments") or []}
    for i, d in enumerate(treatments):
        row = dict(result)
        row.pop("treatments", None)
        row["python"] = _estimate(result.get("python"), i)
        row["r"] = _estimate(result.get("r"), i)
        if len(treatments) > 1:
            row["spec_id"] = spec.id
            row["treatments"] = list(treatments)
            checks = [c for c in result.get("checks") or [] if c.get("treatment") in (None, d)]
            row["checks"] = checks
            entry = per.get(d)
            if entry is not None:
                row.update({k: entry[k] for k in ("diff", "learner_free", "nuisance")})
                row.pop("explained_gap", None)
                gap = _explained_gap(entry.get("explained_gap"), result.get("explained_gap"))
                if gap:
                    row["explained_gap"] = gap
                row["status"] = treatment_status(checks, d, entry["status"] == "explained")
        rows.append((row_id(spec, d), d, row))
    return rows


def _explained_gap(own: dict | None, whole: dict | None) -> dict | None:
    """A treatment's explanation: its own rules (its coefficient and se) and the whole fit's (the
    joint interval and adjusted p it shares). Until 2026-12-07 a treatment's own rules hid the
    fit's, and a joint gap far beyond its limit read as explained by n_rep alone (an outside reviewer)."""
    if not own or not whole:
        return own or whole
    rules = list(dict.fromkeys([*(own.get("rules") or [own.get("rule")]), *(whole.get("rules") or [whole.get("rule")])]))
    rules = [r for r in rules if r]
    return {**own, "rule": "; ".join(rules), "rules": rules}
