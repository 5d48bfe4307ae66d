"""Report rendering from a hand-built results dict: content, self-containment, atomicity, determinism."""

from __future__ import annotations

import base64
import copy
import csv
import io
import itertools
import re
from pathlib import Path

import pytest

import harness.report.files as report_files
from harness.report import CSV_COLUMNS, REPORT_FILES, render_csv, render_html, render_markdown, write_report
from harness.report.table_csv import JOINT_COLUMNS
from harness.verdict.claims import judge_claims
from harness.verdict.summary import effective_status, summarize

CREATED = "2026-11-29T15:00:00Z"


def est(coef: float, se: float, p: float) -> dict:
    return {"coef": coef, "se": se, "t": coef / se, "p": p, "ci": [coef - 1.96 * se, coef + 1.96 * se]}


def spec(spec_id: str, table: str, status: str, python: dict | None, r: dict | None, **extra) -> dict:
    out = {
        "id": spec_id,
        "title": f"Title of {spec_id}",
        "title_zh": "数字化与碳排放",
        "table": table,
        "model": "plr",
        "score": "partialling out",
        "y": "rcd",
        "d": "dig_int",
        "learners": {"ml_l": "rf", "ml_m": {"name": "lasso", "alpha": 0.1}},
        "status": status,
        "tier": "exact",
        "n_obs": 3627,
        "python": python,
        "r": r,
        "diff": {"coef_abs": 1e-15, "coef_rel": 3.2e-15, "se_rel": 1e-14, "coef_in_se": 1e-13} if python and r else None,
        "checks": [{"name": "coef_rel", "value": 3.2e-15, "limit": 1e-10, "ok": status == "agree"}],
        "error": None,
        "truth": None,
        "paper": None,
    }
    out.update(extra)
    return out


def claim(sign: str | None = None, gt=(), published: float | None = None) -> dict:
    return {
        "claim": "Digitalisation lowers carbon",
        "claim_zh": "数字化降低碳排放",
        "sign": sign,
        "level": 0.05,
        "greater_than": list(gt),
        "less_than": [],
        "published": {"coef": published, "se": None, "note": None},
    }


@pytest.fixture
def results() -> dict:
    return {
        "schema": "dml-parity/results/1",
        "provenance": {
            "command": "dml-parity run --specs specs/paper.yaml --out reports/x",
            "created": CREATED,
            "python": {"python": "3.11.7", "doubleml": "0.11.4", "scikit-learn": "1.9.1"},
            "r": {"R": "4.2.2", "DoubleML": "1.0.2", "mlr3": "1.8.0"},
            "data": {"path": "data/city_panel.csv", "sha256": "ab" * 32},
            "spec_file": {"path": "specs/paper.yaml", "sha256": "cd" * 32},
            "engines": ["python", "r"],
            "seeds": {"baseline_fe": 1, "hetero": 7},
        },
        # Deliberately wrong: the report recomputes the summary from the specs.
        "summary": {"specs": 99, "agree": 99},
        "specs": [
            spec("baseline_fe", "Table 2 Baseline", "agree", est(0.31, 0.03, 1e-20), est(0.31, 0.03, 1e-20),
                 truth=0.3, paper=claim("positive", published=0.29)),
            spec("hetero", "Table 3 Heterogeneity", "disagree", est(0.10, 0.05, 0.06), est(0.20, 0.05, 0.01),
                 tier="statistical", paper=claim("positive", gt=["baseline_fe"])),
            spec("broken", "Table 2 Baseline", "error", None, None, error="R: lm failed | <singular> fit"),
            # The runner said "agree" but there is no R estimate: must never read as agreement.
            spec("py_only", "Table 3 Heterogeneity", "agree", est(-0.2, 0.05, 0.001), None),
        ],
    }  # fmt: skip


def html_row(page: str, spec_id: str) -> str:
    """A spec's row up to the next row of the spec table (its checks table is nested inside)."""
    match = re.search(
        rf'<tr id="spec-{spec_id}">.*?(?=\n<tr id="spec-|\n<tr class="error-row"|\n</tbody>\n</table>)', page, flags=re.S
    )
    assert match, f"no row for {spec_id}"
    return match.group(0)


def test_write_report_writes_the_five_files_through_the_atomic_writer(results, tmp_path, monkeypatch):
    written = []
    real = report_files.atomic_write_bytes

    def spy(path, data):
        written.append(Path(path).name)
        real(path, data)

    monkeypatch.setattr(report_files, "atomic_write_bytes", spy)
    paths = write_report(results, tmp_path / "run")
    assert (
        [p.name for p in paths] == list(REPORT_FILES) == ["report.md", "report.html", "results.csv", "parity.png", "forest.png"]
    )
    assert sorted(written) == sorted(p.name for p in paths)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(written)  # no temp files left
    assert not (tmp_path / "run" / "results.json").exists()
    for picture in ("parity.png", "forest.png"):
        assert (tmp_path / "run" / picture).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_same_results_give_byte_identical_md_html_csv(results, tmp_path):
    write_report(results, tmp_path / "one")
    write_report(copy.deepcopy(results), tmp_path / "two")
    for name in ("report.md", "report.html", "results.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_results_read_back_with_sorted_keys_give_the_same_report(results, tmp_path):
    """A result served from the cache (stored with sorted keys) reports exactly as the fresh one."""
    import json

    fresh = copy.deepcopy(results)
    fresh["specs"][0]["checks"] = [
        {"name": "folds.r", "value": 0, "limit": 0, "ok": True, "layer": "folds", "quantity": None, "metric": "rows"}
    ]
    write_report(fresh, tmp_path / "fresh")
    served = {**fresh, "specs": [json.loads(json.dumps(spec, sort_keys=True)) for spec in fresh["specs"]]}
    write_report(served, tmp_path / "sorted")
    for name in ("report.md", "report.html", "results.csv"):
        assert (tmp_path / "fresh" / name).read_bytes() == (tmp_path / "sorted" / name).read_bytes(), name


def test_write_report_does_not_modify_results(results, tmp_path):
    before = copy.deepcopy(results)
    write_report(results, tmp_path)
    assert results == before


def test_spec_without_r_estimate_reads_r_not_run_never_agree(results):
    specs = judge_claims(results["specs"])
    assert effective_status(specs[3]) == "r-not-run"
    summary = summarize(specs)
    assert (summary["agree"], summary["r-not-run"], summary["error"], summary["disagree"]) == (1, 1, 1, 1)
    row = html_row(render_html(results, b"parity", b"forest"), "py_only")
    assert "R not run" in row and "s-agree" not in row
    md_row = next(line for line in render_markdown(results).splitlines() if "`py_only`" in line)
    assert "R not run" in md_row and "**agree**" not in md_row


def test_markdown_summary_is_recomputed_from_the_specs(results):
    md = render_markdown(results)
    summary_part = md.split("## Table 2")[0]
    assert re.search(r"\| Specs run\s+\| 4\s+\|", summary_part)
    assert re.search(r"\| Agree\s+\| 1 \(exact 1 / statistical 0\)\s+\|", summary_part)
    assert re.search(r"\| R not run\s+\| 1\s+\|", summary_part)
    # Claims: baseline_fe reproduced by both; hetero fails (p = 0.06 for Python, 0.20 < 0.31 for both).
    assert re.search(r"\| Paper claims reproduced by Python\s+\| 1 of 2 \(1 not reproduced\)", summary_part)
    assert re.search(r"\| Paper claims reproduced by R\s+\| 1 of 2 \(1 not reproduced\)", summary_part)
    assert "How to read this" in summary_part


def test_specs_are_grouped_under_their_paper_table_in_first_appearance_order(results):
    md = render_markdown(results)
    t2, t3 = md.index("## Table 2 Baseline"), md.index("## Table 3 Heterogeneity")
    assert t2 < md.index("`baseline_fe`") < md.index("`broken`") < t3 < md.index("`hetero`") < md.index("`py_only`")
    page = render_html(results, b"parity", b"forest")
    assert page.index('id="table-1">Table 2 Baseline') < page.index('id="spec-broken"') < page.index('id="table-2"')


def test_rows_show_stars_delta_truth_and_verdicts(results):
    page = render_html(results, b"parity", b"forest")
    base = html_row(page, "baseline_fe")
    assert "0.3100 (0.0300)***" in base
    assert "3.20e-15" in base
    assert "0.3000 (Python ✓, R ✓)" in base
    assert "Δ vs published: Python +0.0200, R +0.0200" in base
    hetero = html_row(page, "hetero")
    assert "0.1000 (0.0500)*<" in hetero and "0.2000 (0.0500)**<" in hetero
    assert hetero.count("v-not-reproduced") == 2
    assert "greater_than baseline_fe: 0.1 is not &gt; 0.31" in hetero
    assert "s-disagree" in hetero


def test_error_rows_show_the_escaped_message(results):
    page = render_html(results, b"parity", b"forest")
    assert "broken: R: lm failed | &lt;singular&gt; fit" in page
    assert "s-error" in html_row(page, "broken")
    md_row = next(line for line in render_markdown(results).splitlines() if "`broken`" in line)
    assert "R: lm failed \\| <singular> fit" in md_row


def test_markdown_table_rows_keep_their_column_count_despite_pipes_in_text(results):
    md = render_markdown(results)
    section = md.split("## Table 2 Baseline")[1].split("## ")[0].strip().splitlines()
    table = list(itertools.takewhile(lambda line: line.startswith("|"), section))

    def cells(line: str) -> int:
        return len(re.split(r"(?<!\\)\|", line))

    assert len({cells(line) for line in table}) == 1
    assert len(table) == 4  # header, rule, baseline_fe, broken


def test_html_is_self_contained_utf8_and_embeds_both_pictures(results):
    png = b"\x89PNG\r\n\x1a\nfake"
    forest = b"\x89PNG\r\n\x1a\nforest"
    page = render_html(results, png, forest)
    assert '<meta charset="utf-8">' in page
    assert "数字化与碳排放" in page and "数字化降低碳排放" in page
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page, flags=re.I)
    assert references, "expected the plot and the table links"
    assert all(ref.startswith(("#", "data:")) for ref in references), references
    assert not re.search(r"<(link|script)\b", page, flags=re.I)
    assert f"data:image/png;base64,{base64.b64encode(png).decode()}" in page
    assert f"data:image/png;base64,{base64.b64encode(forest).decode()}" in page
    # The parity picture comes first after the summary, before any spec table.
    assert page.index("Summary") < page.index(base64.b64encode(png).decode()) < page.index('id="table-1"')
    assert page.index('id="table-1"') < page.index(base64.b64encode(forest).decode())


def test_no_timestamp_outside_the_provenance_section(results):
    md = render_markdown(results)
    assert md.count(CREATED) == 1
    assert md.index(CREATED) > md.index("## Provenance")
    assert "4.2.2" in md.split("## Provenance")[1] and "0.11.4" in md.split("## Provenance")[1]
    assert "ab" * 32 in md and "cd" * 32 in md


def test_run_without_r(results):
    results["provenance"]["r"] = None
    for item in results["specs"]:
        item["r"], item["diff"] = None, None
        if item["status"] != "error":
            item["status"] = "not-run"
    summary = summarize(judge_claims(results["specs"]))
    assert (summary["agree"], summary["r-not-run"], summary["error"]) == (0, 3, 1)
    md = render_markdown(results)
    assert re.search(r"\| R\s+\| —\s+\| not run\s+\|", md)
    assert "**agree**" not in md


def test_csv_has_one_row_per_spec_with_exact_floats(results):
    rows = list(csv.DictReader(io.StringIO(render_csv(results))))
    assert list(rows[0]) == [c for c in CSV_COLUMNS if c not in JOINT_COLUMNS]  # no spec has joint inference
    assert [r["id"] for r in rows] == ["baseline_fe", "broken", "hetero", "py_only"]
    base = {r["id"]: r for r in rows}["baseline_fe"]
    assert float(base["py_coef"]) == 0.31 and float(base["py_p"]) == 1e-20
    assert (base["claim_python"], base["claim_r"], base["truth_in_ci_python"]) == ("reproduced", "reproduced", "true")
    assert base["learners"] == 'ml_l=rf;ml_m={"alpha":0.1,"name":"lasso"}'
    by_id = {r["id"]: r for r in rows}
    assert by_id["py_only"]["status"] == "r-not-run" and by_id["py_only"]["r_coef"] == ""
    assert by_id["broken"]["error"] == "R: lm failed | <singular> fit"
    assert render_csv(results).endswith("\n") and "\r" not in render_csv(results)


def test_status_cell_says_why() -> None:
    from harness.report import render_markdown

    spec = {
        "id": "atte",
        "status": "explained",
        "tier": "exact",
        "python": {"coef": 0.05, "se": 0.1, "p": 0.6, "ci": [-0.1, 0.2]},
        "r": {"coef": 0.047, "se": 0.1, "p": 0.6, "ci": [-0.1, 0.2]},
        "explained_gap": {"rule": "IRM ATTE: per-fold treated share"},
        "learner_free": {"coef_rel": 3e-16, "se_rel": 1e-16},
        "nuisance": {"ml_g0": {"corr": 0.999}, "ml_m": {"corr": 0.97}},
    }
    text = render_markdown({"schema": "x", "provenance": {}, "specs": [spec]})
    assert "explained by: IRM ATTE: per-fold treated share" in text
    assert "learner-free Δ coef 3.0e-16" in text
    assert "lowest nuisance correlation 0.9700 (ml_m)" in text


def test_a_failed_check_never_reads_as_its_limit() -> None:
    """Until 2026-12-07 (an outside user) a correlation of 0.94958 failing its 0.95 limit read
    "nuisance.ml_m.corr 0.95 vs limit 0.95" in the terminal and "| 0.95 | 0.95 | FAIL |" in report.md."""
    from harness.report.cells import disagree_line

    spec = {
        "id": "g_tree",
        "status": "disagree",
        "tier": "statistical",
        "python": {"coef": 0.5, "se": 0.1, "p": 0.01, "ci": [0.3, 0.7]},
        "r": {"coef": 0.49, "se": 0.1, "p": 0.01, "ci": [0.29, 0.69]},
        "checks": [
            {"name": "nuisance.ml_m.corr", "value": 0.9495773810242805, "limit": 0.95, "ok": False, "layer": "nuisance"},
            {"name": "end_to_end.coef", "value": 0.1, "limit": 0.2, "ok": True, "layer": "end_to_end"},
        ],
    }
    assert "nuisance.ml_m.corr 0.9496 vs limit 0.95" in disagree_line(spec)
    text = render_markdown({"schema": "x", "provenance": {}, "specs": [spec]})
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines() if "(layer: " in line]
    assert [c[2:5] for c in cells] == [["0.9496", "0.95", "FAIL"], ["0.1", "0.2", "pass"]]
    assert "failed: nuisance.ml_m.corr 0.9496 vs limit 0.95" in text


def test_csv_text_cannot_become_a_spreadsheet_formula(results):
    results["specs"][0]["title"] = '=HYPERLINK("http://example.invalid","x")'
    results["specs"][0]["table"] = "@SUM(A1)"
    rows = list(csv.DictReader(io.StringIO(render_csv(results))))
    first = {r["id"]: r for r in rows}[results["specs"][0]["id"]]
    assert first["title"].startswith("'=") and first["table"] == "'@SUM(A1)"
    # Numbers keep their sign: only text is guarded.
    assert all(not r["py_coef"].startswith("'") for r in rows)
