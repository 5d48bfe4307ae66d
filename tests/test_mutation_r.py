"""Real faults injected into one engine's input, through both packages: R fitted on folds with two
rows swapped. The verdict must turn to ``disagree`` and name the fold check, for every model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.engines import r_engine
from tests.matrix_cases import MODELS, MatrixCase
from tests.test_matrix_r import _run

pytestmark = pytest.mark.r


def _swap_two_rows(folds):
    labels = folds.labels.copy()
    a, b = np.flatnonzero(labels[0] == 0)[0], np.flatnonzero(labels[0] == 1)[0]
    labels[0, [a, b]] = labels[0, [b, a]]
    return dataclasses.replace(folds, labels=labels)


@pytest.mark.parametrize("model_key", list(MODELS))
def test_r_on_swapped_folds_disagrees(model_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    original = r_engine._r_smpls
    monkeypatch.setattr(r_engine, "_r_smpls", lambda session, folds, design: original(session, _swap_two_rows(folds), design))
    result = _run(MatrixCase("generated", model_key, "none", 1, 2, "small"))
    failed = {c["name"] for c in result["checks"] if not c["ok"]}
    assert result["status"] == "disagree"
    assert "folds.r" in failed and "folds.python" not in failed, failed
    # The swapped rows change R's fit itself, so the estimates no longer agree either.
    assert any(name.startswith("end_to_end") for name in failed), failed
