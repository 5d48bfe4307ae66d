"""Done-when of the parity core: a spec and CSV the project never saw, run as a new user would
through the installed command, equal a direct call of both packages on the recorded rows and
folds to 1e-10."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.engines.r_engine import project_root, r_library

pytestmark = pytest.mark.r


@pytest.fixture(scope="module")
def new_user_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    rng = np.random.default_rng(2024)
    n = 500
    frame = pd.DataFrame({"wage": rng.lognormal(size=n), "training": rng.normal(size=n), "age": rng.integers(18, 65, n)})
    frame["tenure"] = frame["age"] * 0.3 + rng.normal(size=n)
    frame["training"] += 0.02 * frame["age"]
    frame["wage"] += 0.4 * frame["training"] + 0.01 * frame["age"]
    folder = tmp_path_factory.mktemp("newuser")
    csv = folder / "survey.csv"
    frame.to_csv(csv, index=False)
    spec = folder / "mine.yaml"
    spec.write_text(
        "dataset: {path: survey.csv}\n"
        "defaults: {n_folds: 4, seed: 11}\n"
        "specs:\n"
        "  - {id: wage_training, model: plr, y: wage, d: training, x: [age, tenure], learner: ols, sample: 'age >= 25'}\n",
        encoding="utf-8",
    )
    out = folder / "out"
    exe = Path(sys.executable).with_name("dml-parity")
    env = {k: v for k, v in os.environ.items() if not k.startswith("R_")}
    proc = subprocess.run(
        [str(exe), "run", "--specs", str(spec), "--out", str(out), "--no-cache", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return csv, out / "results.json", json.loads((out / "results.json").read_text())


def test_python_equals_direct_doubleml(new_user_run) -> None:
    import doubleml as dml
    from sklearn.linear_model import LinearRegression

    csv, results_json, results = new_user_run
    spec = results["specs"][0]
    # The README's layout: arrays.npz beside results.json, members named in the spec's record.
    with np.load(results_json.parent / results["arrays"]["path"]) as arrays:
        rows, folds = arrays[spec["arrays"]["rows"]], arrays[spec["arrays"]["folds"]][0]
    data = pd.read_csv(csv).iloc[rows].reset_index(drop=True)
    smpls = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(folds.max() + 1)]
    model = dml.DoubleMLPLR(
        dml.DoubleMLData(data, "wage", "training", ["age", "tenure"]),
        LinearRegression(),
        LinearRegression(),
        n_folds=4,
        draw_sample_splitting=False,
    )
    model.set_sample_splitting(smpls).fit()
    assert abs(model.coef[0] - spec["python"]["coef"]) <= 1e-10 * abs(model.coef[0])
    assert abs(model.se[0] - spec["python"]["se"]) <= 1e-10 * model.se[0]


def test_r_equals_direct_rscript(new_user_run) -> None:
    csv, results_json, results = new_user_run
    spec = results["specs"][0]
    env = {**os.environ, "R_LIBS": str(r_library())}
    proc = subprocess.run(
        [
            "Rscript",
            str(project_root() / "r_scripts" / "reference.R"),
            str(csv),
            str(results_json),
            "wage_training",
            "wage",
            "training",
            "age,tenure",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    coef, se = (float(v) for v in proc.stdout.split())
    assert abs(coef - spec["r"]["coef"]) <= 1e-10 * abs(coef)
    assert abs(se - spec["r"]["se"]) <= 1e-10 * se
    assert spec["status"] == "agree"
