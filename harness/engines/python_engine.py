"""Python engine: the design and folds through ``doubleml``."""

from __future__ import annotations

import importlib
import threading
import time
import warnings
from functools import lru_cache
from typing import Optional

import numpy as np

from harness.design import Design, Folds
from harness.engines.result import EngineResult
from harness.learners import resolve_learner
from harness.memory import release_freed_memory
from harness.spec import Spec
from harness.splits import SampleSplits, sample_splits

__all__ = ["fit_python", "hand_splits"]

# The doubleml whose set_sample_splitting hand_splits mirrors.
HANDED_SPLITS_VERSION = "0.11.4"


@lru_cache(maxsize=1)
def _doubleml():
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
    dml = _doubleml()

    return dml.DoubleMLData(
        design.frame,
        y_col=design.y,
        d_cols=design.d,
        x_cols=list(design.x),
        z_cols=list(design.z) or None,
        cluster_cols=list(design.cluster) or None,
    )


def hand_splits(model, splits: SampleSplits) -> None:
    """Give ``model`` the tool's validated folds: the four fields doubleml 0.11.4's
    ``set_sample_splitting`` sets after its own check, then the re-initialisation it calls.

    Its check (sets and ``np.unique`` per fold) costs seconds per call at a million rows; the folds
    were drawn and validated by the tool (:func:`harness.splits.sample_splits`), and
    ``tests/test_splits.py`` proves the result bitwise equal to the checked route for every model.
    Another doubleml version (the project pins 0.11.4) takes the checked route.
    """
    if _doubleml().__version__ != HANDED_SPLITS_VERSION:
        model.set_sample_splitting(splits.smpls, splits.smpls_cluster)
        return
    model._smpls = splits.smpls
    model._smpls_cluster = splits.smpls_cluster
    model._n_rep = splits.n_rep
    model._n_folds = splits.n_folds
    model._initialize_dml_model()


def _model(spec: Spec, design: Design, folds: Folds, splits: SampleSplits):
    dml = _doubleml()
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
    hand_splits(model, splits)
    return model


def fit_python(
    spec: Spec,
    design: Design,
    folds: Folds,
    external_predictions: Optional[dict[str, np.ndarray]] = None,
    splits: Optional[SampleSplits] = None,
) -> EngineResult:
    """Fit ``spec`` with ``doubleml`` on the shared design and folds.

    Parameters
    ----------
    external_predictions : dict, optional
        Nuisance predictions ``(n_obs, n_rep)`` to use instead of fitting learners (the
        learner-free comparison feeds R's predictions here).
    splits : SampleSplits, optional
        The validated folds (built from ``folds`` when not given).
    """
    model = _model(spec, design, folds, splits or sample_splits(design, folds))
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
    # Copies, so that nothing of the model outlives this call: it holds the data's arrays, the
    # learners and the score elements, hundreds of MB at a million rows.
    predictions = {k: np.array(v[:, :, 0], dtype=float) for k, v in model.predictions.items()}
    result = EngineResult(
        coef=float(model.coef[0]),
        se=float(model.se[0]),
        t=float(model.t_stat[0]),
        p=float(model.pval[0]),
        ci=(float(ci[0]), float(ci[1])),
        coef_reps=np.array(model.all_coef[0], dtype=float),
        se_reps=np.array(model.all_se[0], dtype=float),
        predictions=predictions,
        seconds=seconds,
    )
    del model
    release_freed_memory()
    return result
