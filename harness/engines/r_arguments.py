"""The arguments of ``dmlp_fit`` (r_scripts/engine.R): the shared design as R columns, the folds
as 1-based index vectors, the learners in mlr3's vocabulary, the inference and tuning requests.

No name of the user's reaches R as it is unless R reads it as a plain name: mlr3 pastes column
names into formula text that R evaluates, so ``log income``, ``收入`` or ``system("...")`` is
given a name of the tool's (``.dmlp_c<position>``; the data's own names start with a letter)
for the fit. Only names cross; the columns and their order are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional, Protocol

import numpy as np

from harness.design.inner_folds import inner_order
from harness.design.nuisance_columns import nuisance_columns
from harness.design.shared_draws import bootstrap_weights, inner_splits
from harness.design.splits import SampleSplits
from harness.design.table import Design, Folds
from harness.design.tuning_plan import tuning_plan
from harness.engines.r_tuning import r_tune_request
from harness.language.expr import check_plain_name
from harness.language.fold_params import fold_learner, fold_params_of, learner_key
from harness.language.learners import resolve_learner
from harness.language.spec import Spec

__all__ = ["RObjects", "fit_arguments", "r_names", "users_names"]


class RObjects(Protocol):
    """What builds R objects here: harness.engines.r_engine.RSession (handed in, so that this
    module neither imports rpy2 nor the module that does)."""

    def r_value(self, value: Any) -> Any: ...

    def r_strings(self, values: list[str]) -> Any: ...

    def r_matrix(self, array: np.ndarray, colnames: Optional[list[str]] = None) -> Any: ...

    def r_columns(self, frame: Any, names: Optional[list[str]] = None) -> Any: ...


def r_names(columns: list[str]) -> dict[str, str]:
    """Each design column's name in R: its own when R reads it as a plain name, else the tool's."""
    out = {}
    for position, name in enumerate(columns):
        try:
            check_plain_name(name)
            out[name] = name
        except ValueError:
            out[name] = f".dmlp_c{position}"
    return out


def users_names(design: Design) -> Callable[[dict], dict]:
    """What turns R's prediction names back into the user's: PLIV's ``ml_m_<instrument>`` with
    several instruments carries the instrument's name as R knew it."""
    back = {r: user for user, r in r_names([str(c) for c in design.frame.columns]).items() if r != user}

    def renamed(predictions: dict) -> dict:
        out = {}
        for key, value in predictions.items():
            cut = next((i for i, c in enumerate(key) if c == "_" and key[i + 1 :] in back), None)
            out[key if cut is None else key[: cut + 1] + back[key[cut + 1 :]]] = value
        return out

    return renamed


def _r_smpls(session: RObjects, splits: SampleSplits) -> Any:
    """DoubleML's R folds: per repetition, 1-based train and test index vectors."""
    return session.r_value(
        [{"train_ids": [train + 1 for train, _ in rep], "test_ids": [test + 1 for _, test in rep]} for rep in splits.smpls]
    )


def _r_smpls_cluster(session: RObjects, splits: SampleSplits) -> Any:
    """DoubleML's R cluster folds: per repetition and fold, the cluster codes per variable."""
    if splits.smpls_cluster is None:
        return session.r_value(None)
    return session.r_value(
        [
            {"train_ids": [list(train) for train, _ in rep], "test_ids": [list(test) for _, test in rep]}
            for rep in splits.smpls_cluster
        ]
    )


def _r_inference(session: RObjects, spec: Spec, design: Design, folds: Folds, own_draws: bool) -> Any:
    """The inference request: method, draws, the tool's weights per repetition, what to report."""
    if not spec.has_inference:
        return session.r_value(None)
    request: dict[str, Any] = {"joint": spec.joint, "own_draws": own_draws}
    if spec.p_adjust:
        request["p_adjust"] = spec.p_adjust
    if spec.bootstrap is not None:
        boot = spec.bootstrap
        request["method"] = boot.method
        request["n_rep_boot"] = boot.n_rep_boot
        request["weights"] = [
            session.r_matrix(bootstrap_weights(boot.method, boot.n_rep_boot, design.n_obs, spec.seed, rep))
            for rep in range(folds.n_rep)
        ]
    return session.r_value(request)


def _r_inner_splits(session: RObjects, spec: Spec, design: Design, folds: Folds) -> Any:
    if spec.model != "ssm" or spec.score_name != "nonignorable":
        return session.r_value(None)
    splits = []
    for key, (first, second) in inner_splits(design, folds, spec.seed).items():
        train = np.frombuffer(key, dtype=np.int64)
        one_based = {"train": train + 1, "first": first + 1, "second": second + 1}
        splits.append({k: v.astype(np.int32) for k, v in one_based.items()})
    return session.r_value(splits)


def fit_arguments(
    spec: Spec,
    design: Design,
    folds: Folds,
    splits: SampleSplits,
    session: RObjects,
    own_draws: bool = True,
    share_inner_split: bool = True,
) -> dict[str, Any]:
    """The arguments of ``dmlp_fit`` (r_scripts/engine.R), built as R objects: the design as columns
    and the folds as 1-based integer vectors, each copied once into R memory."""
    learners = {}
    for nuisance in spec.nuisances:
        resolved = resolve_learner(spec.learner_for(nuisance), nuisance, spec.model)
        key, params = resolved.r_learner(len(nuisance_columns(spec, design, nuisance)))
        if key == "regr.cv_glmnet_shared":
            params["row_order"] = inner_order(design.n_obs, spec.seed)
        learners[nuisance] = {"key": key, "params": params, "classif": resolved.kind == "classif"}
    value = session.r_value
    plan = tuning_plan(spec, design, splits)
    names = r_names([str(c) for c in design.frame.columns])
    tune = [{**task, "target": names[task["target"]]} for task in r_tune_request(spec, plan, design)] if plan else None
    return {
        "model": value(spec.model),
        "x": session.r_columns(design.frame, list(names.values())),
        "y": value(names[design.y]),
        "d": session.r_strings([names[c] for c in design.d_cols]),
        "x_cols": session.r_strings([names[c] for c in design.x]),
        "z_cols": session.r_strings([names[c] for c in design.z]),
        "cluster_cols": session.r_strings([names[c] for c in design.cluster]),
        "learners": value(learners),
        "score": value(spec.score_name),
        "n_folds": value(folds.n_folds_per_cluster or folds.n_folds),
        "n_rep": value(folds.n_rep),
        "smpls": _r_smpls(session, splits),
        "smpls_cluster": _r_smpls_cluster(session, splits),
        "trimming_threshold": value(spec.trimming_threshold),
        "normalize_ipw": value(bool(spec.normalize_ipw)),
        "other_treat": value(design.other_treatments_as_controls),
        "subgroups": value(spec.subgroups or None),
        "seed": value(spec.seed),
        "s_col": value(names[design.s] if design.s else None),
        "partial": value(spec.partial_name),
        "inference": _r_inference(session, spec, design, folds, own_draws),
        "inner_splits": _r_inner_splits(session, spec, design, folds) if share_inner_split else value(None),
        "tune": value(tune),
        "fold_params": value(_r_fold_params(spec, design, names)),
    }


def _r_fold_params(spec: Spec, design: Design, names: dict[str, str]) -> Optional[dict]:
    """``fold_params`` as R's learners take them: per treatment (its R name), per nuisance (an
    instrument's ``ml_m_<z>`` under z's R name), per repetition and fold, the mlr3 parameters of the
    learner in that fold."""
    if not spec.fold_params:
        return None
    out: dict[str, dict] = {}
    for treatment in design.d_cols:
        per_nuisance = {}
        for nuisance, per_rep in fold_params_of(spec, treatment).items():
            n_features = len(nuisance_columns(spec, design, learner_key(nuisance)))
            z = nuisance[len("ml_m_") :] if nuisance.startswith("ml_m_") else None
            r_name = f"ml_m_{names[z]}" if z is not None else nuisance
            learners = [[fold_learner(spec, nuisance, params) for params in fold] for fold in per_rep]
            per_nuisance[r_name] = [[learner.r_learner(n_features)[1] for learner in fold] for fold in learners]
        out[names[treatment]] = per_nuisance
    return out
