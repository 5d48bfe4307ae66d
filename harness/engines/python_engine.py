"""Python engine: the design and folds through ``doubleml``."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import threading
import time
import warnings
import weakref
from functools import lru_cache
from typing import Optional

import numpy as np

from harness.design.inner_folds import inner_order
from harness.design.splits import SampleSplits, sample_splits
from harness.design.table import Design, Folds
from harness.design.tuning_plan import tuning_plan
from harness.engines.heap_trim import release_freed_memory
from harness.engines.python_inference import python_inference, shared_inner_split
from harness.engines.python_tuning import python_point, tune_python
from harness.engines.result import CI_LEVEL, EngineResult, Inference, distinct_warnings
from harness.engines.shared_cv import LassoCVSharedFolds, row_ids_to_learners
from harness.language.fold_params import fold_learner, fold_params_of
from harness.language.learners import resolve_learner
from harness.language.spec import Spec

__all__ = ["FoldsUsed", "fit_python", "hand_splits", "load_doubleml", "result_of"]

# The doubleml whose set_sample_splitting hand_splits mirrors.
HANDED_SPLITS_VERSION = "0.11.4"


@lru_cache(maxsize=1)
def load_doubleml():
    """``doubleml``, imported from a thread of its own.

    doubleml imports optuna, which keeps the ImportError of its optional redis backend, traceback
    included; a traceback keeps every frame up its stack alive with their locals. Imported from a
    fit's stack, that was the first fit's frames (model, learners, predictions: hundreds of MB at a
    million rows) until the process ended. A thread's stack holds none of ours.
    """
    thread = threading.Thread(target=importlib.import_module, args=("doubleml",), daemon=True)
    thread.start()
    thread.join()
    import doubleml

    return doubleml


def _dml_data(design: Design):
    dml = load_doubleml()

    common = dict(
        y_col=design.y,
        d_cols=list(design.d_cols) if design.treatments else design.d,
        x_cols=list(design.x),
        z_cols=list(design.z) or None,
        cluster_cols=list(design.cluster) or None,
    )
    if design.s is not None:
        return dml.DoubleMLSSMData(design.frame, s_col=design.s, **common)
    if design.treatments:
        common["use_other_treat_as_covariate"] = design.other_treatments_as_controls
    return dml.DoubleMLData(design.frame, **common)


def hand_splits(model, splits: SampleSplits) -> None:
    """Give ``model`` the tool's validated folds: the four fields doubleml 0.11.4's
    ``set_sample_splitting`` sets after its own check, then the re-initialisation it calls.

    Its check (sets and ``np.unique`` per fold) costs seconds per call at a million rows; the folds
    were drawn and validated by the tool (:func:`harness.design.splits.sample_splits`), and
    ``tests/test_splits.py`` proves the result bitwise equal to the checked route for every model.
    Which folds doubleml then fits on is read from its fit, not from these fields
    (:class:`FoldsUsed`). Another doubleml version (the project pins 0.11.4) takes the checked route.
    """
    if load_doubleml().__version__ != HANDED_SPLITS_VERSION:
        model.set_sample_splitting(splits.smpls, splits.smpls_cluster)
        return
    model._smpls = splits.smpls
    model._smpls_cluster = splits.smpls_cluster
    model._n_rep = splits.n_rep
    model._n_folds = splits.n_folds
    model._initialize_dml_model()


def _model(spec: Spec, design: Design, folds: Folds, splits: SampleSplits):
    dml = load_doubleml()
    from doubleml.utils import PSProcessorConfig

    data = _dml_data(design)
    learners = {n: resolve_learner(spec.learner_for(n), n, spec.model).python_estimator() for n in spec.nuisances}
    for learner in learners.values():
        if isinstance(learner, LassoCVSharedFolds):
            learner.set_params(row_order=inner_order(design.n_obs, spec.seed))
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
        normalized = {"normalize_ipw": True} if spec.normalize_ipw else {}  # as in R: only when asked
        model = dml.DoubleMLSSM(data, **learners, **common, **clipping, **normalized)
    else:
        subgroups = spec.subgroups or {"always_takers": True, "never_takers": True}
        model = dml.DoubleMLIIVM(data, **learners, **common, subgroups=subgroups, **clipping)
    hand_splits(model, splits)
    return model


def fit_python(
    spec: Spec,
    design: Design,
    folds: Folds,
    external_predictions: Optional[dict] = None,
    own_draws: bool = True,
    share_inner_split: bool = True,
    splits: Optional[SampleSplits] = None,
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
    splits : SampleSplits, optional
        The validated folds (built from ``folds`` when not given).
    """
    splits = splits or sample_splits(design, folds)
    model = _model(spec, design, folds, splits)
    used = FoldsUsed(model, splits)
    if external_predictions is not None and external_predictions and not isinstance(
        next(iter(external_predictions.values())), dict
    ):
        external_predictions = {design.d: external_predictions}
    inner_cv = any(isinstance(learner, LassoCVSharedFolds) for learner in model.learner.values())
    start = time.perf_counter()
    tuned = {}
    from scipy.linalg import LinAlgWarning
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        # doubleml warns about propensity clipping and deprecated names; the report carries the facts.
        # A solver that stopped short, or fell back to another on an ill-conditioned system (a
        # LinAlgWarning from scikit-learn 1.9's newton-cholesky), is kept: the twin then solved another problem.
        warnings.simplefilter("ignore")
        for category in (ConvergenceWarning, LinAlgWarning):
            warnings.simplefilter("always", category)
        with (
            shared_inner_split(spec, design, folds) if share_inner_split else contextlib.nullcontext(),
            row_ids_to_learners() if inner_cv else contextlib.nullcontext(),
        ):
            # Also under external predictions: a nuisance R does not store is fitted by Python's own learner.
            for treatment in design.d_cols:
                for nuisance, per_rep in fold_params_of(spec, treatment).items():
                    base = fold_learner(spec, nuisance, {})
                    points = [[python_point(base, params) for params in per_fold] for per_fold in per_rep]
                    model.set_ml_nuisance_params(nuisance, treatment, points)
            if external_predictions is not None:
                model.fit(external_predictions=external_predictions)
            else:
                if spec.tune is not None:
                    tuned = tune_python(model, spec, design, tuning_plan(spec, design, splits), splits.n_rep, splits.n_folds)
                model.fit(store_predictions=True, store_models=inner_cv)
        inference = python_inference(spec, model, own_draws) if spec.has_inference else None
    seconds = time.perf_counter() - start
    chosen = _inner_cv(model, design.n_obs) if inner_cv and external_predictions is None else {}
    result = result_of(model, used.labels, seconds, inference, chosen, tuned)
    result = dataclasses.replace(result, warnings=distinct_warnings(str(m.message) or type(m.message).__name__ for m in caught))
    del model
    release_freed_memory()
    return result


def result_of(
    model,
    held_folds: np.ndarray,
    seconds: float,
    inference: Optional[Inference] = None,
    chosen: Optional[dict] = None,
    tuned: Optional[dict] = None,
) -> EngineResult:
    """The :class:`EngineResult` of a fitted doubleml model (the tool's fit, or a user's fitted model
    that ``harness.compare`` judges as it is): its coefficients, standard errors, intervals,
    per-repetition arrays and stored predictions, copied out of it.

    ``held_folds`` ``(n_rep, n_obs)``: the test fold of every row as the fit used it; ``tuned``: what
    the tool's grid search chose (``EngineResult.tuned``)."""
    chosen, tuned = chosen or {}, tuned or {}
    ci = model.confint(level=CI_LEVEL).to_numpy()
    per_treatment = _per_treatment(model, ci, seconds, held_folds, chosen, tuned)
    first = per_treatment[0]
    if len(per_treatment) == 1 and inference is None:
        return first
    return EngineResult(
        **{f: getattr(first, f) for f in ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps", "predictions")},
        seconds=seconds,
        folds=first.folds,
        treatments=tuple(per_treatment) if len(per_treatment) > 1 else (),
        inference=inference,
        inner_cv=chosen,
        tuned=tuned,
    )


def _per_treatment(
    model, ci: np.ndarray, seconds: float, held_folds: np.ndarray, chosen: dict, tuned: dict
) -> list[EngineResult]:
    """One result per treatment of a fitted model."""
    # Copies (np.array), so that nothing of the model outlives this call: it holds the data's
    # arrays, the learners and the score elements, hundreds of MB at a million rows.
    per_treatment = []
    for i in range(len(model.coef)):
        per_treatment.append(
            EngineResult(
                coef=float(model.coef[i]),
                se=float(model.se[i]),
                t=float(model.t_stat[i]),
                p=float(model.pval[i]),
                ci=(float(ci[i, 0]), float(ci[i, 1])),
                coef_reps=np.array(model.all_coef[i], dtype=float),
                se_reps=np.array(model.all_se[i], dtype=float),
                predictions={k: np.array(v[:, :, i], dtype=float) for k, v in model.predictions.items()},
                seconds=seconds,
                folds=held_folds,
                inner_cv=chosen,
                tuned=tuned,
            )
        )
    return per_treatment


def _inner_cv(model, n_obs: int) -> dict:
    """What each fitted :class:`LassoCVSharedFolds` chose and the inner folds it used (first
    treatment; see ``EngineResult.inner_cv``)."""
    out = {}
    for name, per_treatment in model.models.items():
        reps = next(iter(per_treatment.values()))
        if not reps or not reps[0] or not isinstance(reps[0][0], LassoCVSharedFolds):
            continue
        alpha = np.array([[fitted.alpha_ for fitted in rep] for rep in reps], dtype=float)
        labels = np.full((len(reps), len(reps[0]), n_obs), -1, dtype=np.int8)
        for r, rep in enumerate(reps):
            for k, fitted in enumerate(rep):
                labels[r, k, fitted.inner_rows_] = fitted.inner_folds_
        out[name] = {"alpha": alpha, "folds": labels}
    return out


class FoldsUsed:
    """The folds doubleml's fit used, per repetition, as ``(n_rep, n_obs)`` test-fold labels.

    doubleml 0.11.4's ``fit`` hands each repetition's folds to the model's ``_nuisance_est(smpls,
    ...)`` once per repetition and treatment (``_fit_nuisance_and_score_elements``, which reads them
    through a private per-repetition accessor, not through ``model.smpls``); every learner is
    cross-fitted on those folds (IRM, IIVM and SSM on subsets of their training sets). This records
    each call on the model instance (no module-level name is touched, so threads do not interact)
    and labels each row with the test fold it had there. A row gets -1, counted by the fold check as
    a row in another fold, when no call covered its repetition, when it sits in no test set or in
    several, when a training set the package used is not the tool's, or when two calls of one
    repetition (treatments) disagree.

    With clusters, the coefficient's scaling and the clustered variance read the repetition's cluster
    folds (``_est_causal_pars`` and ``_se_causal_pars`` through one private accessor); the accessor is
    read when the coefficient is solved, and a repetition whose cluster folds are not the tool's (or
    that was never solved) gets -1 on every row.
    """

    def __init__(self, model, splits: SampleSplits) -> None:
        self._splits = splits
        self._labels = np.full((splits.n_rep, splits.n_obs), -1, dtype=np.int64)
        self._seen = np.zeros(splits.n_rep, dtype=bool)
        self._cluster_ok = np.zeros(splits.n_rep, dtype=bool)
        self._cluster_seen = np.zeros(splits.n_rep, dtype=bool)
        # Weakly: the model must not hold itself through this wrapper, or it would outlive
        # fit_python's `del model` until a garbage collection (hundreds of MB at a million rows).
        fitted, estimate = weakref.ref(model), type(model)._nuisance_est

        def recording(smpls, *args, **kwargs):
            self._record(fitted()._i_rep, smpls)
            return estimate(fitted(), smpls, *args, **kwargs)

        model._nuisance_est = recording
        if splits.smpls_cluster is not None:
            solve = type(model)._est_causal_pars

            def recording_clusters(psi_elements):
                held = fitted()
                self._record_clusters(held._i_rep, held._DoubleML__smpls_cluster)
                return solve(held, psi_elements)

            model._est_causal_pars = recording_clusters

    @property
    def labels(self) -> np.ndarray:
        """``(n_rep, n_obs)`` test-fold labels of the fit, -1 where the fit left the tool's folds."""
        if self._splits.smpls_cluster is None:
            return self._labels
        labels = self._labels.copy()
        labels[~(self._cluster_ok & self._cluster_seen)] = -1
        return labels

    def _record_clusters(self, rep: int, held: list) -> None:
        expected = self._splits.smpls_cluster[rep]
        same = len(held) == len(expected) and all(
            len(h) == len(e) == 2
            and all(
                len(h_side) == len(e_side) and all(np.array_equal(a, b) for a, b in zip(h_side, e_side, strict=True))
                for h_side, e_side in zip(h, e, strict=True)
            )
            for h, e in zip(held, expected, strict=True)
        )
        self._cluster_ok[rep] = same and (self._cluster_ok[rep] or not self._cluster_seen[rep])
        self._cluster_seen[rep] = True

    def _record(self, rep: int, smpls: list) -> None:
        n_obs, expected = self._splits.n_obs, self._splits.smpls[rep]
        labels = np.full(n_obs, -1, dtype=np.int64)
        hits = np.zeros(n_obs, dtype=np.int64)
        wrong = np.full(n_obs, len(smpls) != len(expected))
        for k, (train, test) in enumerate(smpls):
            test = np.asarray(test, dtype=np.int64)
            labels[test] = k
            hits[test] += 1
            if k < len(expected):
                used_train, drawn_train = np.zeros(n_obs, dtype=bool), np.zeros(n_obs, dtype=bool)
                used_train[np.asarray(train, dtype=np.int64)] = True
                drawn_train[expected[k][0]] = True
                wrong |= used_train != drawn_train
        labels[(hits != 1) | wrong] = -1
        if self._seen[rep]:
            labels[labels != self._labels[rep]] = -1
        self._labels[rep] = labels
        self._seen[rep] = True
