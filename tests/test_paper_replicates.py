"""``specs/paper_seed_replicates.yaml`` is the seed suite's statistical tier under seed replicates:
exactly the statistical-tier specs of ``specs/paper.yaml`` that the replicate verdict judges (one
treatment, no bootstrap or adjusted p-values), unchanged, each with at least 20 seed replicates.
After a change to paper.yaml, regenerate it: take paper.yaml's dataset, its defaults plus
``replicates: {n: 20, vary: seeds}``, and its statistical-tier spec entries."""

from __future__ import annotations

from pathlib import Path

from harness.language.spec import load_spec_file
from harness.verdict.compare import spec_tier

ROOT = Path(__file__).resolve().parents[1]


def test_seed_replicates_are_the_paper_suites_statistical_specs() -> None:
    paper = load_spec_file(ROOT / "specs" / "paper.yaml")
    replicated = load_spec_file(ROOT / "specs" / "paper_seed_replicates.yaml")
    statistical = [s for s in paper.specs if spec_tier(s)[0] == "statistical"]
    judged = [s for s in statistical if not (s.several_treatments or s.has_inference)]
    # digital_intel: two treatments with Holm-adjusted p-values, which replicates do not judge
    assert [s.id for s in statistical if s not in judged] == ["digital_intel"]
    statistical = judged
    # 21: rob_lasso_cv left the statistical tier when the tool began sharing inner folds (issue 23)
    assert len(statistical) == 21
    assert [s.id for s in replicated.specs] == [s.id for s in statistical]
    for mine, theirs in zip(replicated.specs, statistical, strict=True):
        assert mine.model_dump(exclude={"replicates"}) == theirs.model_dump(exclude={"replicates"}), mine.id
        assert mine.replicates is not None and mine.replicates.n >= 20 and mine.replicates.vary == "seeds"
    assert replicated.dataset == paper.dataset
