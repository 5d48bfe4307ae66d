"""The verdict of a replicated spec, from its replicates' results (one ``run_one`` dict each).

The rule, stated once:

* Every replicate is a full comparison (folds, nuisance, learner-free, rule and end-to-end checks).
  The checks that hold whatever the learners do (``folds``, ``learner_free``, ``rule``) must pass in
  every replicate; one failure makes the spec ``disagree`` and names the replicate.
* Exact tier: every replicate must be ``agree`` (or ``explained``).
* Statistical tier: the single-draw end-to-end and nuisance checks are replaced by equivalence
  tests over the replicates (:func:`harness.verdict.replicate_stats.equivalence`) of the paired differences
  Python minus Python's own code on R's predictions (``learner_free``, so that only the learners
  differ, as in the single-draw rule; the learner-free checks tie it to R's numbers), in units of the
  spec's typical se. They cover what the single-draw rule covers (:func:`assert_replicates_covered`,
  the coverage rule of :mod:`harness.verdict.checks`): the aggregate coefficient and se, and with ``n_rep``
  > 1 the coefficient and se of every repetition. The aggregate p is a function of the aggregate
  coefficient and se, the same in both packages, and the rule layer checks that function on each
  package's reported p in every replicate (``rule.python.p``, ``rule.r.p``): p is covered by those
  checks with the coefficient's and the se's tests. (A fixed margin on the t statistic would not do:
  at t = 10 it would ask the se to match to 2 %; the t difference is reported, not judged.)
  ``disagree`` when the aggregate coefficient or se is shown beyond ``coef_tolerance_se``; ``agree``
  when every test shows equivalence (an intersection-union test: its size stays at 5 %);
  ``inconclusive`` otherwise (with the number of replicates that would decide). How often the
  single-draw rule passed is kept (``single_draw``): it measures that rule's false alarms.
* A replicate that ended in an error, or that lacks an engine's estimate which other replicates
  have, makes the spec ``error``; the statistics of the others are kept.
* Replicates that all reported the same numbers (learners without a random stream under ``vary:
  seeds``: nothing varied reached the estimates) are one draw: judged as one, by replicate 1's
  single-draw verdict (``disagree`` if any replicate's was), with no equivalence test and no power
  (``identical`` in the block).
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from harness.engines.result import ENGINES
from harness.verdict.checks import VerdictError, required_coverage
from harness.verdict.replicate_records import (
    STRUCTURAL_LAYERS,
    identical,
    merged_checks,
    missing_somewhere,
    non_finite,
    propensity_tails,
    single_draw_rate,
    structural_failures,
)
from harness.verdict.replicate_records import estimates as replicate_estimates
from harness.verdict.replicate_stats import (
    INTERVAL_LEVEL,
    TAIL_SE,
    engine_summary,
    equivalence,
    mcnemar,
    mean_interval,
    paired_ks,
    resampled_rates,
)

__all__ = ["STRUCTURAL_LAYERS", "assert_replicates_covered", "merged_checks", "replicate_outcome", "with_replicates"]

PERMUTATIONS = 9999


def _check(
    name: str, value: float, limit: float, ok: bool, metric: str, quantity: Optional[str] = None, rep: Optional[int] = None
) -> dict:
    return {
        "name": name,
        "layer": "replicates",
        "quantity": quantity,
        "rep": rep,
        "value": value,
        "limit": limit,
        "ok": ok,
        "metric": metric,
    }


def _floor(vary: str, py: dict, learner_free: dict, scale: float, coef_test: dict) -> dict:
    """The within-engine noise of a single run, against which the Python − R difference is read."""
    if vary not in ("seeds", "seeds+folds"):
        return {"measured": False, "why": f"vary: {vary} changes more than the random streams; vary: seeds measures the floor"}
    sd_py = float(np.std(py["coef"], ddof=1) / scale)
    sd_r = float(np.std(learner_free["coef"], ddof=1) / scale)
    floor = float(np.hypot(sd_py, sd_r))
    low, high = coef_test["ci95"]
    exceeds = bool(low is not None and (low > 0 or high < 0))
    return {
        "measured": True,
        "noise": "seeds" if vary == "seeds" else "seeds and folds (folds shared by both engines: an upper bound)",
        "python_sd_se": sd_py,
        "r_sd_se": sd_r,
        "floor_se": floor,
        "mean_diff_over_floor": abs(coef_test["mean"]) / floor if floor > 0 else None,
        "exceeds": exceeds,
        "p_zero": coef_test["p_zero"],
    }


def _combine(coef: str, se: str) -> str:
    if "disagree" in (coef, se):
        return "disagree"
    return "agree" if coef == se == "agree" else "inconclusive"


def replicate_outcome(
    results: list[dict],
    tier: str,
    margin: float,
    vary: str,
    truth: Optional[float],
    seed: int,
) -> tuple[str, dict, list[dict]]:
    """The status, the ``replicates`` block and the checks of a replicated spec.

    Parameters
    ----------
    results : list of dict
        One ``run_one`` result per replicate, replicate 1 first.
    tier : str
        ``exact`` or ``statistical``.
    margin : float
        ``coef_tolerance_se``.
    vary : str
        What the replicates vary (``data``, ``seeds``, ``folds``, ``seeds+folds``).
    truth : float or None
        The true effect.
    seed : int
        The spec's seed (the permutation test's random stream).
    """
    n = len(results)
    block, estimates = _collected(results, vary)
    py, r, learner_free = estimates["python"], estimates["r"], estimates["learner_free"]
    if block["errors"]:
        first = block["errors"][0]
        reason = f"{len(block['errors'])} of {n} replicates failed; replicate {first['replicate']}: {first['error']}"
        return _ended(block, "error", reason)
    ran = {name: values for name, values in (("python", py), ("r", r)) if values is not None}
    scale, centre = _spread(block, ran, py, learner_free, truth, vary) if ran else (None, None)
    if py is None or r is None or learner_free is None:
        # No replicate has that engine (_missing_somewhere made a partial absence an error).
        return _ended(block, results[0].get("status") or "not-run", "one engine did not run: nothing to compare")
    if n > 1 and identical(results, scale):
        # Nothing the replicates vary reached the estimates (learners without a random stream under
        # vary: seeds): n copies of one draw would give a zero sd and a test with false power.
        statuses = {r.get("status") for r in results}
        block["identical"] = {"draws": 1, "of": n}
        reason = (
            f"the {n} replicates (vary: {vary}) gave identical estimates in both engines: one draw, judged as one "
            f"(replicate 1's {tier}-tier checks); vary folds, seeds+folds or data for draws that differ"
        )
        return _ended(block, "disagree" if "disagree" in statuses else results[0].get("status") or "error", reason)
    coef_test, se_test = _measured(block, results, py, r, learner_free, (scale, centre), margin, vary, seed)
    structural = block["structural_failures"]
    checks = [_check("replicates.structure", len(structural), 0, not structural, "structural check failures over all replicates")]
    if tier == "exact":
        status, reason = _exact_verdict(results, structural, checks)
    else:
        status, reason = _statistical_verdict(block, results, (py, learner_free), scale, margin, (coef_test, se_test), checks)
    block["verdict"] = status
    block["reason"] = reason
    return status, block, checks


def _ended(block: dict, status: str, reason: str) -> tuple[str, dict, list[dict]]:
    block["verdict"] = status  # judged before any test: no checks
    block["reason"] = reason
    return status, block, []


def _collected(results: list[dict], vary: str) -> tuple[dict, dict]:
    """The block's first keys (the replicates, their errors, each side's estimates) and the estimates."""
    block: dict = {"n": len(results), "vary": vary, "status": [r.get("status") for r in results]}
    errors = [{"replicate": i, "error": r.get("error")} for i, r in enumerate(results, 1) if r.get("status") == "error"]
    errors += [{"replicate": i, "error": "an engine returned a non-finite estimate"} for i in non_finite(results)]
    errors += missing_somewhere(results)
    block["errors"] = sorted(errors, key=lambda e: e["replicate"])
    estimates = {key: replicate_estimates(results, key) for key in (*ENGINES, "learner_free")}
    for key, values in estimates.items():
        block[key] = None if values is None else {"coef": values["coef"].tolist(), "se": values["se"].tolist()}
    return block, estimates


def _spread(block: dict, ran: dict, py, learner_free, truth: Optional[float], vary: str) -> tuple[float, float]:
    """The typical se and the pooled median coefficient, and each engine's summary over the replicates."""
    # The typical se: of the two sides the comparison pairs (Python, and R's predictions
    # through Python's code), or of the one engine that ran.
    ses = [py["se"], learner_free["se"]] if py is not None and learner_free is not None else [v["se"] for v in ran.values()]
    scale = float(np.median(np.mean(ses, axis=0)))
    centre = float(np.median(np.concatenate([v["coef"] for v in ran.values()])))
    block["scale_se"] = scale
    block["truth"] = truth
    block["engines"] = {
        name: engine_summary(values["coef"], values["ci"], scale, centre, truth, with_coverage=vary == "data")
        for name, values in ran.items()
    }
    return scale, centre


def _measured(block: dict, results, py, r, learner_free, spread, margin: float, vary: str, seed: int) -> tuple[dict, dict]:
    """Python − R over the replicates: equivalence of coef and se, distribution, tails, the noise floor,
    the one-draw labels, propensities and structural failures (into ``block``); the two tests."""
    (scale, centre), n = spread, len(results)
    coef_diff = (py["coef"] - learner_free["coef"]) / scale
    coef_test = equivalence(coef_diff, margin).as_dict()
    coef_test["resampled"] = resampled_rates(coef_diff, margin, seed=seed) if n > 2 else None
    se_test = equivalence((py["se"] - learner_free["se"]) / scale, margin).as_dict()
    block["mde_se"] = coef_test["mde"]
    block["coef"] = coef_test
    block["se"] = se_test
    distance, p_value = paired_ks(py["coef"], r["coef"], seed=seed, n_perm=PERMUTATIONS)
    block["distribution"] = {
        "test": "paired permutation Kolmogorov-Smirnov",
        "distance": distance,
        "p": p_value,
        "permutations": PERMUTATIONS,
    }
    tail_py = np.abs(py["coef"] - centre) > TAIL_SE * scale
    tail_r = np.abs(r["coef"] - centre) > TAIL_SE * scale
    python_only, r_only = int(np.sum(tail_py & ~tail_r)), int(np.sum(tail_r & ~tail_py))
    block["tails"] = {
        "threshold_se": TAIL_SE,
        "centre": centre,
        "python": int(tail_py.sum()),
        "r": int(tail_r.sum()),
        "python_only": python_only,
        "r_only": r_only,
        "p_mcnemar": mcnemar(python_only, r_only),
    }
    block["floor"] = _floor(vary, py, learner_free, scale, coef_test) if n > 1 else {"measured": False, "why": "one replicate"}
    block["single_draw"] = single_draw_rate(results)
    block["propensity"] = propensity_tails(results)
    block["structural_failures"] = structural_failures(results)
    return coef_test, se_test


def _exact_verdict(results: list[dict], structural: list[dict], checks: list[dict]) -> tuple[str, str]:
    """Exact tier: every replicate agrees (or is explained) by its own checks."""
    n = len(results)
    not_agree = sum(1 for res in results if res.get("status") not in ("agree", "explained"))
    checks.append(_check("replicates.every_replicate_agrees", not_agree, 0, not_agree == 0, "replicates not agree or explained"))
    statuses = {r.get("status") for r in results}
    status = "disagree" if structural or "disagree" in statuses else "explained" if "explained" in statuses else "agree"
    return status, f"exact tier: {n - not_agree} of {n} replicates agree"


def _statistical_verdict(block: dict, results, sides, scale: float, margin: float, tests, checks: list[dict]) -> tuple[str, str]:
    """Statistical tier: Python − R (through Python's code on R's predictions) shown equivalent to 0
    within ``margin`` for coef and se, of the aggregate and of every repetition."""
    (py, learner_free), (coef_test, se_test) = sides, tests
    structural = block["structural_failures"]
    block["t"] = _t_difference(py, learner_free)
    tests = [("coef", None, coef_test), ("se", None, se_test)]
    rep_tests = _repetition_tests(py, learner_free, scale, margin)
    if rep_tests is not None:
        block["repetitions"] = rep_tests
        tests += [(q, entry["rep"], entry[q]) for entry in rep_tests for q in ("coef", "se")]
    for quantity, rep, test in tests:
        low, high = test["ci90"]
        widest = max(abs(low), abs(high)) if low is not None else float("nan")
        where = "" if rep is None else f".rep{rep}"
        metric = "largest |bound| of the 90 % interval of the mean difference, in se"
        name, ok = f"replicates.{quantity}{where}.equivalence", test["verdict"] == "agree"
        checks.append(_check(name, widest, margin, ok, metric, quantity, rep))
    status = "disagree" if structural else _combine(coef_test["verdict"], se_test["verdict"])
    unmatched = _n_rep(py) > 1 and rep_tests is None
    if status == "agree" and (unmatched or not all(c["ok"] for c in checks)):
        status = "inconclusive"  # the aggregate agrees; a repetition did not show it
    if status == "inconclusive" and coef_test["verdict"] == se_test["verdict"] == "agree":
        missing = "the repetitions (results without per-repetition numbers: refit with --no-cache)"
        reason = f"Python − R coef and se shown equivalent, but not {missing if unmatched else _not_shown(checks)}"
    else:
        reason = _reason(status, coef_test, se_test, margin, structural)
    if status == "agree":
        assert_replicates_covered(checks + merged_checks(results, ("rule",)), _n_rep(py), results[0].get("id") or "")
    return status, reason


def _repetition_tests(py: dict, learner_free: dict, scale: float, margin: float) -> Optional[list[dict]]:
    """With ``n_rep`` > 1: the equivalence tests of every repetition's coefficient and se."""
    if _n_rep(py) < 2 or "coef_reps" not in learner_free:
        return None
    out = []
    for j in range(py["coef_reps"].shape[1]):
        entry: dict = {"rep": j + 1}
        for q in ("coef", "se"):
            entry[q] = equivalence((py[f"{q}_reps"][:, j] - learner_free[f"{q}_reps"][:, j]) / scale, margin).as_dict()
        out.append(entry)
    return out


def _t_difference(py: dict, learner_free: dict) -> dict:
    """Python's t statistic minus R's (through Python's code on R's predictions): reported, not judged."""
    mean, sd, low, high = mean_interval(py["coef"] / py["se"] - learner_free["coef"] / learner_free["se"], INTERVAL_LEVEL)
    finite = [v if np.isfinite(v) else None for v in (mean, sd, low, high)]
    return {"mean": finite[0], "sd": finite[1], "ci95": finite[2:]}


def _n_rep(values: dict) -> int:
    return int(values["coef_reps"].shape[1]) if "coef_reps" in values else 1


def _not_shown(checks: list[dict]) -> str:
    return ", ".join(c["name"] for c in checks if not c["ok"])


def assert_replicates_covered(checks: list[dict], n_rep: int, spec_id: str) -> None:
    """Raise :class:`~harness.verdict.checks.VerdictError` when a statistical-tier replicated ``agree`` leaves a
    quantity of :func:`~harness.verdict.checks.required_coverage` without a test.

    ``checks``: the replicate-layer tests and the merged rule-layer checks. With one repetition the
    repetition's numbers are the aggregate's in both packages; the aggregate p is covered by the
    aggregate coefficient's and se's tests together with both packages' rule checks of p."""
    covered = {(c["quantity"], c["rep"]) for c in checks if c.get("layer") == "replicates" and c.get("quantity")}
    if n_rep == 1:
        covered |= {(q, 1) for q, rep in covered if rep is None and q in ("coef", "se")}
    rule_p = {c["name"] for c in checks if c.get("layer") == "rule" and c.get("quantity") == "p"}
    if {("coef", None), ("se", None)} <= covered and {"rule.python.p", "rule.r.p"} <= rule_p:
        covered.add(("p", None))
    missing = required_coverage("statistical", n_rep) - covered
    if missing:
        where = {rep: "the aggregate" if rep is None else f"repetition {rep}" for _, rep in missing}
        listed = ", ".join(f"{q} of {where[rep]}" for q, rep in sorted(missing, key=str))
        raise VerdictError(f"spec '{spec_id}': no replicate test for {listed}; the tool cannot judge it")


def _reason(status: str, coef: dict, se: dict, margin: float, structural: list[dict]) -> str:
    if structural:
        first = structural[0]
        return f"replicate {first['replicate']}: {first['check']} failed"

    def interval(test: dict) -> str:
        low, high = test["ci90"]
        return f"{test['mean']:+.3f} se (90 % CI {low:+.3f} to {high:+.3f})"

    text = f"Python − R coef {interval(coef)}, se {interval(se)}; margin ±{margin:g} se"
    if status == "inconclusive":
        needs = [t["n_to_decide"] for t in (coef, se) if t["verdict"] == "inconclusive"]
        decide = (
            "no practical number of replicates would decide" if None in needs else f"about {max(needs)} replicates would decide"
        )
        text += f"; {decide}"
    return text


def with_replicates(record: dict, results: list[dict], replication, spec) -> dict:
    """A spec's record (built from replicate 1) with the verdict over all its replicates.

    The record's estimates, diff and nuisance entries stay those of replicate 1, the spec as
    written; ``status`` and ``checks`` become the replicates': for the exact tier every check name
    once, at its worst replicate; for the statistical tier the structural checks that way, the
    single-draw ones summarised in ``replicates.single_draw``.
    """
    status, block, checks = replicate_outcome(
        results, record.get("tier") or "statistical", spec.coef_tolerance_se, replication.vary, record.get("truth"), spec.seed
    )
    block["seeds"] = replication.seeds()
    layers = None if record.get("tier") == "exact" else STRUCTURAL_LAYERS
    timings = [r.get("timings") or {} for r in results]
    out = {**record, "status": status, "replicates": block}
    if status == "error":
        out["error"] = block["reason"]  # which replicates failed, and the first one's error
    if block.get("identical"):
        out["checks"] = merged_checks(results, None)  # one draw: its single-draw checks (each at its worst)
    elif status not in ("not-run", "r-not-run", "python-not-run"):
        out["checks"] = merged_checks(results, layers) + checks
    out["timings"] = {
        **(record.get("timings") or {}),
        "replicates": {
            "python_s": round(sum(t.get("python_s", 0.0) for t in timings), 3),
            "r_s": round(sum(t.get("r_s", 0.0) for t in timings), 3),
            "cached": sum(1 for t in timings if t.get("cached")),
        },
    }
    return out
