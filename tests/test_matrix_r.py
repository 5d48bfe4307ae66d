"""The whole matrix of settings with exact learners, through both packages (tests/matrix_cases.py).

Every case must end ``agree`` or ``explained`` with its end-to-end checks covering every compared
quantity of every repetition and of the aggregate, and no failed check — or be refused before any
fit for a stated reason. The slow half carries the
``slow`` marker: ``make test`` runs it where ``DMLP_FULL=1`` (CI sets it).
"""

from __future__ import annotations

import pytest

from harness.design.feasibility import check_feasible
from harness.design.table import build_design, draw_folds
from harness.errors import SpecError
from harness.language.spec import DatasetSpec, Spec
from harness.running.runner import PreparedSpec, run_one
from harness.verdict.checks import required_coverage
from tests.matrix_cases import cases, dataset_frame, effect_frame
from tests.shards import add_shards

pytestmark = pytest.mark.r


# Cases the tool refuses up front, before any fit, and why (the message must say so).
REFUSALS = (
    "IRM ATTE needs treated rows in every test fold",
    "is perfectly separated",
    "constant or collinear",
    "has no training rows",
    "one class",
    "has no rows (no row combines",
)


def _run(case) -> dict:
    """One case as the runner prepares and fits it; a refused case returns its one-line message."""
    spec = Spec(**case.spec_fields())
    design = build_design(spec, dataset_frame(case.dataset, case.size), DatasetSpec(), case.dataset)
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed, case.dataset, spec.id)
    try:
        check_feasible(spec, design, folds, case.dataset)
    except SpecError as err:
        return {"status": "refused", "error": str(err), "checks": []}
    if case.effect != "as-is":
        # The same rows, treatment and clusters (so the same folds); only the outcome moves.
        design = build_design(spec, effect_frame(case), DatasetSpec(), case.dataset)
    return run_one(PreparedSpec(spec, design, folds), ("python", "r"))


def _assert_earned(case, result: dict) -> None:
    if result["status"] == "refused":
        assert any(reason in result["error"] for reason in REFUSALS), result["error"]
        return
    assert result.get("status") in ("agree", "explained"), (
        result.get("status"),
        result.get("error"),
        [c for c in result["checks"] if not c["ok"]],
    )
    assert result["checks"] and all(c["ok"] for c in result["checks"])
    covered = {(c["quantity"], c["rep"]) for c in result["checks"] if c["layer"] == "end_to_end"}
    assert required_coverage("exact", case.n_rep) <= covered
    # Each package fitted the tool's folds, and Python's code on R's predictions gave R's numbers.
    assert {c["name"] for c in result["checks"] if c["layer"] == "folds"} == {"folds.python", "folds.r"}
    assert any(c["layer"] == "learner_free" for c in result["checks"])


def _check(case) -> None:
    _assert_earned(case, _run(case))


# TestMatrixFast0..3 and TestMatrixSlow0..7: the cases in shard classes that spread over the workers.
add_shards(globals(), "TestMatrixFast", cases("fast"), _check, shards=4)
add_shards(globals(), "TestMatrixSlow", cases("slow"), _check, shards=8, marks=[pytest.mark.slow])
