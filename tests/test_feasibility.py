"""The checks before any fit: what has no single answer is refused, what has one is not."""

from __future__ import annotations

import numpy as np

from harness.design.feasibility import _aliased, _separated


def test_collinear_and_constant_columns_are_found_at_lms_tolerance() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    assert _aliased(x, ["a", "b", "c"]) == []
    collinear = np.column_stack([x, x[:, 0] + 2 * x[:, 1]])
    assert len(_aliased(collinear, ["a", "b", "c", "d"])) == 1
    constant = np.column_stack([x, np.full(50, 3.0)])
    # Centred least squares gives a constant column coefficient 0, as lm does by dropping it ...
    assert _aliased(constant, ["a", "b", "c", "k"]) == []
    # ... an uncentred logit splits it with the intercept, and an all-zero column is harmless to both.
    assert len(_aliased(constant, list("abck"), centred=False)) == 1
    assert _aliased(np.column_stack([x, np.zeros(50)]), list("abcz"), centred=False) == []
    # Nearly collinear, beyond lm's tolerance: lm keeps the column, so must the check.
    near = np.column_stack([x, x[:, 0] + 1e-4 * rng.normal(size=50)])
    assert _aliased(near, ["a", "b", "c", "n"]) == []
    # More columns than rows: rank-deficient whatever the values.
    assert _aliased(rng.normal(size=(3, 5)), list("abcde"))


def test_separation_is_decided_by_the_linear_programme() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 2))
    overlapping = (x[:, 0] + rng.normal(size=200) > 0).astype(float)
    assert not _separated(x, overlapping)
    complete = (x[:, 0] + 0.5 * x[:, 1] > 0.2).astype(float)
    assert _separated(x, complete)
    # Quasi-complete: a dummy that is 1 only for some treated rows.
    quasi = overlapping.copy()
    dummy = np.zeros(200)
    dummy[np.flatnonzero(quasi == 1)[:5]] = 1.0
    assert _separated(np.column_stack([x, dummy]), quasi)
