"""One spec through the engines and the comparison: the unit of work a worker process runs.

``run_one`` never raises for a failing fit (the spec becomes an ``error`` result); only an
``EnvironmentProblem`` (R or an R package unusable) ends the run. Its result carries the engines'
outputs under ``engine_outputs`` for the result cache (the runner takes them off).
:func:`judge_stored` judges outputs served by the cache through the same code as a fit.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import traceback
from dataclasses import dataclass
from typing import Optional

import numpy as np

from harness.design.splits import SampleSplits
from harness.design.table import Design, Folds
from harness.engines.result import EngineResult, Inference
from harness.errors import EnvironmentProblem
from harness.language.spec import Spec

__all__ = [
    "PreparedSpec",
    "error_line",
    "failed_result",
    "judge_stored",
    "python_versions",
    "run_one",
    "warm_up",
    "worker_versions",
]


@dataclass(frozen=True)
class PreparedSpec:
    """A spec with its design table and folds, ready to fit."""

    spec: Spec
    design: Design
    folds: Folds
    # A fitted model's own numbers (harness.compare): the Python side, judged as it is, not refitted.
    python_given: Optional[EngineResult] = None


def _blank_result(prepared: PreparedSpec) -> dict:
    # Imported here: the comparison (scipy) is the workers' business; the run's own process
    # stays light so that its start-up does not add to theirs.
    from harness.output.arrays import pair_digest
    from harness.verdict.compare import spec_tier

    tier, tolerance = spec_tier(prepared.spec)
    return {
        "id": prepared.spec.id,
        "tier": tier,
        "tolerance": tolerance,
        "n_obs": prepared.design.n_obs,
        "n_dropped_na": prepared.design.n_dropped_na,
        "python": None,
        "r": None,
        "diff": None,
        "checks": [],
        "learner_free": None,
        "nuisance": {},
        "error": None,
        "timings": {},
        # Which rows and folds this result was fitted on, by checksum: a cache entry carries no lists.
        "arrays": {"sha256": pair_digest(prepared.design.rows, prepared.folds.labels)},
    }


def failed_result(prepared: PreparedSpec, message: str) -> dict:
    """The result of a spec whose fit never returned (its worker died)."""
    return {**_blank_result(prepared), "status": "error", "error": message}


# doubleml's check that a regressor's predictions of a 0/1 variable are not labels (utils/_checks.py
# _check_binary_predictions); R's DoubleML has none, so only Python stops. Said in the spec's terms
# (until 2026-12-07 doubleml's words with the estimator's whole repr: an outside user's 1-tree forest).
_BINARY_PREDICTIONS = re.compile(
    r"For the binary variable (?P<variable>.+?), predictions obtained with the (?P<nuisance>\w+) learner (?P<learner>\w+)\("
)


def error_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or err.__class__.__name__
    binary = _BINARY_PREDICTIONS.match(text) if isinstance(err, ValueError) else None
    if binary is not None:
        nuisance, variable = binary["nuisance"], binary["variable"]
        return (
            f"Python: doubleml refuses {nuisance}'s predictions of the 0/1 '{variable}': every one is 0 or 1, as class "
            f"labels are ({binary['learner']}); give {nuisance} a learner whose predictions fall between (more trees, "
            "a larger min_samples_leaf: a classifier's probabilities from one unpruned tree are 0 or 1 too)"
        )
    return f"{err.__class__.__name__}: {text}" if not str(err).startswith(err.__class__.__name__) else text


def run_one(prepared: PreparedSpec, engines: tuple[str, ...]) -> dict:
    """Fit one spec in the requested engines and compare; never raises for a fit failure."""
    from harness.design.splits import sample_splits

    spec, design, folds = prepared.spec, prepared.design, prepared.folds
    result = _blank_result(prepared)
    py = r = None
    try:
        # R first: its fit then runs beside the smallest Python heap (no doubleml fit residue, no
        # Python copy of the folds), which is what bounds a worker's peak memory at a million rows.
        if "r" in engines:
            from harness.engines.r_engine import RError, fit_r

            try:
                r = fit_r(spec, design, folds)
            except RError as err:
                result["error"] = f"R: {err}"
            else:
                result["r"] = r.summary()
                result["timings"]["r_s"] = round(r.seconds, 3)
        # Imported after R's fit: a worker's first R fit runs without doubleml (harness.running.parallel).
        from harness.engines.python_engine import fit_python

        if "python" in engines:
            splits = sample_splits(design, folds)  # validated once for both Python fits (0.1 s at 1M rows)
            py = fit_python(spec, design, folds, splits=splits)
            if prepared.python_given is not None:
                py, result["python_given"] = given_checked(prepared.python_given, py)
            result["python"] = py.summary()
            result["timings"]["python_s"] = round(py.seconds, 3)
        _verdict(prepared, result, py, r, splits if py is not None else None)
    except EnvironmentProblem:
        raise
    except Exception as err:  # one spec's failure must not stop the others
        _failed(result, err)
    result["engine_outputs"] = {"python": py, "r": r}
    return result


# How far the tool's fit of a user's fitted model (same learners, same folds) may lie from the
# model's own numbers, relative to max(|coef|, se): a fold moved between fit and comparison moves
# them by about 1e-2 (measured on 300 rows), float noise from other thread counts by about 1e-15.
GIVEN_REPRODUCED = 1e-6


def given_checked(given: EngineResult, refit: EngineResult) -> tuple[EngineResult, dict]:
    """A user's fitted model as the Python side, with the folds its fit used shown by a refit.

    doubleml keeps no record of the folds a fit used (``draw_sample_splitting`` after ``fit`` leaves
    the old numbers beside new folds), so the tool fits the same learners on the folds the model
    holds (its fold check records them) and the user's numbers keep those folds only when the refit
    reproduces every repetition's coefficient and se; otherwise every row counts as in another fold
    and ``folds.python`` fails.
    """
    pairs = [(given, refit)] + list(zip(given.treatments, refit.treatments, strict=True))
    gap = 0.0
    for mine, tools in pairs:
        scale = np.maximum(np.abs(np.asarray(mine.coef_reps, dtype=float)), np.asarray(mine.se_reps, dtype=float))
        for q in ("coef_reps", "se_reps"):
            diff = np.abs(np.asarray(getattr(mine, q), dtype=float) - np.asarray(getattr(tools, q), dtype=float)) / scale
            gap = max(gap, float(np.nanmax(diff)) if np.isfinite(diff).all() else float("inf"))
    reproduced = gap <= GIVEN_REPRODUCED

    def held(mine: EngineResult, tools: EngineResult) -> EngineResult:
        # The refit's solver warnings: the same learners on the same folds warn as the user's fit did.
        return dataclasses.replace(
            mine, folds=tools.folds if reproduced else np.full_like(tools.folds, -1), warnings=tools.warnings
        )

    checked = held(given, refit)
    if given.inference is not None and refit.inference is not None:
        # The user's bootstrap draws are Python's own; the shared weights' run is the tool's refit.
        # Adjusted p-values that take no draws (Holm, Bonferroni) are the user's model's.
        own = given.inference.own if refit.inference.own is not None else None
        shared = refit.inference.shared
        if given.inference.shared.p_adjusted is not None:
            shared = dataclasses.replace(shared, p_adjusted=given.inference.shared.p_adjusted)
        checked = dataclasses.replace(checked, inference=Inference(shared=shared, own=own))
    if given.treatments:
        checked = dataclasses.replace(
            checked, treatments=tuple(held(m, t) for m, t in zip(given.treatments, refit.treatments, strict=True))
        )
    return checked, {"reproduced": reproduced, "gap": gap, "limit": GIVEN_REPRODUCED}


def judge_stored(prepared: PreparedSpec, outputs: dict[str, Optional[EngineResult]], timings: dict) -> dict:
    """The result of engine outputs served by the cache, judged by this run's comparison code
    exactly as :func:`run_one` judges a fit's (the same function, on the same inputs)."""
    from threadpoolctl import threadpool_limits

    result = _blank_result(prepared)
    result["timings"] = dict(timings)
    py, r = outputs.get("python"), outputs.get("r")
    try:
        result["python"] = None if py is None else py.summary()
        result["r"] = None if r is None else r.summary()
        # One thread, as in a worker: the learner-free fit then gives the same bits as there.
        with threadpool_limits(limits=1):
            _verdict(prepared, result, py, r, None)
    except EnvironmentProblem:
        raise
    except Exception as err:
        _failed(result, err)
    return result


def _verdict(
    prepared: PreparedSpec, result: dict, py: Optional[EngineResult], r: Optional[EngineResult], splits: Optional[SampleSplits]
) -> None:
    """The status and checks of a result from both engines' outputs (``not-run`` without both)."""
    if py is not None and r is not None:
        from harness.design.splits import sample_splits
        from harness.verdict.compare_extended import judge

        spec, design, folds = prepared.spec, prepared.design, prepared.folds
        splits = splits if splits is not None else sample_splits(design, folds)
        learner_free = _learner_free(spec, design, folds, r, splits)
        result.update(judge(spec, design, folds, py, r, learner_free).as_dict())
        if spec.tune is not None:
            from harness.verdict.tuning import tuning_summary

            result["tuning"] = tuning_summary(spec, py, r)
    elif result["error"]:
        result["status"] = "error"
    else:
        result["status"] = "not-run"


def _failed(result: dict, err: Exception) -> None:
    result["status"] = "error"
    result["error"] = error_line(err)
    if os.environ.get("DMLP_DEBUG"):
        traceback.print_exc()


def _learner_free(spec: Spec, design: Design, folds: Folds, r, splits: SampleSplits) -> EngineResult:
    """Python's score and inference code on R's predictions (:mod:`harness.verdict.learner_free`)."""
    from harness.verdict.learner_free import learner_free_fit

    return learner_free_fit(spec, design, folds, r, splits)


def warm_up(engines: tuple[str, ...]) -> None:
    """Start R, so the first fit does not wait for it. The Python engine is imported by the first
    Python fit, after R's (harness.running.parallel says why)."""
    worker_versions(engines)


def python_versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for dist in ("doubleml", "scikit-learn", "numpy", "pandas", "scipy", "lightgbm", "dml-parity"):
        try:
            out[dist] = version(dist)
        except Exception:
            out[dist] = None
    return out


def worker_versions(engines: tuple[str, ...]) -> Optional[dict]:
    """R's package versions where the fits run (starts that process's R); None without R."""
    if "r" not in engines:
        return None
    from harness.engines.r_engine import r_session

    return r_session().versions()
