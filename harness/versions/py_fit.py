"""Fit specs with whatever doubleml is installed: the Python side of `dml-parity versions`.

Run by path with a release environment's python: ``python py_fit.py JOB.json OUT.json``. It imports
only numpy, pandas, scikit-learn and doubleml (never the tool, which a release environment does not
hold). The job, written by ``harness.versions.inputs``, names per spec the columns, the model, the
learners (scikit-learn class and the parameters the tool set) and an ``.npz`` holding the tool's
design table and folds; every release is fitted on those same numbers. The answer per spec: coef,
se, t, p, the 95 % CI, the per-repetition coef and se, or the error as one line.
"""

import inspect
import json
import sys
import warnings
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

PACKAGES = ("doubleml", "scikit-learn", "numpy", "pandas", "scipy", "lightgbm")


def _versions():
    out = {}
    for package in PACKAGES:
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = None
    return out


def _learner(description):
    cls = getattr(import_module(description["module"]), description["class"])
    return cls(**description["params"])


def _splits(arrays, n_rep, n_folds, n_cluster_vars):
    smpls = [[(arrays[f"train_{r}_{k}"], arrays[f"test_{r}_{k}"]) for k in range(n_folds)] for r in range(n_rep)]
    if not n_cluster_vars:
        return smpls, None
    clusters = [
        [
            (
                [arrays[f"ctrain_{r}_{k}_{v}"] for v in range(n_cluster_vars)],
                [arrays[f"ctest_{r}_{k}_{v}"] for v in range(n_cluster_vars)],
            )
            for k in range(n_folds)
        ]
        for r in range(n_rep)
    ]
    return smpls, clusters


def _data(dml, job, frame):
    common = dict(y_col=job["y"], d_cols=job["d"], x_cols=job["x"], z_cols=job["z"] or None)
    if not job["cluster"]:
        return dml.DoubleMLData(frame, **common)
    if "cluster_cols" in inspect.signature(dml.DoubleMLData.__init__).parameters:
        return dml.DoubleMLData(frame, cluster_cols=job["cluster"], **common)
    return dml.DoubleMLClusterData(frame, cluster_cols=job["cluster"], **common)


def _model(dml, job, data, learners):
    common = dict(n_folds=job["n_folds"], n_rep=job["n_rep"], score=job["score"], draw_sample_splitting=False)
    if job["model"] == "plr":
        return dml.DoubleMLPLR(data, **learners, **common)
    if job["model"] == "pliv":
        return dml.DoubleMLPLIV(data, **learners, **common)
    cls = dml.DoubleMLIRM if job["model"] == "irm" else dml.DoubleMLIIVM
    if "ps_processor_config" in inspect.signature(cls.__init__).parameters:
        from doubleml.utils import PSProcessorConfig

        clipping = {"ps_processor_config": PSProcessorConfig(clipping_threshold=job["trimming_threshold"])}
    else:  # before 0.11: the same clipping under its older name
        clipping = {"trimming_rule": "truncate", "trimming_threshold": job["trimming_threshold"]}
    return cls(data, **learners, **common, **clipping)


def fit(job, folder):
    import doubleml as dml

    arrays = np.load(f"{folder}/{job['arrays']}")
    frame = pd.DataFrame(arrays["frame"], columns=job["columns"])
    learners = {name: _learner(description) for name, description in job["learners"].items()}
    model = _model(dml, job, _data(dml, job, frame), learners)
    smpls, clusters = _splits(arrays, job["n_rep"], job["n_folds_total"], len(job["cluster"]))
    if clusters is None:
        model.set_sample_splitting(smpls)
    else:
        model.set_sample_splitting(smpls, clusters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(store_predictions=True)
    ci = model.confint(level=0.95).to_numpy()
    return {
        "status": "ok",
        "coef": float(model.coef[0]),
        "se": float(model.se[0]),
        "t": float(model.t_stat[0]),
        "p": float(model.pval[0]),
        "ci": [float(ci[0, 0]), float(ci[0, 1])],
        "coef_reps": [float(v) for v in np.asarray(model.all_coef)[0]],
        "se_reps": [float(v) for v in np.asarray(model.all_se)[0]],
    }


def main(job_path, out_path):
    with open(job_path) as handle:
        jobs = json.load(handle)
    folder = jobs["folder"]
    out = {"versions": _versions(), "specs": {}}
    for job in jobs["specs"]:
        try:
            out["specs"][job["id"]] = fit(job, folder)
        except Exception as err:  # one spec's failure is its result, not the run's end
            text = " ".join(str(err).split()) or err.__class__.__name__
            out["specs"][job["id"]] = {"status": "error", "error": f"{err.__class__.__name__}: {text}"}
    with open(out_path + ".part", "w") as handle:
        json.dump(out, handle)
    import os

    os.replace(out_path + ".part", out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
