"""The design step: one numeric table and one set of folds per spec, shared by both engines.

Everything that turns the user's data into the model's columns happens here, once, in Python
(filter, lags, interactions, binarising, winsorizing, fixed effects). The engines receive the
finished float64 matrix and never re-derive a column.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd

from harness.design.derived import apply_sample, derive_binarized, derive_interactions, derive_lags, first_text, need
from harness.design.shared_memory import portable, portable_frame, resolved, resolved_frame
from harness.design.within import NotConverged, demean
from harness.errors import DataError, SpecError
from harness.language.model_rules import binarized_name, lag_name, model_roles
from harness.language.spec import BINARY_TREATMENT, DatasetSpec, Spec

__all__ = ["Design", "Folds", "build_design", "cluster_codes", "draw_folds"]

# Fixed effects are removed until every unit and period mean is below this share of a column's scale.
WITHIN_TOL = 1e-13


@dataclass(frozen=True)
class Design:
    """The model-ready table of one spec.

    Attributes
    ----------
    y, d : str
        Column names of outcome and (first) treatment in ``frame``.
    x, z : tuple of str
        Controls and instruments.
    cluster : tuple of str
        Cluster columns (raw ids, not transformed).
    frame : pandas.DataFrame
        float64 columns ``y, d (all treatments), x..., z..., s, cluster...`` in that order, rows as used.
    rows : numpy.ndarray
        0-based positions of the used rows in the data file.
    groups : numpy.ndarray or None
        Group label per row whose rows must share a fold.
    n_dropped_na : int
        Rows dropped for missing values (only when the spec says ``dropna``).
    treatments : tuple of str
        Every treatment when there are several (``d`` is the first); empty for one.
    s : str or None
        The selection column of the sample selection model.
    other_treatments_as_controls : bool
        With several treatments, whether each treatment's nuisances learn from the others too
        (both packages' ``use_other_treat_as_covariate``; the spec's field of that name).
    """

    y: str
    d: str
    x: tuple[str, ...]
    z: tuple[str, ...]
    cluster: tuple[str, ...]
    frame: pd.DataFrame
    rows: np.ndarray
    groups: Optional[np.ndarray]
    n_dropped_na: int
    treatments: tuple[str, ...] = ()
    s: Optional[str] = None
    other_treatments_as_controls: bool = True

    @property
    def n_obs(self) -> int:
        return len(self.frame)

    @property
    def d_cols(self) -> tuple[str, ...]:
        """All treatments, in the spec's order."""
        return self.treatments or (self.d,)

    @property
    def columns(self) -> list[str]:
        return [self.y, *self.d_cols, *self.x, *self.z, *([self.s] if self.s else []), *self.cluster]

    def for_treatment(self, d: str) -> Design:
        """The single-treatment view both packages fit for ``d``: the other treatments are controls
        unless the spec says ``use_other_treat_as_covariate: false``."""
        others = tuple(t for t in self.d_cols if t != d) if self.other_treatments_as_controls else ()
        return dataclasses.replace(self, d=d, x=self.x + others, treatments=())

    # Pickled for a worker, a design in shared memory travels as a reference (harness.design.shared_memory).
    def __getstate__(self) -> dict:
        return {**self.__dict__, "frame": portable_frame(self.frame), "rows": portable(self.rows)}

    def __setstate__(self, state: dict) -> None:
        _set_fields(self, {**state, "frame": resolved_frame(state["frame"]), "rows": resolved(state["rows"])})


def _set_fields(obj: object, state: dict) -> None:
    for name, value in state.items():
        object.__setattr__(obj, name, value)  # frozen dataclass: set as its own __init__ does


def build_design(spec: Spec, data: pd.DataFrame, dataset: DatasetSpec, where: str) -> Design:
    """Build the model table of ``spec`` from the full data.

    Parameters
    ----------
    spec : Spec
    data : pandas.DataFrame
        The whole data file, column map applied.
    dataset : DatasetSpec
        Gives the unit and time columns for lags and fixed effects.
    where : str
        The data file's name, for messages.
    """
    frame = data.copy()
    frame["__row__"] = np.arange(len(frame))
    frame = derive_lags(spec, frame, dataset, where)
    frame = derive_interactions(spec, frame, where)  # row by row: the same before the sample or after
    frame = apply_sample(spec, frame, where)

    treatments = list(spec.treatments)
    roles = model_roles(spec)  # (field, column): y, d, x, z, s
    fields, model_cols = [field for field, _ in roles], [column for _, column in roles]
    binarized = {binarized_name(c) for c in spec.binarize}
    for col, field in zip(model_cols, fields, strict=True):
        if col not in binarized:
            need(where, spec, frame, col, field)
    for col in spec.cluster or []:
        need(where, spec, frame, col, "cluster")
    if spec.fold_groups:
        need(where, spec, frame, spec.fold_groups, "fold_groups")

    source_cols = [c for c in model_cols if c not in binarized] + list(spec.binarize)
    if spec.model == "ssm":
        frame = _unselected_outcomes(spec, frame)
    frame, n_dropped = _handle_missing(spec, frame, _used_columns(spec, dataset, source_cols), where)
    frame = derive_binarized(spec, frame, where)
    numeric = _booleans_read_as_text(frame[model_cols])
    for col, field in zip(model_cols, fields, strict=True):
        if not pd.api.types.is_numeric_dtype(numeric[col]):  # booleans count as numeric (0/1)
            raise DataError(f"{where}: spec '{spec.id}' field '{field}': column '{col}' is not numeric{first_text(frame, col)}")
    values = numeric.astype(float)
    bad = next((c for c in model_cols if not np.isfinite(values[c].to_numpy()).all()), None)  # per column: no n x p copy
    if bad is not None:
        raise DataError(f"{where}: spec '{spec.id}': column '{bad}' has infinite values")
    if len(values) == 0:  # the sample and dropna say so themselves; a generated data set may hold none
        raise DataError(f"{where}: spec '{spec.id}': no rows left")
    if len(values) < spec.n_folds:
        raise SpecError(f"{where}: spec '{spec.id}' field 'n_folds': {spec.n_folds} folds but only {len(values)} rows")
    _check_treatment(spec, values, where)

    if spec.winsorize:
        values = _winsorize(values, spec, model_cols)
    before = values
    values = _fixed_effects(spec, values, frame, dataset, where)
    _check_absorbed(spec, roles, before, values, where)

    extra_x = tuple(c for c in values.columns if c not in model_cols)
    if not spec.x and not extra_x:  # unit dummies alone are controls enough
        raise SpecError(f"{where}: spec '{spec.id}' field 'x': no controls; the nuisance learners need at least one column")
    out = values  # built above for this design alone: no copy needed to add the cluster codes
    for col in spec.cluster or []:
        out[col] = pd.factorize(frame[col], sort=True)[0].astype(float)
    groups = pd.factorize(frame[spec.fold_groups], sort=True)[0] if spec.fold_groups else None
    return Design(
        y=spec.y,
        d=treatments[0],
        x=tuple(spec.x) + extra_x,
        z=tuple(spec.z or ()),
        cluster=tuple(spec.cluster or ()),
        frame=out.reset_index(drop=True),
        rows=frame["__row__"].to_numpy(),
        groups=groups,
        n_dropped_na=n_dropped,
        treatments=tuple(treatments) if len(treatments) > 1 else (),
        s=spec.s,
        other_treatments_as_controls=spec.use_other_treat_as_covariate is not False,
    )


def _booleans_read_as_text(numeric: pd.DataFrame) -> pd.DataFrame:
    """A True/False column with empty fields is read as text (pandas has no missing boolean in a
    CSV): once its missing rows are dropped, it is the 0/1 column a complete one is."""
    text = [c for c in numeric.columns if numeric[c].dtype == object]
    flags = [c for c in text if len(numeric[c]) and numeric[c].map(lambda v: isinstance(v, (bool, np.bool_))).all()]
    return numeric.astype(dict.fromkeys(flags, bool)) if flags else numeric


def _unselected_outcomes(spec: Spec, frame: pd.DataFrame) -> pd.DataFrame:
    """A selection model's outcome is unobserved where s = 0, and a data set has it missing there.
    Neither package reads it (both scores take s * y; the outcome's learners train on selected
    rows), but both refuse a missing value: it is set to 0 there, where a user would have to set
    it, and those rows are kept, not dropped by ``dropna``."""
    s = frame[spec.s]
    if not pd.api.types.is_numeric_dtype(s) or not pd.api.types.is_numeric_dtype(frame[spec.y]):
        return frame  # refused as not numeric by build_design
    unselected = (s == 0) & frame[spec.y].isna()
    if not unselected.any():
        return frame
    return frame.assign(**{spec.y: frame[spec.y].mask(unselected, 0.0)})


def _used_columns(spec: Spec, dataset: DatasetSpec, source_cols: list[str]) -> list[str]:
    """The columns a row needs a value in: the model's (before binarize), the clusters, the fold
    groups, and the panel's unit and time where fixed effects or lags read them (a missing unit
    would be one more unit, or a negative code, to pandas.factorize)."""
    panel = [k for k in (dataset.unit, dataset.time) if k] if spec.fixed_effects != "none" or spec.lags else []
    groups = [spec.fold_groups] if spec.fold_groups else []
    return list(dict.fromkeys(panel + source_cols + list(spec.cluster or []) + groups))


def _handle_missing(spec: Spec, frame: pd.DataFrame, cols: list[str], where: str) -> tuple[pd.DataFrame, int]:
    missing = frame[cols].isna().any(axis=1)
    n_missing = int(missing.sum())
    if not n_missing:
        return frame, 0  # no row to drop: skip a copy of the whole table
    # Every column with gaps, the most first: naming only the first sent users to fix a column of
    # one gap while another held 196 (an outside user's bwght, until 2026-12-07).
    counts = frame[cols].isna().sum()
    gaps = sorted((c for c in cols if counts[c]), key=lambda c: -counts[c])
    col = gaps[0]
    said = ", ".join(f"'{c}' {int(counts[c])}" for c in gaps[:4]) + (f" and {len(gaps) - 4} more" if len(gaps) > 4 else "")
    if not spec.dropna:
        raise DataError(
            f"{where}: spec '{spec.id}': {n_missing} rows have missing values in used columns ({said}); "
            "set 'dropna: true' to drop them"
        )
    if n_missing == len(frame):
        lagged = next(((c, k) for c, k in spec.lags.items() if lag_name(c, k) == col), None)
        why = f"; '{col}' is the value at time - {lagged[1]}, and no row has one: check the time column's step" if lagged else ""
        raise DataError(
            f"{where}: spec '{spec.id}' field 'dropna': all {n_missing} rows have missing values in used columns "
            f"({said}){why}"
        )
    return frame[~missing.to_numpy()], n_missing


# What a within transformation leaves of a column the fixed effects span: rounding noise, about
# 1e-14 of the column's spread (a column that varies within units and periods keeps far more).
ABSORBED = 1e-9


def _check_absorbed(spec: Spec, roles: list[tuple[str, str]], before: pd.DataFrame, after: pd.DataFrame, where: str) -> None:
    """A model column the fixed effects absorb is refused by field: its remains are noise that one
    solver keeps and another drops (ols's rank tolerance), so no advice about tolerances helps."""
    if spec.fixed_effects not in ("twoway", "unit", "time"):
        return  # dummies add columns; the model's own stay as they are
    absorbed = []
    for field, col in roles:
        spread, left = float(before[col].std()), float(after[col].std())
        if left == 0 or (spread > 0 and left <= ABSORBED * spread):
            absorbed.append((field, col, spread, left))
    if absorbed:
        field, col, spread, left = absorbed[0]
        # Every such column at once: one per run sent users round the loop (an outside user, 2026-12-07).
        others = "; so are " + ", ".join(f"'{c}' ({f})" for f, c, _, _ in absorbed[1:]) if absorbed[1:] else ""
        raise DataError(
            f"{where}: spec '{spec.id}' field '{field}': column '{col}' is absorbed by the fixed effects "
            f"({spec.fixed_effects}): what the within transformation leaves of it is rounding noise (sd {left:.2g}, "
            f"against {spread:.2g} before); drop it{others}"
        )


def _check_treatment(spec: Spec, values: pd.DataFrame, where: str) -> None:
    if values[spec.y].nunique() < 2:  # no effect to estimate: both packages' se would be 0
        raise DataError(f"{where}: spec '{spec.id}' field 'y': outcome '{spec.y}' is constant in the sample")
    for d in spec.treatments:
        if values[d].nunique() < 2:
            raise DataError(f"{where}: spec '{spec.id}' field 'd': treatment '{d}' is constant in the sample")
    if spec.model in BINARY_TREATMENT:
        # SSM's instrument shifts selection and need not be binary; its selection column must be.
        binary = [("d", spec.treatments[0])]
        binary += [("s", spec.s)] if spec.model == "ssm" else [("z", c) for c in spec.z or []]
        for field, col in binary:
            found = np.unique(values[col])
            if not set(found) <= {0.0, 1.0}:
                held = f"holds {found[0]:g} and {found[1]:g}; recode it as 0/1" if len(found) == 2 else "is not binary"
                raise DataError(f"{where}: spec '{spec.id}' field '{field}': {spec.model} needs a 0/1 column, '{col}' {held}")


def _winsorize(values: pd.DataFrame, spec: Spec, cols: list[str]) -> pd.DataFrame:
    out = values.copy()
    for col in dict.fromkeys(cols):
        if set(np.unique(out[col])) <= {0.0, 1.0}:
            continue  # binary columns have no tails to clip
        low, high = np.quantile(out[col], [spec.winsorize, 1 - spec.winsorize])
        out[col] = out[col].clip(low, high)
    return out


def _fixed_effects(spec: Spec, values: pd.DataFrame, frame: pd.DataFrame, dataset: DatasetSpec, where: str) -> pd.DataFrame:
    if spec.fixed_effects == "none":
        return values
    if not dataset.unit or not dataset.time:
        raise SpecError(f"{where}: spec '{spec.id}' field 'fixed_effects': needs dataset.unit and dataset.time")
    unit = pd.factorize(frame[dataset.unit], sort=True)[0]
    time = pd.factorize(frame[dataset.time], sort=True)[0]
    # Binary treatment and instrument of irm/iivm must stay 0/1: they are not demeaned.
    keep = {*spec.treatments, *(spec.z or []), *([spec.s] if spec.s else [])} if spec.model in BINARY_TREATMENT else set()
    out = values.copy()
    if spec.fixed_effects == "dummies":
        dummies = [
            pd.get_dummies(unit, prefix="fe_unit", drop_first=True),
            pd.get_dummies(time, prefix="fe_time", drop_first=True),
        ]
        extra = pd.concat(dummies, axis=1).astype(float)
        extra.index = out.index
        raise_if_clash = set(extra.columns) & set(out.columns)
        if raise_if_clash:
            raise SpecError(f"{where}: spec '{spec.id}': column names {sorted(raise_if_clash)} are reserved for dummies")
        return pd.concat([out, extra], axis=1)
    factors = {"twoway": [unit, time], "unit": [unit], "time": [time]}[spec.fixed_effects]
    for col in out.columns:
        if col not in keep:
            try:
                out[col] = demean(out[col].to_numpy(), factors, tol=WITHIN_TOL)
            except NotConverged as err:
                raise DataError(
                    f"{where}: spec '{spec.id}' field 'fixed_effects': the {spec.fixed_effects} within transformation of "
                    f"column '{col}' did not converge ({err}); the panel's units and periods are too weakly connected "
                    "(use fixed_effects: dummies, or drop units seen in few periods)"
                ) from None
    return out


@dataclass(frozen=True)
class Folds:
    """The sample splitting both engines use.

    Attributes
    ----------
    labels : numpy.ndarray
        ``(n_rep, n_obs)`` 0-based fold of every row. With clusters, fold ``k`` is the cell
        ``k = sum_v fold_v * K**v`` of the cluster folds (test sets still partition the rows).
    n_folds : int
        Number of folds (``K ** n_cluster_vars`` with clusters).
    cluster_folds : tuple or None
        Per repetition, per cluster variable: the fold of each cluster code.
    n_folds_per_cluster : int or None
        ``K`` with clusters.
    """

    labels: np.ndarray
    n_folds: int
    cluster_folds: Optional[tuple[tuple[np.ndarray, ...], ...]] = None
    n_folds_per_cluster: Optional[int] = None

    @property
    def n_rep(self) -> int:
        return self.labels.shape[0]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "labels": portable(self.labels)}

    def __setstate__(self, state: dict) -> None:
        _set_fields(self, {**state, "labels": resolved(state["labels"])})

    def smpls(self, cluster_codes: Optional[np.ndarray] = None) -> list[list[tuple[np.ndarray, np.ndarray]]]:
        """``(train, test)`` 0-based index arrays per repetition and fold."""
        out = []
        for rep, labels in enumerate(self.labels):
            if self.cluster_folds is None:
                out.append([(np.flatnonzero(labels != k), np.flatnonzero(labels == k)) for k in range(self.n_folds)])
                continue
            # With clusters a training row must avoid the test cell in every cluster dimension.
            cells = [self._cell(k) for k in range(self.n_folds)]
            row_fold = [self.cluster_folds[rep][v][cluster_codes[:, v]] for v in range(cluster_codes.shape[1])]
            reps = []
            for k, cell in enumerate(cells):
                train = np.logical_and.reduce([row_fold[v] != cell[v] for v in range(len(cell))])
                reps.append((np.flatnonzero(train), np.flatnonzero(labels == k)))
            out.append(reps)
        return out

    def smpls_cluster(self) -> list[list[tuple[list[np.ndarray], list[np.ndarray]]]]:
        """Cluster codes in the training and test part of each fold, per cluster variable."""
        assert self.cluster_folds is not None
        out = []
        for rep in self.cluster_folds:
            folds = []
            for k in range(self.n_folds):
                cell = self._cell(k)
                train = [np.flatnonzero(rep[v] != cell[v]).astype(float) for v in range(len(cell))]
                test = [np.flatnonzero(rep[v] == cell[v]).astype(float) for v in range(len(cell))]
                folds.append((train, test))
            out.append(folds)
        return out

    def _cell(self, k: int) -> list[int]:
        n_vars = len(self.cluster_folds[0])
        K = self.n_folds_per_cluster
        return [(k // K**v) % K for v in range(n_vars)]


def cluster_codes(design: Design) -> Optional[np.ndarray]:
    """``(n_obs, n_cluster_vars)`` int64 cluster codes (0-based, as built here), or None without clusters."""
    if not design.cluster:
        return None
    return design.frame[list(design.cluster)].to_numpy().astype(np.int64)


def _deal(rng: np.random.Generator, n_items: int, n_folds: int) -> np.ndarray:
    """Shuffle ``n_items`` and deal them round-robin into ``n_folds`` folds."""
    fold_of = np.empty(n_items, dtype=np.int64)
    fold_of[rng.permutation(n_items)] = np.arange(n_items) % n_folds
    return fold_of


def draw_folds(design: Design, n_folds: int, n_rep: int, seed: int, where: str = "", spec_id: str = "") -> Folds:
    """Draw the folds of a design once, seeded, for both engines.

    Plain rows are dealt into folds; ``fold_groups`` keeps a group's rows in one fold; cluster data
    splits each cluster variable's clusters into ``n_folds`` folds, as both DoubleML packages do.
    """
    rng = np.random.default_rng(seed)
    n_obs = design.n_obs
    if design.cluster:
        codes = cluster_codes(design)
        labels = np.empty((n_rep, n_obs), dtype=np.int64)
        cluster_folds = []
        for rep in range(n_rep):
            per_var = []
            for v in range(codes.shape[1]):
                n_clusters = int(codes[:, v].max()) + 1
                if n_clusters < n_folds:
                    raise DataError(
                        f"{where}: spec '{spec_id}' field 'cluster': {n_clusters} clusters in "
                        f"'{design.cluster[v]}' cannot fill {n_folds} folds"
                    )
                per_var.append(_deal(rng, n_clusters, n_folds))
            cluster_folds.append(tuple(per_var))
            labels[rep] = sum(per_var[v][codes[:, v]] * n_folds**v for v in range(codes.shape[1]))
        return Folds(
            labels=labels, n_folds=n_folds ** codes.shape[1], cluster_folds=tuple(cluster_folds), n_folds_per_cluster=n_folds
        )
    labels = np.empty((n_rep, n_obs), dtype=np.int64)
    for rep in range(n_rep):
        if design.groups is None:
            labels[rep] = _deal(rng, n_obs, n_folds)
        else:
            n_groups = int(design.groups.max()) + 1
            if n_groups < n_folds:
                raise DataError(f"{where}: spec '{spec_id}' field 'fold_groups': {n_groups} groups cannot fill {n_folds} folds")
            labels[rep] = _deal(rng, n_groups, n_folds)[design.groups]
    return Folds(labels=labels, n_folds=n_folds)
