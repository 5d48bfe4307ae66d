"""``results.csv``: one row per spec, for spreadsheets and diffs between runs."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from harness.report.cells import reported_joint, status_reason
from harness.report.overview import has_paper, has_truth, prepare
from harness.verdict.summary import effective_status

__all__ = ["CSV_COLUMNS", "JOINT_COLUMNS", "PAPER_COLUMNS", "TRUTH_COLUMNS", "render_csv"]

CSV_COLUMNS = (
    "id", "table", "title", "title_zh", "model", "score", "y", "d", "learners", "status", "reason", "tier",
    "n_obs",
    "py_coef", "py_se", "py_t", "py_p", "py_ci_low", "py_ci_high",
    "r_coef", "r_se", "r_t", "r_p", "r_ci_low", "r_ci_high",
    "py_joint_ci_low", "py_joint_ci_high", "py_p_adjusted", "r_joint_ci_low", "r_joint_ci_high", "r_p_adjusted",
    "coef_abs", "coef_rel", "se_rel", "coef_in_se",
    "truth", "truth_in_ci_python", "truth_in_ci_r", "bias_python", "bias_r",
    "published_coef", "claim_python", "claim_r", "claim_agreement", "error",
)  # fmt: skip
# Left out when no spec has a paper block (or a truth): they would be empty in every row.
PAPER_COLUMNS = ("published_coef", "claim_python", "claim_r", "claim_agreement")
TRUTH_COLUMNS = ("truth", "truth_in_ci_python", "truth_in_ci_r", "bias_python", "bias_r")
# Joint inference (a spec's bootstrap block, joint: true, p_adjust): each package's joint interval and
# adjusted p-value as its user gets them, from its own bootstrap draws (a fitted model's: its own
# confint(joint=True)); without own draws (Holm, Bonferroni), from the multiplier weights the tool
# shared. The shared-weight numbers the checks compare are in results.json. Left out when no spec has them.
JOINT_COLUMNS = ("py_joint_ci_low", "py_joint_ci_high", "py_p_adjusted", "r_joint_ci_low", "r_joint_ci_high", "r_p_adjusted")
PLAIN_KEYS = (
    "id",
    "table",
    "title",
    "title_zh",
    "model",
    "score",
    "y",
    "d",
    "tier",
    "n_obs",
    "truth",
    "claim_agreement",
    "error",
)


def _csv_value(value: Any) -> str:
    """Fixed text for each value type, so equal results give equal bytes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float.
        return repr(float(value))
    text = " ".join(str(value).split())
    # Text from a spec file (titles, ids, errors) must not become a spreadsheet formula when opened.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _learners_text(learners: dict | None) -> str:
    def one(choice: Any) -> str:
        if isinstance(choice, str):
            return choice
        return json.dumps(choice, sort_keys=True, separators=(",", ":"))

    return ";".join(f"{nuisance}={one(choice)}" for nuisance, choice in (learners or {}).items())


def _csv_row(spec: dict) -> dict[str, Any]:
    row: dict[str, Any] = {key: spec.get(key) for key in PLAIN_KEYS}
    row["learners"] = _learners_text(spec.get("learners"))
    row["status"] = effective_status(spec)
    row["reason"] = status_reason(spec)
    for engine, prefix in (("python", "py"), ("r", "r")):
        estimate = spec.get(engine) or {}
        for key in ("coef", "se", "t", "p"):
            row[f"{prefix}_{key}"] = estimate.get(key)
        ci = estimate.get("ci") or [None, None]
        row[f"{prefix}_ci_low"], row[f"{prefix}_ci_high"] = ci[0], ci[1]
        joint, row[f"{prefix}_p_adjusted"] = reported_joint(estimate)
        row[f"{prefix}_joint_ci_low"], row[f"{prefix}_joint_ci_high"] = joint or (None, None)
        row[f"claim_{engine}"] = (spec.get("claim_verdict") or {}).get(engine)
        row[f"truth_in_ci_{engine}"] = (spec.get("truth_in_ci") or {}).get(engine)
        row[f"bias_{engine}"] = (spec.get("bias") or {}).get(engine)
    diff = spec.get("diff") or {}
    row.update({key: diff.get(key) for key in ("coef_abs", "coef_rel", "se_rel", "coef_in_se")})
    row["published_coef"] = (((spec.get("paper") or {}).get("published")) or {}).get("coef")
    return row


def _has_joint(specs: list[dict]) -> bool:
    estimates = [spec.get(engine) or {} for spec in specs for engine in ("python", "r")]
    return any(estimate.get(key) is not None for estimate in estimates for key in ("joint_ci", "p_adjusted"))


def render_csv(results: dict) -> str:
    """Render ``results.csv``: one row per spec, columns ``CSV_COLUMNS`` (in that order).

    Parameters
    ----------
    results : dict
        The run's results.

    Returns
    -------
    str
        CSV text with ``\\n`` line ends; rows in report order (paper table, then run order).
        Without a paper block in any spec the ``PAPER_COLUMNS`` are left out, without a truth the
        ``TRUTH_COLUMNS``, without joint inference the ``JOINT_COLUMNS``.
    """
    specs = prepare(results)
    hidden = (() if has_paper(specs) else PAPER_COLUMNS) + (() if has_truth(specs) else TRUTH_COLUMNS)
    hidden += () if _has_joint(specs) else JOINT_COLUMNS
    columns = [column for column in CSV_COLUMNS if column not in hidden]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for spec in specs:
        row = _csv_row(spec)
        writer.writerow([_csv_value(row[column]) for column in columns])
    return buffer.getvalue()
