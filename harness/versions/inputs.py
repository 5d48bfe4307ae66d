"""What every release is fitted on, written once per run: the tool's design tables and folds.

Python releases read a job (JSON) and one ``.npz`` per spec (``py_fit.py``); R releases read the
pickled prepared specs (``r_worker.py``). Both come from the same ``PreparedSpec`` objects, built
once by the design room, so every combination sees the same rows, columns and folds.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, Optional

import numpy as np

from harness.design.splits import sample_splits
from harness.language.learners import resolve_learner
from harness.running.fit import PreparedSpec

__all__ = ["learner_description", "unsupported", "write_inputs"]

MODELS = ("plr", "pliv", "irm", "iivm")
# What a release environment holds besides doubleml: scikit-learn and LightGBM (the locks).
RELEASE_LEARNER_MODULES = ("sklearn.", "lightgbm.")


def learner_description(estimator: Any) -> Optional[dict]:
    """A scikit-learn (or LightGBM) estimator as module, class and the parameters the tool set (those
    that differ from the class's defaults); None for an estimator a release environment lacks."""
    cls = type(estimator)
    if not cls.__module__.startswith(RELEASE_LEARNER_MODULES):
        return None
    defaults = cls().get_params(deep=False)
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in defaults and _same(defaults[key], value):
            continue
        params[key] = value.item() if isinstance(value, np.generic) else value
    # The public module (sklearn.linear_model), not the private one a class lives in today.
    return {"module": ".".join(cls.__module__.split(".")[:2]), "class": cls.__name__, "params": params}


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False


def unsupported(prepared: PreparedSpec) -> Optional[str]:
    """Why `versions` cannot fit this spec in a release environment, or None."""
    spec, design = prepared.spec, prepared.design
    if spec.model not in MODELS:
        return f"model {spec.model}: versions fits {', '.join(MODELS)}"
    if spec.model == "pliv" and spec.partial_name != "X":
        return f"pliv partial {spec.partial_name}: versions fits partial X only"
    if design.treatments:
        return "several treatments: versions fits one"
    if spec.has_inference:
        return "bootstrap, joint or p_adjust: versions compares the plain estimates only"
    if spec.tune is not None or spec.fold_params:
        # A release's job gives each learner one setting; a tuned or per-fold fit would be a plain one there.
        return "tune or fold_params: versions fits each learner with one setting"
    for nuisance in spec.nuisances:
        learner = resolve_learner(spec.learner_for(nuisance), nuisance, spec.model)
        if learner_description(learner.python_estimator()) is None:
            return f"learner {learner.name} ({nuisance}) is not a scikit-learn or LightGBM estimator a release environment holds"
    return None


def _job(prepared: PreparedSpec, name: str) -> dict:
    spec, design, folds = prepared.spec, prepared.design, prepared.folds
    learners = {
        n: learner_description(resolve_learner(spec.learner_for(n), n, spec.model).python_estimator()) for n in spec.nuisances
    }
    return {
        "id": spec.id,
        "arrays": name,
        "columns": list(design.frame.columns),
        "y": design.y,
        "d": design.d,
        "x": list(design.x),
        "z": list(design.z),
        "cluster": list(design.cluster),
        "model": spec.model,
        "score": spec.score_name,
        "n_folds": folds.n_folds_per_cluster or folds.n_folds,
        "n_folds_total": folds.n_folds,
        "n_rep": folds.n_rep,
        "trimming_threshold": spec.trimming_threshold,
        "learners": learners,
    }


def _arrays(prepared: PreparedSpec) -> dict[str, np.ndarray]:
    splits = sample_splits(prepared.design, prepared.folds)
    out = {"frame": prepared.design.frame.to_numpy(dtype=float)}
    for r, rep in enumerate(splits.smpls):
        for k, (train, test) in enumerate(rep):
            out[f"train_{r}_{k}"], out[f"test_{r}_{k}"] = train, test
    for r, rep in enumerate(splits.smpls_cluster or []):
        for k, (train, test) in enumerate(rep):
            for v, (tr, te) in enumerate(zip(train, test, strict=True)):
                out[f"ctrain_{r}_{k}_{v}"], out[f"ctest_{r}_{k}_{v}"] = tr, te
    return out


def write_inputs(prepared: list[PreparedSpec], folder: Path) -> tuple[Path, Path]:
    """The Python job file and the R workers' pickle for ``prepared`` (all supported specs)."""
    jobs = []
    for i, item in enumerate(prepared):
        name = f"spec-{i}.npz"
        np.savez(folder / name, **_arrays(item))
        jobs.append(_job(item, name))
    job_path = folder / "python-job.json"
    job_path.write_text(json.dumps({"folder": str(folder), "specs": jobs}))
    r_path = folder / "r-job.pickle"
    with open(r_path, "wb") as handle:
        pickle.dump(prepared, handle)
    return job_path, r_path
