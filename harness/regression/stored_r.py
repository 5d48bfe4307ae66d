"""The R-free check: Python now judged against R as a baseline stored it.

Where R is not run (``check --engines python``, or the pytest plugin where R cannot be loaded), the
baseline's R numbers and its learner-free numbers (Python's code on R's predictions, computed when
the baseline was saved) stand in for an R fit. :func:`harness.verdict.compare.compare_reported`
runs the ``rule`` and ``end_to_end`` layers with the tiers and tolerances of a run: the exact tier
Python now against R's stored numbers, the statistical tier Python now against the stored
learner-free numbers, as a run with R would. Not run, and said so: the layers that read R's fit
(folds, nuisance predictions, learner-free), joint inference (bootstrap draws, joint intervals,
adjusted p), and IRM ATTE at the exact tier (its rule reads Python's predictions).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np

from harness.engines.result import EngineResult

__all__ = ["NOT_RUN", "judge_stored_r", "r_free_line", "render_stored_r", "stored_result"]

NOT_RUN = "folds, nuisance, learner_free (they read R's fit) and joint inference"


# A baseline saved from a run without R (the pytest fixture where R does not load, or a run of
# --engines python): a check of it is Python's regression alone, which it says first.
PYTHON_ONLY = (
    "R not in the baseline: it holds Python's numbers only, so this check judged no parity between Python and R; "
    "save it again from a run of both engines"
)


def r_free_line(baseline: dict) -> str:
    """The one line that says R was not run and what stood in for it."""
    version = ((baseline.get("versions") or {}).get("r") or {}).get("DoubleML") or "(version not recorded)"
    created = baseline.get("created")
    when = created[:10] if created else "an unrecorded date (a baseline/2 file)"
    return f"R not run: compared with DoubleML {version} results stored on {when}"


def stored_result(block: dict) -> EngineResult:
    """An engine's estimate from its stored numbers (t is coef / se; p, where a block has none,
    by the normal rule both packages report)."""
    from scipy.stats import norm

    coef, se = float(block["coef"]), float(block["se"])
    t = coef / se if se else math.nan
    p = block.get("p")
    if p is None:
        p = float(2 * norm.sf(abs(t))) if math.isfinite(t) else math.nan
    coef_reps = np.asarray(block.get("coef_reps") or [coef], dtype=float)
    se_reps = np.asarray(block.get("se_reps") or [se], dtype=float)
    return EngineResult(coef=coef, se=se, t=t, p=float(p), ci=tuple(block["ci"]), coef_reps=coef_reps, se_reps=se_reps)


def judge_stored_r(baseline: dict, results: dict, spec_file, rows: Optional[set[str]] = None) -> dict[str, dict]:
    """Per baseline row: ``status`` (agree, explained, disagree, or ``not judged`` with ``why``),
    ``tier``, the number of checks and the failed ones. ``spec_file`` None (changed or gone since
    the run) judges nothing: the tiers and designs come from it."""
    from harness.verdict.checks import VerdictError
    from harness.verdict.compare import compare_reported

    now = {s["id"]: s for s in results["specs"]}
    designs = None
    out = {}
    for row_id, entry in sorted(baseline["estimates"].items()):
        if rows is not None and row_id not in rows:
            continue
        py, r, learner_free = (now.get(row_id) or {}).get("python"), entry.get("r"), entry.get("learner_free")
        why = _cannot_judge(spec_file, py, r, learner_free)
        if why is not None:
            out[row_id] = {"status": "not judged", "why": why, "tier": entry["tier"]}
            continue
        if designs is None:
            designs = _designs(spec_file, results)
        spec = spec_file.spec(entry["spec"])
        try:
            sides = (stored_result(py), stored_result(r), stored_result(learner_free))
            comparison = compare_reported(spec, designs[spec.id], *sides)
            # The same judgement of the baseline's own Python numbers: a baseline saved from a run
            # that disagreed still disagrees, which is no change (with R run, the check compares
            # numbers, not verdicts).
            then = compare_reported(spec, designs[spec.id], stored_result(entry["python"]), *sides[1:]).status
        except VerdictError as err:
            out[row_id] = {"status": "not judged", "why": str(err), "tier": entry["tier"]}
            continue
        out[row_id] = {
            "status": comparison.status,
            "baseline_status": then,
            "tier": comparison.tier,
            "n_checks": len(comparison.checks),
            "failed": [c.as_dict() for c in comparison.checks if not c.ok],
        }
    return out


def render_stored_r(baseline: dict, judged: dict[str, dict]) -> list[str]:
    """The section of a check that judged Python now against R as stored (markdown lines)."""
    from tabulate import tabulate

    lines = ["## Python now against R as stored", "", r_free_line(baseline), f"not run without R: {NOT_RUN}", ""]
    table = []
    for row_id, judged_row in judged.items():
        names = [c["name"] for c in judged_row.get("failed", [])]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        failed = ", ".join(names[:3]) + more if names else judged_row.get("why", "")
        checks = judged_row.get("n_checks")
        then = judged_row.get("baseline_status", "-")
        table.append([row_id, judged_row["tier"], judged_row["status"], then, "-" if checks is None else checks, failed])
    headers = ["spec", "tier", "status", "in the baseline", "checks", "failed checks, or why not judged"]
    lines += [tabulate(table, headers=headers, tablefmt="github", disable_numparse=True), ""]
    return lines


def _cannot_judge(spec_file, py: Optional[dict], r: Optional[dict], learner_free: Optional[dict]) -> Optional[str]:
    if r is None:
        return "the baseline keeps no R numbers for it"
    if py is None:
        return "no Python estimate now"
    if learner_free is None:
        return "the baseline keeps no learner-free numbers (a baseline/2 file: re-save it with dml-parity baseline save)"
    if spec_file is None:
        return "the run's spec file changed or is gone since it ran"
    return None


def _designs(spec_file, results: dict) -> dict:
    """Each spec's design table, built again from the run's data (R's aggregation rule divides by
    its rows or clusters)."""
    from harness.running.runner import prepare

    data = results["provenance"]["data"]
    path = Path(data["path"]) if "path" in data else None
    return {prepared.spec.id: prepared.design for prepared in prepare(spec_file, path)}
