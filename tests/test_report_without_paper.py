"""The report for a user without a paper (issue 25, item 5): the learner settings each engine
received are shown, and rows about paper tables and claims are left out when the spec file has
no paper block."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from harness.cli import main
from tests.faults import read_results

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: b_rf, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 20, min_samples_leaf: 3}}
  - {id: c_irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}PAPER}
"""


def run(tmp_path: Path, data: Path, paper: str = "") -> Path:
    specs = tmp_path / "s.yaml"
    specs.write_text(SPECS.replace("DATA", str(data)).replace("PAPER", paper), encoding="utf-8")
    out = tmp_path / "out"
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--specs", str(specs), "--engines", "python", "--out", str(out), "--no-cache", "--quiet"]) == 4
    return out


def test_the_learner_settings_each_engine_received_are_in_the_report(tmp_path: Path, generated_csv: Path) -> None:
    out = run(tmp_path, generated_csv)
    by_id = {s["id"]: s for s in read_results(out)["specs"]}
    forest = by_id["b_rf"]["learner_settings"]["ml_l"]
    assert forest["kind"] == "regressor"
    assert forest["python"]["params"]["n_estimators"] == 20 and forest["python"]["params"]["min_samples_leaf"] == 3
    assert forest["r"]["learner"] == "regr.ranger"
    assert forest["r"]["params"]["num.trees"] == 20 and forest["r"]["params"]["min.bucket"] == 3
    assert by_id["c_irm"]["learner_settings"]["ml_m"]["kind"] == "classifier"
    for name in ("report.md", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert "Learner settings" in text, name
        assert "regr.ranger(" in text and "num.trees=20" in text and "min.bucket=3" in text, name
        assert "RandomForestRegressor(" in text and "n_estimators=20" in text, name
        assert "classifier" in text and "classif.log_reg" in text, name


def test_no_paper_rows_without_a_paper_block(tmp_path: Path, generated_csv: Path) -> None:
    (tmp_path / "none").mkdir()
    out = run(tmp_path / "none", generated_csv)
    for name in ("report.md", "report.html"):
        text = (out / name).read_text(encoding="utf-8")
        assert "Specs without a table" not in text, name
        assert "Paper claims reproduced" not in text, name
        assert "Paper tables:" not in text, name

    # With a paper block the claim rows are back.
    (tmp_path / "paper").mkdir()
    out = run(tmp_path / "paper", generated_csv, ", table: T1, paper: {claim: effect is positive, sign: positive}")
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "Paper claims reproduced by Python" in text and "## T1" in text
