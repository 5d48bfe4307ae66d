"""The design step: panel transformations and folds, checked on small panels with known answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.design.data_file import load_data
from harness.design.table import build_design, demean, draw_folds
from harness.errors import DataError
from harness.language.spec import DatasetSpec, Spec

PANEL = DatasetSpec(unit="unit", time="year")


def panel(n_units: int = 12, years: range = range(2011, 2016), seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(u, t) for u in range(n_units) for t in years]
    frame = pd.DataFrame(rows, columns=["unit", "year"])
    frame["x"] = rng.normal(size=len(frame))
    frame["gov"] = rng.uniform(size=len(frame))
    frame["d"] = rng.normal(size=len(frame)) + frame["unit"] * 0.3
    frame["y"] = frame["d"] + frame["x"] + rng.normal(size=len(frame))
    frame["region"] = np.where(frame["unit"] < 6, "east", "west")
    return frame


def spec(**kw) -> Spec:
    base = {"id": "s", "model": "plr", "y": "y", "d": "d", "x": ["x"], "learner": "ols"}
    return Spec(**{**base, **kw})


def test_twoway_within_removes_unit_and_time_means() -> None:
    frame = panel()
    frame = frame.drop(index=[3, 17, 40]).reset_index(drop=True)  # unbalanced: needs iterations
    design = build_design(spec(fixed_effects="twoway"), frame, PANEL, "p.csv")
    out = design.frame.assign(unit=frame["unit"].to_numpy(), year=frame["year"].to_numpy())
    for col in ("y", "d", "x"):
        assert np.abs(out.groupby("unit")[col].mean()).max() < 1e-10
        assert np.abs(out.groupby("year")[col].mean()).max() < 1e-10


def test_demean_one_factor_is_exact() -> None:
    values = np.array([1.0, 2.0, 3.0, 10.0, 20.0])
    codes = np.array([0, 0, 0, 1, 1])
    np.testing.assert_allclose(demean(values, [codes]), [-1.0, 0.0, 1.0, -5.0, 5.0])


def test_dummies_add_unit_and_time_columns_to_x() -> None:
    design = build_design(spec(fixed_effects="dummies"), panel(), PANEL, "p.csv")
    assert len(design.x) == 1 + 11 + 4  # x, 12 units - 1, 5 years - 1


def test_lag_is_within_unit_and_respects_gaps() -> None:
    frame = panel(n_units=2, years=range(2011, 2015))
    frame = frame[~((frame["unit"] == 1) & (frame["year"] == 2012))].reset_index(drop=True)
    s = spec(d="d_lag1", lags={"d": 1}, dropna=True, n_folds=2)
    design = build_design(s, frame, PANEL, "p.csv")
    # unit 0 loses 2011; unit 1 loses 2011 and 2013 (its 2012 is missing, so 2013 has no lag)
    assert design.n_dropped_na == 3
    kept = frame.iloc[design.rows]
    expected = [
        frame.loc[(frame.unit == u) & (frame.year == t - 1), "d"].item() for u, t in zip(kept.unit, kept.year, strict=True)
    ]
    np.testing.assert_allclose(design.frame["d_lag1"], expected)


def test_lag_without_dropna_is_an_error() -> None:
    with pytest.raises(DataError, match=r"spec 's': 12 rows have missing values.*'d_lag1'.*dropna: true"):
        build_design(spec(d="d_lag1", lags={"d": 1}), panel(), PANEL, "p.csv")


def test_interaction_and_binarize_and_sample() -> None:
    frame = panel()
    s = spec(d="d_x_gov", x=["d", "gov", "x"], interactions=[["d", "gov"]], sample="region == 'east'")
    design = build_design(s, frame, PANEL, "p.csv")
    east = frame[frame.region == "east"]
    np.testing.assert_allclose(design.frame["d_x_gov"], (east.d * east.gov).to_numpy())
    assert (frame.loc[design.rows, "region"] == "east").all()

    b = Spec(id="b", model="irm", y="y", d="d_bin", x=["x"], learners={"ml_g": "ols", "ml_m": "logit"}, binarize={"d": "median"})
    design = build_design(b, frame, PANEL, "p.csv")
    assert set(design.frame["d_bin"]) == {0.0, 1.0}
    assert design.frame["d_bin"].sum() == (frame.d > frame.d.median()).sum()


def test_winsorize_clips_tails() -> None:
    frame = panel(n_units=40)
    frame.loc[0, "y"] = 1e6
    design = build_design(spec(winsorize=0.01), frame, PANEL, "p.csv")
    assert design.frame["y"].max() == pytest.approx(np.quantile(frame["y"], 0.99))


def test_fold_groups_keep_a_units_rows_together() -> None:
    design = build_design(spec(fold_groups="unit"), panel(), PANEL, "p.csv")
    folds = draw_folds(design, 3, 2, seed=4)
    frame = panel()
    for rep in folds.labels:
        assert (pd.Series(rep).groupby(frame["unit"]).nunique() == 1).all()


def test_cluster_folds_partition_rows_and_exclude_test_clusters_from_training() -> None:
    frame = panel(n_units=10)
    design = build_design(spec(cluster=["unit", "year"]), frame, PANEL, "p.csv")
    folds = draw_folds(design, 2, 1, seed=1)
    codes = design.frame[["unit", "year"]].to_numpy().astype(int)
    smpls = folds.smpls(codes)[0]
    assert folds.n_folds == 4
    tests = np.concatenate([test for _, test in smpls])
    assert sorted(tests) == list(range(design.n_obs))
    for train, test in smpls:
        for v in range(2):
            assert not set(codes[train, v]) & set(codes[test, v])


def test_folds_are_seeded() -> None:
    design = build_design(spec(), panel(), PANEL, "p.csv")
    a, b, c = draw_folds(design, 5, 2, 7), draw_folds(design, 5, 2, 7), draw_folds(design, 5, 2, 8)
    assert np.array_equal(a.labels, b.labels) and not np.array_equal(a.labels, c.labels)


def test_user_panel_column_map_and_duplicates(tmp_path: Path) -> None:
    frame = panel().rename(columns={"unit": "city", "y": "outcome"})
    path = tmp_path / "mine.csv"
    frame.to_csv(path, index=False)
    mapped = DatasetSpec(unit="unit", time="year", columns={"unit": "city", "y": "outcome"})
    data = load_data(path, mapped)
    assert {"unit", "y"} <= set(data.columns)
    pd.concat([frame, frame.iloc[[4]]]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"mine\.csv: 1 duplicate \(unit, year\) rows, first \(0, 2015\)"):
        load_data(path, mapped)
    with pytest.raises(DataError, match=r"column 'town' \(mapped to 'unit' in dataset.columns\) not found"):
        load_data(path, DatasetSpec(columns={"unit": "town"}))
