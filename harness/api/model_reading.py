"""What a doubleml model holds, read into a spec entry, its data and its folds: the model family
and score, the data's column roles and clusters, each learner's registry twin, the number of folds
and repetitions, the sample splits, the propensity settings and whether it was fitted.

Anything a spec cannot say (a callable score, IRM weights, normalised IPW, propensity calibration)
is a one-line :class:`~harness.errors.ModelError`, never a silently different comparison."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

from harness.api.learner_match import learner_choice, same_setting
from harness.errors import ModelError
from harness.language.expr import check_column_name
from harness.language.fold_params import learner_key

__all__ = ["FOLD_PREFIX", "ModelReading", "read_model"]

MODELS = {"DoubleMLPLR": "plr", "DoubleMLPLIV": "pliv", "DoubleMLIRM": "irm", "DoubleMLIIVM": "iivm", "DoubleMLSSM": "ssm"}
FOLD_PREFIX = "dmlp_fold_"  # the data columns that carry the model's sample splits, one per repetition
# doubleml 0.11.4's propensity processing defaults besides the clipping threshold (which a spec sets).
EXTREME_THRESHOLD = 1e-12


@dataclass(frozen=True)
class ModelReading:
    """A model as the tool runs it.

    Attributes
    ----------
    entry : dict
        The spec entry (``id``, ``model``, ``y``, ``d``, ``x``, learners, folds, ...).
    frame : pandas.DataFrame
        The model's columns, plus one fold column per repetition when the model holds its splits.
    labels : numpy.ndarray or None
        ``(n_rep, n_obs)`` test fold of every row, numbered as the tool numbers folds (cells
        ``sum_v fold_v * K**v`` with clusters); None when the model holds no splits.
    fitted : bool
    """

    entry: dict
    frame: pd.DataFrame
    labels: Optional[np.ndarray]
    fitted: bool


def read_model(model: Any) -> ModelReading:
    """Read ``model`` (a doubleml PLR, PLIV, IRM, IIVM or SSM model, fitted or not)."""
    name = MODELS.get(type(model).__name__)
    if name is None or not type(model).__module__.startswith("doubleml"):
        raise ModelError(f"model: {type(model).__name__} is not a doubleml model the tool compares ({', '.join(MODELS)})")
    if not isinstance(model.score, str):
        raise ModelError(f"score: a callable score has no R twin; use one of the package's named scores ({type(model).__name__})")
    data = model._dml_data
    cluster = list(data.cluster_cols) if getattr(data, "cluster_cols", None) else []
    entry: dict[str, Any] = {
        "id": name,
        "title": f"{type(model).__name__} from a Python session",
        "model": name,
        "y": data.y_col,
        "d": list(data.d_cols) if len(data.d_cols) > 1 else data.d_cols[0],
        "x": list(data.x_cols),
        "score": model.score,
        "n_rep": int(model.n_rep),
    }
    if len(data.d_cols) > 1 and not getattr(data, "use_other_treat_as_covariate", True):
        entry["use_other_treat_as_covariate"] = False  # with one treatment doubleml ignores it, as the spec refuses it
    if getattr(data, "z_cols", None):
        entry["z"] = list(data.z_cols)
    if name == "ssm":
        entry["s"] = data.s_col
    if cluster:
        entry["cluster"] = cluster
    _family_settings(model, name, entry)
    entry["learners"] = {n: learner_choice(_as_fitted(model, n, est), n, name, model.score) for n, est in model.learner.items()}
    per_fold = {n: p for learner in model.learner for n, p in _fold_params(model, learner).items()}
    if per_fold:
        entry["fold_params"] = per_fold
    columns = _model_columns(data, name, cluster)
    _check_frame_unchanged(data)
    # A spec and a CSV header name columns by text: a frame's integer names (a numpy array made a
    # frame) become their text, in the entry as in the frame.
    frame = data.data[columns].reset_index(drop=True).set_axis([str(c) for c in columns], axis=1)
    entry.update({k: _as_text(v) for k, v in entry.items() if k in ("y", "d", "x", "z", "s", "cluster")})
    columns = list(frame.columns)
    # doubleml fits missing controls with force_all_x_finite=False; a spec's design has none (until
    # 2026-12-06 this ended in "does not survive a round trip through CSV", NaN being unequal to itself).
    gaps = next((c for c in columns if frame[c].isna().any()), None)
    if gaps is not None:
        raise ModelError(
            f"data: column '{gaps}' has missing values ({int(frame[gaps].isna().sum())} rows); the tool compares "
            "complete rows only: build the DoubleMLData from frame.dropna(subset=[...its columns...])"
        )
    labels, n_folds, cells = _fold_labels(model, frame, _as_text(cluster))
    entry["n_folds"] = n_folds
    if per_fold and cells is not None:  # the model's cell j is the tool's cells[rep][j]

        def in_tool_order(reps: list) -> list:
            return [[per_rep[order.index(k)] for k in range(len(order))] for per_rep, order in zip(reps, cells, strict=True)]

        entry["fold_params"] = {
            n: {d: in_tool_order(reps) for d, reps in value.items()} if isinstance(value, dict) else in_tool_order(value)
            for n, value in per_fold.items()
        }
    fitted = bool(np.isfinite(np.asarray(model.all_coef, dtype=float)).all())
    if fitted:
        _fitted_rules(model, name, data)
    boot = _compared_bootstrap(model, name) if fitted else None
    if boot is not None:
        entry.update(bootstrap=boot, joint=True)
    if labels is not None:
        names = [f"{FOLD_PREFIX}{rep + 1}" for rep in range(labels.shape[0])]
        clash = [c for c in names if c in frame.columns]
        if clash:
            raise ModelError(f"data: column '{clash[0]}' is a name the tool keeps for the model's folds")
        frame = frame.assign(**{c: labels[rep] for rep, c in enumerate(names)})
        entry["folds"] = names
    elif fitted:
        raise ModelError("model: fitted, but holds no sample splits to give R")
    return ModelReading(entry=entry, frame=frame, labels=labels, fitted=fitted)


def _model_columns(data: Any, name: str, cluster: list) -> list:
    """The data columns the model uses, each once, as the DoubleMLData names them; a name R cannot
    take, or two names that are one as text, is a one-line error."""
    columns = list(
        dict.fromkeys(
            [
                data.y_col,
                *data.d_cols,
                *data.x_cols,
                *(getattr(data, "z_cols", None) or []),
                *([data.s_col] if name == "ssm" else []),
                *cluster,
            ]
        )
    )
    seen: dict[str, Any] = {}
    for column in columns:
        if str(column) in seen:
            raise ModelError(f"data: columns {seen[str(column)]!r} and {column!r} have one name as text; rename one")
        seen[str(column)] = column
        try:
            check_column_name(str(column))
        except ValueError as err:
            reason = str(err).split(";")[0]
            raise ModelError(f"data: {reason}; rename it in the data frame before building the DoubleMLData") from None
    return columns


def _check_frame_unchanged(data: Any) -> None:
    """The tool sends R the DoubleMLData's frame, while doubleml fits the copies of its columns the
    data object took when it was built: a frame changed since then would be compared as a
    difference between the packages (an outside user's change to one outcome read as folds that
    differ). Refused naming the column; doubleml's copies are read where this release has them."""
    frame = data.data
    copies = [getattr(data, name, None) for name in ("_y", "_d", "_X", "_z")]
    for copy in (c for c in copies if c is not None):
        held = copy.to_frame() if isinstance(copy, pd.Series) else copy
        for column in held.columns:
            if column not in frame.columns:
                continue
            now = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
            then = pd.to_numeric(held[column], errors="coerce").to_numpy(dtype=float)
            changed = np.flatnonzero(~((now == then) | (np.isnan(now) & np.isnan(then)))) if len(now) == len(then) else [0]
            if len(changed):
                row = int(changed[0])
                raise ModelError(
                    f"data: column '{column}' changed since the DoubleMLData was built (row {row + 1}, index "
                    f"{frame.index[row]!r}: {now[row]:.6g} in "
                    f"its frame, {then[row]:.6g} in the copy doubleml fits); build the DoubleMLData again from the frame "
                    "and fit the model again"
                )


def _as_text(value: Any) -> Any:
    return [str(v) for v in value] if isinstance(value, list) else str(value)


def _fitted_rules(model: Any, name: str, data: Any) -> None:
    """What a fitted model must hold for its own numbers to be compared."""
    if name == "ssm" and model.score == "nonignorable":
        raise ModelError(
            "score: a fitted ssm 'nonignorable' model halved each training fold at random, a split R cannot "
            "be given; pass it unfitted (the tool then fits it on a split it shares with R)"
        )
    controls = np.asarray(data.x).dtype
    if controls.itemsize < 8:
        # Found on a Stata file's float columns: its numbers were 6e-7 from R's, a disagree at the exact tier.
        raise ModelError(
            f"data: the controls are {controls} (single precision), so doubleml's learners fitted in "
            "single precision and R fits in double; build the DoubleMLData from frame.astype('float64') and fit "
            "again (or pass the model unfitted)"
        )
    if not model.predictions:
        raise ModelError("model: fitted with store_predictions=False; fit it with store_predictions=True (or pass it unfitted)")


def _compared_bootstrap(model: Any, name: str) -> Optional[dict]:
    """What the user's bootstrap() drew, to compare: Python's own draws are the model's
    (harness.api.compare). Not on IRM ATTE, whose bootstrap both packages draw differently by design
    (the spec refuses it): left out, and said so."""
    boot = _bootstrap_of(model)
    if boot is not None and name == "irm" and model.score == "ATTE":
        warnings.warn(
            "DoubleMLIRM (ATTE): the model's bootstrap and joint intervals are not compared, only its estimates: the "
            "packages' ATTE scores differ on purpose, so their bootstrap draws differ by design "
            "(README, Check an analysis you already have)",
            stacklevel=4,
        )
        return None
    return boot


def _bootstrap_of(model: Any) -> Optional[dict]:
    """The multiplier bootstrap the user ran on a fitted model (``model.bootstrap()``), or None."""
    framework = getattr(model, "framework", None)
    if framework is None or framework.boot_method is None:
        return None
    return {"method": framework.boot_method, "n_rep_boot": int(framework.n_rep_boot)}


def _given_params(model: Any, learner: str) -> dict[str, dict]:
    """Per nuisance of ``learner`` (IRM's ml_g0 and ml_g1 for ml_g), what ``set_ml_nuisance_params``
    (or doubleml's ``tune``) gave it: per treatment, None or per repetition None or a dict per fold."""
    # ml_g0, ml_g1 -> ml_g; ml_m_<instrument> -> ml_m; ml_g_d0 -> ml_g
    return {nuisance: given for nuisance, given in (model.params or {}).items() if learner_key(nuisance) == learner}


VARIES = object()  # parameters that differ by fold, repetition or nuisance


def _same_params(p: dict, q: dict) -> bool:
    return p.keys() == q.keys() and all(same_setting(p[k], q[k]) for k in p)


def _one_setting(model: Any, learner: str) -> Any:
    """The parameters of ``learner``'s nuisances when they are one dict in every treatment,
    repetition, fold and nuisance; None when none were given; ``VARIES`` otherwise."""
    given = [
        p
        for per_treatment in _given_params(model, learner).values()
        for per_d in per_treatment.values()
        for per_rep in per_d or [None]
        for p in (per_rep or [None])
    ]
    if all(p is None for p in given):
        return None
    first = given[0]
    return first if all(p is not None and _same_params(p, first) for p in given) else VARIES


def _as_fitted(model: Any, learner: str, estimator: Any) -> Any:
    """``estimator`` with the parameters ``set_ml_nuisance_params`` (or doubleml's ``tune``) gave the
    nuisances it fits, which doubleml applies at fit time over the estimator's own, when they are one
    setting; parameters that differ by fold, repetition or nuisance go to ``fold_params``."""
    from sklearn.base import clone

    setting = _one_setting(model, learner)
    return estimator if setting is None or setting is VARIES else clone(estimator).set_params(**setting)


def _fold_params(model: Any, learner: str) -> dict[str, Any]:
    """The spec's ``fold_params`` of ``learner``'s nuisances (harness.language.fold_params): the
    parameters per repetition and fold, ``{}`` where a fold was given none; per treatment where the
    treatments' differ (a treatment given none is left out)."""
    if _one_setting(model, learner) is not VARIES:
        return {}
    out: dict[str, Any] = {}
    for nuisance, per_treatment in _given_params(model, learner).items():
        given = {
            str(d): [[dict(p or {}) for p in (per_fold or [None] * model.n_folds)] for per_fold in per_d]
            for d, per_d in per_treatment.items()
            if per_d is not None and any(per_fold is not None for per_fold in per_d)
        }
        lists = list(given.values())
        if len(given) == len(per_treatment) and all(_same_lists(other, lists[0]) for other in lists):
            out[nuisance] = lists[0]  # every treatment alike: the one-treatment form
        elif given:
            out[nuisance] = given
    return out


def _same_lists(a: list, b: list) -> bool:
    """Two treatments' per-repetition, per-fold parameters are the same."""
    pairs = [(p, q) for fold_a, fold_b in zip(a, b, strict=True) for p, q in zip(fold_a, fold_b, strict=True)]
    return all(_same_params(p, q) for p, q in pairs)


def _family_settings(model: Any, name: str, entry: dict) -> None:
    """Settings of one family: PLIV's partialling, IIVM's subgroups, the propensity clipping."""
    if name == "pliv":
        if model.partialZ and not model.partialX:
            entry["partial"] = "Z"
        elif model.partialX and model.partialZ:
            entry["partial"] = "XZ"
    if name == "iivm":
        entry["subgroups"] = {k: bool(v) for k, v in model.subgroups.items()}
    if name in ("irm", "iivm", "ssm"):
        config = model._ps_processor_config
        if getattr(config, "calibration_method", None) is not None:
            raise ModelError("ps_processor_config: propensity calibration has no R twin (calibration_method must be None)")
        if float(getattr(config, "extreme_threshold", EXTREME_THRESHOLD)) != EXTREME_THRESHOLD:
            raise ModelError(f"ps_processor_config: extreme_threshold must be {EXTREME_THRESHOLD} (the R side's)")
        entry["trimming_threshold"] = float(config.clipping_threshold)
    if name in ("irm", "iivm") and model.normalize_ipw:
        raise ModelError("normalize_ipw: DoubleML for R 1.0.2 normalises the weights of ssm alone (normalize_ipw=False)")
    if name == "ssm" and model.normalize_ipw:
        entry["normalize_ipw"] = True
    if name == "irm":
        weights = model._weights
        if set(weights) != {"weights"} or not np.all(np.asarray(weights["weights"]) == 1):
            raise ModelError(
                "weights: DoubleML for R 1.0.2 fits IRM without weights (DoubleMLIRM has no weights argument); "
                "compare the unweighted model"
            )


def _fold_labels(
    model: Any, frame: pd.DataFrame, cluster: list[str]
) -> tuple[Optional[np.ndarray], int, Optional[list[list[int]]]]:
    """The model's splits as ``(n_rep, n_obs)`` fold labels, the folds per cluster variable, and
    with clusters, per repetition, the tool's cell of each of the model's folds (doubleml numbers
    two-way cells with the second variable fastest, the tool with the first)."""
    smpls = model.smpls
    if smpls is None:
        return None, int(model.n_folds), None
    n_obs = len(frame)
    labels = np.full((len(smpls), n_obs), -1, dtype=np.int64)
    if not cluster:
        for rep, folds in enumerate(smpls):
            for k, (_, test) in enumerate(folds):
                labels[rep, np.asarray(test, dtype=np.int64)] = k
        _check_partition(labels)
        return labels, len(smpls[0]), None
    # Clusters: a row's cell numbers each cluster variable's fold as the tool does (variable 0 fastest).
    K = None
    cells = []
    for rep, folds in enumerate(model.smpls_cluster):
        cell = np.zeros(n_obs, dtype=np.int64)
        cell_of_fold = np.zeros(len(folds), dtype=np.int64)
        for v, column in enumerate(cluster):
            tests = [tuple(np.sort(np.asarray(test[v])).tolist()) for _, test in folds]
            sets = list(dict.fromkeys(tests))
            K = K or len(sets)
            fold_of = {c: j for j, s in enumerate(sets) for c in s}
            values = frame[column].to_numpy()
            missing = [c for c in pd.unique(values) if c not in fold_of]
            if missing or len(sets) != K:
                raise ModelError(f"smpls_cluster: the model's cluster folds do not cover every '{column}' cluster")
            cell += np.array([fold_of[c] for c in values], dtype=np.int64) * K**v
            cell_of_fold += np.array([sets.index(t) for t in tests], dtype=np.int64) * K**v
        labels[rep] = cell
        cells.append(cell_of_fold.tolist())
    return labels, int(K), cells


def _check_partition(labels: np.ndarray) -> None:
    if (labels < 0).any():
        raise ModelError("smpls: the model's test sets do not cover every row")
