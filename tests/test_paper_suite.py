"""The seed study: its exact-tier twins, the claims of the abstract, the documented truth and the
shipped baseline of its estimates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.language.spec import load_spec_file
from harness.regression.baseline import drift
from harness.running.runner import RunOptions, run

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs" / "paper.yaml"
BASELINE = ROOT / "specs" / "paper_baseline.json"

# Every finding of the abstract and the specs whose `paper` block states it.
ABSTRACT = {
    "positive and significant": ["baseline_fe"],
    "stronger than digitalization or intelligence alone": ["baseline_fe"],
    "works through regional innovation": ["mech_innov"],
    "works through industrial-structure upgrading": ["mech_ind_struct"],
    "government intervention strengthens it": ["mod_gov"],
    "stronger in the east and the west": ["het_east", "het_west"],
    "stronger in less developed cities": ["het_low_dev"],
    "raises overall growth": ["ext_growth"],
    "narrows the core-periphery gap": ["ext_gap_core"],
}


def exact_ids() -> list[str]:
    from harness.verdict.compare import spec_tier

    return [s.id for s in load_spec_file(SPECS).specs if spec_tier(s)[0] == "exact"]


def test_every_claim_of_the_abstract_has_a_checkable_row() -> None:
    specs = {s.id: s for s in load_spec_file(SPECS).specs}
    for finding, ids in ABSTRACT.items():
        for spec_id in ids:
            paper = specs[spec_id].paper
            assert paper is not None and (paper.sign or paper.greater_than), finding
    assert specs["baseline_fe"].paper.greater_than == ["digital_only", "intel_only"]
    assert specs["ext_gap_core"].paper.sign == "negative"
    assert specs["het_east"].paper.greater_than == ["het_central"]


def test_every_table_has_an_exact_check() -> None:
    specs = load_spec_file(SPECS).specs
    exact = set(exact_ids())
    for table in {s.table for s in specs}:
        assert any(s.id in exact for s in specs if s.table == table), table


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run(RunOptions(specs=SPECS, only=exact_ids(), use_cache=False, jobs=2, cache_dir=tmp_path_factory.mktemp("c")))


@pytest.mark.r
def test_exact_twins_agree_to_1e_10(exact_run: dict) -> None:
    assert len(exact_run["specs"]) >= 7
    for spec in exact_run["specs"]:
        assert spec["status"] == "agree", (spec["id"], spec["checks"])
        assert spec["diff"]["coef_rel"] <= 1e-10 and spec["diff"]["se_rel"] <= 1e-10, spec["id"]


@pytest.mark.r
def test_exact_twins_match_the_shipped_baseline(exact_run: dict) -> None:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    baseline["estimates"] = {k: v for k, v in baseline["estimates"].items() if k in set(exact_ids())}
    assert drift(baseline, exact_run) == []


@pytest.mark.r
@pytest.mark.slow
def test_full_suite(tmp_path_factory: pytest.TempPathFactory) -> None:
    results = run(RunOptions(specs=SPECS, use_cache=False, jobs=2, cache_dir=tmp_path_factory.mktemp("c")))
    specs = {s["id"]: s for s in results["specs"]}
    assert all(s["status"] in ("agree", "explained") for s in specs.values()), {
        k: s["status"] for k, s in specs.items() if s["status"] not in ("agree", "explained")
    }
    # Every claim of the abstract reproduces in both engines on the synthetic panel.
    for ids in ABSTRACT.values():
        for spec_id in ids:
            assert specs[spec_id]["claim_verdict"] == {"python": "reproduced", "r": "reproduced"}, spec_id
    # The documented truth lies in both engines' 95 % intervals for the large majority of the
    # specs that target it with a flexible learner (linear twins are biased on purpose).
    flexible = [s for s in specs.values() if s["tier"] == "statistical" and s["truth"] is not None and s["id"] != "baseline_nofe"]
    covered = [s for s in flexible if s["truth_in_ci"] == {"python": True, "r": True}]
    assert len(covered) >= 0.8 * len(flexible), [s["id"] for s in flexible if s not in covered]
    assert drift(json.loads(BASELINE.read_text(encoding="utf-8")), results) == []
