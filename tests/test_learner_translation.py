"""A forest's ``max_features`` reaches ranger as the count scikit-learn draws, on the columns each
nuisance learns from, as ``dml-parity run`` records it (``learner_settings`` in results.json).

Two ways this went wrong before: an integer ``max_features`` (scikit-learn: that many columns) was
read as a share (``max_features: 1`` became ``mtry`` = every column), "sqrt" (the classifier's default)
had no R value, and the share was taken of the controls alone where a nuisance also learns from
other treatments, instruments or SSM's selection columns."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import make_tables
from tests.faults import ROOT, env

X = "[x1, x2, x3, skew, near]"  # five controls
SPECS = {
    # id: (spec entry, expected mtry per nuisance)
    "integer": (f"{{model: plr, y: y, d: d, x: {X}, learner: {{name: rf, max_features: 1}}}}", {"ml_l": 1, "ml_m": 1}),
    "four": (f"{{model: plr, y: y, d: d, x: {X}, learner: {{name: rf, max_features: 4}}}}", {"ml_l": 4, "ml_m": 4}),
    "sqrt": (f"{{model: plr, y: y, d: d, x: {X}, learner: {{name: rf, max_features: sqrt}}}}", {"ml_l": 2, "ml_m": 2}),
    "log2": (f"{{model: plr, y: y, d: d, x: {X}, learner: {{name: rf, max_features: log2}}}}", {"ml_l": 2, "ml_m": 2}),
    "all": (f"{{model: plr, y: y, d: d, x: {X}, learner: {{name: rf, max_features: null}}}}", {"ml_l": 5, "ml_m": 5}),
    # the tool's default share 0.5 of 5 controls and the other treatment
    "two_treatments": (f"{{model: plr, y: y, d: [d, zc], x: {X}, learner: rf}}", {"ml_l": 3, "ml_m": 3}),
    # partialling out Z: ml_r learns from the controls and both instruments (7 columns)
    "pliv_z": (f"{{model: pliv, partial: Z, y: y, d: d, z: [zc, z], x: {X}, learner: rf}}", {"ml_r": 3}),
    # a classifier's default is "sqrt"
    "irm_classifier": (
        f"{{model: irm, y: y, d: db, x: {X}, learners: {{ml_g: rf, ml_m: {{name: rf, max_features: sqrt}}}}}}",
        {"ml_g": 2, "ml_m": 2},
    ),
    # scikit-learn's unlimited depth (its default, None): not sent, ranger's default is unlimited too
    "unlimited": (f"{{model: plr, y: y, d: d, x: {X}, learner: {{name: rf, max_depth: null}}}}", {"ml_l": 2, "ml_m": 2}),
    "tree_unlimited": (f"{{model: plr, y: y, d: d, x: {X}, learner: {{name: tree, max_depth: null}}}}", {}),
}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("translation")
    make_tables(n=300).to_csv(folder / "tables.csv", index=False)
    lines = ["dataset: {path: tables.csv}", "defaults: {n_folds: 3, seed: 3}", "specs:"]
    lines += [f"  - {{id: {spec_id}, {entry[1:]}" for spec_id, (entry, _) in SPECS.items()]
    (folder / "specs.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["run", "--specs", folder / "specs.yaml", "--out", folder / "out", "--engines", "python", "--no-cache", "--quiet"]
    command = [sys.executable, "-m", "harness.cli", *map(str, args)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env(), cwd=ROOT)
    assert proc.returncode == 4, proc.stderr  # 4: Python alone, nothing compared
    records = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))["specs"]
    return {record["id"].split("[")[0]: record["learner_settings"] for record in records}


@pytest.mark.parametrize("spec_id", SPECS)
def test_ranger_gets_the_number_of_columns_scikit_learn_draws(recorded: dict, spec_id: str) -> None:
    settings = recorded[spec_id]
    got = {nuisance: settings[nuisance]["r"]["params"]["mtry"] for nuisance in SPECS[spec_id][1]}
    assert got == SPECS[spec_id][1]


def test_ranger_splits_what_scikit_learn_splits(recorded: dict) -> None:
    """ranger splits a node of more than min.node.size rows, scikit-learn one of at least
    min_samples_split: the tool's default split minimum 2 reaches ranger as 1."""
    params = recorded["integer"]["ml_l"]["r"]["params"]
    assert params["min.node.size"] == 1 and params["min.bucket"] == 5


@pytest.mark.r
@pytest.mark.parametrize("leaf", [1, 5])
def test_one_tree_on_every_row_is_the_same_tree_in_both_packages(leaf: int) -> None:
    """Without the bootstrap and with one covariate nothing random is left, so the forests as the
    tool translates them must grow the same tree (statsmodels' Grunfeld panel: the split minimum
    sent unchanged put this 150 apart)."""
    import numpy as np
    import statsmodels.api as sm
    from sklearn.ensemble import RandomForestRegressor

    from harness.engines.r_engine import r_session
    from harness.language.learners import resolve_learner

    frame = sm.datasets.grunfeld.load_pandas().data
    frame = frame[(frame["firm"] != "US Steel") & (frame["year"] >= 1940)]
    x, y = frame[["capital"]].to_numpy(dtype=float), frame["invest"].to_numpy(dtype=float)
    choice = {"name": "rf", "n_estimators": 1, "max_features": 1.0, "min_samples_leaf": leaf}
    resolved = resolve_learner(choice, "ml_l", "plr")
    python = RandomForestRegressor(**{**resolved.params, "bootstrap": False}).fit(x, y).predict(x)
    session = r_session()
    session.call("source", str(ROOT / "r_scripts" / "forest_probe.R"))
    _, params = resolved.r_learner(1)
    params = {**params, "replace": False, "sample.fraction": 1.0}
    columns, target = session.r_matrix(x, ["capital"]), session._ro.FloatVector(y)
    out = session.call("probe_ranger_leaves", columns, target, session.r_value(params))
    r = np.asarray(dict(out.items())["prediction"], dtype=float)
    assert np.abs(python - r).max() <= 1e-9 * np.abs(y).max()


def test_an_unlimited_depth_reaches_r_as_unlimited(recorded: dict) -> None:
    """A forest's max_depth null was a crash of the tool (int(None)); ranger takes no max.depth as
    unlimited, rpart's deepest tree is 30 levels."""
    assert "max.depth" not in recorded["unlimited"]["ml_l"]["r"]["params"]
    assert recorded["tree_unlimited"]["ml_l"]["r"]["params"]["maxdepth"] == 30
