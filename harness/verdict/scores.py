"""Scores the tool computes itself, for the models whose Python fit cannot take given predictions.

doubleml 0.11.4 fits SSM (``_external_predictions_implemented = False``) and PLIV's partialling-out-Z
and -XZ variants (``_nuisance_est_partial_z/xz`` never read ``external_predictions``) only with its
own learners. For them the learner-free layer is this module: the packages' common score, written
out from both sources (doubleml ``plm/pliv.py``, ``irm/ssm.py``; DoubleML for R
``R/double_ml_pliv.R``, ``R/double_ml_ssm.R``), evaluated on given predictions and solved and
aggregated as doubleml does. The comparison checks that it reproduces Python's numbers from
Python's predictions and R's numbers from R's predictions.
"""

from __future__ import annotations

import numpy as np

from harness.design.shared_draws import bootstrap_weights
from harness.design.table import Design, Folds
from harness.engines.result import Bootstrap, EngineResult, Inference
from harness.language.spec import Spec
from harness.verdict.formulas import python_aggregate, score_coef, score_se
from harness.verdict.multiplicity import p_adjust_rule, python_joint_ci

__all__ = ["formula_fit", "needs_written_score", "score_elements"]


def needs_written_score(spec: Spec) -> bool:
    """Whether doubleml 0.11.4 cannot fit this model on given predictions (SSM; PLIV partial Z, XZ)."""
    return spec.model == "ssm" or (spec.model == "pliv" and spec.partial_name != "X")


def score_elements(spec: Spec, design: Design, predictions: dict[str, np.ndarray], rep: int) -> tuple[np.ndarray, np.ndarray]:
    """``(psi_a, psi_b)`` of one repetition; ``design`` is the single-treatment view."""
    frame = design.frame
    y = frame[design.y].to_numpy()
    d = frame[design.d].to_numpy()
    if spec.model == "pliv" and spec.partial_name == "Z":
        r_hat = predictions["ml_r"][:, rep]
        return -r_hat * d, r_hat * y
    if spec.model == "pliv" and spec.partial_name == "XZ":
        l_hat, m_hat, m_tilde = (predictions[n][:, rep] for n in ("ml_l", "ml_m", "ml_r"))
        return -(d - m_tilde) * (m_hat - m_tilde), (m_hat - m_tilde) * (y - l_hat)
    if spec.model == "ssm":
        s = frame[design.s].to_numpy()
        pi = predictions["ml_pi"][:, rep]
        m = np.clip(predictions["ml_m"][:, rep], spec.trimming_threshold, 1 - spec.trimming_threshold)
        g0, g1 = predictions["ml_g_d0"][:, rep], predictions["ml_g_d1"][:, rep]
        treated = d * s * (y - g1) / (m * pi)
        control = (1 - d) * s * (y - g0) / ((1 - m) * pi)
        if spec.normalize_ipw:  # each arm's weights scaled to average one over the arm, as both packages write it
            treated = np.sum(d) / np.sum(d * s / (pi * m)) * treated
            control = np.sum(1 - d) / np.sum((1 - d) * s / (pi * (1 - m))) * control
        return -np.ones_like(y), (treated + g1) - (control + g0)
    raise ValueError(f"no written-out score for {spec.model} ({spec.score_name}, partial {spec.partial_name})")


def _one_treatment(spec: Spec, design: Design, folds: Folds, predictions: dict[str, np.ndarray]):
    coefs, ses, scaled = [], [], []
    for rep in range(folds.n_rep):
        psi_a, psi_b = score_elements(spec, design, predictions, rep)
        theta = score_coef(psi_a, psi_b, folds, rep)
        psi = psi_a * theta + psi_b
        se = score_se(psi, psi_a, design, folds, rep)
        coefs.append(theta)
        ses.append(se)
        # doubleml's framework bootstraps psi / mean(psi_a) / (n se) (double_ml.py, construct_framework).
        scaled.append(psi / np.mean(psi_a) / (design.n_obs * se))
    coef_reps, se_reps = np.array(coefs), np.array(ses)
    agg = python_aggregate(coef_reps, se_reps)
    result = EngineResult(agg.coef, agg.se, agg.t, agg.p, agg.ci, coef_reps, se_reps, dict(predictions), 0.0, folds.labels.copy())
    return result, np.column_stack(scaled)


def formula_fit(spec: Spec, design: Design, folds: Folds, predictions_by_treatment: list[dict[str, np.ndarray]]) -> EngineResult:
    """The written-out score on given predictions (one dict per treatment), solved, aggregated and,
    when the spec asks, bootstrapped with the tool's weights by doubleml's rules."""
    per_treatment, scaled = [], []
    for d, predictions in zip(design.d_cols, predictions_by_treatment, strict=True):
        result, psi = _one_treatment(spec, design.for_treatment(d) if design.treatments else design, folds, predictions)
        per_treatment.append(result)
        scaled.append(psi)
    inference = _inference(spec, design, folds, per_treatment, scaled) if spec.has_inference else None
    first = per_treatment[0]
    if len(per_treatment) == 1 and inference is None:
        return first
    return EngineResult(
        **{f: getattr(first, f) for f in ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps", "predictions")},
        folds=first.folds,
        treatments=tuple(per_treatment) if len(per_treatment) > 1 else (),
        inference=inference,
    )


def _inference(
    spec: Spec, design: Design, folds: Folds, per_treatment: list[EngineResult], scaled: list[np.ndarray]
) -> Inference:
    coef_reps = np.array([t.coef_reps for t in per_treatment])
    se_reps = np.array([t.se_reps for t in per_treatment])
    boot_t = None
    if spec.bootstrap is not None:
        b = spec.bootstrap
        draws = []
        for rep in range(folds.n_rep):
            weights = bootstrap_weights(b.method, b.n_rep_boot, design.n_obs, spec.seed, rep)
            draws.append(weights @ np.column_stack([s[:, rep] for s in scaled]))
        boot_t = np.stack(draws, axis=2)
    joint_ci = python_joint_ci(coef_reps, se_reps, boot_t) if spec.joint else None
    p_adjusted = None
    if spec.p_adjust:
        coef = np.array([t.coef for t in per_treatment])
        se = np.array([t.se for t in per_treatment])
        p_adjusted = p_adjust_rule("python", spec.p_adjust, coef_reps, se_reps, coef, se, boot_t)
    return Inference(shared=Bootstrap(boot_t=boot_t, joint_ci=joint_ci, p_adjusted=p_adjusted))
