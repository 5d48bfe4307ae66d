"""The verdict for what a single pointwise comparison does not cover: several treatments, joint
inference, and the models whose learner-free fit is the tool's written-out score.

Each treatment is judged by :func:`harness.verdict.compare.compare` on its single-treatment view of the
design (the other treatments as controls, as both packages fit it), so every check and rule of the
single-treatment verdict applies per treatment; with several treatments a check's name starts with
``<treatment>/`` and carries the treatment. The fold checks are the fit's, once. Joint inference
adds the checks of :mod:`harness.verdict.compare_joint`. The coverage rule (:func:`harness.verdict.checks.assert_covered`)
then covers every treatment and every joint quantity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from harness.design.table import Design, Folds
from harness.engines.result import EngineResult
from harness.language.spec import Spec
from harness.verdict.checks import LEARNER_FREE_LIMIT, Check, assert_covered
from harness.verdict.compare import Comparison, compare, rep_checks, spec_tier
from harness.verdict.compare_joint import JOINT_RULE_TEXT, joint_checks
from harness.verdict.scores import formula_fit, needs_written_score

__all__ = ["ExtendedComparison", "compare_extended", "is_extended", "judge", "treatment_status"]


def is_extended(spec: Spec) -> bool:
    return spec.several_treatments or spec.has_inference or needs_written_score(spec)


def judge(
    spec: Spec, design: Design, folds: Folds, py: EngineResult, r: EngineResult, learner_free: EngineResult
) -> Comparison | ExtendedComparison:
    """The verdict of any spec: :func:`compare` for one treatment with pointwise inference and a
    model doubleml fits on given predictions, :func:`compare_extended` otherwise."""
    if is_extended(spec):
        return compare_extended(spec, design, folds, py, r, learner_free)
    return compare(spec, design, folds, py, r, learner_free)


@dataclass(frozen=True)
class ExtendedComparison:
    status: str
    tier: str
    tolerance: float
    checks: list[Check]
    per_treatment: list[tuple[Optional[str], Comparison]]
    joint: Optional[dict]
    explained_gap: Optional[dict]

    def as_dict(self) -> dict:
        # The first treatment's record, with the whole fit's status, checks and explanation.
        out = self.per_treatment[0][1].as_dict()
        out.update(status=self.status, tier=self.tier, tolerance=self.tolerance, checks=[c.as_dict() for c in self.checks])
        out.pop("explained_gap", None)
        if self.explained_gap is not None:
            out["explained_gap"] = self.explained_gap
        if len(self.per_treatment) > 1:
            out["treatments"] = [
                {
                    "d": d,
                    "status": treatment_status(self.checks, d, comparison.status == "explained" or bool(self.explained_gap)),
                    "diff": comparison.diff,
                    "learner_free": comparison.learner_free,
                    "nuisance": comparison.nuisance,
                    **({"explained_gap": comparison.explained_gap} if comparison.explained_gap else {}),
                }
                for d, comparison in self.per_treatment
            ]
        if self.joint is not None:
            out["joint"] = self.joint
        return out


def treatment_status(checks: list[dict] | list[Check], treatment: Optional[str], explained: bool) -> str:
    """One treatment's status: its own checks and the fit's (treatment None) decide."""

    def fields(c):
        return (c["treatment"] if "treatment" in c else None, c["ok"]) if isinstance(c, dict) else (c.treatment, c.ok)

    relevant = [ok for t, ok in map(fields, checks) if t is None or t == treatment]
    if not all(relevant):
        return "disagree"
    return "explained" if explained else "agree"


def _single(spec: Spec, d: str) -> Spec:
    """The spec as one treatment's pointwise comparison sees it."""
    return spec.model_copy(update={"d": d, "bootstrap": None, "joint": False, "p_adjust": None, "papers": {}})


def _written_score_checks(spec: Spec, design: Design, folds: Folds, py: EngineResult, treatments) -> list[Check]:
    """The written-out score on Python's own predictions reproduces Python's numbers, so that the
    learner-free layer (the same score on R's predictions) stands for Python's code."""
    own = formula_fit(spec.model_copy(update={"bootstrap": None, "joint": False, "p_adjust": None}), design, folds,
                      [t.predictions for t in py.per_treatment()])  # fmt: skip
    out = []
    for d, mine, theirs in zip(treatments, own.per_treatment(), py.per_treatment(), strict=True):
        # The verdict's own measures (harness.verdict.compare): a NaN on either side fails.
        checks = rep_checks("learner_free.python_score", "learner_free", (mine.coef_reps, mine.se_reps),
                             (theirs.coef_reps, theirs.se_reps), LEARNER_FREE_LIMIT)  # fmt: skip
        out += [c.for_treatment(d) if d else c for c in checks]
    return out


def compare_extended(
    spec: Spec, design: Design, folds: Folds, py: EngineResult, r: EngineResult, learner_free: EngineResult
) -> ExtendedComparison:
    """Judge every treatment, then the joint inference; raises
    :class:`~harness.verdict.checks.VerdictError` when a compared quantity is left without a check."""
    tier, tol = spec_tier(spec)
    names = list(design.d_cols)
    several = len(names) > 1
    checks: list[Check] = []
    per_treatment: list[tuple[Optional[str], Comparison]] = []
    triples = zip(py.per_treatment(), r.per_treatment(), learner_free.per_treatment(), strict=True)
    for i, (d, (py_d, r_d, lf_d)) in enumerate(zip(names, triples, strict=True)):
        view = design.for_treatment(d) if several else design
        comparison = compare(_single(spec, d), view, folds, py_d, r_d, lf_d)
        own = [c for c in comparison.checks if not (i > 0 and c.layer == "folds")]
        checks += [c.for_treatment(d) if several and c.layer != "folds" else c for c in own]
        per_treatment.append((d if several else None, comparison))
    if needs_written_score(spec):
        checks += _written_score_checks(spec, design, folds, py, names if several else [None])
    joint = None
    joint_gap = False
    if spec.has_inference:
        outcome = joint_checks(spec, design, tier, tol, py, r, learner_free)
        checks += outcome.checks
        joint, joint_gap = outcome.summary, outcome.explained
    assert_covered(
        checks,
        tier,
        folds.n_rep,
        spec.id,
        treatments=names if several else None,
        bootstrap=spec.bootstrap is not None,
        joint=spec.joint,
        p_adjust=spec.p_adjust,
    )
    texts = [t for _, c in per_treatment if c.explained_gap for t in c.explained_gap["rules"]]
    if joint_gap:
        texts.append(JOINT_RULE_TEXT)
    texts = list(dict.fromkeys(texts))
    explained_gap = {"rule": "; ".join(texts), "rules": texts} if texts else None
    if not all(c.ok for c in checks):
        status = "disagree"
    elif texts:
        status = "explained"
    else:
        status = "agree"
    if status == "disagree":
        explained_gap = None
    return ExtendedComparison(status, tier, tol, checks, per_treatment, joint, explained_gap)
