"""How extreme the propensity scores of an IRM or IIVM fit were: the facts behind heavy tails.

The ATE score divides by the propensity m(x) for treated rows and by 1 - m(x) for untreated ones
(IIVM: by the instrument's propensity). A forest's propensities can sit at 0 or 1, where only the
trimming threshold bounds those weights. Python's ``doubleml`` stores its propensities after
clipping, R's ``DoubleML`` before trimming; both are read here as the score used them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["propensity_extremes"]


def propensity_extremes(assigned: np.ndarray, m: np.ndarray, threshold: float) -> dict:
    """Per fit: the share of propensities at (or beyond) the trimming bound, the largest inverse
    propensity weight the score used, and the smallest and largest propensity.

    Parameters
    ----------
    assigned : numpy.ndarray
        The 0/1 treatment (IRM) or instrument (IIVM) of each row.
    m : numpy.ndarray
        ``(n_obs, n_rep)`` propensities as the engine stored them.
    threshold : float
        The trimming threshold both engines were given.
    """
    m = np.asarray(m, dtype=float)
    bounded = np.clip(m, threshold, 1 - threshold)
    treated = np.asarray(assigned, dtype=float)[:, None] == 1
    weight = np.where(treated, 1 / bounded, 1 / (1 - bounded))
    # A clipped value may differ from the threshold in the last bit (1 - (1 - t)).
    at_bound = (m <= threshold * (1 + 1e-9)) | (m >= 1 - threshold * (1 + 1e-9))
    return {
        "at_bound_share": float(at_bound.mean()),
        "max_weight": float(weight.max()),
        "min": float(m.min()),
        "max": float(m.max()),
    }
