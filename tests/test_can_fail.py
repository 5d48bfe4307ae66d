"""Every check that counts could have failed (issue 19 item 4), without R.

* Too few bootstrap draws: the Monte Carlo bound of a critical value (or of a Romano-Wolf p-value)
  reaches the largest value its metric can take, so the own-draws check cannot fail. Such settings
  are refused when the spec is read (exit 2, one line naming ``bootstrap.n_rep_boot``), and a check
  that cannot fail never counts toward the coverage rule.
* The Python fold check reads the folds doubleml's cross-fitting received, not the attribute the
  tool wrote: doubleml fitting other folds than its ``smpls`` shows.
* A nuisance that cannot be compared (NaN, missing, constant where a correlation is asked) is a
  failed check, never a missing one.

R's side is built from a real Python fit as R reports it (``tests/test_compare.py``,
``tests/test_compare_api.py``); ``tests/test_mutation_r.py`` and ``tests/test_can_fail_r.py`` do the
same through R.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from harness.design.table import build_design, draw_folds
from harness.engines.python_engine import fit_python
from harness.language.spec import BootstrapSpec, DatasetSpec, Spec, load_spec_file
from harness.verdict.checks import VerdictError
from harness.verdict.compare import compare
from harness.verdict.compare_extended import judge
from harness.verdict.learner_free import learner_free_fit
from tests.conftest import make_tables
from tests.test_compare import _as_r
from tests.test_compare_api import _r_like
from tests.test_spec_errors import assert_one_line_error, run_cli, spec_with

DATA = make_tables(seed=11, n=300)
OLS = "x: [x1, x2], learner: ols"


# --- too few bootstrap draws ---------------------------------------------------------------------

REFUSED = [
    # (n_rep_boot, n_rep, p_adjust): draws pooled over repetitions
    (1, 1, None),
    (3, 1, None),
    (2, 1, "bonferroni"),
    (11, 1, "romano-wolf"),
    (5, 2, "romano-wolf"),
]


@pytest.mark.parametrize(("n_rep_boot", "n_rep", "p_adjust"), REFUSED, ids=lambda v: str(v))
def test_too_few_draws_are_refused_naming_the_field(tmp_path: Path, n_rep_boot: int, n_rep: int, p_adjust) -> None:
    data = tmp_path / "data.csv"
    make_tables(n=200).to_csv(data, index=False)
    adjust = f", p_adjust: {p_adjust}" if p_adjust else ""
    entry = f"{{id: a, model: plr, y: y, d: d, {OLS}, n_rep: {n_rep}, bootstrap: {{n_rep_boot: {n_rep_boot}}}{adjust}}}"
    proc = run_cli(tmp_path, spec_with(entry), data)
    assert_one_line_error(proc, r"spec 'a'.*bootstrap\.n_rep_boot: .*cannot fail", tmp_path / "out")


ACCEPTED = [(4, 1, None), (2, 2, None), (12, 1, "romano-wolf"), (6, 2, "romano-wolf")]


@pytest.mark.parametrize(("n_rep_boot", "n_rep", "p_adjust"), ACCEPTED)
def test_the_fewest_draws_whose_checks_can_fail_are_accepted(tmp_path: Path, n_rep_boot: int, n_rep: int, p_adjust) -> None:
    adjust = f", p_adjust: {p_adjust}" if p_adjust else ""
    entry = f"{{id: a, model: plr, y: y, d: d, {OLS}, n_rep: {n_rep}, bootstrap: {{n_rep_boot: {n_rep_boot}}}{adjust}}}"
    path = tmp_path / "s.yaml"
    path.write_text(spec_with(entry).replace("DATA", str(tmp_path / "data.csv")), encoding="utf-8")
    assert load_spec_file(path).specs[0].bootstrap.n_rep_boot == n_rep_boot


def _bootstrap_case(n_rep_boot: int, p_adjust=None):
    """A spec with ``n_rep_boot`` draws that the spec file would refuse, fitted by Python, with R
    built from it (R's own draws: doubleml's with another seed)."""
    spec = Spec(id="boot", model="plr", y="y", d="d", x=["x1", "x2", "x3"], learner="ols", n_folds=3, seed=4,
                bootstrap={"n_rep_boot": 50}, p_adjust=p_adjust)  # fmt: skip
    spec = spec.model_copy(update={"bootstrap": BootstrapSpec.model_construct(method="normal", n_rep_boot=n_rep_boot)})
    design = build_design(spec, DATA, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    py = fit_python(spec, design, folds)
    other = fit_python(spec.model_copy(update={"seed": 99}), design, folds)
    r = _r_like(spec, design, py, other)
    return spec, design, folds, py, r


@pytest.mark.parametrize(("n_rep_boot", "p_adjust", "named"), [(3, None, "crit"), (11, "romano-wolf", "p_adjust")])
def test_a_check_that_cannot_fail_does_not_cover_its_quantity(n_rep_boot: int, p_adjust, named: str) -> None:
    spec, design, folds, py, r = _bootstrap_case(n_rep_boot, p_adjust)
    with pytest.raises(VerdictError, match=f"{named} with the packages' own draws"):
        judge(spec, design, folds, py, r, learner_free_fit(spec, design, folds, r))


def test_a_check_that_cannot_fail_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import harness.verdict.compare_extended as extended

    spec, design, folds, py, r = _bootstrap_case(3)
    monkeypatch.setattr(extended, "assert_covered", lambda *args, **kwargs: None)
    result = judge(spec, design, folds, py, r, learner_free_fit(spec, design, folds, r))
    mc = [c for c in result.checks if c.layer == "monte_carlo" and c.quantity == "crit"]
    assert mc and all(not c.can_fail and c.limit >= 0.95 for c in mc)
    assert all(c.as_dict()["can_fail"] is False for c in mc)
    # Every other check of that fit could fail, and says nothing.
    assert all(c.can_fail and "can_fail" not in c.as_dict() for c in result.checks if c not in mc)


# --- Python's folds, as doubleml used them ----------------------------------------------------------


@contextlib.contextmanager
def _doubleml_fits_swapped_folds():
    """doubleml's cross-fitting gets repetition 0's folds with two rows traded between folds 0 and 1,
    while the model's ``smpls`` (what the tool handed over) stays as drawn."""
    from doubleml.double_ml import DoubleML

    prop = DoubleML.__dict__["_DoubleML__smpls"]

    def swapped(self):
        folds = prop.fget(self)
        if self._i_rep != 0:
            return folds
        (train0, test0), (train1, test1) = folds[0], folds[1]
        a, b = test0[0], test1[0]

        def moved(indices, leaving, arriving):
            return np.sort(np.r_[indices[indices != leaving], arriving])

        return [(moved(train0, b, a), moved(test0, a, b)), (moved(train1, a, b), moved(test1, b, a)), *folds[2:]]

    DoubleML._DoubleML__smpls = property(swapped)
    try:
        yield
    finally:
        DoubleML._DoubleML__smpls = prop


@pytest.mark.parametrize("case", ["plr_po", "irm_ate", "iivm"])
def test_python_fitting_other_folds_fails_the_python_fold_check(case: str) -> None:
    from tests.test_compare import _spec

    spec = _spec(case)
    design = build_design(spec, DATA, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    with _doubleml_fits_swapped_folds():
        py = fit_python(spec, design, folds)
    r = _as_r(spec, design, folds, fit_python(spec, design, folds))
    result = compare(spec, design, folds, py, r, r)
    failed = {c.name for c in result.checks if not c.ok}
    assert result.status == "disagree"
    assert "folds.python" in failed and "folds.r" not in failed, failed
    check = next(c for c in result.checks if c.name == "folds.python")
    assert check.value >= 2


@contextlib.contextmanager
def _doubleml_solves_on_swapped_cluster_folds():
    """doubleml's coefficient and clustered variance get repetition 0's cluster folds with one
    cluster of the first cluster variable traded between the test sets of folds 0 and 1, while the
    rows' folds and the model's public ``smpls_cluster`` stay as drawn."""
    from doubleml.double_ml import DoubleML

    prop = DoubleML.__dict__["_DoubleML__smpls_cluster"]

    def swapped(self):
        folds = prop.fget(self)
        if self._i_rep != 0:
            return folds
        (train0, test0), (train1, test1) = folds[0], folds[1]
        a, b = test0[0][0], test1[0][0]

        def trade(indices, leaving, arriving):
            return [np.sort(np.r_[indices[0][indices[0] != leaving], arriving]), *indices[1:]]

        return [
            (trade(train0, b, a), trade(test0, a, b)),
            (trade(train1, a, b), trade(test1, b, a)),
            *folds[2:],
        ]

    DoubleML._DoubleML__smpls_cluster = property(swapped)
    try:
        yield
    finally:
        DoubleML._DoubleML__smpls_cluster = prop


@pytest.mark.parametrize("case", ["plr_po", "irm_ate"])
@pytest.mark.parametrize("cluster", [["g"], ["g", "h"]], ids=["oneway", "twoway"])
def test_python_solving_on_other_cluster_folds_fails_the_python_fold_check(case: str, cluster) -> None:
    from tests.test_compare import _spec

    spec = _spec(case, n_rep=2, cluster=cluster)
    design = build_design(spec, DATA, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    with _doubleml_solves_on_swapped_cluster_folds():
        py = fit_python(spec, design, folds)
    assert (py.folds[0] == -1).all() and np.array_equal(py.folds[1], folds.labels[1])
    r = _as_r(spec, design, folds, fit_python(spec, design, folds))
    result = compare(spec, design, folds, py, r, r)
    assert result.status == "disagree"
    assert "folds.python" in {c.name for c in result.checks if not c.ok}


@pytest.mark.parametrize("case", ["plr_po", "irm_ate", "iivm"])
@pytest.mark.parametrize("cluster", [None, ["g"], ["g", "h"]], ids=["none", "oneway", "twoway"])
def test_python_on_the_drawn_folds_passes_the_fold_check(case: str, cluster) -> None:
    from tests.test_compare import _spec

    spec = _spec(case, n_rep=2, cluster=cluster)
    design = build_design(spec, DATA, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    py = fit_python(spec, design, folds)
    assert np.array_equal(py.folds, folds.labels)


# --- nuisances that cannot be compared ------------------------------------------------------------


def _fitted(case: str, tier: str = "exact"):
    from tests.test_compare import _spec

    spec = _spec(case)
    if tier == "statistical":
        spec = spec.model_copy(update={"tier": "statistical"})
    design = build_design(spec, DATA, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    py = fit_python(spec, design, folds)
    return spec, design, folds, py, _as_r(spec, design, folds, py)


def _with_prediction(r, name: str, change):
    predictions = {k: v.copy() for k, v in r.predictions.items()}
    predictions[name] = change(predictions[name])
    return dataclasses.replace(r, predictions=predictions)


def _all_nan(a):
    return np.full_like(a, np.nan)


def _one_nan(a):
    a[5, 0] = np.nan
    return a


def _constant(a):
    return np.full_like(a, float(np.mean(a)))


@pytest.mark.parametrize("tier", ["exact", "statistical"])
@pytest.mark.parametrize(("case", "name"), [("plr_po", "ml_m"), ("irm_ate", "ml_g1"), ("irm_atte", "ml_m")])
@pytest.mark.parametrize("change", [_all_nan, _one_nan, _constant], ids=["all_nan", "one_nan", "constant"])
def test_a_nuisance_that_cannot_be_compared_is_a_failed_check(tier: str, case: str, name: str, change) -> None:
    spec, design, folds, py, r = _fitted(case, tier)
    bad = _with_prediction(r, name, change)
    # Python's code on R's predictions is Python's own fit here: only the nuisance layer sees the change.
    result = compare(spec, design, folds, py, bad, py)
    nuisance = [c for c in result.checks if c.layer == "nuisance" and c.name.startswith(f"nuisance.{name}.")]
    assert nuisance, f"no check for {name}: {[c.name for c in result.checks if c.layer == 'nuisance']}"
    assert not any(c.ok for c in nuisance)
    assert result.status == "disagree"


def test_a_nuisance_missing_on_one_side_is_a_failed_check() -> None:
    spec, design, folds, py, r = _fitted("plr_po")
    gone = dataclasses.replace(r, predictions={k: v for k, v in r.predictions.items() if k != "ml_l"})
    result = compare(spec, design, folds, py, gone, py)
    check = next((c for c in result.checks if c.name == "nuisance.ml_l.max_rel_diff"), None)
    assert check is not None and not check.ok
    assert result.status == "disagree"


def test_r_leaving_atte_ml_g1_unfitted_is_by_design_not_a_gap() -> None:
    # R 1.0.2 does not fit ml_g1 for ATTE (its score does not use it): nothing to compare, and the
    # spec still agrees or is explained when everything else matches.
    spec, design, folds, py, r = _fitted("irm_atte", "statistical")
    unfitted = _with_prediction(r, "ml_g1", _all_nan)
    result = compare(spec, design, folds, py, unfitted, learner_free_fit(spec, design, folds, unfitted))
    assert result.status in ("agree", "explained"), [c for c in result.checks if not c.ok]
    assert not any(c.name.startswith("nuisance.ml_g1") for c in result.checks)


@pytest.mark.parametrize("n", range(1, 31))
def test_the_romano_wolf_rule_matches_every_pair_of_proportions(n: int) -> None:
    # The own-draws check of a Romano-Wolf p-value can fail for some pair of n-draw proportions
    # exactly when proportion_check_can_fail says so (and the critical value's when its rule does).
    from harness.verdict.multiplicity import proportion_check_can_fail, proportion_mc_bound, quantile_check_can_fail

    grid = np.arange(n + 1) / n
    some_pair_fails = any(abs(a - b) > proportion_mc_bound(a, b, n, n) for a in grid for b in grid)
    assert some_pair_fails == proportion_check_can_fail(n, n)
    assert quantile_check_can_fail(n) == (n >= 4)


def test_recording_the_folds_keeps_no_model_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    # The recorder sits on the model instance: a reference cycle through it would keep the model
    # (its data, learners and score arrays) alive after fit_python until a garbage collection.
    import gc
    import weakref

    from harness.engines import python_engine
    from tests.test_compare import _spec

    made = []
    original = python_engine._model
    monkeypatch.setattr(python_engine, "_model", lambda *a, **k: made.append(weakref.ref(m := original(*a, **k))) or m)
    spec = _spec("plr_po")
    design = build_design(spec, DATA, DatasetSpec(), "generated")
    folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)
    gc.disable()
    try:
        fit_python(spec, design, folds)
        assert made and made[0]() is None
    finally:
        gc.enable()
