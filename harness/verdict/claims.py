"""Judge each spec's paper claim against each engine's estimate.

A claim's machine form has up to three parts: a ``sign`` (the coefficient has that sign and is
significant at ``level``), ``greater_than`` and ``less_than`` (this spec's coefficient is above or
below other specs' coefficients, compared within one engine). A claim is ``reproduced`` by an engine
when every part holds for that engine's estimates and ``not-reproduced`` when some part fails.
It is ``not-judged`` when no part fails but one cannot be checked (a compared spec is missing or has
no estimate from that engine), and when the claim has no machine-checkable part at all. A failed
part outweighs an unchecked one because a claim is the conjunction of its parts.

Everything here is pure: the functions read result dicts and return new ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from harness.engines.result import ENGINES
from harness.language.tolerances import DEFAULT_CLAIM_LEVEL

__all__ = [
    "ENGINES_DISAGREE",
    "NOT_JUDGED",
    "NOT_REPRODUCED",
    "REPRODUCED",
    "count_claims",
    "engine_estimate",
    "judge_claims",
    "judge_spec",
    "reported_joint",
]

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not-reproduced"
NOT_JUDGED = "not-judged"
ENGINES_DISAGREE = "engines disagree on the verdict"


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def engine_estimate(spec: dict, engine: str) -> dict | None:
    """Return an engine's estimate for a spec, or None when there is no usable coefficient.

    Parameters
    ----------
    spec : dict
        One entry of ``results["specs"]``.
    engine : str
        ``"python"`` or ``"r"``.

    Returns
    -------
    dict or None
        The estimate dict when it exists and its ``coef`` is a finite number.
    """
    estimate = spec.get(engine)
    if isinstance(estimate, dict) and _finite(estimate.get("coef")):
        return estimate
    return None


def reported_joint(estimate: dict | None) -> tuple[list | None, float | None]:
    """An estimate's joint interval and adjusted p-value as the package's user gets them: from its
    own bootstrap draws where it has them, else from the weights the tool shared (Holm, Bonferroni).
    The report and results.csv show these, and a `p: adjusted` claim is judged on them."""
    estimate = estimate or {}
    own = estimate.get("own_draws") or {}
    joint = own.get("joint_ci") or estimate.get("joint_ci")
    return joint, own["p_adjusted"] if own.get("p_adjusted") is not None else estimate.get("p_adjusted")


def _sign_failures(estimate: dict, sign: str, level: float, which_p: str = "pointwise") -> list[str]:
    coef = estimate["coef"]
    # `p: adjusted` claims are judged on the multiple-testing adjusted p-value (spec `p_adjust`) the
    # package's user gets, the one the report shows (until 2026-12-07 the shared weights' value, which
    # no report file showed: an outside reviewer).
    p = reported_joint(estimate)[1] if which_p == "adjusted" else estimate.get("p")
    failures = []
    if sign == "positive" and not coef > 0:
        failures.append(f"sign: coef {coef:.4g} is not > 0")
    if sign == "negative" and not coef < 0:
        failures.append(f"sign: coef {coef:.4g} is not < 0")
    if not _finite(p):
        failures.append("significance: no p-value")
    elif not p < level:
        label = "adjusted p" if which_p == "adjusted" else "p"
        failures.append(f"significance: {label} = {p:.3g} is not < {level:g}")
    return failures


def _comparison(coef: float, other_id: str, other: dict | None, relation: str, engine: str) -> tuple[str | None, str | None]:
    """Check one ``greater_than``/``less_than`` part.

    Returns
    -------
    (failure, unjudged) : tuple of str or None
        A reason the part fails, or a reason it cannot be checked; both None when it holds.
    """
    if other is None:
        return None, f"{relation} {other_id}: not in this run"
    other_estimate = engine_estimate(other, engine)
    if other_estimate is None:
        return None, f"{relation} {other_id}: {other_id} has no {engine} estimate"
    other_coef = other_estimate["coef"]
    holds = coef > other_coef if relation == "greater_than" else coef < other_coef
    if holds:
        return None, None
    symbol = ">" if relation == "greater_than" else "<"
    return f"{relation} {other_id}: {coef:.4g} is not {symbol} {other_coef:.4g}", None


def _verdict(paper: dict, estimate: dict, by_id: dict[str, dict], engine: str) -> tuple[str, list[str]]:
    failures: list[str] = []
    unjudged: list[str] = []
    if paper.get("sign"):
        level = paper.get("level", DEFAULT_CLAIM_LEVEL)
        failures += _sign_failures(estimate, paper["sign"], level, paper.get("p") or "pointwise")
    for relation in ("greater_than", "less_than"):
        for other_id in paper.get(relation) or []:
            failure, why = _comparison(estimate["coef"], other_id, by_id.get(other_id), relation, engine)
            failures += [failure] if failure else []
            unjudged += [why] if why else []
    has_parts = paper.get("sign") or paper.get("greater_than") or paper.get("less_than")
    if not has_parts:
        return NOT_JUDGED, ["claim has no machine-checkable part (sign, greater_than, less_than)"]
    # A claim is a conjunction: one failed part settles it even if another part cannot be checked.
    if failures:
        return NOT_REPRODUCED, failures + unjudged
    if unjudged:
        return NOT_JUDGED, unjudged
    return REPRODUCED, []


def _per_engine(spec: dict, value_of: Callable[[str, dict], Any]) -> dict[str, Any]:
    """Apply ``value_of(engine, estimate)`` to each engine's estimate; None where an engine has none."""
    out = {}
    for engine in ENGINES:
        estimate = engine_estimate(spec, engine)
        out[engine] = None if estimate is None else value_of(engine, estimate)
    return out


def _agreement(verdicts: dict[str, str | None]) -> str | None:
    """``"same"`` or a disagreement note when both engines have a verdict, else None."""
    if any(verdicts[engine] is None for engine in ENGINES):
        return None
    return "same" if len(set(verdicts.values())) == 1 else ENGINES_DISAGREE


def _in_ci(estimate: dict, truth: float) -> bool | None:
    ci = estimate.get("ci")
    if not ci or len(ci) != 2 or not (_finite(ci[0]) and _finite(ci[1])):
        return None
    return bool(ci[0] <= truth <= ci[1])


def judge_spec(spec: dict, by_id: dict[str, dict]) -> dict:
    """Judge one spec's claim and compare its estimates with the truth and the published value.

    Parameters
    ----------
    spec : dict
        One entry of ``results["specs"]``; not modified.
    by_id : dict
        Every spec of the run by id, for ``greater_than``/``less_than``.

    Returns
    -------
    dict
        A copy of ``spec`` with ``claim_verdict``, ``claim_reasons``, ``claim_agreement``,
        ``truth_in_ci``, ``bias`` and ``published_delta``. The first two, and the last three, are
        dicts by engine (None for an engine without an estimate); each key is None as a whole when
        the spec has no claim, no truth or no published coefficient respectively.
    """
    paper = spec.get("paper")
    truth = spec.get("truth")
    published = ((paper or {}).get("published") or {}).get("coef")
    judged = dict(spec)
    judged["claim_verdict"] = judged["claim_reasons"] = judged["claim_agreement"] = None
    if paper:
        verdicts = _per_engine(spec, lambda engine, est: _verdict(paper, est, by_id, engine))
        judged["claim_verdict"] = {e: None if v is None else v[0] for e, v in verdicts.items()}
        judged["claim_reasons"] = {e: None if v is None else v[1] for e, v in verdicts.items()}
        judged["claim_agreement"] = _agreement(judged["claim_verdict"])
    judged["truth_in_ci"] = None
    judged["bias"] = None
    if _finite(truth):
        judged["truth_in_ci"] = _per_engine(spec, lambda _engine, est: _in_ci(est, truth))
        judged["bias"] = _per_engine(spec, lambda _engine, est: est["coef"] - truth)
    judged["published_delta"] = None
    if _finite(published):
        judged["published_delta"] = _per_engine(spec, lambda _engine, est: est["coef"] - published)
    return judged


def judge_claims(specs: list[dict]) -> list[dict]:
    """Judge every spec of a run.

    Parameters
    ----------
    specs : list of dict
        ``results["specs"]``; not modified.

    Returns
    -------
    list of dict
        New spec dicts, in the same order, with the keys :func:`judge_spec` adds.
    """
    by_id = {spec["id"]: spec for spec in specs}
    return [judge_spec(spec, by_id) for spec in specs]


def count_claims(judged: list[dict]) -> dict[str, dict[str, int]]:
    """Count claim verdicts per engine, for the report's summary.

    Parameters
    ----------
    judged : list of dict
        Specs returned by :func:`judge_claims`.

    Returns
    -------
    dict
        For each engine: ``claims`` (specs with a paper claim), ``reproduced``, ``not-reproduced``,
        ``not-judged`` and ``no-estimate`` (claims that engine produced no estimate for). The last
        four add up to ``claims``.
    """
    counts = {}
    for engine in ENGINES:
        tally = dict.fromkeys(("claims", REPRODUCED, NOT_REPRODUCED, NOT_JUDGED, "no-estimate"), 0)
        for spec in judged:
            if spec.get("claim_verdict") is None:
                continue
            tally["claims"] += 1
            tally[spec["claim_verdict"][engine] or "no-estimate"] += 1
        counts[engine] = tally
    return counts
