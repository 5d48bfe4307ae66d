"""What "a leaf of at least k rows" means in each forest (the ``rf`` pair, README "Learner pairs"):
scikit-learn counts a leaf's distinct rows of the bootstrap sample, ranger its draws (a row drawn
twice counts twice), so the tool's translation ``min_samples_leaf`` -> ``min.bucket`` asks for
smaller leaves in R whenever k > 1. Measured on public data, a regression with one covariate (so
that no feature sampling plays a part): statsmodels' Grunfeld investment panel, firms other than US
Steel from 1940 on (150 rows), invest on capital.

For k = 1 and k = 5, both forests as the tool builds them (``resolve_learner``; 500 trees, every
feature, seeds 1 and 2), trained on every row:
* the leaves' distinct rows and draws (min and mean over every leaf of every tree);
* the mean absolute difference of the in-sample predictions between the two seeds of one package
  (its own noise) and between the packages (seed 1 with seed 1, seed 2 with seed 2);
and one tree without the bootstrap (every row once; it has no random choice with one covariate),
where the two rules coincide: its largest prediction difference.

    .venv/bin/python bench/learner_pairs/forest_leaf_rule.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.engines.r_engine import r_session  # noqa: E402
from harness.language.learners import resolve_learner  # noqa: E402

TREES = 500


def grunfeld() -> tuple[np.ndarray, np.ndarray]:
    import statsmodels.api as sm

    frame = sm.datasets.grunfeld.load_pandas().data
    frame = frame[(frame["firm"] != "US Steel") & (frame["year"] >= 1940)]
    return frame[["capital"]].to_numpy(dtype=float), frame["invest"].to_numpy(dtype=float)


def _choice(leaf: int, seed: int) -> dict:
    return {"name": "rf", "n_estimators": TREES, "max_features": 1.0, "min_samples_leaf": leaf, "random_state": seed}


def python_forest(x: np.ndarray, y: np.ndarray, leaf: int, seed: int) -> dict:
    forest = resolve_learner(_choice(leaf, seed), "ml_l", "plr").python_estimator().fit(x, y)
    leaves = [tree.tree_.children_left == -1 for tree in forest.estimators_]
    trees = [tree.tree_ for tree in forest.estimators_]
    return {
        "prediction": forest.predict(x),
        # n_node_samples counts the rows with a nonzero bootstrap weight; the weight is the draws.
        "distinct": np.concatenate([t.n_node_samples[is_leaf] for t, is_leaf in zip(trees, leaves, strict=True)]),
        "draws": np.concatenate([t.weighted_n_node_samples[is_leaf] for t, is_leaf in zip(trees, leaves, strict=True)]),
    }


def r_forest(x: np.ndarray, y: np.ndarray, leaf: int, seed: int, extra: dict | None = None) -> dict:
    session = r_session()
    _, params = resolve_learner(_choice(leaf, seed), "ml_l", "plr").r_learner(x.shape[1])
    out = session.call("probe_ranger_leaves", session.r_matrix(x, ["capital"]), session._ro.FloatVector(y),
                       session.r_value({**params, **(extra or {})}))  # fmt: skip
    return {k: np.asarray(v, dtype=float) for k, v in dict(out.items()).items()}


def one_tree_gap(x: np.ndarray, y: np.ndarray, leaf: int) -> float:
    """One tree on every row once (no bootstrap) in both packages: the largest prediction difference."""
    from sklearn.ensemble import RandomForestRegressor

    python = RandomForestRegressor(n_estimators=1, bootstrap=False, max_features=1.0, min_samples_leaf=leaf).fit(x, y)
    r = r_forest(x, y, leaf, 1, {"num.trees": 1, "replace": False, "sample.fraction": 1.0})
    return float(np.abs(python.predict(x) - r["prediction"]).max())


def _gap(a: dict, b: dict) -> float:
    return float(np.mean(np.abs(a["prediction"] - b["prediction"])))


def leaf_rows(x: np.ndarray, y: np.ndarray, leaf: int) -> list[dict]:
    """Per package: its leaves (seed 1) and how far its predictions lie from its own other seed and from the other package's."""
    makers = (("python", python_forest), ("r", r_forest))
    fits = {(engine, seed): fit(x, y, leaf, seed) for engine, fit in makers for seed in (1, 2)}
    apart = (_gap(fits[("python", 1)], fits[("r", 1)]) + _gap(fits[("python", 2)], fits[("r", 2)])) / 2
    rows = []
    for engine in ("python", "r"):
        first = fits[(engine, 1)]
        rows.append({
            "k": leaf, "package": engine,
            "distinct min": first["distinct"].min(), "distinct mean": first["distinct"].mean(),
            "draws min": first["draws"].min(), "draws mean": first["draws"].mean(),
            "own seeds apart": _gap(first, fits[(engine, 2)]), "python - r apart": apart,
        })  # fmt: skip
    return rows


def main() -> int:
    r_session().call("source", str(ROOT / "r_scripts" / "forest_probe.R"))
    x, y = grunfeld()
    rows = leaf_rows(x, y, 1) + leaf_rows(x, y, 5)
    print(f"Grunfeld, {len(y)} rows, invest on capital; {TREES} trees, seeds 1 and 2.")
    print("Leaves: distinct rows and draws of the bootstrap sample; apart: mean absolute difference of in-sample predictions.")
    print(pd.DataFrame(rows).round(3).to_markdown(index=False))
    for leaf in (1, 5):
        print(f"one tree without the bootstrap, leaves >= {leaf}: largest prediction difference {one_tree_gap(x, y, leaf):.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
