"""Runs as a user sees them: determinism, the result cache, interruption, R faults and baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.regression.baseline import content_sha256
from harness.running.runner import stable_view

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: b_rf, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 20}}
  - {id: c_irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}}
"""


@pytest.fixture()
def spec_path(tmp_path: Path, generated_csv: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    return path


def cli(*args: str) -> int:
    return main([str(a) for a in args])


def read(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_same_inputs_give_identical_results(spec_path: Path, tmp_path: Path) -> None:
    for name in ("one", "two"):
        assert cli("run", "--specs", spec_path, "--engines", "python", "--out", tmp_path / name, "--no-cache", "--quiet") == 4
    one, two = read(tmp_path / "one"), read(tmp_path / "two")
    assert json.dumps(stable_view(one), sort_keys=True) == json.dumps(stable_view(two), sort_keys=True)
    assert (tmp_path / "one" / "report.md").read_text() != ""
    assert (tmp_path / "one" / "results.csv").read_bytes() == (tmp_path / "two" / "results.csv").read_bytes()


def test_cache_reuses_and_refits_only_what_changed(spec_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = ("--engines", "python", "--cache-dir", cache, "--quiet")
    assert cli("run", "--specs", spec_path, "--out", tmp_path / "first", *common) == 4
    assert cli("run", "--specs", spec_path, "--out", tmp_path / "second", *common) == 4
    second = read(tmp_path / "second")
    assert all(s["timings"]["cached"] for s in second["specs"])
    assert stable_view(read(tmp_path / "first")) == stable_view(second)

    spec_path.write_text(spec_path.read_text().replace("n_estimators: 20", "n_estimators: 21"), encoding="utf-8")
    assert cli("run", "--specs", spec_path, "--out", tmp_path / "third", *common) == 4
    cached = {s["id"]: s["timings"]["cached"] for s in read(tmp_path / "third")["specs"]}
    assert cached == {"a_ols": True, "b_rf": False, "c_irm": True}

    assert cli("run", "--specs", spec_path, "--out", tmp_path / "fourth", "--no-cache", *common) == 4
    assert not any(s["timings"]["cached"] for s in read(tmp_path / "fourth")["specs"])


def test_cache_never_serves_other_data(spec_path: Path, tmp_path: Path, generated_csv: Path) -> None:
    import pandas as pd

    cache = tmp_path / "cache"
    common = ("--engines", "python", "--cache-dir", cache, "--quiet", "--only", "a_ols")
    assert cli("run", "--specs", spec_path, "--out", tmp_path / "first", *common) == 4
    other = tmp_path / "other.csv"
    frame = pd.read_csv(generated_csv)
    frame.loc[0, "y"] += 1.0
    frame.to_csv(other, index=False)
    assert cli("run", "--specs", spec_path, "--data", other, "--out", tmp_path / "second", *common) == 4
    first, second = read(tmp_path / "first")["specs"][0], read(tmp_path / "second")["specs"][0]
    assert second["timings"]["cached"] is False
    assert first["python"]["coef"] != second["python"]["coef"]


def test_python_only_run_never_reads_agree(spec_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("run", "--specs", spec_path, "--engines", "python", "--out", out, "--no-cache", "--quiet") == 4
    results = read(out)
    assert {s["status"] for s in results["specs"]} == {"not-run"}
    assert results["summary"].get("agree", 0) == 0
    assert "R not run" in (out / "report.html").read_text(encoding="utf-8")


def test_baseline_roundtrip_and_drift(spec_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    assert cli("run", "--specs", spec_path, "--engines", "python", "--out", out, "--no-cache", "--quiet") == 4
    baseline = tmp_path / "baseline.json"
    assert cli("baseline", "save", out, "--to", baseline) == 0
    assert cli("check", "--baseline", baseline, "--run", out) == 0
    data = json.loads(baseline.read_text())
    data["estimates"]["a_ols"]["python"]["coef"] *= 1 + 1e-8  # beyond ols's 1e-10
    data["estimates"]["b_rf"]["python"]["coef"] += 0.1 * data["estimates"]["b_rf"]["python"]["se"]  # within 0.2 se
    data["sha256"] = content_sha256(data)  # edited on purpose (unsigned, it is refused)
    baseline.write_text(json.dumps(data))
    capsys.readouterr()
    assert cli("check", "--baseline", baseline, "--run", out) == 1
    printed = capsys.readouterr().out
    assert "a_ols" in printed and "b_rf" not in printed
    # Without --run the baseline's spec file is run again.
    assert cli("check", "--baseline", baseline, "--engines", "python") == 1


@pytest.mark.r
def test_r_error_in_one_spec_leaves_the_others_and_is_not_cached(
    spec_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    import numpy as np

    from harness.cli import write_run
    from harness.language import learners
    from harness.running.runner import RunOptions, run

    broken = dataclasses.replace(learners.LEARNERS["logit"], r_key={"classif": "classif.no_such_learner"})
    monkeypatch.setitem(learners.LEARNERS, "logit", broken)
    out, cache = tmp_path / "out", tmp_path / "cache"
    # In this process, where the patched registry is (worker processes import their own).
    results = run(RunOptions(specs=spec_path, only=["a_ols", "c_irm"], cache_dir=cache, in_process=True))
    write_run(results, out)
    by_id = {s["id"]: s for s in read(out)["specs"]}
    assert by_id["a_ols"]["status"] == "agree"
    assert by_id["c_irm"]["status"] == "error"
    assert "no_such_learner" in by_id["c_irm"]["error"]
    assert (out / "report.html").exists()
    # The R error is not cached (a transient R failure must not be served forever).
    stored = [json.loads(str(np.load(p)["meta"]))["id"] for p in cache.rglob("*.npz")]
    assert stored == ["a_ols"]


def test_cache_key_follows_the_learner_registry(spec_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from harness.language import learners

    cache = tmp_path / "cache"
    common = ("--engines", "python", "--cache-dir", cache, "--quiet", "--only", "a_ols")
    assert cli("run", "--specs", spec_path, "--out", tmp_path / "first", *common) == 4
    changed = dataclasses.replace(learners.LEARNERS["ols"], r_fixed={"regr": {"singular.ok": False}})
    monkeypatch.setitem(learners.LEARNERS, "ols", changed)
    assert cli("run", "--specs", spec_path, "--out", tmp_path / "second", *common) == 4
    assert read(tmp_path / "second")["specs"][0]["timings"]["cached"] is False
