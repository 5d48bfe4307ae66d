"""The replicates section of report.html in Chromium at 1400 px: pictures loaded, no sideways
scrolling, with long spec ids and a verdict of each kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.report import write_report
from harness.verdict.replicate_verdict import replicate_outcome
from tests.test_replicates import RULE_P
from tests.test_report_browser import MEASURE, WIDTH, _measure

pytestmark = pytest.mark.browser


def _spec(spec_id: str, shift: float, sd: float, n: int) -> dict:
    rng = np.random.default_rng(len(spec_id))
    truth = 0.5 + 0.1 * rng.standard_normal(n)
    results = []
    for t, e in zip(truth, rng.standard_normal(n), strict=True):
        py, r = t + shift * 0.1 + sd * 0.1 * e, t
        results.append({
            "status": "agree", "error": None, "checks": RULE_P,
            "python": {"coef": py, "se": 0.1, "ci": [py - 0.196, py + 0.196]},
            "r": {"coef": r, "se": 0.1, "ci": [r - 0.196, r + 0.196]},
            "learner_free": {"coef": r, "se": 0.1},
        })  # fmt: skip
    status, block, checks = replicate_outcome(results, "statistical", 0.2, "data", 0.5, seed=1)
    first = results[0]
    return {
        "id": spec_id, "title": "A replicated spec", "title_zh": "重复估计：随机森林倾向得分的尾部", "table": "Replicates",
        "status": status, "tier": "statistical", "python": {**first["python"], "t": 5.0, "p": 0.001},
        "r": {**first["r"], "t": 5.0, "p": 0.001}, "diff": {"coef_rel": 0.01, "se_rel": 0.0, "coef_in_se": 0.1},
        "checks": checks, "replicates": {**block, "seeds": {"data": list(range(n)), "folds": None, "learners": None}},
    }  # fmt: skip


@pytest.fixture(scope="module")
def measured(chromium_binary: str, tmp_path_factory: pytest.TempPathFactory) -> dict:
    specs = [
        _spec("irm_forest_tails_with_a_long_identifier_that_does_not_break_" * 2, 0.0, 0.5, 200),
        _spec("shifted", 5.0, 0.5, 40),
        _spec("undecided", 0.3, 1.0, 10),
    ]
    results = {"schema": "dml-parity/results/1", "provenance": {"command": "dml-parity run", "seeds": {}}, "specs": specs}
    out = tmp_path_factory.mktemp("replicates-report")
    write_report(results, out)
    assert sorted(p.name for p in Path(out).glob("replicates-*.png"))[1:] == [
        "replicates-shifted.png",
        "replicates-undecided.png",
    ]
    probe = out / "measured.html"
    probe.write_text((out / "report.html").read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    return {"statuses": [s["status"] for s in specs], **_measure(chromium_binary, probe, out / "profile")}


def test_replicates_section_fits_and_its_pictures_load(measured: dict) -> None:
    assert measured["statuses"] == ["agree", "disagree", "inconclusive"]
    assert measured["closed"]["scrollWidth"] <= measured["closed"]["clientWidth"] == WIDTH, measured["closed"]
    assert measured["spilledClosed"] == []
    images = measured["images"]
    # The replicates section sits between the spec tables and the estimates.
    assert [i["id"] for i in images] == ["parity-plot", "", "", "", "forest-plot"]
    assert all(i["complete"] and i["naturalWidth"] > 1000 for i in images[1:4])
