"""Random draws the tool makes once and gives to both packages, as it does with the folds.

* Multiplier bootstrap weights: both packages draw an ``(n_rep_boot, n_obs)`` matrix per repetition
  (doubleml ``utils/_estimation.py::_draw_weights``, DoubleML for R ``R/helper.R::draw_weights``)
  from their own random streams; with the tool's weights in both, their bootstrap code must give the
  same t statistics. The distributions are the packages' own: ``normal`` N(0, 1), ``Bayes``
  Exp(1) - 1, ``wild`` N/sqrt(2) + (N'^2 - 1)/2 (Mammen's weights in the packages' form).
* The SSM ``nonignorable`` score's inner split: each package halves every training fold again
  (Python: ``train_test_split(..., random_state=42, stratify=d + 2s)``; R: mlr3's holdout with
  strata d + 2s on R's stream). The tool draws one split per (repetition, fold), stratified the
  same way, and both packages use it.

Each draw has its own stream derived from the spec seed, so adding a bootstrap to a spec does not
move its folds.
"""

from __future__ import annotations

import numpy as np

from harness.design.table import Design, Folds, cluster_codes

__all__ = ["WEIGHT_STREAM", "bootstrap_weights", "inner_splits", "split_key"]

WEIGHT_STREAM = 1
SPLIT_STREAM = 2


def bootstrap_weights(method: str, n_rep_boot: int, n_obs: int, seed: int, rep: int) -> np.ndarray:
    """The ``(n_rep_boot, n_obs)`` multiplier weights of repetition ``rep`` (0-based)."""
    rng = np.random.default_rng([seed, WEIGHT_STREAM, rep])
    shape = (n_rep_boot, n_obs)
    if method == "normal":
        return rng.standard_normal(shape)
    if method == "Bayes":
        return rng.standard_exponential(shape) - 1.0
    if method == "wild":
        first = rng.standard_normal(shape)
        second = rng.standard_normal(shape)
        return first / np.sqrt(2.0) + (second**2 - 1.0) / 2.0
    raise ValueError(f"unknown bootstrap method {method!r}")


def split_key(train: np.ndarray) -> bytes:
    """The key both substitutes look a training fold up by: its sorted 0-based row indices."""
    return np.sort(np.asarray(train, dtype=np.int64)).tobytes()


def inner_splits(design: Design, folds: Folds, seed: int) -> dict[bytes, tuple[np.ndarray, np.ndarray]]:
    """Per training fold (keyed by :func:`split_key`): the half that fits the selection propensity
    ``ml_pi`` and the half that fits ``ml_m`` and ``ml_g``, each stratified by ``d + 2 s`` (half of
    every stratum, rounded as scikit-learn's ``train_test_split`` rounds the test half up)."""
    frame = design.frame
    strata = (frame[design.d].to_numpy() + 2 * frame[design.s].to_numpy()).astype(np.int64)
    rng = np.random.default_rng([seed, SPLIT_STREAM])
    out: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
    for rep in folds.smpls(cluster_codes(design)):
        for train, _ in rep:
            first, second = [], []
            for stratum in np.unique(strata[train]):
                members = rng.permutation(train[strata[train] == stratum])
                n_second = int(np.ceil(len(members) / 2))
                second.append(members[:n_second])
                first.append(members[n_second:])
            out[split_key(train)] = (np.sort(np.concatenate(first)), np.sort(np.concatenate(second)))
    return out
