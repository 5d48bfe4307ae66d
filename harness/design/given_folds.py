"""Folds a spec gives instead of drawing them: ``folds: [fold_1, ...]`` names data columns holding
each repetition's 0-based test fold of every row (a model's own sample splits, written by
``harness.compare``'s ``to_spec``).

With clusters a row's fold is the cell ``k = sum_v fold_v * K**v`` of its clusters' folds (the
layout :class:`harness.design.table.Folds` keeps), so every cluster's rows must share each fold
number; with ``K`` the spec's ``n_folds``. The engines' folds are validated again afterwards
(:func:`harness.design.splits.sample_splits`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from harness.design.table import Design, Folds, cluster_codes
from harness.errors import DataError
from harness.language.spec import Spec

__all__ = ["given_folds"]


def given_folds(spec: Spec, data: pd.DataFrame, design: Design, where: str) -> Folds:
    """The folds in ``spec.folds``'s columns of ``data``, on the design's rows."""
    field = f"{where}: spec '{spec.id}' field 'folds'"
    columns = list(spec.folds or [])
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise DataError(f"{field}: no column '{missing[0]}' in the data")
    labels = np.empty((len(columns), design.n_obs), dtype=np.int64)
    for rep, column in enumerate(columns):
        values = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)[design.rows]
        if not np.isfinite(values).all() or (values != np.round(values)).any():
            raise DataError(f"{field}: column '{column}' holds a value that is not a fold number")
        labels[rep] = values.astype(np.int64)
    K = spec.n_folds
    n_vars = len(design.cluster)
    n_folds = spec.n_cells
    for rep, column in enumerate(columns):
        seen = np.unique(labels[rep])
        if seen[0] < 0 or seen[-1] >= n_folds or len(seen) != n_folds:
            raise DataError(
                f"{field}: column '{column}' must number each of {n_folds} folds 0..{n_folds - 1} (found {seen.tolist()[:12]})"
            )
    if not n_vars:
        return Folds(labels=labels, n_folds=n_folds)
    return Folds(
        labels=labels, n_folds=n_folds, cluster_folds=_cluster_folds(labels, design, K, field, columns), n_folds_per_cluster=K
    )


def _cluster_folds(labels: np.ndarray, design: Design, K: int, field: str, columns: list[str]) -> tuple:
    """Per repetition, per cluster variable: each cluster's fold, read off its rows' cells."""
    codes = cluster_codes(design)
    out = []
    for rep, row_labels in enumerate(labels):
        per_var = []
        for v in range(codes.shape[1]):
            fold_v = (row_labels // K**v) % K
            n_clusters = int(codes[:, v].max()) + 1
            first = np.full(n_clusters, -1, dtype=np.int64)
            first[codes[::-1, v]] = fold_v[::-1]  # one row's fold per cluster ...
            if (first[codes[:, v]] != fold_v).any():  # ... and every row of the cluster agrees
                raise DataError(
                    f"{field}: column '{columns[rep]}' puts rows of one '{design.cluster[v]}' cluster in different folds"
                )
            per_var.append(first)
        out.append(tuple(per_var))
    return tuple(out)
