"""A user's data as Stata writes it (``.dta``), through the command line: the same rows, numbers and
verdict as the same data written to CSV, and a damaged file is one line naming it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.faults import ROOT, env

SPEC = (
    "dataset: {{path: {data}}}\n"
    "defaults: {{n_folds: 3, seed: 5}}\n"
    "specs:\n"
    "  - {{id: wage_union, model: plr, y: lwage, d: union, x: [educ, exper, region], learner: ols, dropna: true,\n"
    "     cluster: county}}\n"
)


def _survey(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(
        {
            "educ": rng.integers(8, 19, n).astype(np.int16),
            "exper": rng.normal(15, 6, n),
            "region": rng.integers(1, 5, n).astype(np.int8),  # labelled in Stata: north, south, ...
            "union": rng.normal(size=n),
        }
    )
    frame["lwage"] = 0.3 * frame["union"] + 0.08 * frame["educ"] + 0.02 * frame["exper"] + rng.normal(size=n)
    frame.loc[[3, 50, 77], "exper"] = np.nan  # Stata's '.', dropped by dropna
    frame["county"] = [f"county {k}" for k in rng.integers(0, 30, n)]
    frame.loc[[5, 90], "county"] = ""  # Stata's missing string (an empty CSV field): dropped too
    return frame


def _run(folder: Path, data_name: str, engines: str) -> subprocess.CompletedProcess:
    spec = folder / "spec.yaml"
    spec.write_text(SPEC.format(data=data_name), encoding="utf-8")
    args = ["run", "--specs", spec, "--out", folder / "out", "--engines", engines, "--no-cache", "--quiet"]
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600
    )


@pytest.mark.r
def test_a_stata_file_runs_as_its_csv_does(tmp_path: Path) -> None:
    """Value labels stay the numbers they label (Stata's estimation commands use those), Stata's
    missing values are missing (a number's '.' and a string's ""), and every number of both
    packages equals the CSV run's."""
    frame = _survey()
    labels = {"region": {1: "north", 2: "south", 3: "east", 4: "west"}}
    records = {}
    for name in ("stata", "csv"):
        folder = tmp_path / name
        folder.mkdir()
        if name == "stata":
            frame.to_stata(folder / "survey.dta", write_index=False, value_labels=labels)
            data = "survey.dta"
        else:
            frame.to_csv(folder / "survey.csv", index=False)
            data = "survey.csv"
        proc = _run(folder, data, "python,r")
        assert proc.returncode == 0, proc.stderr
        [records[name]] = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))["specs"]
    stata, csv = records["stata"], records["csv"]
    assert stata["status"] == "agree" and stata["n_obs"] == len(frame) - 5
    for engine in ("python", "r"):
        for key in ("coef", "se", "coef_reps"):
            assert stata[engine][key] == csv[engine][key], (engine, key)


def test_a_damaged_stata_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "survey.dta").write_bytes(b"<stata_dta><header>not really")
    proc = _run(tmp_path, "survey.dta", "python")
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert "survey.dta: not a readable Stata file (" in line, line
    assert not (tmp_path / "out").exists()


def _results(spec: Path, out: Path) -> dict[str, dict]:
    """Every result row of ``dml-parity run`` on ``spec``, Python only, as a user runs it, by spec id."""
    args = ["run", "--specs", spec, "--out", out, "--engines", "python", "--no-cache", "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600
    )
    assert proc.returncode == 4, proc.stderr  # one engine: nothing compared
    return {r["id"]: r for r in json.loads((out / "results.json").read_text(encoding="utf-8"))["specs"]}


def _python_record(spec: Path, out: Path) -> dict:
    """The one result row of ``dml-parity run`` on ``spec``, Python only."""
    [record] = _results(spec, out).values()
    return record


def test_a_stata_year_is_a_period_for_lags(tmp_path: Path) -> None:
    """A %ty year (a date to pandas by default) stays the year, so a lag of 1 is last year's value."""
    rng = np.random.default_rng(3)
    units, years = 40, list(range(2011, 2017))
    frame = pd.DataFrame(
        [(u, pd.Timestamp(year=t, month=1, day=1)) for u in range(units) for t in years], columns=["city", "year"]
    )
    frame["x"] = rng.normal(size=len(frame))
    frame["d"] = rng.normal(size=len(frame))
    frame["y"] = frame["d"] + frame["x"] + rng.normal(size=len(frame))
    frame.to_stata(tmp_path / "panel.dta", write_index=False, convert_dates={"year": "ty"})
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "dataset: {path: panel.dta, unit: city, time: year}\n"
        "specs:\n"
        "  - {id: lagged, model: plr, y: y, d: d, x: [x_lag1], lags: {x: 1}, dropna: true, learner: ols, n_folds: 3, seed: 2}\n",
        encoding="utf-8",
    )
    record = _python_record(spec, tmp_path / "out")
    assert record["n_obs"] == units * (len(years) - 1)  # each city's first year has no lag


def test_a_lag_is_periods_not_rows_in_a_panel_with_gaps_or_a_longer_step(tmp_path: Path) -> None:
    """``lags: {x: k}`` is the value at time - k. Until 2026-12-07 it was the value k rows back,
    kept only where that row's time was t - k: a panel with a gap silently lost lags it has (an
    outside user's wagepan without 1982 for some men dropped their 1983 rows), and a panel every
    third year had no lag of 3 at all (refused as "no row has one")."""
    rng = np.random.default_rng(5)
    units = 30
    frame = pd.DataFrame([(u, t) for u in range(units) for t in range(2011, 2018)], columns=["unit", "year"])
    frame = frame[~((frame["unit"] < 10) & (frame["year"] == 2012))]  # a gap for a third of the units
    frame["x"] = rng.normal(size=len(frame))
    frame["d"] = rng.normal(size=len(frame))
    frame["y"] = frame["d"] + frame["x"] + rng.normal(size=len(frame))
    earlier = frame[["unit", "year", "x"]].assign(year=frame["year"] + 2).rename(columns={"x": "x_two_back"})
    frame = frame.merge(earlier, on=["unit", "year"], how="left")  # the lag written by hand
    frame.to_csv(tmp_path / "gaps.csv", index=False)
    step = frame[frame["year"].isin([2011, 2014, 2017])].drop(columns="x_two_back")
    step.to_csv(tmp_path / "step.csv", index=False)
    common = "model: plr, y: y, d: d, learner: ols, n_folds: 3, seed: 2, dropna: true"
    spec = tmp_path / "lags.yaml"
    spec.write_text(
        "dataset: {path: gaps.csv, unit: unit, time: year}\n"
        "specs:\n"
        f"  - {{id: by_the_tool, x: [x_lag2], lags: {{x: 2}}, {common}}}\n"
        f"  - {{id: by_hand, x: [x_two_back], {common}}}\n",
        encoding="utf-8",
    )
    rows = _results(spec, tmp_path / "out")
    assert rows["by_the_tool"]["n_obs"] == rows["by_hand"]["n_obs"] == units * 5 - 10  # 2013 keeps its lag
    assert rows["by_the_tool"]["python"]["coef"] == rows["by_hand"]["python"]["coef"]
    spec.write_text(
        "dataset: {path: step.csv, unit: unit, time: year}\n"
        f"specs:\n  - {{id: every_third_year, x: [x_lag3], lags: {{x: 3}}, {common}}}\n",
        encoding="utf-8",
    )
    assert _results(spec, tmp_path / "out_step")["every_third_year"]["n_obs"] == units * 2


def test_a_true_false_treatment_with_empty_fields_runs_once_they_are_dropped(tmp_path: Path) -> None:
    """pandas reads a True/False column with empty fields as text: until 2026-12-06 such a
    treatment was 'not numeric' even with dropna. Now its numbers equal those of the same rows
    written as 0/1 without the empty ones."""
    frame = _survey().drop(columns="county")
    rng = np.random.default_rng(3)
    flag = pd.Series(rng.random(len(frame)) < 0.5, dtype=object)
    flag[[10, 20, 30]] = None
    frame["union"] = flag
    frame["lwage"] = 0.3 * flag.fillna(False).astype(float) + 0.08 * frame["educ"] + rng.normal(size=len(frame))
    spec = (
        "dataset: {{path: {data}}}\ndefaults: {{n_folds: 3, seed: 5}}\nspecs:\n"
        "  - {{id: wage_union, model: irm, y: lwage, d: union, x: [educ, exper, region], dropna: true,\n"
        "     learners: {{ml_g: ols, ml_m: logit}}}}\n"
    )
    records = {}
    for name, table in (("flags", frame), ("zero_one", frame.dropna().assign(union=lambda f: f["union"].astype(int)))):
        folder = tmp_path / name
        folder.mkdir()
        table.to_csv(folder / "survey.csv", index=False)
        if name == "flags":
            assert pd.read_csv(folder / "survey.csv")["union"].dtype == object  # as pandas reads it
        (folder / "spec.yaml").write_text(spec.format(data="survey.csv"), encoding="utf-8")
        args = ["run", "--specs", folder / "spec.yaml", "--out", folder / "out", "--engines", "python", "--no-cache", "--quiet"]
        command = [sys.executable, "-m", "harness.cli", *map(str, args)]
        proc = subprocess.run(command, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600)
        assert proc.returncode == 4, proc.stderr  # one engine: nothing compared
        [records[name]] = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))["specs"]
    flags, zero_one = records["flags"], records["zero_one"]
    assert flags["n_obs"] == len(frame) - 6 == zero_one["n_obs"]  # three empty flags, three missing exper
    assert flags["python"]["coef"] == zero_one["python"]["coef"] and flags["python"]["se"] == zero_one["python"]["se"]


def test_a_sample_may_read_an_interaction_the_spec_makes(tmp_path: Path) -> None:
    """``sample`` is drawn after the interactions are made (until 2026-12-07 it was drawn before,
    and the interaction's column was 'not found'): the rows kept are those the condition names."""
    frame = _survey().drop(columns="county").dropna()
    frame.to_csv(tmp_path / "survey.csv", index=False)
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "dataset: {path: survey.csv}\n"
        "specs:\n"
        "  - {id: high, model: plr, y: lwage, d: union, x: [educ, exper, educ_x_exper], interactions: [[educ, exper]],\n"
        "     sample: 'educ_x_exper > 150', learner: ols, n_folds: 3, seed: 2}\n",
        encoding="utf-8",
    )
    record = _python_record(spec, tmp_path / "out")
    kept = int((frame["educ"] * frame["exper"] > 150).sum())
    assert 0 < kept < len(frame) and record["n_obs"] == kept


@pytest.mark.parametrize("change", ["rewritten", "removed"])
def test_a_data_file_changed_while_the_run_fits_is_recorded_as_it_was_read(tmp_path: Path, change: str) -> None:
    """The run records the fingerprint of the bytes it parsed. Until 2026-12-07 it hashed the file
    again after the fits: rewritten meanwhile, results.json held the new file's sha256 beside the
    old data's estimates (and a baseline check called the real change unexplained drift, "data: the
    same as the baseline's"); removed, a finished run ended in FileNotFoundError (exit 3, no report)
    (an outside user)."""
    import hashlib

    from tests.faults import Run

    frame = _survey().dropna()
    frame.drop(columns="county").to_csv(tmp_path / "data.csv", index=False)
    original = hashlib.sha256((tmp_path / "data.csv").read_bytes()).hexdigest()
    forest = "model: plr, y: lwage, d: union, x: [educ, exper, region], learner: {name: rf, n_estimators: 200}"
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "dataset: {path: data.csv}\ndefaults: {n_folds: 2}\nspecs:\n"
        + "".join(f"  - {{id: s{k}, seed: {k}, {forest}}}\n" for k in (1, 2, 3)),
        encoding="utf-8",
    )
    changed = []

    def on_line(run: Run, line: str) -> None:
        if "fitting s1" in line and not changed:  # the data was read before the first fit went out
            data = tmp_path / "data.csv"
            if change == "removed":
                data.unlink()
            else:
                data.write_text(frame.assign(lwage=frame["lwage"] + 1).drop(columns="county").to_csv(index=False))
            changed.append(line)

    out = tmp_path / "out"
    run = Run(
        ["run", "--specs", spec, "--out", out, "--no-cache", "--engines", "python", "--jobs", "1"], on_line=on_line, cwd=tmp_path
    )
    assert run.wait() == 4, run.stderr  # Python alone: estimates, nothing compared
    assert changed, run.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["provenance"]["data"]["sha256"] == original
    # And the estimates are those of the data read: a run on the original file gives the same.
    frame.drop(columns="county").to_csv(tmp_path / "data.csv", index=False)
    again = Run(["run", "--specs", spec, "--out", tmp_path / "again", "--no-cache", "--engines", "python"], cwd=tmp_path)
    assert again.wait() == 4, again.stderr
    rerun = json.loads((tmp_path / "again" / "results.json").read_text(encoding="utf-8"))
    assert [s["python"]["coef"] for s in results["specs"]] == [s["python"]["coef"] for s in rerun["specs"]]


def test_a_stata_13_file_with_gbk_text_is_refused_not_misread(tmp_path: Path) -> None:
    """Stata 13 (format 117) and older record no encoding; Chinese Windows Stata wrote GBK, which
    pandas decodes as Latin-1. Until 2026-12-07 `sample: "region != '东部'"` then kept every row
    (exit 0, agree, n_obs 312 of 200) and a Chinese column name was "not found" (an outside user).
    A Stata 14+ file (UTF-8) with the same text runs."""
    frame = _survey().dropna().drop(columns="county")
    frame["region"] = np.where(np.arange(len(frame)) % 3 == 0, "AAAA", "BBBB")
    frame.to_stata(tmp_path / "old.dta", write_index=False, version=117)
    raw = (tmp_path / "old.dta").read_bytes()
    (tmp_path / "old.dta").write_bytes(raw.replace(b"AAAA", "东部".encode("gbk")).replace(b"BBBB", "西部".encode("gbk")))
    spec = tmp_path / "spec.yaml"
    entry = "{id: east, model: plr, y: lwage, d: union, x: [educ, exper], learner: ols, sample: \"region != '东部'\"}"
    spec.write_text(f"dataset: {{path: DATA}}\nspecs:\n  - {entry}\n".replace("DATA", "old.dta"), encoding="utf-8")
    args = ["run", "--specs", spec, "--out", tmp_path / "out", "--no-cache", "--engines", "python"]
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env(), cwd=tmp_path
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "a Stata 13 or older file (format 117) with non-ASCII text in the values of 'region'" in proc.stderr
    assert not (tmp_path / "out").exists()
    frame.assign(region=np.where(frame["region"] == "AAAA", "东部", "西部")).to_stata(
        tmp_path / "new.dta", write_index=False, version=118
    )
    spec.write_text(spec.read_text(encoding="utf-8").replace("old.dta", "new.dta"), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env(), cwd=tmp_path
    )
    assert proc.returncode == 4, proc.stderr
    kept = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"][0]["n_obs"]
    assert kept == int((frame["region"] == "BBBB").sum())
