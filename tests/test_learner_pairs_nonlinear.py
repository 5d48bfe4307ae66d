"""The nonlinear learner pairs (lgbm, svr): both engines on shared folds earn the tier the registry
declares (measured in bench/learner_pairs/learner_pairs.py), and bad learner parameters are one-line spec errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.design.table import build_design, draw_folds
from harness.language.learners import LEARNERS, LearnerChoice, parse_learner
from harness.language.spec import DatasetSpec, Spec
from harness.running.runner import PreparedSpec, run_one
from harness.verdict.checks import LEARNER_FREE_LIMIT
from tests.conftest import make_tables

X = ["x1", "x2", "x3", "skew", "near"]
# Few trees and a small sample keep the R fits to seconds; bagging and column sampling make the
# seed translation matter.
LGBM: dict = {"name": "lgbm", "n_estimators": 30, "num_leaves": 15}
LGBM_BAGGED: dict = {**LGBM, "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "random_state": 5}
CASES: dict[str, tuple[str, dict[str, dict[str, LearnerChoice]]]] = {
    "lgbm-plr": ("lgbm", {"plr": {"ml_l": LGBM, "ml_m": LGBM_BAGGED}}),
    "lgbm-irm": ("lgbm", {"irm": {"ml_g": LGBM_BAGGED, "ml_m": LGBM}}),
    "svr-plr": ("svr", {"plr": {"ml_l": "svr", "ml_m": {"name": "svr", "C": 5.0, "gamma": 0.3}}}),
    "svr-irm": ("svr", {"irm": {"ml_g": {"name": "svr", "epsilon": 0.05}, "ml_m": "logit"}}),
}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_tables(seed=4, n=400)


def prepared(frame: pd.DataFrame, model: str, learners: dict[str, LearnerChoice]) -> PreparedSpec:
    d = "d" if model == "plr" else "db"
    spec = Spec(id=f"{model}", model=model, y="y", d=d, x=X, learners=learners, n_folds=4, seed=2)
    design = build_design(spec, frame, DatasetSpec(), "generated")
    return PreparedSpec(spec, design, draw_folds(design, spec.n_folds, spec.n_rep, spec.seed))


@pytest.mark.r
@pytest.mark.parametrize("case", sorted(CASES))
def test_pair_earns_its_declared_tier(frame: pd.DataFrame, case: str) -> None:
    pair_name, by_model = CASES[case]
    pair = LEARNERS[pair_name]
    ((model, learners),) = by_model.items()
    result = run_one(prepared(frame, model, learners), ("python", "r"))
    assert result["error"] is None, result["error"]
    assert result["tier"] == pair.tier
    assert result["status"] == "agree", [c for c in result["checks"] if not c["ok"]]
    if pair.tier == "exact":
        assert result["diff"]["coef_rel"] <= pair.tolerance
        assert result["diff"]["se_rel"] <= pair.tolerance
    assert result["learner_free"]["coef_rel"] <= LEARNER_FREE_LIMIT
    assert result["learner_free"]["se_rel"] <= LEARNER_FREE_LIMIT


def test_lgbm_translation_sends_every_setting() -> None:
    _, params = parse_learner({"name": "lgbm", "n_estimators": 7, "subsample": 0.5}, "ml_l", "plr").r_learner(5)
    assert params["num_iterations"] == 7 and params["bagging_fraction"] == 0.5
    assert params["seed"] == 1 and params["bin_construct_sample_cnt"] == 200_000
    assert params["min_sum_hessian_in_leaf"] == 1e-3
    fixed = {"deterministic": True, "force_col_wise": True, "num_threads": 1, "verbose": -1, "boost_from_average": True}
    assert fixed.items() <= params.items()
    key, _ = parse_learner("lgbm", "ml_m", "irm").r_learner(5)
    assert key == "classif.lgbm"


def test_svr_gamma_auto_is_one_over_p() -> None:
    resolved = parse_learner("svr", "ml_l", "plr")
    key, params = resolved.r_learner(4)
    assert key == "regr.svm" and params["gamma"] == 0.25 and params["scale"] is False
    assert resolved.python_estimator().get_params()["gamma"] == "auto"


# -- bad parameters: one line, exit 2, through the command line (no R needed) --------------------


def run_cli(tmp_path: Path, entry: str, data: Path) -> subprocess.CompletedProcess:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"dataset: {{path: {data}}}\nspecs:\n  - {entry}\n", encoding="utf-8")
    command = [sys.executable, "-m", "harness.cli", "run", "--specs", str(spec), "--engines", "python"]
    return subprocess.run([*command, "--out", str(tmp_path / "out"), "--no-cache"], capture_output=True, text=True, timeout=120)


PLR = "id: a, model: plr, y: y, d: d, x: [x1, x2]"
BAD = [
    ("unknown parameter", f"{PLR}, learner: {{name: lgbm, n_trees: 5}}", r"spec 'a'.*learner 'lgbm' has no parameter 'n_trees'"),
    ("negative n_estimators", f"{PLR}, learner: {{name: lgbm, n_estimators: -3}}", r"spec 'a'.*learner 'lgbm'.*n_estimators"),
    ("svr gamma scale", f"{PLR}, learner: {{name: svr, gamma: scale}}", r"spec 'a'.*learner 'svr'.*gamma"),
    (
        "svr as a classifier",
        "id: a, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: svr, ml_m: svr}",
        r"spec 'a'.*ml_m.*'svr' has no classifier",
    ),
]


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bad") / "data.csv"
    make_tables(n=100).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("name", "entry", "pattern"), BAD, ids=[b[0] for b in BAD])
def test_bad_learner_parameter_is_one_line_exit_2(tmp_path: Path, csv: Path, name: str, entry: str, pattern: str) -> None:
    proc = run_cli(tmp_path, "{" + entry + "}", csv)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert not (tmp_path / "out").exists()
