"""The within transformation converges on weakly connected panels, or says that it did not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness.design import table as design_module
from harness.design import within
from harness.design.table import build_design
from harness.design.within import NotConverged, demean, largest_group_mean
from harness.errors import DataError
from harness.language.spec import DatasetSpec, Spec


def staggered_panel(n_units: int = 120, seed: int = 0, linked: bool = False) -> pd.DataFrame:
    """Unit i is seen in periods i, i+1 and i+2 only: a staircase whose first and last units are
    linked only through a long chain. ``linked`` adds two units seen every seventh period."""
    rng = np.random.default_rng(seed)
    rows = [(u, t) for u in range(n_units) for t in (u, u + 1, u + 2)]
    if linked:
        rows += [(n_units + k, t) for k in range(2) for t in range(0, n_units + 2, 7)]
    frame = pd.DataFrame(rows, columns=["unit", "year"])
    frame["x"] = rng.normal(size=len(frame)) + 0.05 * frame["year"]
    frame["d"] = rng.normal(size=len(frame)) + 0.3 * frame["unit"] / n_units
    frame["y"] = frame["d"] + frame["x"] + rng.normal(size=len(frame))
    return frame


def codes(frame: pd.DataFrame) -> list[np.ndarray]:
    return [pd.factorize(frame[c], sort=True)[0] for c in ("unit", "year")]


def least_squares_residual(values: np.ndarray, factors: list[np.ndarray]) -> np.ndarray:
    """The within transformation by brute force: residual of a regression on both sets of dummies."""
    dummies = np.column_stack([np.eye(int(f.max()) + 1)[f] for f in factors])
    coef = np.linalg.lstsq(dummies, values, rcond=None)[0]
    return values - dummies @ coef


def test_alternating_projections_alone_stop_far_from_the_answer_on_a_staircase() -> None:
    frame = staggered_panel()
    values = frame["y"].to_numpy()
    # The old rule (stop when a sweep changes little, at most 10,000 sweeps) returned this silently.
    resid, sweeps = within._sweeps(values.copy(), codes(frame), 1e-13 * np.abs(values).max(), 10_000)
    assert sweeps == 10_000
    assert largest_group_mean(resid, codes(frame)) > 1e-6
    assert np.abs(resid - least_squares_residual(values, codes(frame))).max() > 1e-4


@pytest.mark.parametrize(("column", "linked", "n_units"), [("y", False, 120), ("d", True, 120), ("x", False, 250)])
def test_demean_converges_on_a_staircase_to_the_least_squares_residual(column: str, linked: bool, n_units: int) -> None:
    frame = staggered_panel(n_units, linked=linked)
    values = frame[column].to_numpy()
    out = demean(values, codes(frame))
    scale = max(np.abs(values).max(), 1.0)
    assert largest_group_mean(out, codes(frame)) < 1e-13 * scale
    np.testing.assert_allclose(out, least_squares_residual(values, codes(frame)), rtol=0, atol=1e-10 * scale)


def test_balanced_panel_is_unchanged_two_sweeps_as_before() -> None:
    rng = np.random.default_rng(3)
    unit, year = np.repeat(np.arange(40), 9), np.tile(np.arange(9), 40)
    values = rng.normal(size=len(unit)) * 5 + unit
    # What the tool always did on a balanced panel: two sweeps, the second changing nothing that matters.
    expected = values.copy()
    for _ in range(2):
        for f in (unit, year):
            expected = expected - (np.bincount(f, weights=expected) / np.bincount(f))[f]
    assert np.array_equal(demean(values, [unit, year]), expected)


def test_an_unreachable_tolerance_raises_instead_of_returning_a_half_demeaned_column() -> None:
    frame = staggered_panel(n_units=30)
    with pytest.raises(NotConverged, match=r"largest group mean left .* after 200 sweeps and \d+ conjugate-gradient steps"):
        demean(frame["y"].to_numpy(), codes(frame), tol=1e-30)


def test_build_design_names_spec_and_column_when_the_transformation_does_not_converge(monkeypatch) -> None:
    frame = staggered_panel(n_units=30)
    spec = Spec(id="stairs", model="plr", y="y", d="d", x=["x"], learner="ols", fixed_effects="twoway")
    panel = DatasetSpec(unit="unit", time="year")
    assert build_design(spec, frame, panel, "stairs.csv").n_obs == len(frame)
    monkeypatch.setattr(design_module, "WITHIN_TOL", 1e-30)
    with pytest.raises(DataError) as caught:
        build_design(spec, frame, panel, "stairs.csv")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("stairs.csv: spec 'stairs' field 'fixed_effects': the twoway within transformation of column 'y'")
    assert "did not converge" in message
