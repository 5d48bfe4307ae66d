"""The checks before any fit: what has no single answer is refused, what has one is not."""

from __future__ import annotations

import numpy as np

from harness.design.feasibility import _aliased, _separated, zero_one


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


def test_the_zero_one_rule_is_the_one_doubleml_refuses_iv_type_by() -> None:
    """check_engines_accept refuses PLR IV-type exactly where doubleml's constructor raises."""
    import pandas as pd
    from doubleml import DoubleMLData, DoubleMLPLR
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(2)
    n = 40
    flips = rng.integers(0, 2, n)
    outcomes = {
        "0/1 integers": flips,
        "0/1 floats": flips.astype(float),
        "all 0": np.zeros(n),
        "all 1": np.ones(n, dtype=int),
        "2/3": flips + 2,
        "-1/1": 2 * flips - 1,
        "0/0.5": flips / 2,
        "0/1/2": rng.integers(0, 3, n),
        "0/1 demeaned": flips - flips.mean(),
        "continuous": rng.normal(size=n),
    }
    refused = []
    for name, y in outcomes.items():
        frame = pd.DataFrame({"y": y, "d": rng.normal(size=n), "x": rng.normal(size=n)})
        data = DoubleMLData(frame, y_col="y", d_cols="d", x_cols=["x"])
        try:
            DoubleMLPLR(data, LinearRegression(), LinearRegression(), LinearRegression(), score="IV-type")
        except ValueError as err:
            assert "binary outcomes" in str(err)
            refused.append(name)
        assert zero_one(np.asarray(y)) == (name in refused), name
    assert refused == ["0/1 integers", "0/1 floats", "all 0", "all 1"]
