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


def _csv_header(out: Path) -> list[str]:
    return (out / "results.csv").read_text(encoding="utf-8").splitlines()[0].split(",")


def test_no_paper_column_without_a_paper_block(tmp_path: Path, generated_csv: Path) -> None:
    """A user's own data without a paper block (nor a truth): the report's spec tables, its reading
    guide, the estimates' caption and results.csv carry nothing that could only say "—"."""
    (tmp_path / "none").mkdir()
    out = run(tmp_path / "none", generated_csv)
    md = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    header_line = next(line for line in md.splitlines() if line.startswith("| Spec "))
    assert [cell.strip() for cell in header_line.strip("|").split("|")] == [
        "Spec", "Python coef (se)", "R coef (se)", "Python − R", "Status"
    ]  # fmt: skip
    assert "Paper claim" not in md and "Truth (in 95 % CI)" not in md
    assert "A paper claim is reproduced" not in md
    assert "<th>Paper claim</th>" not in html and "Truth (in 95 % CI)" not in html and "published coefficient" not in html
    assert "A paper claim is reproduced" not in html
    header = _csv_header(out)
    assert not {"published_coef", "claim_python", "claim_r", "claim_agreement", "truth", "bias_python"} & set(header)
    assert header[:3] == ["id", "table", "title"] and "coef_in_se" in header
    rows = (out / "results.csv").read_text(encoding="utf-8").splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["a_ols", "b_rf", "c_irm"]
    assert all(len(r.split(",")) >= len(header) for r in rows)

    # A paper block brings the claim column, its sentence and its csv columns back.
    (tmp_path / "paper").mkdir()
    out = run(tmp_path / "paper", generated_csv, ", table: T1, paper: {claim: effect is positive, sign: positive}")
    md = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    header_line = next(line for line in md.splitlines() if line.startswith("| Spec "))
    assert [cell.strip() for cell in header_line.strip("|").split("|")][-1] == "Paper claim"
    assert "A paper claim is reproduced" in md
    assert "<th>Paper claim</th>" in html and "effect is positive" in html
    assert {"published_coef", "claim_python", "claim_r", "claim_agreement"} <= set(_csv_header(out))
    assert "truth" not in _csv_header(out)  # still no spec knows its true effect


def test_the_seed_suites_kind_of_report_keeps_its_paper_and_truth_columns() -> None:
    """specs/paper.yaml has paper blocks and a truth: the builders keep the claim and truth columns,
    the claim sentence, the forest's marks and the csv's claim columns; an error row spans them all."""
    from harness.report import CSV_COLUMNS, render_csv, render_html, render_markdown
    from harness.report.table_csv import JOINT_COLUMNS

    estimate = {"coef": 0.3, "se": 0.05, "t": 6.0, "p": 1e-9, "ci": [0.2, 0.4]}
    paper = {"claim": "positive", "sign": "positive", "level": 0.05, "published": {"coef": 0.29, "se": None, "note": None}}
    specs = [
        {"id": "base", "table": "T2", "status": "agree", "tier": "exact", "python": estimate, "r": estimate,
         "diff": {"coef_rel": 0.0, "se_rel": 0.0, "coef_in_se": 0.0, "coef_abs": 0.0}, "truth": 0.3, "paper": paper},
        {"id": "broken", "table": "T2", "status": "error", "python": None, "r": None, "error": "R: failed"},
    ]  # fmt: skip
    results = {"schema": "dml-parity/results/1", "provenance": {}, "specs": specs}
    md = render_markdown(results)
    header_line = next(line for line in md.splitlines() if line.startswith("| Spec "))
    assert [c.strip() for c in header_line.strip("|").split("|")][-2:] == ["Paper claim", "Truth (in 95 % CI)"]
    assert "A paper claim is reproduced" in md
    html = render_html(results, b"png", b"png", {})
    assert "<th>Paper claim</th>" in html and "<th>Truth (in 95 % CI)</th>" in html
    assert "× marks the true effect, ◇ the published coefficient" in html
    assert '<td colspan="7">broken: R: failed' in html
    assert render_csv(results).splitlines()[0].split(",") == [c for c in CSV_COLUMNS if c not in JOINT_COLUMNS]

    # Truth without a paper (generated data): the truth column stays, the claim column goes.
    for spec in specs:
        spec.pop("paper", None)
    md, html = render_markdown(results), render_html(results, b"png", b"png", {})
    header_line = next(line for line in md.splitlines() if line.startswith("| Spec "))
    assert [c.strip() for c in header_line.strip("|").split("|")][-2:] == ["Status", "Truth (in 95 % CI)"]
    assert "<th>Paper claim</th>" not in html and '<td colspan="6">broken' in html
    assert "× marks the true effect." in html and "published" not in html.split('id="forest"')[1].split("</figure>")[0]
    assert "claim_python" not in render_csv(results) and "truth_in_ci_r" in render_csv(results)
    # Tables of one's own (``table:``) without a paper are "Tables", not "Paper tables".
    specs[1]["table"] = "T3"
    html = render_html(results, b"png", b"png", {})
    assert "<nav><p>Tables:" in html and "Paper tables" not in html


def test_a_claim_worded_in_chinese_only_is_judged_and_shown(tmp_path: Path, generated_csv: Path) -> None:
    """Until 2026-12-07 (an outside user) a paper block with ``claim_zh`` and no ``claim`` was
    refused ("field 'paper.claim': required")."""
    out = run(tmp_path, generated_csv, ", table: T1, paper: {claim_zh: 效应为正, sign: positive}")
    spec = next(s for s in read_results(out)["specs"] if s["id"] == "c_irm")
    assert spec["paper"]["claim_zh"] == "效应为正" and spec["paper"]["claim"] is None
    assert spec["claim_verdict"]["python"] in {"reproduced", "not-reproduced"}
    md = (out / "report.md").read_text(encoding="utf-8")
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "效应为正" in md and '<span class="sub" lang="zh">效应为正</span>' in html
    assert "None" not in next(line for line in md.splitlines() if line.startswith("| c_irm"))
