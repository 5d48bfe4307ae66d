"""R's DoubleML given the tool's folds without its own check (r_scripts/engine.R dmlp_hand_smpls)
fits bitwise like ``set_sample_splitting``, for every model with n_rep > 1. (Cluster data never had
a checked route in R: DoubleML 1.0.2 refuses ``set_sample_splitting`` there.)"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness.design.splits import sample_splits
from harness.engines.r_arguments import fit_arguments
from harness.engines.r_engine import RError, r_session
from tests.test_splits import CASES, prepared

pytestmark = pytest.mark.r


def r_fit(case: str, checked: bool) -> dict:
    spec, design, folds = prepared(case, "none", n_rep=3)
    session = r_session()
    with session.building():
        arguments = fit_arguments(spec, design, folds, sample_splits(design, folds), session)
        out = session.call("dmlp_fit", **arguments, checked=checked)
        return {k: (dict(v.items()) if k == "predictions" else np.asarray(v)) for k, v in dict(out.items()).items()}


@pytest.mark.parametrize("case", list(CASES))
def test_handed_folds_fit_bitwise_like_checked_folds_in_r(case: str) -> None:
    checked, handed = r_fit(case, True), r_fit(case, False)
    assert handed["coef_reps"].shape == (3,)
    for name in ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps"):
        assert checked[name].tobytes() == handed[name].tobytes(), name
    # The handed folds stay DoubleML's own: read back from the fitted object (dmlp_fold_labels), the
    # same rows in the same folds as on the checked route and as the tool drew.
    _, design, folds = prepared(case, "none", n_rep=3)
    assert np.array_equal(handed["folds"], checked["folds"])
    assert np.array_equal(handed["folds"].reshape(design.n_obs, 3).T, folds.labels)
    assert set(checked["predictions"]) == set(handed["predictions"])
    for name, values in checked["predictions"].items():
        assert np.asarray(values).tobytes() == np.asarray(handed["predictions"][name]).tobytes(), name


def test_r_refuses_bad_folds_only_on_the_checked_route() -> None:
    """The checked route is live: the same call with a broken fold fails there."""
    spec, design, folds = prepared("plr", "none", n_rep=1)
    splits = sample_splits(design, folds)
    train, test = splits.smpls[0][0]
    broken = dataclasses.replace(splits, smpls=[[(np.r_[train, design.n_obs + 5], test), *splits.smpls[0][1:]]])
    session = r_session()

    with session.building(), pytest.raises(RError):
        session.call("dmlp_fit", **fit_arguments(spec, design, folds, broken, session), checked=True)
