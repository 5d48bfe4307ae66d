"""The text of one spec's cells, as plain lines: the markdown and HTML views only mark them up.

Check entries are read generically (a list of dicts with ``name``, ``value``, ``limit``, ``ok`` and
possibly more keys), so a new check in the verdict shows up here without a change.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from harness.engines.result import ENGINES
from harness.language.tolerances import DEFAULT_CLAIM_LEVEL, DEFAULT_COEF_TOLERANCE_SE
from harness.report.marks import mark_lines
from harness.report.overview import DASH, ENGINE_LABEL, VERDICT_LABEL
from harness.verdict.checks import SIGNIFICANCE_LEVELS
from harness.verdict.claims import ENGINES_DISAGREE, reported_joint
from harness.verdict.summary import effective_status

__all__ = [
    "DEFAULT_SE_BAND",
    "check_rows",
    "checks_summary",
    "claim_lines",
    "coef_text",
    "joint_lines",
    "reported_joint",
    "failed_checks",
    "finite",
    "gap_in_se",
    "gap_lines",
    "layer_lines",
    "loosened_lines",
    "num",
    "se_band",
    "status_lines",
    "truth_text",
    "verdict_lines",
]

# The statistical tier's default |Δcoef| limit in standard errors (Spec.coef_tolerance_se).
DEFAULT_SE_BAND = DEFAULT_COEF_TOLERANCE_SE
CHECK_KEYS = ("name", "value", "limit", "ok")


def finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def num(value: Any) -> str:
    """Four decimals for everyday magnitudes, scientific notation for tiny or huge ones."""
    if not finite(value):
        return DASH
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _signed(value: Any) -> str:
    return f"{value:+.4f}" if finite(value) else DASH


def _stars(p: Any) -> str:
    if not finite(p):
        return ""
    return "*" * sum(p < level for level in SIGNIFICANCE_LEVELS)


def coef_text(estimate: dict | None) -> str:
    if not estimate or not finite(estimate.get("coef")):
        return DASH
    return f"{num(estimate['coef'])} ({num(estimate.get('se'))}){_stars(estimate.get('p'))}"


def joint_lines(estimate: dict | None) -> list[str]:
    """Under an estimate in the report: :func:`reported_joint`, as results.csv gives it."""
    joint, adjusted = reported_joint(estimate)
    own = bool((estimate or {}).get("own_draws"))  # said: results.json's joint_ci is the shared weights'
    source = " (its own bootstrap draws)" if own else ""
    lines = [f"joint CI [{num(joint[0])}, {num(joint[1])}]{source}"] if joint else []
    return lines + ([f"adjusted p {num(adjusted)}{source if not joint else ''}"] if finite(adjusted) else [])


def gap_in_se(spec: dict) -> float | None:
    """Signed Python-minus-R coefficient gap in units of the two engines' mean se.

    The verdict stores the absolute value (``diff.coef_in_se``); the sign tells a reader which
    engine is higher, so it is recomputed here from the estimates with the same denominator. A
    replicated spec is judged on the mean paired difference over its replicates: that is shown.
    """
    replicated = (spec.get("replicates") or {}).get("coef") or {}
    if finite(replicated.get("mean")):
        return float(replicated["mean"])
    py, r = spec.get("python") or {}, spec.get("r") or {}
    if all(finite(e.get(k)) for e in (py, r) for k in ("coef", "se")):
        mean_se = 0.5 * (py["se"] + r["se"])
        if mean_se > 0:
            return (py["coef"] - r["coef"]) / mean_se
    value = (spec.get("diff") or {}).get("coef_in_se")
    return float(value) if finite(value) else None


def se_band(spec: dict) -> tuple[float, bool]:
    """The statistical tier's |Δcoef| limit in se for this spec, and whether it is the default.

    The limit its ``end_to_end.coef`` check applied (what the verdict used), else the spec's own
    ``coef_tolerance_se`` as the results carry it, else the default.
    """
    for check in spec.get("checks") or []:
        if str(check.get("name", "")).endswith("end_to_end.coef") and check.get("metric") == "in se":
            if finite(check.get("limit")):
                return float(check["limit"]), check["limit"] == DEFAULT_SE_BAND
    if finite(spec.get("coef_tolerance_se")):
        return float(spec["coef_tolerance_se"]), spec["coef_tolerance_se"] == DEFAULT_SE_BAND
    return DEFAULT_SE_BAND, True


def loosened_lines(spec: dict) -> list[str]:
    """One warning per setting with which the spec loosened a default limit (harness.language.tolerances)."""
    return [f"⚠ loosened: {text}" for text in spec.get("loosened") or []]


def gap_lines(spec: dict) -> list[str]:
    """The Python-vs-R cell: the number the tier is judged on first, then its limit."""
    diff = spec.get("diff") or {}
    if not finite(diff.get("coef_rel")):
        return [DASH]
    if spec.get("tier") == "statistical":
        gap = gap_in_se(spec)
        lines = [f"{gap:+.2f} se" if gap is not None else DASH, f"limit ±{se_band(spec)[0]:g} se"]
        replicated = (spec.get("replicates") or {}).get("coef") or {}
        if finite(replicated.get("mean")):
            low, high = replicated["ci90"]
            lines[1:1] = [f"mean of {replicated['n']} replicates, 90 % CI {low:+.2f} to {high:+.2f}"]
        return [*lines, f"rel. {diff['coef_rel']:.2e}"]
    lines = [f"coef {diff['coef_rel']:.2e}"]
    if finite(diff.get("se_rel")):
        lines.append(f"se {diff['se_rel']:.2e}")
    if finite(spec.get("tolerance")) and spec["tolerance"] > 0:
        lines.append(f"limit {spec['tolerance']:.0e}")
    return lines


def _claim_form(paper: dict) -> str:
    """The machine-checkable part of a claim in words, e.g. 'positive, p < 0.05; > baseline'."""
    parts = []
    if paper.get("sign"):
        which = "adjusted p" if paper.get("p") == "adjusted" else "p"
        parts.append(f"{paper['sign']}, {which} < {paper.get('level', DEFAULT_CLAIM_LEVEL):g}")
    parts += [f"> {other}" for other in paper.get("greater_than") or []]
    parts += [f"< {other}" for other in paper.get("less_than") or []]
    return "; ".join(parts)


def _per_engine_text(values: dict | None, fmt: Callable[[Any], str]) -> str:
    if values is None:
        return ""
    return ", ".join(f"{ENGINE_LABEL[e]} {fmt(values[e]) if values[e] is not None else DASH}" for e in ENGINES)


def claim_lines(spec: dict) -> list[tuple[str, str]]:
    """Claim cell as (kind, text): ``text``, ``zh`` (Chinese), ``sub`` and ``warn`` lines."""
    paper = spec.get("paper")
    if not paper:
        return [("text", DASH)]
    lines = [("text", paper.get("claim") or "")]
    if paper.get("claim_zh"):
        lines.append(("zh", paper["claim_zh"]))
    if _claim_form(paper):
        lines.append(("sub", f"checked: {_claim_form(paper)}"))
    published = paper.get("published") or {}
    if finite(published.get("coef")):
        se = f" ({num(published['se'])})" if finite(published.get("se")) else ""
        note = f", {published['note']}" if published.get("note") else ""
        lines.append(("sub", f"published {num(published['coef'])}{se}{note}"))
        lines.append(("sub", f"Δ vs published: {_per_engine_text(spec.get('published_delta'), _signed)}"))
    if spec.get("claim_agreement") == ENGINES_DISAGREE:
        lines.append(("warn", f"⚠ {ENGINES_DISAGREE}"))
    return [(kind, text) for kind, text in lines if text]


def verdict_lines(spec: dict, engine: str) -> tuple[str, str, list[str]]:
    """(key, label, reasons) of an engine's claim verdict.

    ``key`` is ``""`` without a claim and ``"none"`` without an estimate from that engine.
    """
    verdicts = spec.get("claim_verdict")
    if verdicts is None:
        return "", DASH, []
    if verdicts[engine] is None:
        return "none", "no estimate", []
    key = verdicts[engine]
    return key, VERDICT_LABEL[key], list(spec["claim_reasons"][engine])


def truth_text(spec: dict) -> str:
    if not finite(spec.get("truth")):
        return DASH
    marks = _per_engine_text(spec.get("truth_in_ci"), lambda inside: "✓" if inside else "✗")
    return f"{num(spec['truth'])} ({marks})"


def _check_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if finite(value):
        return f"{value:.3g}"
    return DASH if value is None else str(value)


def _apart_from(value: Any, limit: Any) -> str:
    """``value`` at three significant digits, or as many more as it takes not to read as its limit:
    a correlation of 0.94958 failing its 0.95 read "0.95 vs limit 0.95" until 2026-12-07."""
    text = _check_value(value)
    if isinstance(value, bool) or not (finite(value) and finite(limit)) or value == limit:
        return text
    digits = 3
    while f"{value:.{digits}g}" == f"{limit:.{digits}g}" and digits < 17:
        digits += 1
    return f"{value:.{digits}g}"


def check_rows(spec: dict) -> list[dict[str, Any]]:
    """Each check of a spec as display text: name, value, limit, result and any extra keys."""
    rows = []
    for check in spec.get("checks") or []:
        ok = check.get("ok")
        # In key order: a result served from the cache (stored with sorted keys) reads as a fresh one.
        extra = ", ".join(f"{k}: {_check_value(v)}" for k, v in sorted(check.items()) if k not in CHECK_KEYS)
        rows.append(
            {
                "name": str(check.get("name", DASH)),
                "value": _apart_from(check.get("value"), check.get("limit")),
                "limit": _check_value(check.get("limit")),
                "ok": ok,
                "result": "pass" if ok else "FAIL" if ok is not None else DASH,
                "extra": extra,
            }
        )
    return rows


def checks_summary(spec: dict) -> str:
    """'7 checks, all pass' or '2 of 7 checks fail'; a spec in ``error`` first says it has no verdict."""
    rows = check_rows(spec)
    failed = sum(1 for row in rows if row["ok"] is False)
    noun = "check" if len(rows) == 1 else "checks"
    if not rows:
        return "no checks"
    counted = f"{len(rows)} {noun}, all pass" if not failed else f"{failed} of {len(rows)} {noun} fail"
    if effective_status(spec) == "error":
        # Replicated: the checks of the replicates that ran; they are no verdict on the spec.
        where = "in the replicates that ran, " if spec.get("replicates") else ""
        return f"no verdict (error); {where}{counted}"
    return counted


def failed_checks(spec: dict) -> list[str]:
    return [f"{row['name']} {row['value']} vs limit {row['limit']}" for row in check_rows(spec) if row["ok"] is False]


def disagree_line(spec: dict, shown: int = 3) -> str:
    """Why a spec is ``disagree``, in one line for the terminal and the pytest plugin: its failed
    checks, the first ``shown`` ('' for any other status, or no failed check)."""
    failed = failed_checks(spec)
    if effective_status(spec) != "disagree" or not failed:
        return ""
    more = f" and {len(failed) - shown} more" if len(failed) > shown else ""
    return f"{checks_summary(spec)}: {'; '.join(failed[:shown])}{more}"


def terminal_reason(spec: dict) -> str:
    """Why a spec did not agree, in one line for the terminal and the pytest plugin ('' when it
    agreed): a replicated verdict's own reason, else a disagreement's failed checks (first, for a
    user's fitted model whose numbers its learners do not give, that)."""
    status, replicates = effective_status(spec), spec.get("replicates")
    if status in ("disagree", "inconclusive") and replicates and replicates.get("reason"):
        return f"{status} over {replicates['n']} replicates: {replicates['reason']}"
    failed = disagree_line(spec)
    given = not_reproduced_line(spec)
    return f"disagree: {given + '; ' if given else ''}{failed}" if failed else ""


def not_reproduced_line(spec: dict) -> str:
    """For ``harness.compare`` on a fitted model whose numbers the tool's refit of its learners on
    its folds does not give (harness.running.fit.given_checked; its folds.python then fails): why."""
    given = spec.get("python_given") or {}
    if given.get("reproduced", True):
        return ""
    return (
        f"the model's own numbers are not what its learners give on its folds (gap {given.get('gap', float('nan')):.3g} "
        f"> {given.get('limit', float('nan')):g}): its learners or its folds changed after its fit"
    )


def status_reason(spec: dict) -> str:
    """Why a spec has its status, in one line (``results.csv``'s ``reason``, hence
    ``ParityResult.summary()``): what did not agree, the rule that explains a gap, or that an
    ``agree`` is one draw ('' otherwise; an error's message has a column of its own)."""
    said = terminal_reason(spec)
    status, gap, single = effective_status(spec), spec.get("explained_gap") or {}, spec.get("single_draw") or {}
    if said:  # a one-draw disagree says so too (until 2026-12-07 only the terminal did: an outside user)
        return f"{said}; {single['note']}" if status == "disagree" and single.get("note") else said
    if status == "explained" and gap.get("rule"):
        return f"explained by: {gap['rule']}"
    return single.get("note", "") if status == "agree" else ""


def layer_lines(spec: dict) -> list[str]:
    """Why a status holds: the explaining rule, the learner-free gap, the weakest nuisance."""
    lines = []
    gap = spec.get("explained_gap")
    if effective_status(spec) == "explained" and gap:
        lines.append(f"explained by: {gap.get('rule')}")
    free = spec.get("learner_free") or {}
    if finite(free.get("coef_rel")):
        lines.append(f"learner-free Δ coef {free['coef_rel']:.1e}, se {free.get('se_rel', float('nan')):.1e}")
    corrs = [(entry.get("corr"), name) for name, entry in (spec.get("nuisance") or {}).items() if finite(entry.get("corr"))]
    if corrs:
        corr, name = min(corrs)
        lines.append(f"lowest nuisance correlation {corr:.4f} ({name})")
    return lines


def status_lines(spec: dict, with_error: bool = True) -> list[str]:
    """Under the status badge: the error, the failed checks, then the layers that explain it."""
    status = effective_status(spec)
    lines = []
    replicates = spec.get("replicates")
    if replicates:
        # The status is the verdict over the replicates (harness.verdict.replicate_verdict); say so
        # first. An error's reason is the spec's error, shown once, below or in a row of its own.
        reason = "" if status == "error" else f": {replicates.get('reason', '')}"
        lines.append(f"{replicates['n']} replicates (vary: {replicates['vary']}){reason}")
    lines += loosened_lines(spec)
    if status == "error" and with_error:
        lines.append(spec.get("error") or "no message")
    elif status in ("disagree", "explained"):
        lines += [line for line in [not_reproduced_line(spec)] if line]
        lines += [f"failed: {check}" for check in failed_checks(spec)]
    return lines + layer_lines(spec) + mark_lines(spec)
