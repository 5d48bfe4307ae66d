"""report.html as a referee sees it: Debian's Chromium, headless, 1400 px wide.

The page itself carries no script; the test renders a copy with a small measuring script appended,
which writes its measurements into the DOM that Chromium dumps. The results stress the layout:
30 specs in several tables, Chinese titles, a long unbroken error message, long check names.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from harness.report import write_report

pytestmark = pytest.mark.browser

WIDTH = 1400
MEASURE = """
<script>
window.addEventListener("load", () => {
  const root = document.documentElement;
  const page = () => ({scrollWidth: root.scrollWidth, clientWidth: root.clientWidth, innerWidth: window.innerWidth});
  const spilled = () => [...document.querySelectorAll("td, th, figure, h1, h2, p")]
    .filter((e) => e.scrollWidth > e.clientWidth + 1)
    .map((e) => e.textContent.trim().slice(0, 60));
  const out = {closed: page(), spilledClosed: spilled()};
  const details = [...document.querySelectorAll("details")];
  out.details = details.length;
  out.detailsOpenBefore = details.filter((d) => d.open).length;
  details.forEach((d) => { d.open = true; });
  out.open = page();
  out.spilledOpen = spilled();
  const img = document.getElementById("parity-plot");
  const firstTable = document.querySelector("table.specs");
  out.parity = img && {
    complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
    width: img.getBoundingClientRect().width, right: img.getBoundingClientRect().right,
    beforeFirstTable: !!(firstTable && (img.compareDocumentPosition(firstTable) & Node.DOCUMENT_POSITION_FOLLOWING)),
  };
  out.images = [...document.images].map((i) => ({id: i.id, complete: i.complete, naturalWidth: i.naturalWidth}));
  const pre = document.createElement("pre");
  pre.id = "dmlp-measurements";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def _estimate(coef: float, se: float) -> dict:
    return {"coef": coef, "se": se, "t": coef / se, "p": 0.004, "ci": [coef - 1.96 * se, coef + 1.96 * se]}


def _spec(i: int) -> dict:
    exact = i % 4 == 0
    py, r = 0.3 + 0.01 * i, 0.3 + 0.01 * i + (0.0 if exact else 0.004 * (i % 3 - 1))
    checks = [
        {"name": "learner_free.coef_rel", "value": 2e-16, "limit": 1e-10, "ok": True},
        {
            "name": "explained.r_rule_on_python_predictions.coef_rel",
            "value": 1e-12,
            "limit": 1e-10,
            "ok": True,
            "detail": "x" * 80,
        },
    ]
    if not exact:
        checks += [{"name": f"nuisance.ml_{k}.corr", "value": 0.97, "limit": 0.95, "ok": True, "rmse_ratio": 1.02} for k in "lmr"]
    return {
        "id": f"spec_{i:02d}_with_a_rather_long_identifier",
        "title": "A spec title of the usual length, saying which robustness check this is",
        "title_zh": "稳健性检验：替换机器学习算法（梯度提升 LightGBM），控制城市与年份固定效应",
        "table": f"Table {2 + i // 6} " + ("Robustness checks with a long table name" if i % 2 else "Baseline"),
        "status": "agree" if i % 7 else "disagree",
        "tier": "exact" if exact else "statistical",
        "tolerance": 1e-10 if exact else 0.0,
        "python": _estimate(py, 0.04),
        "r": _estimate(r, 0.041),
        "diff": {"coef_rel": abs(py - r) / max(py, r), "se_rel": 0.0 if exact else 0.024, "coef_in_se": abs(py - r) / 0.0405},
        "checks": checks,
        "learner_free": {"coef_rel": 2e-16, "se_rel": 1e-16},
        "nuisance": {"ml_l": {"corr": 0.97}},
        "truth": 0.31,
        "truth_in_ci": {"python": True, "r": True},
        "paper": {
            "claim": "Digital intelligence significantly promotes coordinated regional development across all regions",
            "claim_zh": "数智化显著促进区域协调发展，且其促进作用强于数字化和智能化",
            "sign": "positive",
            "level": 0.01,
            "greater_than": [],
            "less_than": [],
            "published": {"coef": None, "se": None, "note": None},
        },
    }


@pytest.fixture(scope="module")
def results() -> dict:
    specs = [_spec(i) for i in range(30)]
    specs[5].update(status="error", r=None, diff=None, checks=[], error="R: " + "Error_in_glmnet_" * 40)
    specs[9].update(status="not-run", r=None, diff=None)
    return {
        "schema": "dml-parity/results/1",
        "provenance": {
            "command": "dml-parity run --specs specs/paper.yaml --jobs 2 --out " + "reports/a-very-long-directory-name" * 4,
            "created": "2026-11-30T15:00:00Z",
            "python": {"doubleml": "0.11.4"},
            "r": {"DoubleML": "1.0.2"},
            "engines": ["python", "r"],
            "data": {"path": "data/city_panel.csv", "sha256": "ab" * 32},
            "spec_file": {"path": "specs/paper.yaml", "sha256": "cd" * 32},
            "seeds": {s["id"]: 1 for s in specs},
        },
        "specs": specs,
    }


def _measure(chromium: str, page: Path, profile: Path) -> dict:
    """Load ``page`` at 1400 px and return what the measuring script wrote into the DOM."""
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",  # containers often have a small /dev/shm
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},900",
        "--virtual-time-budget=10000",
        "--dump-dom",
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    match = re.search(r'<pre id="dmlp-measurements">(.*?)</pre>', done.stdout, flags=re.S)
    assert match, f"no measurements from chromium (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def measured(results: dict, chromium_binary: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("report")
    write_report(results, out)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<script" not in page  # the page stays script-free; only the measured copy has one
    probe = out / "measured.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    return _measure(chromium_binary, probe, out / "profile")


def test_no_sideways_scrolling_at_1400_px(measured):
    assert measured["closed"]["innerWidth"] == WIDTH
    assert measured["closed"]["scrollWidth"] <= measured["closed"]["clientWidth"], measured["closed"]
    assert measured["spilledClosed"] == []


def test_checks_are_collapsed_and_opening_them_keeps_the_width(measured):
    assert measured["details"] >= 28  # every compared spec has its checks folded away
    assert measured["detailsOpenBefore"] == 0
    assert measured["open"]["scrollWidth"] <= measured["open"]["clientWidth"], measured["open"]
    assert measured["spilledOpen"] == []


def test_parity_picture_is_present_loaded_and_first(measured):
    parity = measured["parity"]
    assert parity, "no #parity-plot image"
    assert parity["complete"] and parity["naturalWidth"] > 500 and parity["naturalHeight"] > 300
    assert 0 < parity["width"] and parity["right"] <= WIDTH
    assert parity["beforeFirstTable"]
    assert [image["id"] for image in measured["images"]] == ["parity-plot", "forest-plot"]
    assert all(image["complete"] and image["naturalWidth"] > 0 for image in measured["images"])


def test_a_report_without_paper_or_truth_fits_too(results: dict, chromium_binary: str, tmp_path: Path) -> None:
    """Without a paper block and a truth the claim and truth columns go and the status column
    takes their width (issue 25): still no sideways scrolling, checks open or closed."""
    bare = json.loads(json.dumps(results))
    for spec in bare["specs"]:
        spec.pop("paper"), spec.pop("truth"), spec.pop("truth_in_ci")
    write_report(bare, tmp_path)
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<th>Paper claim</th>" not in page and "Truth (in 95 % CI)" not in page
    probe = tmp_path / "measured.html"
    probe.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    measured = _measure(chromium_binary, probe, tmp_path / "profile")
    for state in ("closed", "open"):
        assert measured[state]["scrollWidth"] <= measured[state]["clientWidth"], measured[state]
    assert measured["spilledClosed"] == [] and measured["spilledOpen"] == []
