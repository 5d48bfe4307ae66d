"""Real faults injected into one engine's input, through both packages: R fitted on folds with two
rows swapped, and doubleml fitted on such folds while its ``smpls`` still shows the tool's. The
verdict must turn to ``disagree`` and name that engine's fold check, for every model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.engines import r_arguments
from tests.matrix_cases import MODELS, MatrixCase
from tests.test_matrix_r import _run

pytestmark = pytest.mark.r


def _swap_two_rows(splits):
    """The first row of test fold 0 and the first of test fold 1 trade places in repetition 0, after
    the tool validated the folds: what R receives then differs from what the tool drew."""
    rep = list(splits.smpls[0])
    (train0, test0), (train1, test1) = rep[0], rep[1]
    a, b = test0[0], test1[0]

    def moved(indices, leaving, arriving):
        return np.sort(np.r_[indices[indices != leaving], arriving])

    rep[0] = (moved(train0, b, a), moved(test0, a, b))
    rep[1] = (moved(train1, a, b), moved(test1, b, a))
    return dataclasses.replace(splits, smpls=[rep, *splits.smpls[1:]])


@pytest.mark.parametrize("model_key", list(MODELS))
def test_r_on_swapped_folds_disagrees(model_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    original = r_arguments._r_smpls
    # At the hand-over to R (harness/design/splits.py validated the folds before): R's folds are read back
    # from its fitted object, so the swap must show in folds.r, not be masked by the tool's arrays.
    monkeypatch.setattr(r_arguments, "_r_smpls", lambda session, splits: original(session, _swap_two_rows(splits)))
    result = _run(MatrixCase("generated", model_key, "none", 1, 2, "small"))
    failed = {c["name"] for c in result["checks"] if not c["ok"]}
    assert result["status"] == "disagree"
    assert "folds.r" in failed and "folds.python" not in failed, failed
    # The swapped rows change R's fit itself, so the estimates no longer agree either.
    assert any(name.startswith("end_to_end") for name in failed), failed


@pytest.mark.parametrize("model_key", list(MODELS))
def test_python_on_other_folds_disagrees(model_key: str) -> None:
    from tests.test_can_fail import _doubleml_fits_swapped_folds

    # doubleml's fit takes repetition 0's folds with two rows traded through its private
    # per-repetition accessor, while its `smpls` still holds what the tool handed over: the fold
    # check must see what doubleml fitted on, not read the tool's own hand-over back.
    with _doubleml_fits_swapped_folds():
        result = _run(MatrixCase("generated", model_key, "none", 1, 2, "small"))
    failed = {c["name"] for c in result["checks"] if not c["ok"]}
    assert result["status"] == "disagree"
    assert "folds.python" in failed and "folds.r" not in failed, failed
