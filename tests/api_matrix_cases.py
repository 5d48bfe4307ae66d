"""The generated matrix of the shared API with exact learners (ols, logit): issue 11's settings
beside tests/matrix_cases.py's.

Axes: model variant {PLR partialling out, PLR IV-type, PLIV partialling out X (one and two
instruments), PLIV IV-type, PLIV partial Z, PLIV partial XZ, PLR and PLIV with the other treatments
out of each treatment's nuisances, IRM ATE, IIVM (each also with a 0/1 outcome learnt by a classifier), SSM missing-at-random,
SSM nonignorable (each also with normalize_ipw), and with clusters SSM nonignorable one-way and PLIV partial XZ two-way} ×
treatments {1, 2, 3} (several only where both packages allow it: PLR and PLIV) ×
inference {pointwise, Holm alone, normal bootstrap + joint + Romano-Wolf, wild bootstrap + joint +
Bonferroni, Bayes bootstrap + joint + Holm; clustered variants: the first two, since neither
package bootstraps cluster data} × n_rep {1, 2, 3} on generated data (300 rows; SSM
400), K = 3.

* ``fast`` (every test run): each model variant once, with the richest inference it allows and
  the most treatments, n_rep dealt round 1, 2, 3 — 19 cases;
* ``slow`` (CI, ``DMLP_FULL=1``): every model variant × treatment count × inference setting once,
  with n_rep dealt round so that each variant meets odd and even n_rep — the rest of that product.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from harness.design.generated import generate
from tests.conftest import make_tables

__all__ = ["ApiCase", "api_cases", "api_frame"]

X = ["x1", "x2", "x3"]
SSM_X = ["X1", "X2", "X3", "X4", "X5"]
OLS = "ols"
IRM_LEARNERS = {"ml_g": "ols", "ml_m": "logit"}
SSM_LEARNERS = {"ml_g": "ols", "ml_pi": "logit", "ml_m": "logit"}

# name: (data, spec fields, treatment lists by count)
VARIANTS: dict[str, tuple[str, dict, dict[int, list]]] = {
    "plr_po": ("tables", dict(model="plr", y="y", x=X, learner=OLS), {1: ["d"], 2: ["d", "zc"], 3: ["d", "zc", "skew"]}),
    "plr_iv": (
        "tables",
        dict(model="plr", score="IV-type", y="y", x=X, learner=OLS),
        {1: ["d"], 2: ["d", "skew"], 3: ["d", "zc", "skew"]},
    ),
    "pliv_x": ("tables", dict(model="pliv", y="y", z=["zc"], x=X, learner=OLS), {1: ["d"], 2: ["d", "skew"]}),
    "pliv_x_two_z": ("tables", dict(model="pliv", y="y", z=["zc", "z"], x=X, learner=OLS), {1: ["d"], 2: ["d", "skew"]}),
    "pliv_iv": ("tables", dict(model="pliv", score="IV-type", y="y", z=["zc"], x=X, learner=OLS), {1: ["d"], 2: ["d", "skew"]}),
    "pliv_z": ("tables", dict(model="pliv", partial="Z", y="y", z=["zc", "z"], x=X, learner=OLS), {1: ["d"], 2: ["d", "skew"]}),
    "pliv_xz": ("tables", dict(model="pliv", partial="XZ", y="y", z=["zc", "z"], x=X, learner=OLS), {1: ["d"], 2: ["d", "skew"]}),
    "irm_ate": ("tables", dict(model="irm", y="y", x=X, learners=IRM_LEARNERS), {1: ["db"]}),
    "iivm": ("tables", dict(model="iivm", y="y", z=["z"], x=X, learners={**IRM_LEARNERS, "ml_r": "logit"}), {1: ["db"]}),
    # A 0/1 outcome whose ml_g is a classifier (both packages predict its probability).
    "irm_ate_yb": ("tables", dict(model="irm", y="yb", x=X, learners={"ml_g": "logit", "ml_m": "logit"}), {1: ["db"]}),
    "iivm_yb": (
        "tables",
        dict(model="iivm", y="yb", z=["z"], x=X, learners={"ml_g": "logit", "ml_m": "logit", "ml_r": "logit"}),
        {1: ["db"]},
    ),
    "ssm_mar": ("ssm_mar", dict(model="ssm", y="y", s="s", x=SSM_X, learners=SSM_LEARNERS), {1: ["d"]}),
    "ssm_nonignorable": (
        "ssm_nonignorable",
        dict(model="ssm", score="nonignorable", y="y", s="s", z=["z"], x=SSM_X, learners=SSM_LEARNERS),
        {1: ["d"]},
    ),
    # Several treatments whose nuisances leave the other treatments out (use_other_treat_as_covariate).
    "plr_po_apart": (
        "tables",
        dict(model="plr", y="y", x=X, learner=OLS, use_other_treat_as_covariate=False),
        {2: ["d", "zc"], 3: ["d", "zc", "skew"]},
    ),
    "pliv_x_apart": (
        "tables",
        dict(model="pliv", y="y", z=["zc"], x=X, learner=OLS, use_other_treat_as_covariate=False),
        {2: ["d", "skew"]},
    ),
    # Hajek-normalised weights (normalize_ipw), which both packages give ssm alone.
    "ssm_mar_normalized": (
        "ssm_mar",
        dict(model="ssm", y="y", s="s", x=SSM_X, learners=SSM_LEARNERS, normalize_ipw=True),
        {1: ["d"]},
    ),
    "ssm_nonignorable_normalized": (
        "ssm_nonignorable",
        dict(model="ssm", score="nonignorable", y="y", s="s", z=["z"], x=SSM_X, learners=SSM_LEARNERS, normalize_ipw=True),
        {1: ["d"]},
    ),
    # Neither package bootstraps cluster data: clustered variants meet the deterministic adjustments only.
    "ssm_nonignorable_oneway": (
        "ssm_nonignorable",
        dict(model="ssm", score="nonignorable", y="y", s="s", z=["z"], x=SSM_X, learners=SSM_LEARNERS, cluster=["g"]),
        {1: ["d"]},
    ),
    "pliv_xz_twoway": (
        "tables",
        dict(model="pliv", partial="XZ", y="y", z=["zc", "z"], x=X, learner=OLS, cluster=["g", "h"]),
        {2: ["d", "skew"]},
    ),
}
INFERENCE = {
    "pointwise": {},
    "holm": {"p_adjust": "holm"},
    "normal_rw": {"bootstrap": {"method": "normal", "n_rep_boot": 299}, "joint": True, "p_adjust": "romano-wolf"},
    "wild_bonferroni": {"bootstrap": {"method": "wild", "n_rep_boot": 199}, "joint": True, "p_adjust": "bonferroni"},
    "bayes_holm": {"bootstrap": {"method": "Bayes", "n_rep_boot": 199}, "joint": True, "p_adjust": "holm"},
}
N_REPS = (1, 2, 3)


@cache
def api_frame(name: str) -> pd.DataFrame:
    if name == "tables":
        frame = make_tables(seed=2027, n=300)
        return frame.assign(yb=(frame["y"] > frame["y"].median()).astype(int))
    # doubleml's own SSM generator, seeded as the spec files seed it, and 40 clusters.
    frame = generate({"name": "make_ssm_data", "n_obs": 400, "dim_x": 5, "mar": name == "ssm_mar"}, 11)
    frame["g"] = np.random.default_rng(11).integers(0, 40, len(frame))
    return frame


@dataclass(frozen=True)
class ApiCase:
    variant: str
    n_treatments: int
    inference: str
    n_rep: int

    @property
    def id(self) -> str:
        return f"{self.variant}-d{self.n_treatments}-{self.inference}-rep{self.n_rep}"

    @property
    def data(self) -> str:
        return VARIANTS[self.variant][0]

    def spec_fields(self) -> dict:
        _, fields, treatments = VARIANTS[self.variant]
        d = treatments[self.n_treatments]
        return dict(
            id=self.id, d=d if len(d) > 1 else d[0], n_folds=3, n_rep=self.n_rep, seed=13, **fields, **INFERENCE[self.inference]
        )


def _allowed(variant: str) -> list[str]:
    clustered = "cluster" in VARIANTS[variant][1]
    return [name for name in INFERENCE if not (clustered and "bootstrap" in INFERENCE[name])]


def _richest(variant: str) -> tuple[int, str]:
    return max(VARIANTS[variant][2]), _allowed(variant)[-1] if "cluster" in VARIANTS[variant][1] else "normal_rw"


def api_cases(half: str) -> list[ApiCase]:
    """The ``fast`` or ``slow`` half (module docstring)."""
    fast = [ApiCase(v, *_richest(v), N_REPS[i % 3]) for i, v in enumerate(VARIANTS)]
    if half == "fast":
        return fast
    product = [(variant, n, inference) for variant in VARIANTS for inference in _allowed(variant) for n in VARIANTS[variant][2]]
    slow = [ApiCase(v, n, inf, N_REPS[(i + 1) % 3]) for i, (v, n, inf) in enumerate(product)]
    fast_keys = {(c.variant, c.n_treatments, c.inference) for c in fast}
    return [c for c in slow if (c.variant, c.n_treatments, c.inference) not in fast_keys]
