"""The cache keeps what the engines produced, never a verdict (issue 19, item 1): every run judges
every spec with its own comparison code, served or fitted; an entry that fails its integrity check
is fitted again; results.json and the report say which specs were served."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.running.runner import stable_view
from tests.faults import read_results

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: c_irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}}
"""


@pytest.fixture()
def spec_path(tmp_path: Path, generated_csv: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    return path


def cli(*args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in args])
    return code, stderr.getvalue()


def tamper_every_entry(cache: Path) -> int:
    """What a user (or a shared CI cache) can do to an entry: Python's coefficient times 1.5, the
    checks emptied, the status set to ``agree`` — in whatever format the entry is stored."""
    count = 0
    for path in cache.rglob("*.json"):  # the format that stored verdicts
        entry = json.loads(path.read_text(encoding="utf-8"))
        result = entry["result"]
        if result.get("python"):
            result["python"]["coef"] *= 1.5
        result.update(status="agree", checks=[])
        path.write_text(json.dumps(entry), encoding="utf-8")
        count += 1
    for path in cache.rglob("*.npz"):  # engine outputs with a digest: the digest is kept as stored
        with np.load(path, allow_pickle=False) as stored:
            members = {name: stored[name] for name in stored.files}
        meta = json.loads(str(members["meta"]))
        meta["engines"]["python"]["coef"] *= 1.5
        meta.update(status="agree", checks=[])
        members["meta"] = np.array(json.dumps(meta))
        with path.open("wb") as handle:
            np.savez(handle, **members)
        count += 1
    return count


def test_a_tampered_entry_is_fitted_again_never_served(spec_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = ("run", "--specs", spec_path, "--engines", "python", "--cache-dir", cache, "--quiet")
    assert cli(*common, "--out", tmp_path / "clean")[0] == 4
    clean = read_results(tmp_path / "clean")
    assert {s["id"]: s["cache"] for s in clean["specs"]} == {"a_ols": "fitted", "c_irm": "fitted"}
    assert tamper_every_entry(cache) == 2

    code, stderr = cli(*common, "--out", tmp_path / "again")
    again = read_results(tmp_path / "again")
    assert code == 4
    assert {s["id"]: s["cache"] for s in again["specs"]} == {"a_ols": "refitted", "c_irm": "refitted"}
    assert {s["id"]: s["timings"]["cached"] for s in again["specs"]} == {"a_ols": False, "c_irm": False}
    assert stable_view(again) == stable_view(clean)
    # The run says why it fitted them again, and the report marks nothing as served.
    assert all("failed its integrity check" in s["cache_note"] for s in again["specs"])
    assert "Served from the cache" not in (tmp_path / "again" / "report.md").read_text(encoding="utf-8")


def test_served_specs_are_marked_in_results_and_report(spec_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = ("run", "--specs", spec_path, "--engines", "python", "--cache-dir", cache, "--quiet")
    assert cli(*common, "--out", tmp_path / "first")[0] == 4
    assert cli(*common, "--out", tmp_path / "second")[0] == 4
    second = read_results(tmp_path / "second")
    assert {s["id"]: s["cache"] for s in second["specs"]} == {"a_ols": "served", "c_irm": "served"}
    assert second["provenance"]["cache"] == {"served": 2, "fitted": 0, "refitted": 0}
    assert stable_view(second) == stable_view(read_results(tmp_path / "first"))
    for name in ("report.md", "report.html"):
        text = (tmp_path / "second" / name).read_text(encoding="utf-8")
        assert "Served from the cache" in text and "judged again by this run" in text, name


@pytest.mark.r
def test_a_tampered_entry_never_changes_a_verdict(spec_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = ("run", "--specs", spec_path, "--cache-dir", cache, "--quiet")
    clean_code = cli(*common, "--out", tmp_path / "clean")[0]
    clean = read_results(tmp_path / "clean")
    verdicts = {s["id"]: (s["status"], len(s["checks"])) for s in clean["specs"]}
    assert all(n > 0 for _, n in verdicts.values())
    assert tamper_every_entry(cache) == 2

    code = cli(*common, "--out", tmp_path / "again")[0]
    again = read_results(tmp_path / "again")
    assert code == clean_code
    assert {s["id"]: (s["status"], len(s["checks"])) for s in again["specs"]} == verdicts
    assert stable_view(again) == stable_view(clean)


@pytest.mark.r
def test_a_served_spec_is_judged_by_this_runs_code(spec_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.verdict.compare

    cache = tmp_path / "cache"
    common = ("run", "--specs", spec_path, "--cache-dir", cache, "--quiet", "--only", "a_ols")
    assert cli(*common, "--out", tmp_path / "fitted")[0] == 0
    assert cli(*common, "--out", tmp_path / "served")[0] == 0
    fitted, served = read_results(tmp_path / "fitted"), read_results(tmp_path / "served")
    assert served["specs"][0]["cache"] == "served" and served["specs"][0]["status"] == "agree"
    # Judged again, the served entry gives the same verdict, checks and numbers as the fit did.
    assert stable_view(served) == stable_view(fitted)

    # A rule changed since the entry was stored (here: the rule layer's limit below any value it
    # can measure): the served spec is judged by the changed rule, not the stored verdict.
    monkeypatch.setattr(harness.verdict.compare, "EXPLAINED_LIMIT", -1.0)
    code = cli(*common, "--out", tmp_path / "changed")[0]
    changed = read_results(tmp_path / "changed")["specs"][0]
    assert changed["cache"] == "served"
    assert changed["status"] == "disagree" and code != 0
    assert any(not c["ok"] for c in changed["checks"] if c["layer"] == "rule")


@pytest.mark.r
def test_served_extended_specs_judge_as_fitted(generated_csv: Path, tmp_path: Path) -> None:
    """Several treatments, joint inference with both packages' own draws, adjusted p-values and
    PLIV's partial-XZ score: every part of an engine's output the verdict reads survives the cache."""
    specs = tmp_path / "api.yaml"
    specs.write_text(
        """
dataset: {path: DATA}
defaults: {n_folds: 3, n_rep: 2, seed: 8}
specs:
  - {id: two, model: plr, y: y, d: [d, zc], x: [x1, x2, x3], learner: ols, bootstrap: {method: normal, n_rep_boot: 300},
     joint: true, p_adjust: romano-wolf}
  - {id: pliv_xz, model: pliv, partial: XZ, y: y, d: d, z: [zc, z], x: [x1, x2, x3], learner: ols, p_adjust: holm}
""".replace("DATA", str(generated_csv)),
        encoding="utf-8",
    )
    common = ("run", "--specs", specs, "--cache-dir", tmp_path / "cache", "--quiet")
    fitted_code = cli(*common, "--out", tmp_path / "fitted")[0]
    served_code = cli(*common, "--out", tmp_path / "served")[0]
    fitted, served = read_results(tmp_path / "fitted"), read_results(tmp_path / "served")
    assert {s["cache"] for s in served["specs"]} == {"served"}
    assert all(s["checks"] for s in served["specs"])
    assert served_code == fitted_code
    assert stable_view(served) == stable_view(fitted)
