"""A plain ``doubleml`` script: fits the specs that ``bench/overhead/run_bench.py`` exported (design matrices
as CSV, folds as JSON) with the same learners, and nothing else. It is the Python half of the
"bare scripts" the tool's wall time is compared with.

    .venv/bin/python bench/common/bare_python.py MANIFEST_JSON OUT_JSON

The only project import is the learner registry (harness.language.learners), so both sides build exactly
the same scikit-learn estimators; it imports nothing heavier than numpy.
"""

from __future__ import annotations

import time

START = time.perf_counter()

import json  # noqa: E402  (the clock starts before the imports: they are part of the cost)
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import doubleml as dml  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from doubleml.utils import PSProcessorConfig  # noqa: E402

from harness.language.learners import resolve_learner  # noqa: E402

IMPORTED = time.perf_counter()


def smpls_of(entry: dict[str, Any]) -> tuple[list, Any]:
    """(train, test) index arrays per repetition and fold, and the cluster folds if any."""
    smpls = [
        [
            (np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64))
            for tr, te in zip(rep["train"], rep["test"], strict=True)
        ]
        for rep in entry["smpls"]
    ]
    cluster = entry.get("smpls_cluster")
    if cluster is None:
        return smpls, None
    smpls_cluster = [
        [
            ([np.asarray(v, dtype=float) for v in tr], [np.asarray(v, dtype=float) for v in te])
            for tr, te in zip(rep["train"], rep["test"], strict=True)
        ]
        for rep in cluster
    ]
    return smpls, smpls_cluster


def fit(spec: dict[str, Any], export: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    frame = pd.read_csv(export / spec["csv"])
    # "folds": null lets doubleml draw its own folds, as a plain script would (bench/growth/growth.py).
    folds = json.loads((export / spec["folds"]).read_text(encoding="utf-8")) if spec.get("folds") else None
    t1 = time.perf_counter()
    data = dml.DoubleMLData(
        frame, y_col=spec["y"], d_cols=spec["d"], x_cols=spec["x"], z_cols=spec["z"] or None, cluster_cols=spec["cluster"] or None
    )
    learners = {n: resolve_learner(choice, n, spec["model"]).python_estimator() for n, choice in spec["learners"].items()}
    common = {"n_folds": spec["n_folds"], "n_rep": spec["n_rep"], "score": spec["score"], "draw_sample_splitting": folds is None}
    model_name = spec["model"]
    if model_name in ("irm", "iivm"):
        common["ps_processor_config"] = PSProcessorConfig(clipping_threshold=spec["trimming_threshold"])
    if model_name == "iivm":
        common["subgroups"] = spec["subgroups"] or {"always_takers": True, "never_takers": True}
    cls = {"plr": dml.DoubleMLPLR, "pliv": dml.DoubleMLPLIV, "irm": dml.DoubleMLIRM, "iivm": dml.DoubleMLIIVM}[model_name]
    np.random.seed(spec["seed"])  # doubleml draws folds from numpy's global generator
    model = cls(data, **learners, **common)
    if folds is not None:
        smpls, smpls_cluster = smpls_of(folds)
        if smpls_cluster is None:
            model.set_sample_splitting(smpls)
        else:
            model.set_sample_splitting(smpls, smpls_cluster)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # propensity clipping and deprecation notices
        model.fit(store_predictions=True)
    t2 = time.perf_counter()
    return {"id": spec["id"], "coef": float(model.coef[0]), "se": float(model.se[0]), "read_s": t1 - t0, "fit_s": t2 - t1}


def main(manifest_path: Path, out: Path) -> None:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    results = [fit(spec, manifest_path.parent) for spec in manifest["specs"]]
    out.write_text(
        json.dumps({"import_s": IMPORTED - START, "total_s": time.perf_counter() - START, "specs": results}, indent=1),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
