"""Measured Python-R gaps of every model x score x option of the shared API (README's coverage table).

Run:  PYTHONPATH=$PWD .venv/bin/python bench/api_gaps/api_gaps.py [--out bench/api_gaps/api_gaps.md]

Each row is one spec with exact learners (ols, logit) on generated data (tests/conftest.py
``make_tables``, 1,000 rows; SSM: doubleml's ``make_ssm_data``, 1,000 rows, 5 controls), K = 3,
through both packages with the tool's verdict. Columns:

* gap: the largest relative difference of the packages' reported coef and se, per repetition and
  aggregated, over all treatments;
* after the rule: where the packages differ on purpose (n_rep > 1, ATTE), the largest end-to-end
  check value of each package against its own rule on the other's numbers;
* joint (shared weights): the largest relative difference of the bootstrapped t statistics and
  critical values, the joint intervals' largest difference in se and the adjusted p-values'
  largest absolute difference (after the rule where it differs);
* raw joint gap: the reported joint intervals (in se) and adjusted p-values of the two packages
  side by side, before any rule (with n_rep > 1 the rules differ on purpose);
* own draws: the Monte Carlo checks' largest value as a share of its bound (below 1 passes).

Two rows are measurements without the tool's sharing: SSM nonignorable with each package's own
inner split (coef difference in se), and the bootstrap with each package's own draws.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.design.generated import generate  # noqa: E402
from harness.design.table import build_design, draw_folds  # noqa: E402
from harness.engines.python_engine import fit_python  # noqa: E402
from harness.engines.r_engine import fit_r  # noqa: E402
from harness.language.spec import DatasetSpec, Spec  # noqa: E402
from harness.verdict.compare_extended import judge  # noqa: E402
from harness.verdict.learner_free import learner_free_fit  # noqa: E402
from tests.conftest import make_tables  # noqa: E402

X = ["x1", "x2", "x3", "skew"]
SSM_X = ["X1", "X2", "X3", "X4", "X5"]
IRM = {"ml_g": "ols", "ml_m": "logit"}
SSM = {"ml_g": "ols", "ml_pi": "logit", "ml_m": "logit"}
BOOT = {"bootstrap": {"method": "normal", "n_rep_boot": 500}, "joint": True, "p_adjust": "romano-wolf"}

ROWS = [
    ("PLR", "partialling out", "-", dict(model="plr", d="d", x=X, learner="ols")),
    ("PLR", "IV-type", "-", dict(model="plr", score="IV-type", d="d", x=X, learner="ols")),
    ("PLR", "partialling out", "n_rep 4", dict(model="plr", d="d", x=X, learner="ols", n_rep=4)),
    ("PLR", "partialling out", "3 treatments", dict(model="plr", d=["d", "zc", "db"], x=X, learner="ols")),
    ("PLR", "partialling out", "2 treatments, normal bootstrap, joint, Romano-Wolf",
     dict(model="plr", d=["d", "zc"], x=X, learner="ols", **BOOT)),
    ("PLR", "IV-type", "3 treatments, wild bootstrap, joint, Bonferroni",
     dict(model="plr", score="IV-type", d=["d", "zc", "db"], x=X, learner="ols",
          bootstrap={"method": "wild", "n_rep_boot": 500}, joint=True, p_adjust="bonferroni")),
    ("PLR", "partialling out", "2 treatments, Bayes bootstrap, joint, Holm, n_rep 3",
     dict(model="plr", d=["d", "zc"], x=X, learner="ols", n_rep=3, bootstrap={"method": "Bayes", "n_rep_boot": 500},
          joint=True, p_adjust="holm")),
    ("PLR", "partialling out", "2 treatments, Romano-Wolf, n_rep 2",
     dict(model="plr", d=["d", "zc"], x=X, learner="ols", n_rep=2, **BOOT)),
    ("PLR", "partialling out", "2 treatments, Holm, one-way clusters",
     dict(model="plr", d=["d", "zc"], x=X, learner="ols", cluster=["g"], p_adjust="holm")),
    ("PLIV", "partialling out", "partial X, 1 instrument", dict(model="pliv", d="d", z=["zc"], x=X, learner="ols")),
    ("PLIV", "IV-type", "partial X, 1 instrument", dict(model="pliv", score="IV-type", d="d", z=["zc"], x=X, learner="ols")),
    ("PLIV", "partialling out", "partial X, 2 instruments", dict(model="pliv", d="d", z=["zc", "z"], x=X, learner="ols")),
    ("PLIV", "partialling out", "partial Z", dict(model="pliv", partial="Z", d="d", z=["zc", "z"], x=X, learner="ols")),
    ("PLIV", "partialling out", "partial XZ", dict(model="pliv", partial="XZ", d="d", z=["zc", "z"], x=X, learner="ols")),
    ("PLIV", "partialling out", "partial XZ, two-way clusters",
     dict(model="pliv", partial="XZ", d="d", z=["zc", "z"], x=X, learner="ols", cluster=["g", "h"])),
    ("PLIV", "IV-type", "2 treatments, normal bootstrap, joint, Romano-Wolf",
     dict(model="pliv", score="IV-type", d=["d", "skew"], z=["zc"], x=["x1", "x2", "x3"], learner="ols", **BOOT)),
    ("IRM", "ATE", "normal bootstrap, joint, Romano-Wolf", dict(model="irm", d="db", x=X, learners=IRM, **BOOT)),
    ("IRM", "ATTE", "-", dict(model="irm", score="ATTE", d="db", x=X, learners=IRM)),
    ("IIVM", "LATE", "wild bootstrap, joint", dict(model="iivm", d="db", z=["z"], x=X, learners={**IRM, "ml_r": "logit"},
                                                   bootstrap={"method": "wild", "n_rep_boot": 500}, joint=True)),
    ("SSM", "missing-at-random", "-", dict(model="ssm", d="d", s="s", x=SSM_X, learners=SSM)),
    ("SSM", "missing-at-random", "normal bootstrap, joint, Romano-Wolf, n_rep 2",
     dict(model="ssm", d="d", s="s", x=SSM_X, learners=SSM, n_rep=2, **BOOT)),
    ("SSM", "nonignorable", "inner split shared",
     dict(model="ssm", score="nonignorable", d="d", s="s", z=["z"], x=SSM_X, learners=SSM)),
    ("SSM", "nonignorable", "inner split shared, one-way clusters",
     dict(model="ssm", score="nonignorable", d="d", s="s", z=["z"], x=SSM_X, learners=SSM, cluster=["g"])),
]  # fmt: skip


def _frame(fields: dict):
    if fields["model"] != "ssm":
        return make_tables(seed=77, n=1000), "y"
    frame = generate({"name": "make_ssm_data", "n_obs": 1000, "dim_x": 5, "mar": fields["score"] != "nonignorable"
                      if "score" in fields else True}, 77)  # fmt: skip
    frame["g"] = np.random.default_rng(77).integers(0, 60, len(frame))
    return frame, "y"


def _prepare(fields: dict):
    frame, y = _frame(fields)
    spec = Spec(id="gap", y=y, n_folds=3, seed=5, **fields)
    design = build_design(spec, frame, DatasetSpec(), "bench")
    return spec, design, draw_folds(design, spec.n_folds, spec.n_rep, spec.seed)


def _max(values) -> float:
    values = [v for v in values if v is not None and math.isfinite(v)]
    return max(values) if values else float("nan")


def measure(fields: dict) -> dict:
    spec, design, folds = _prepare(fields)
    py, r = fit_python(spec, design, folds), fit_r(spec, design, folds)
    verdict = judge(spec, design, folds, py, r, learner_free_fit(spec, design, folds, r))
    checks = verdict.checks
    gap = 0.0
    for a, b in zip(py.per_treatment(), r.per_treatment(), strict=True):
        for x, y in ((a.coef, b.coef), (a.se, b.se), (a.coef_reps, b.coef_reps), (a.se_reps, b.se_reps)):
            x, y = np.atleast_1d(x), np.atleast_1d(y)
            gap = max(gap, float(np.max(np.abs(x - y) / np.maximum(np.abs(x), np.abs(y)))))
    ruled = [
        c.value for c in checks if c.layer == "end_to_end" and "rule_on" in c.name and c.quantity in ("coef", "se", "t", "ci")
    ]
    joint = {
        q: _max(c.value for c in checks if c.layer == "end_to_end" and c.quantity == q)
        for q in ("boot_t", "crit", "joint_ci", "p_adjust")
    }
    mc = [c.value / c.limit for c in checks if c.layer == "monte_carlo"]
    raw = {}
    if py.inference is not None:
        a, b = py.inference.shared, r.inference.shared
        se = np.array([max(x.se, y.se) for x, y in zip(py.per_treatment(), r.per_treatment(), strict=True)])
        if a.joint_ci is not None:
            raw["joint_ci"] = float(np.max(np.abs(a.joint_ci - b.joint_ci) / se[:, None]))
        if a.p_adjusted is not None:
            raw["p_adjust"] = float(np.max(np.abs(a.p_adjusted - b.p_adjusted)))
    return {
        "status": verdict.status,
        "tier": verdict.tier,
        "failed": [c.name for c in checks if not c.ok],
        "gap": gap,
        "after_rule": _max(ruled),
        "joint": joint,
        "own_draws_share_of_bound": _max(mc),
        "joint_raw": raw,
    }


def ssm_own_split() -> dict:
    """SSM nonignorable with each package's own inner split: coef and se apart, in se."""
    out = []
    for seed in range(5):
        fields = dict(model="ssm", score="nonignorable", d="d", s="s", z=["z"], x=SSM_X, learners=SSM)
        spec, design, folds = _prepare(fields)
        spec = spec.model_copy(update={"seed": seed})
        folds = draw_folds(design, spec.n_folds, 1, seed)
        py = fit_python(spec, design, folds, share_inner_split=False)
        r = fit_r(spec, design, folds, share_inner_split=False)
        se = 0.5 * (py.se + r.se)
        out.append({"seed": seed, "coef_in_se": abs(py.coef - r.coef) / se, "se_rel": abs(py.se - r.se) / se})
    return {"runs": out, "max_coef_in_se": max(o["coef_in_se"] for o in out), "max_se_rel": max(o["se_rel"] for o in out)}


def _fmt(value: float) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.1e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the markdown table and JSON beside it")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    for model, score, option, fields in ROWS:
        m = measure(fields)
        rows.append({"model": model, "score": score, "option": option, **m})
        print(f"{model} {score} {option}: {m['status']} gap {_fmt(m['gap'])}", file=sys.stderr, flush=True)
    own_split = ssm_own_split()
    lines = [
        "| model | score | option | tier | status | gap (coef, se) | after the rule | boot t / crit | joint CI (se) | adj. p "
        "| raw joint gap (CI se / p) | own draws / bound |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        j = row["joint"]
        boot = "-" if not math.isfinite(j["boot_t"]) else f"{_fmt(j['boot_t'])} / {_fmt(j['crit'])}"
        share = row["own_draws_share_of_bound"]
        own = "-" if not math.isfinite(share) else f"{share:.2f}"
        lines.append(
            f"| {row['model']} | {row['score']} | {row['option']} | {row['tier']} | {row['status']} | {_fmt(row['gap'])} | "
            f"{_fmt(row['after_rule'])} | {boot} | {_fmt(j['joint_ci'])} | {_fmt(j['p_adjust'])} | "
            f"{_fmt(row['joint_raw'].get('joint_ci'))} / {_fmt(row['joint_raw'].get('p_adjust'))} | {own} |"
        )
    lines.append("")
    lines.append(
        f"SSM nonignorable with each package's own inner split (5 fold seeds): coef up to "
        f"{own_split['max_coef_in_se']:.2f} se apart, se up to {100 * own_split['max_se_rel']:.0f} %."
    )
    lines.append(f"\nMeasured in {time.perf_counter() - start:.0f} s.")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")
        args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "ssm_own_split": own_split}, indent=1) + "\n")


if __name__ == "__main__":
    main()
