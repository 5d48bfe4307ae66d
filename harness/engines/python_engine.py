"""Python engine: the design and folds through ``doubleml``."""

from __future__ import annotations

import time
import warnings
from typing import Optional

import numpy as np

from harness.design import Design, Folds
from harness.engines.result import EngineResult
from harness.learners import resolve_learner
from harness.spec import Spec

__all__ = ["fit_python"]


def _dml_data(design: Design):
    import doubleml as dml

    return dml.DoubleMLData(
        design.frame,
        y_col=design.y,
        d_cols=design.d,
        x_cols=list(design.x),
        z_cols=list(design.z) or None,
        cluster_cols=list(design.cluster) or None,
    )


def _model(spec: Spec, design: Design, folds: Folds):
    import doubleml as dml
    from doubleml.utils import PSProcessorConfig

    data = _dml_data(design)
    learners = {n: resolve_learner(spec.learner_for(n), n, spec.model).python_estimator() for n in spec.nuisances}
    common = {
        "n_folds": folds.n_folds_per_cluster or folds.n_folds,
        "n_rep": folds.n_rep,
        "score": spec.score_name,
        "draw_sample_splitting": False,
    }
    if spec.model == "plr":
        model = dml.DoubleMLPLR(data, **learners, **common)
    elif spec.model == "pliv":
        model = dml.DoubleMLPLIV(data, **learners, **common)
    elif spec.model == "irm":
        model = dml.DoubleMLIRM(
            data, **learners, **common, ps_processor_config=PSProcessorConfig(clipping_threshold=spec.trimming_threshold)
        )
    else:
        subgroups = spec.subgroups or {"always_takers": True, "never_takers": True}
        model = dml.DoubleMLIIVM(
            data,
            **learners,
            **common,
            subgroups=subgroups,
            ps_processor_config=PSProcessorConfig(clipping_threshold=spec.trimming_threshold),
        )
    codes = design.frame[list(design.cluster)].to_numpy().astype(np.int64) if design.cluster else None
    if design.cluster:
        model.set_sample_splitting(folds.smpls(codes), folds.smpls_cluster())
    else:
        model.set_sample_splitting(folds.smpls())
    return model


def fit_python(
    spec: Spec,
    design: Design,
    folds: Folds,
    external_predictions: Optional[dict[str, np.ndarray]] = None,
) -> EngineResult:
    """Fit ``spec`` with ``doubleml`` on the shared design and folds.

    Parameters
    ----------
    external_predictions : dict, optional
        Nuisance predictions ``(n_obs, n_rep)`` to use instead of fitting learners (the
        learner-free comparison feeds R's predictions here).
    """
    model = _model(spec, design, folds)
    start = time.perf_counter()
    with warnings.catch_warnings():
        # doubleml warns about propensity clipping and deprecated names; the report carries the facts.
        warnings.simplefilter("ignore")
        if external_predictions is not None:
            model.fit(external_predictions={design.d: external_predictions})
        else:
            model.fit(store_predictions=True)
    seconds = time.perf_counter() - start
    ci = model.confint(level=0.95).to_numpy()[0]
    predictions = {k: np.asarray(v[:, :, 0], dtype=float) for k, v in model.predictions.items()}
    return EngineResult(
        coef=float(model.coef[0]),
        se=float(model.se[0]),
        t=float(model.t_stat[0]),
        p=float(model.pval[0]),
        ci=(float(ci[0]), float(ci[1])),
        coef_reps=np.asarray(model.all_coef[0], dtype=float),
        se_reps=np.asarray(model.all_se[0], dtype=float),
        predictions=predictions,
        seconds=seconds,
        folds=fold_labels(model.smpls, design.n_obs),
    )


def fold_labels(smpls: list, n_obs: int) -> np.ndarray:
    """``(n_rep, n_obs)`` test fold of every row from doubleml's ``smpls`` (-1: in no test set)."""
    labels = np.full((len(smpls), n_obs), -1, dtype=np.int64)
    for rep, folds in enumerate(smpls):
        for k, (_, test) in enumerate(folds):
            labels[rep, np.asarray(test, dtype=np.int64)] = k
    return labels
