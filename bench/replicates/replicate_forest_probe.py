"""Why Python's propensity forests reach 0 or 1 more often than R's with the same settings (the IRM
forest study, README): both languages' forests as the tool builds them, trained on one fold of
fresh ``make_irm_data`` draws (the study's data seeds), compared on the held-out fold and by the
shape of their trees (depth, leaves, share of pure leaves).

    .venv/bin/python bench/replicates/replicate_forest_probe.py [--draws 30]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.design.generated import generate  # noqa: E402
from harness.engines.r_engine import r_session  # noqa: E402
from harness.language.learners import resolve_learner  # noqa: E402
from harness.running.replicate_tasks import derive_seed  # noqa: E402

GENERATOR = {"name": "make_irm_data", "n_obs": 500, "dim_x": 10, "theta": 0.5}
COLUMNS = [f"X{i}" for i in range(1, 11)]
# name -> the spec's learner entry (as in specs/examples/irm_forest_tails.yaml)
FORESTS = {
    "leaves >= 2, depth 5": {"name": "rf", "n_estimators": 100, "max_features": 1.0, "max_depth": 5, "min_samples_leaf": 2},
    "leaves >= 1, depth 5": {"name": "rf", "n_estimators": 100, "max_features": 1.0, "max_depth": 5, "min_samples_leaf": 1},
    "leaves >= 2, depth 6": {"name": "rf", "n_estimators": 100, "max_features": 1.0, "max_depth": 6, "min_samples_leaf": 2},
}


def _python(choice: dict, x: np.ndarray, d: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict:
    forest = resolve_learner(choice, "ml_m", "irm").python_estimator().fit(x[train], d[train])
    leaves = [tree.tree_.children_left == -1 for tree in forest.estimators_]
    values = [tree.tree_.value[leaf][:, 0] for tree, leaf in zip(forest.estimators_, leaves, strict=True)]
    return {
        "propensity": forest.predict_proba(x[test])[:, 1],
        "depth": np.mean([tree.tree_.max_depth for tree in forest.estimators_]),
        "leaves": np.mean([leaf.sum() for leaf in leaves]),
        "pure": np.mean([np.mean((v[:, 0] == 0) | (v[:, 1] == 0)) for v in values]),
    }


def _r(choice: dict, x: np.ndarray, d: np.ndarray, train: np.ndarray, test: np.ndarray) -> dict:
    session = r_session()
    key, params = resolve_learner(choice, "ml_m", "irm").r_learner(x.shape[1])
    ro = session._ro
    out = session.call(
        "probe_ranger",
        session.r_matrix(x, COLUMNS),
        ro.IntVector(d.astype(int).tolist()),
        ro.IntVector((train + 1).tolist()),
        ro.IntVector((test + 1).tolist()),
        session.r_value(params),
    )
    result = dict(out.items())
    return {
        "propensity": np.asarray(result["propensity"], dtype=float),
        **{k: float(np.asarray(result[k])[0]) for k in ("depth", "leaves", "pure")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=30)
    args = parser.parse_args(argv)
    r_session().call("source", str(ROOT / "r_scripts" / "forest_probe.R"))
    rows = []
    for k in range(2, 2 + args.draws):
        data = generate(GENERATOR, derive_seed(207, k, "data"))
        x, d = data[COLUMNS].to_numpy(), data["d"].to_numpy()
        test = np.random.default_rng(k).permutation(len(d))[:100]
        train = np.setdiff1d(np.arange(len(d)), test)
        for forest, choice in FORESTS.items():
            for engine, fit in (("Python", _python), ("R", _r)):
                got = fit({**choice, "random_state": k}, x, d, train, test)
                p = got.pop("propensity")
                outside = (p < 0.01) | (p > 0.99)
                rows.append({"forest": forest, "engine": engine, "outside": outside.mean(), "any_outside": float(outside.any()),
                             "min": p.min(), "max": p.max(), **got})  # fmt: skip
    table = pd.DataFrame(rows).groupby(["forest", "engine"]).mean().round(4)
    print(f"{args.draws} draws of make_irm_data (n = 500, 10 covariates), 400 training and 100 test rows each; means over draws.")
    print("outside: share of test propensities below 0.01 or above 0.99; any_outside: share of draws with one.")
    print(table.to_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
