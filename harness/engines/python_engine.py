"""Python engine: the design and folds through ``doubleml``."""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Optional

import numpy as np

from harness.design import Design, Folds
from harness.engines.python_inference import python_inference, shared_inner_split
from harness.engines.result import EngineResult
from harness.learners import resolve_learner
from harness.spec import Spec

__all__ = ["fit_python", "fold_labels"]


def _dml_data(design: Design):
    import doubleml as dml

    common = dict(
        y_col=design.y,
        d_cols=list(design.d_cols) if design.treatments else design.d,
        x_cols=list(design.x),
        z_cols=list(design.z) or None,
        cluster_cols=list(design.cluster) or None,
    )
    if design.s is not None:
        return dml.DoubleMLSSMData(design.frame, s_col=design.s, **common)
    return dml.DoubleMLData(design.frame, **common)


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
    clipping = {"ps_processor_config": PSProcessorConfig(clipping_threshold=spec.trimming_threshold)}
    if spec.model == "plr":
        model = dml.DoubleMLPLR(data, **learners, **common)
    elif spec.model == "pliv" and spec.partial_name == "Z":
        model = dml.DoubleMLPLIV._partialZ(data, **learners, **common)
    elif spec.model == "pliv" and spec.partial_name == "XZ":
        model = dml.DoubleMLPLIV._partialXZ(data, **learners, **common)
    elif spec.model == "pliv":
        model = dml.DoubleMLPLIV(data, **learners, **common)
    elif spec.model == "irm":
        model = dml.DoubleMLIRM(data, **learners, **common, **clipping)
    elif spec.model == "ssm":
        model = dml.DoubleMLSSM(data, **learners, **common, **clipping)
    else:
        subgroups = spec.subgroups or {"always_takers": True, "never_takers": True}
        model = dml.DoubleMLIIVM(data, **learners, **common, subgroups=subgroups, **clipping)
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
    external_predictions: Optional[dict] = None,
    own_draws: bool = True,
    share_inner_split: bool = True,
) -> EngineResult:
    """Fit ``spec`` with ``doubleml`` on the shared design and folds.

    Parameters
    ----------
    external_predictions : dict, optional
        Nuisance predictions ``(n_obs, n_rep)`` to use instead of fitting learners (the
        learner-free comparison feeds R's predictions here): ``{nuisance: array}`` for one treatment,
        ``{treatment: {nuisance: array}}`` for several.
    own_draws : bool
        Also run the bootstrap with doubleml's own random draws (seeded by the spec seed) besides
        the tool's shared weights.
    share_inner_split : bool
        SSM nonignorable: use the tool's inner split (False: doubleml's own, for measuring the gap).
    """
    model = _model(spec, design, folds)
    if external_predictions is not None and external_predictions and not isinstance(
        next(iter(external_predictions.values())), dict
    ):
        external_predictions = {design.d: external_predictions}
    start = time.perf_counter()
    with warnings.catch_warnings():
        # doubleml warns about propensity clipping and deprecated names; the report carries the facts.
        warnings.simplefilter("ignore")
        with shared_inner_split(spec, design, folds) if share_inner_split else contextlib.nullcontext():
            if external_predictions is not None:
                model.fit(external_predictions=external_predictions)
            else:
                model.fit(store_predictions=True)
        inference = python_inference(spec, model, own_draws) if spec.has_inference else None
    seconds = time.perf_counter() - start
    ci = model.confint(level=0.95).to_numpy()
    per_treatment = []
    for i in range(len(design.d_cols)):
        per_treatment.append(
            EngineResult(
                coef=float(model.coef[i]),
                se=float(model.se[i]),
                t=float(model.t_stat[i]),
                p=float(model.pval[i]),
                ci=(float(ci[i, 0]), float(ci[i, 1])),
                coef_reps=np.asarray(model.all_coef[i], dtype=float),
                se_reps=np.asarray(model.all_se[i], dtype=float),
                predictions={k: np.asarray(v[:, :, i], dtype=float) for k, v in model.predictions.items()},
                seconds=seconds,
                folds=fold_labels(model.smpls, design.n_obs),
            )
        )
    first = per_treatment[0]
    if len(per_treatment) == 1 and inference is None:
        return first
    return EngineResult(
        **{f: getattr(first, f) for f in ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps", "predictions")},
        seconds=seconds,
        folds=first.folds,
        treatments=tuple(per_treatment) if len(per_treatment) > 1 else (),
        inference=inference,
    )


def fold_labels(smpls: list, n_obs: int) -> np.ndarray:
    """``(n_rep, n_obs)`` test fold of every row from doubleml's ``smpls`` (-1: in no test set)."""
    labels = np.full((len(smpls), n_obs), -1, dtype=np.int64)
    for rep, folds in enumerate(smpls):
        for k, (_, test) in enumerate(folds):
            labels[rep, np.asarray(test, dtype=np.int64)] = k
    return labels
