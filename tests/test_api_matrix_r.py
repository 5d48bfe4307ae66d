"""The shared API's matrix with exact learners through both packages (tests/api_matrix_cases.py).

Every case must end ``agree`` or ``explained`` with no failed check and with checks covering every
treatment's quantities and every joint quantity (critical value, joint intervals, adjusted
p-values, with shared weights and with each package's own draws); each row of a several-treatment
spec carries its own verdict. The ``rule`` checks prove the written joint-inference rules are each
package's own. The slow half carries the ``slow`` marker (CI runs it with ``DMLP_FULL=1``).
"""

from __future__ import annotations

import pytest

from harness.design.table import build_design, draw_folds
from harness.language.spec import DatasetSpec, Spec
from harness.running.runner import PreparedSpec, run_one
from harness.verdict.checks import covered_by, required_coverage
from harness.verdict.treatment_rows import treatment_rows
from tests.api_matrix_cases import api_cases, api_frame
from tests.shards import add_shards

pytestmark = pytest.mark.r


def _run(case) -> tuple[Spec, dict]:
    spec = Spec(**case.spec_fields())
    design = build_design(spec, api_frame(case.data), DatasetSpec(), case.data)
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed, case.data, spec.id)
    return spec, run_one(PreparedSpec(spec, design, folds), ("python", "r"))


def _assert_earned(spec: Spec, result: dict) -> None:
    failed = [(c["name"], c["value"], c["limit"]) for c in result["checks"] if not c["ok"]]
    assert result.get("status") in ("agree", "explained"), (result.get("status"), result.get("error"), failed)
    assert result["checks"] and not failed
    several = spec.several_treatments
    required = required_coverage(
        "exact", spec.n_rep, list(spec.treatments) if several else None, spec.bootstrap is not None, spec.joint, spec.p_adjust
    )
    triples = len(next(iter(required))) == 3
    covered = {tuple(k) for k in covered_by_dicts(result["checks"], triples)}
    assert required <= covered, required - covered
    layers = {c["layer"] for c in result["checks"]}
    assert {"folds", "learner_free", "nuisance", "rule", "end_to_end"} <= layers
    if spec.bootstrap is not None:
        assert "monte_carlo" in layers
    if spec.has_inference:
        assert any(c["layer"] == "rule" and ("joint_ci" in c["name"] or "p_adjust" in c["name"]) for c in result["checks"])
    for _, d, row in treatment_rows(spec, result):
        assert row["status"] in ("agree", "explained"), (d, row["status"])


def covered_by_dicts(checks: list[dict], triples: bool) -> set:
    from harness.verdict.checks import Check

    fields = ("name", "layer", "quantity", "rep", "value", "limit", "ok", "metric")
    objects = [Check(*(c[f] for f in fields), c.get("treatment")) for c in checks]
    return covered_by(objects, triples)


def _check(case) -> None:
    _assert_earned(*_run(case))


# Shard classes that spread over the test workers (tests/shards.py).
add_shards(globals(), "TestApiMatrixFast", api_cases("fast"), _check, shards=2)
add_shards(globals(), "TestApiMatrixSlow", api_cases("slow"), _check, shards=6, marks=[pytest.mark.slow])
