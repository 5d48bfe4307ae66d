"""Each engine frees its big objects once its numbers are out: nothing of a fitted model outlives the
fit, so a million-row run holds one engine's working set at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from harness.design.table import build_design, draw_folds
from harness.language.spec import DatasetSpec, Spec
from tests.conftest import ROOT, make_tables

# In a fresh interpreter, so that the fit below is where doubleml is first imported (optuna,
# imported by doubleml, keeps a traceback that once held the first fit's frames, model and all).
PYTHON_CHECK = textwrap.dedent(
    """
    import gc, warnings
    warnings.simplefilter("ignore")
    from harness.design.table import build_design, draw_folds
    from harness.engines.python_engine import fit_python
    from harness.language.spec import DatasetSpec, Spec
    from tests.conftest import make_tables

    spec = Spec(id="m", model="irm", y="y", d="db", x=["x1", "x2"], learners={"ml_g": "ols", "ml_m": "logit"}, n_rep=2)
    design = build_design(spec, make_tables(n=2000), DatasetSpec(), "generated")
    folds = draw_folds(design, 5, 2, 3)
    gc.disable()  # what is freed must be freed by reference counting, at once
    result = fit_python(spec, design, folds)
    fit_python(spec, design, folds, external_predictions=result.predictions)
    from doubleml.data.base_data import DoubleMLBaseData
    from doubleml.double_ml import DoubleML
    alive = [type(o).__name__ for o in gc.get_objects() if isinstance(o, (DoubleML, DoubleMLBaseData))]
    gc.enable()
    gc.collect()
    still = [type(o).__name__ for o in gc.get_objects() if isinstance(o, (DoubleML, DoubleMLBaseData))]
    print(len(alive), len(still))
    """
)


def test_python_engine_keeps_no_model_after_the_fit() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", PYTHON_CHECK], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["0", "0"], proc.stdout


@pytest.mark.r
def test_r_engine_returns_its_heap_after_the_fit() -> None:
    from harness.engines.r_engine import fit_r, r_session

    session = r_session()

    def used_mb() -> float:
        with session.building():
            # gc()'s matrix, column-major: rows Ncells and Vcells, second column "(Mb)" used.
            table = np.asarray(session._ro.r["gc"](full=True))
        return float(table[0, 1] + table[1, 1])

    data = make_tables(seed=3, n=40_000)
    spec = Spec(id="r", model="plr", y="y", d="d", x=["x1", "x2", "x3", "skew", "near"], learner="ols", n_rep=2)
    design = build_design(spec, data, DatasetSpec(), "generated")
    folds = draw_folds(design, 5, 2, 3)
    fit_r(spec, design, folds)  # warm: packages' lazy loads and learners' first use stay resident
    before = used_mb()
    result = fit_r(spec, design, folds)
    after = used_mb()
    design_mb = design.frame.memory_usage(index=False).sum() / 2**20
    assert np.isfinite(result.coef)
    # The design alone is ~2.7 MB in R and the fit's working set many times that.
    assert after - before < 0.25 * design_mb, (before, after, design_mb)
