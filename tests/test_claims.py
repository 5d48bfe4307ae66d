"""Claim verdicts per engine, from hand-built spec dicts."""

from __future__ import annotations

import copy

import pytest

from harness.verdict.claims import ENGINES_DISAGREE, count_claims, judge_claims


def est(coef: float, se: float = 0.05, p: float = 0.001, ci: tuple[float, float] | None = None) -> dict:
    low, high = ci if ci else (coef - 1.96 * se, coef + 1.96 * se)
    return {"coef": coef, "se": se, "t": coef / se, "p": p, "ci": [low, high]}


def paper(sign: str | None = None, level: float = 0.05, gt=(), lt=(), published: float | None = None) -> dict:
    return {
        "claim": "words",
        "claim_zh": None,
        "sign": sign,
        "level": level,
        "greater_than": list(gt),
        "less_than": list(lt),
        "published": {"coef": published, "se": None, "note": None},
    }


def spec(spec_id: str, python: dict | None, r: dict | None, claim: dict | None = None, truth: float | None = None) -> dict:
    return {"id": spec_id, "status": "agree", "python": python, "r": r, "paper": claim, "truth": truth}


def judged(*specs: dict) -> dict[str, dict]:
    return {s["id"]: s for s in judge_claims(list(specs))}


def test_positive_significant_estimate_is_reproduced_by_both_engines():
    out = judged(spec("a", est(0.3, p=1e-6), est(0.3, p=1e-6), paper("positive")))["a"]
    assert out["claim_verdict"] == {"python": "reproduced", "r": "reproduced"}
    assert out["claim_reasons"] == {"python": [], "r": []}
    assert out["claim_agreement"] == "same"


def test_insignificant_estimate_fails_the_sign_part_with_a_reason():
    out = judged(spec("a", est(0.3, p=0.07), est(0.3, p=0.07), paper("positive")))["a"]
    assert out["claim_verdict"]["python"] == "not-reproduced"
    # Named for what failed: the significance, not the sign (which held; so it read until 2026-12-06).
    assert out["claim_reasons"]["python"] == ["significance: p = 0.07 is not < 0.05"]


def test_the_claims_own_level_is_used():
    out = judged(spec("a", est(0.3, p=0.03), est(0.3, p=0.03), paper("positive", level=0.01)))["a"]
    assert out["claim_verdict"] == {"python": "not-reproduced", "r": "not-reproduced"}


def test_wrong_sign_fails_even_when_significant():
    out = judged(spec("a", est(0.3, p=1e-6), est(0.3, p=1e-6), paper("negative")))["a"]
    assert out["claim_verdict"]["r"] == "not-reproduced"
    assert any("not < 0" in reason for reason in out["claim_reasons"]["r"])


def test_orderings_compare_within_one_engine_and_flag_disagreeing_verdicts():
    base = spec("base", est(0.20), est(0.30))
    other = spec("east", est(0.25), est(0.25), paper(gt=["base"]))
    out = judged(base, other)["east"]
    # 0.25 > Python's 0.20 but not > R's 0.30.
    assert out["claim_verdict"] == {"python": "reproduced", "r": "not-reproduced"}
    assert out["claim_reasons"]["r"] == ["greater_than base: 0.25 is not > 0.3"]
    assert out["claim_agreement"] == ENGINES_DISAGREE


def test_less_than_part():
    out = judged(spec("base", est(0.2), est(0.2)), spec("west", est(0.1), est(0.3), paper(lt=["base"])))["west"]
    assert out["claim_verdict"] == {"python": "reproduced", "r": "not-reproduced"}


def test_comparison_with_a_spec_lacking_that_engines_estimate_is_not_judged():
    base = spec("base", est(0.2), None)
    out = judged(base, spec("east", est(0.3), est(0.3), paper("positive", gt=["base"])))["east"]
    assert out["claim_verdict"] == {"python": "reproduced", "r": "not-judged"}
    assert out["claim_reasons"]["r"] == ["greater_than base: base has no r estimate"]


def test_a_failed_part_outweighs_an_unjudged_one():
    base = spec("base", None, None)
    out = judged(base, spec("east", est(-0.3), est(-0.3), paper("positive", gt=["base"])))["east"]
    assert out["claim_verdict"]["python"] == "not-reproduced"
    assert len(out["claim_reasons"]["python"]) == 2


def test_comparison_with_a_spec_outside_the_run_is_not_judged():
    out = judged(spec("east", est(0.3), est(0.3), paper(gt=["dropped_by_only"])))["east"]
    assert out["claim_verdict"]["python"] == "not-judged"


def test_claim_without_machine_form_is_not_judged_rather_than_vacuously_reproduced():
    out = judged(spec("a", est(0.3), est(0.3), paper()))["a"]
    assert out["claim_verdict"] == {"python": "not-judged", "r": "not-judged"}


def test_engine_without_estimate_has_no_verdict_and_no_agreement():
    out = judged(spec("a", est(0.3), None, paper("positive")))["a"]
    assert out["claim_verdict"] == {"python": "reproduced", "r": None}
    assert out["claim_reasons"]["r"] is None
    assert out["claim_agreement"] is None


def test_nan_coefficient_counts_as_no_estimate():
    out = judged(spec("a", est(0.3), {"coef": float("nan"), "se": 0.1, "p": 0.5, "ci": None}, paper("positive")))["a"]
    assert out["claim_verdict"]["r"] is None


def test_spec_without_claim_gets_no_verdict():
    out = judged(spec("a", est(0.3), est(0.3)))["a"]
    assert out["claim_verdict"] is None and out["claim_agreement"] is None


def test_truth_in_ci_and_bias_per_engine():
    out = judged(spec("a", est(0.31, ci=(0.25, 0.37)), est(0.40, ci=(0.35, 0.45)), truth=0.3))["a"]
    assert out["truth_in_ci"] == {"python": True, "r": False}
    assert out["bias"]["python"] == pytest.approx(0.01)
    assert out["bias"]["r"] == pytest.approx(0.10)


def test_no_truth_means_no_truth_fields():
    out = judged(spec("a", est(0.31), est(0.31)))["a"]
    assert out["truth_in_ci"] is None and out["bias"] is None


def test_published_delta_per_engine():
    out = judged(spec("a", est(0.31), None, paper("positive", published=0.29)))["a"]
    assert out["published_delta"]["python"] == pytest.approx(0.02)
    assert out["published_delta"]["r"] is None


def test_judging_returns_new_dicts_and_leaves_input_untouched():
    specs = [spec("base", est(0.2), est(0.2)), spec("east", est(0.3), est(0.3), paper("positive", gt=["base"]), truth=0.3)]
    before = copy.deepcopy(specs)
    out = judge_claims(specs)
    assert specs == before
    assert all(new is not old for new, old in zip(out, specs, strict=True))
    assert [s["id"] for s in out] == ["base", "east"]


def test_count_claims_per_engine():
    specs = judge_claims(
        [
            spec("base", est(0.2), None),
            spec("a", est(0.3), est(0.3), paper("positive")),
            spec("b", est(0.3, p=0.5), est(0.3), paper("positive")),
            spec("c", est(0.3), est(0.3), paper(gt=["base"])),
            spec("d", est(0.3), None, paper("positive")),
        ]
    )
    counts = count_claims(specs)
    assert counts["python"] == {"claims": 4, "reproduced": 3, "not-reproduced": 1, "not-judged": 0, "no-estimate": 0}
    assert counts["r"] == {"claims": 4, "reproduced": 2, "not-reproduced": 0, "not-judged": 1, "no-estimate": 1}
