"""The folds handed to doubleml without its per-call check give bitwise the same fit as the checked
route (``set_sample_splitting``), for every model, with and without clusters, with n_rep > 1; and the
tool's own check refuses every fault the skipped check would have caught."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from harness.design.splits import SampleSplits, sample_splits, validate_splits
from harness.design.table import build_design, cluster_codes, draw_folds
from harness.engines.python_engine import _model, fit_python
from harness.language.spec import DatasetSpec, Spec
from tests.conftest import make_tables

X = ["x1", "x2", "x3", "skew"]
CASES = {
    "plr": dict(model="plr", y="y", d="d", learner="ols"),
    "plr_iv_type": dict(model="plr", y="y", d="d", learner="ols", score="IV-type"),
    "pliv": dict(model="pliv", y="y", d="d", z=["zc"], learner="ols"),
    "irm": dict(model="irm", y="y", d="db", learners={"ml_g": "ols", "ml_m": "logit"}),
    "irm_atte": dict(model="irm", y="y", d="db", score="ATTE", learners={"ml_g": "ols", "ml_m": "logit"}),
    "iivm": dict(model="iivm", y="y", d="db", z=["z"], learners={"ml_g": "ols", "ml_m": "logit", "ml_r": "logit"}),
}
CLUSTERS = {"none": None, "one-way": ["g"], "two-way": ["g", "h"]}


def prepared(case: str, cluster: str, n_rep: int = 3, n_folds: int = 3):
    data = make_tables(seed=7, n=600)
    spec = Spec(id=case, x=X, n_folds=n_folds, n_rep=n_rep, seed=11, cluster=CLUSTERS[cluster], **CASES[case])
    design = build_design(spec, data, DatasetSpec(), "generated")
    return spec, design, draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)


def fitted(spec, design, folds, checked: bool, external=None):
    splits = sample_splits(design, folds)
    model = _model(spec, design, folds, splits)
    if checked:
        # The route a user takes: doubleml's own check of the same folds, from scratch.
        model._smpls = model._smpls_cluster = None
        model.set_sample_splitting(folds.smpls(cluster_codes(design)), splits.smpls_cluster)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if external is None:
            model.fit(store_predictions=True)
        else:
            model.fit(external_predictions={design.d: external})
    return model


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("cluster", list(CLUSTERS))
@pytest.mark.parametrize("case", list(CASES))
def test_handed_folds_fit_bitwise_like_checked_folds(case: str, cluster: str) -> None:
    spec, design, folds = prepared(case, cluster)
    checked = fitted(spec, design, folds, checked=True)
    handed = fitted(spec, design, folds, checked=False)
    assert handed.n_rep == checked.n_rep == 3 and handed.n_folds == checked.n_folds
    for (tr_c, te_c), (tr_h, te_h) in zip(
        [p for rep in checked.smpls for p in rep], [p for rep in handed.smpls for p in rep], strict=True
    ):
        assert same_bits(tr_c, tr_h) and same_bits(te_c, te_h)
    for name in ("coef", "se", "all_coef", "all_se", "psi", "psi_deriv"):
        assert same_bits(getattr(checked, name), getattr(handed, name)), name
    assert set(checked.predictions) == set(handed.predictions)
    for name in checked.predictions:
        assert same_bits(checked.predictions[name], handed.predictions[name]), name
    # The learner-free refit (R's predictions in the tool; here the fit's own) takes the same route.
    external = {k: v[:, :, 0] for k, v in checked.predictions.items()}
    if not all(np.isnan(v).all() for v in external.values()):
        external = {k: v for k, v in external.items() if not np.isnan(v).all()}
        refit_checked = fitted(spec, design, folds, checked=True, external=external)
        refit_handed = fitted(spec, design, folds, checked=False, external=external)
        for name in ("coef", "se", "all_coef", "all_se"):
            assert same_bits(getattr(refit_checked, name), getattr(refit_handed, name)), name


def test_fit_python_never_calls_doubleml_check(monkeypatch: pytest.MonkeyPatch) -> None:
    import doubleml.double_ml_sampling_mixins as mixins

    def refuse(*args, **kwargs):
        raise AssertionError("doubleml's fold check ran")

    monkeypatch.setattr(mixins, "_check_sample_splitting", refuse)
    spec, design, folds = prepared("plr", "two-way", n_rep=2)
    result = fit_python(spec, design, folds)
    assert np.isfinite(result.coef) and result.coef_reps.shape == (2,)


def faulty(splits: SampleSplits, rep: int = 0, fold: int = 0, train=None, test=None) -> SampleSplits:
    smpls = [list(r) for r in splits.smpls]
    old_train, old_test = smpls[rep][fold]
    smpls[rep][fold] = (old_train if train is None else train, old_test if test is None else test)
    return dataclasses.replace(splits, smpls=smpls)


def test_validation_refuses_what_doubleml_would() -> None:
    spec, design, folds = prepared("plr", "none", n_rep=2)
    splits = sample_splits(design, folds)
    validate_splits(splits)
    train, test = splits.smpls[1][2]
    n = design.n_obs
    bad = {
        "overlap": faulty(splits, 1, 2, train=np.sort(np.r_[train, test[:1]])),
        "not a partition (row missing)": faulty(splits, 1, 2, test=test[1:]),
        "outside [0, n)": faulty(splits, 1, 2, test=np.r_[test, n]),
        "negative": faulty(splits, 0, 0, train=np.r_[-1, splits.smpls[0][0][0]]),
        "unsorted": faulty(splits, 0, 1, test=splits.smpls[0][1][1][::-1].copy()),
        "duplicates": faulty(splits, 0, 1, test=np.sort(np.r_[splits.smpls[0][1][1], splits.smpls[0][1][1][:1]])),
        "float indices": faulty(splits, 0, 1, test=splits.smpls[0][1][1].astype(float)),
        "empty training set": faulty(splits, 0, 1, train=np.array([], dtype=np.int64)),
        "fold count": dataclasses.replace(splits, smpls=[splits.smpls[0], splits.smpls[1][:-1]]),
    }
    for what, splits_bad in bad.items():
        with pytest.raises(ValueError):
            validate_splits(splits_bad)
            pytest.fail(what)


def test_validation_refuses_inconsistent_cluster_folds() -> None:
    spec, design, folds = prepared("pliv", "two-way", n_rep=2)
    splits = sample_splits(design, folds)
    codes = cluster_codes(design)
    train_c, test_c = splits.smpls_cluster[0][0]
    moved = [list(f) for f in splits.smpls_cluster]
    # One test cluster also listed as a training cluster: not a partition of the clusters.
    moved[0][0] = ([np.r_[train_c[0], test_c[0][:1]], train_c[1]], test_c)
    with pytest.raises(ValueError, match="partition the clusters"):
        validate_splits(dataclasses.replace(splits, smpls_cluster=moved), codes)
    # Cluster folds of another repetition: rows and clusters disagree.
    swapped = [splits.smpls_cluster[1], splits.smpls_cluster[0]]
    with pytest.raises(ValueError, match="disagree"):
        validate_splits(dataclasses.replace(splits, smpls_cluster=swapped), codes)


def test_another_doubleml_version_takes_the_checked_route(monkeypatch: pytest.MonkeyPatch) -> None:
    import doubleml.double_ml_sampling_mixins as mixins

    from harness.engines import python_engine

    spec, design, folds = prepared("pliv", "one-way", n_rep=2)
    handed = fit_python(spec, design, folds)
    calls = []
    real = mixins._check_sample_splitting
    monkeypatch.setattr(mixins, "_check_sample_splitting", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(python_engine, "HANDED_SPLITS_VERSION", "0.0.0")
    checked = fit_python(spec, design, folds)
    assert calls, "the checked route ran"
    assert same_bits(handed.coef_reps, checked.coef_reps) and same_bits(handed.se_reps, checked.se_reps)
