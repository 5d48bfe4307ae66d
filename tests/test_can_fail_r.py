"""Every check that counts could have failed, through both packages (issue 19 item 4).

* The generated verdict matrix, extended: R's cross-fitted predictions of one nuisance, as the R
  engine hands them over, made NaN (one value, or all) or constant, for every model; the spec must
  end ``disagree`` naming that nuisance's check, in both tiers. Never ``agree`` with the nuisance
  left out.
* Tiny bootstrap counts: the fewest draws the spec file accepts give own-draws checks that can fail,
  and the spec is judged by them (``agree``, no check marked ``can_fail: false``).
* The command line on a data set where a nuisance's target is constant: every nuisance has its
  check, and NaN predictions injected into R's answer turn the run into a finding (exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.design.table import build_design, draw_folds
from harness.engines import r_engine
from harness.language.spec import DatasetSpec, Spec
from harness.running.runner import PreparedSpec, run_one
from tests.conftest import FULL, make_tables
from tests.matrix_cases import MODELS, MatrixCase, dataset_frame

pytestmark = pytest.mark.r

CHANGES = {
    "one_nan": lambda a: np.where(np.arange(a.size).reshape(a.shape) == 3, np.nan, a),
    "all_nan": lambda a: np.full_like(a, np.nan),
    "constant": lambda a: np.full_like(a, 0.25),
}


def _r_answer_changed(monkeypatch: pytest.MonkeyPatch, nuisance: str, change) -> None:
    """R's predictions of ``nuisance`` changed as the R engine reads them from R's fit."""
    original = r_engine._treatment

    def changed(*args):
        out = original(*args)
        out.predictions[nuisance] = change(out.predictions[nuisance])
        return out

    monkeypatch.setattr(r_engine, "_treatment", changed)


def _run(case: MatrixCase, **extra) -> dict:
    spec = Spec(**{**case.spec_fields(), **extra})
    design = build_design(spec, dataset_frame(case.dataset, case.size), DatasetSpec(), case.dataset)
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed, case.dataset, spec.id)
    return run_one(PreparedSpec(spec, design, folds), ("python", "r"))


# The nuisances R fits for each model of the matrix (R leaves IRM ATTE's ml_g1 unfitted by design).
NUISANCES = {
    "plr_po": ("ml_l", "ml_m"),
    "plr_iv": ("ml_l", "ml_m", "ml_g"),
    "pliv": ("ml_l", "ml_m", "ml_r"),
    "irm_ate": ("ml_g0", "ml_g1", "ml_m"),
    "irm_atte": ("ml_g0", "ml_m"),
    "iivm": ("ml_g0", "ml_g1", "ml_m", "ml_r0", "ml_r1"),
}
ALL = [(m, n, c, t) for m in MODELS for n in NUISANCES[m] for c in CHANGES for t in ("exact", "statistical")]
# Fast: every model, change and tier once, the nuisance dealt round; the rest under DMLP_FULL=1.
FAST = [(m, NUISANCES[m][i % len(NUISANCES[m])], c, t) for i, (m, c, t) in enumerate(
    (m, c, t) for m in MODELS for c in CHANGES for t in ("exact", "statistical"))]  # fmt: skip
CASES = FAST if not FULL else ALL


@pytest.mark.parametrize(("model_key", "nuisance", "change", "tier"), CASES, ids=lambda v: str(v))
def test_a_nuisance_r_cannot_be_compared_on_is_a_failed_check(
    monkeypatch: pytest.MonkeyPatch, model_key: str, nuisance: str, change: str, tier: str
) -> None:
    _r_answer_changed(monkeypatch, nuisance, CHANGES[change])
    extra = {"tier": "statistical"} if tier == "statistical" else {}
    result = _run(MatrixCase("generated", model_key, "none", 1, 2, "small"), **extra)
    assert result["status"] == "disagree", result.get("error")
    mine = [c for c in result["checks"] if c["layer"] == "nuisance" and c["name"].startswith(f"nuisance.{nuisance}.")]
    assert mine and not any(c["ok"] for c in mine), [c["name"] for c in result["checks"] if c["layer"] == "nuisance"]


@pytest.mark.parametrize(("p_adjust", "n_rep_boot"), [(None, 4), ("romano-wolf", 12)])
def test_the_fewest_accepted_draws_give_checks_that_can_fail(p_adjust, n_rep_boot: int) -> None:
    extra = {"bootstrap": {"method": "normal", "n_rep_boot": n_rep_boot}, "joint": True, "p_adjust": p_adjust}
    result = _run(MatrixCase("generated", "plr_po", "none", 1, 2, "small"), **extra)
    assert result["status"] in ("agree", "explained"), [c for c in result["checks"] if not c["ok"]]
    assert not any(c.get("can_fail") is False for c in result["checks"])
    mc = {c["quantity"] for c in result["checks"] if c["layer"] == "monte_carlo"}
    assert {"crit", "joint_ci"} <= mc and (p_adjust is None or "p_adjust" in mc)


# --- the command line ------------------------------------------------------------------------------


def _constant_target_csv(folder: Path) -> Path:
    """IRM data in which the outcome of every untreated row is 0: ml_g0's target is constant."""
    frame = make_tables(seed=5, n=400)
    frame["y0"] = np.where(frame["db"] == 1, frame["y"], 0.0)
    path = folder / "constant.csv"
    frame.to_csv(path, index=False)
    return path


def _cli(folder: Path, spec_entries: str, data: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict]:
    spec = folder / "s.yaml"
    spec.write_text(f"dataset: {{path: {data}}}\ndefaults: {{n_folds: 3, seed: 5}}\nspecs:\n{spec_entries}", encoding="utf-8")
    monkeypatch.setenv("DMLP_IN_PROCESS", "1")  # the fits run here, where the test changed R's answer
    code = main(["run", "--specs", str(spec), "--out", str(folder / "out"), "--no-cache", "--quiet"])
    return code, json.loads((folder / "out" / "results.json").read_text())


IRM = "{id: IDENT, model: irm, y: y0, d: db, x: [x1, x2, x3], learners: {ml_g: LEARNER, ml_m: logit}}"


def test_a_constant_nuisance_target_keeps_every_nuisance_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = "".join(
        f"  - {IRM.replace('IDENT', ident).replace('LEARNER', learner)}\n"
        for ident, learner in (("exact", "ols"), ("forest", "{name: rf, n_estimators: 50}"))
    )
    code, results = _cli(tmp_path, entries, _constant_target_csv(tmp_path), monkeypatch)
    for spec in results["specs"]:
        names = {c["name"].split(".")[1] for c in spec["checks"] if c["layer"] == "nuisance"}
        assert names == {"ml_g0", "ml_g1", "ml_m"}, (spec["id"], names)
        g0 = next(c for c in spec["checks"] if c["name"].startswith("nuisance.ml_g0."))
        # Both packages predict the constant 0 exactly: compared, and equal.
        assert g0["ok"], g0
        assert spec["status"] in ("agree", "explained", "disagree")
        assert spec["status"] != "disagree" or not all(c["ok"] for c in spec["checks"])


def test_nan_predictions_from_r_are_a_finding_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _r_answer_changed(monkeypatch, "ml_m", CHANGES["all_nan"])
    data = tmp_path / "data.csv"
    make_tables(seed=5, n=400).to_csv(data, index=False)
    entry = "  - {id: a, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}\n"
    code, results = _cli(tmp_path, entry, data, monkeypatch)
    spec = results["specs"][0]
    assert code == 1 and spec["status"] == "disagree"
    check = next(c for c in spec["checks"] if c["name"] == "nuisance.ml_m.max_rel_diff")
    assert not check["ok"] and check["value"] is None
    assert "not finite" in spec["nuisance"]["ml_m"]["uncomparable"]
    assert spec["nuisance"]["ml_m"]["max_rel_diff"] is None


def test_a_disagreement_says_its_failed_checks_on_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """Until 2026-12-07 the terminal said 'not shown to agree' and, at most, that a check was near its
    margin; the failed checks were in the report alone. Now each disagreement says them."""
    _r_answer_changed(monkeypatch, "ml_m", CHANGES["constant"])
    data = tmp_path / "data.csv"
    make_tables(seed=5, n=400).to_csv(data, index=False)
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"dataset: {{path: {data}}}\ndefaults: {{n_folds: 3, seed: 5}}\n"
        "specs:\n  - {id: a, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DMLP_IN_PROCESS", "1")
    assert main(["run", "--specs", str(spec), "--out", str(tmp_path / "out"), "--no-cache"]) == 1
    printed = capsys.readouterr().out
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    failed = [c["name"] for c in results["specs"][0]["checks"] if c["ok"] is False]
    assert failed and "nuisance.ml_m.max_rel_diff" in failed
    line = next(line for line in printed.splitlines() if line.startswith("  a: disagree: "))
    assert f"of {len(results['specs'][0]['checks'])} checks fail: {failed[0]} " in line, line
    # results.csv (and so ParityResult.summary()) carries the same reason in its column.
    assert pd.read_csv(tmp_path / "out" / "results.csv").loc[0, "reason"] == line.removeprefix("  a: ")
