"""R engine: the design and folds through R's ``DoubleML``, in-process via rpy2.

This is the only module that imports rpy2. R starts once per process, loads its packages once and
sources ``r_scripts/engine.R``; every call converts through one converter (numpy arrays become R
vectors and matrices with no text round trip).
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np

from harness.design import Design, Folds
from harness.engines.result import Bootstrap, EngineResult, Inference
from harness.errors import EnvironmentProblem
from harness.learners import resolve_learner
from harness.shared_draws import bootstrap_weights, inner_splits
from harness.spec import Spec

__all__ = ["R_PACKAGES", "RSession", "fit_r", "project_root", "r_library", "r_session"]

# What the R side needs, in the order `doctor` prints them.
R_PACKAGES = (
    "DoubleML",
    "mlr3",
    "mlr3learners",
    "mlr3tuning",
    "ranger",
    "glmnet",
    "rpart",
    "nnet",
    "e1071",
    "lightgbm",
    "data.table",
)
REQUIRED_R_PACKAGES = ("DoubleML", "mlr3", "mlr3learners", "ranger", "glmnet", "rpart", "nnet", "data.table")


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def r_library() -> Path:
    """The project-local R library: ``$DMLP_RLIB`` or ``<project>/.rlib``."""
    return Path(os.environ.get("DMLP_RLIB", project_root() / ".rlib"))


FIX = "run `make setup` (it installs R and the R packages into .rlib/)"


class RSession:
    """The embedded R of this process."""

    def __init__(self) -> None:
        # Single-threaded BLAS keeps R's numbers reproducible and leaves cores to the job runner.
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        # R puts its own LD_LIBRARY_PATH into the environment on start; child processes (loky,
        # Dask) must not inherit it, or Python's extension modules load the wrong libraries.
        saved_ld_path = os.environ.get("LD_LIBRARY_PATH")
        try:
            import rpy2.rinterface_lib.callbacks as callbacks
            import rpy2.robjects as ro
            from rpy2.robjects import default_converter, numpy2ri
        except Exception as err:  # rpy2 raises several types when R itself is missing
            raise EnvironmentProblem(
                f"rpy2 or R is not usable ({err.__class__.__name__}: {str(err).splitlines()[0] if str(err) else ''}); {FIX}"
            ) from None
        self._ro = ro
        if saved_ld_path is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = saved_ld_path
        self.converter = default_converter + numpy2ri.converter
        self._messages: list[str] = []
        # R's console output goes to a buffer, not to the user's terminal or the report.
        callbacks.consolewrite_print = self._messages.append
        callbacks.consolewrite_warnerror = self._messages.append
        lib = r_library()
        ro.r[".libPaths"](ro.StrVector([str(lib), *ro.r[".libPaths"]()]))
        missing = [p for p in REQUIRED_R_PACKAGES if not ro.r["requireNamespace"](p, quietly=True)[0]]
        if missing:
            raise EnvironmentProblem(f"R package(s) missing: {', '.join(missing)} (library {lib}); {FIX}")
        ro.r["source"](str(project_root() / "r_scripts" / "engine.R"))
        self.call("dmlp_setup", script_dir=str(project_root() / "r_scripts"))

    def building(self):
        """rpy2's default converter, under which R values are built and stay R objects."""
        from rpy2.robjects.conversion import localconverter

        return localconverter(self._ro.default_converter)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        from rpy2.rinterface_lib.embedded import RRuntimeError
        from rpy2.robjects.conversion import localconverter

        with localconverter(self.converter):
            try:
                return self._ro.r[name](*args, **kwargs)
            except RRuntimeError as err:
                message = " ".join(str(err).split())
                raise RError(message) from None

    def versions(self, packages: tuple[str, ...] = R_PACKAGES) -> dict[str, Optional[str]]:
        values = self.call("dmlp_versions", self._ro.StrVector(list(packages)))
        out = {p: _version_or_none(v) for p, v in zip(packages, list(values), strict=True)}
        out["R"] = ".".join(str(v[0]) for v in (self._ro.r["R.version"].rx2("major"), self._ro.r["R.version"].rx2("minor")))
        return out

    # -- conversion helpers -------------------------------------------------------------
    def r_value(self, value: Any) -> Any:
        ro = self._ro
        if value is None:
            return ro.NULL
        if isinstance(value, bool):
            return ro.BoolVector([value])
        if isinstance(value, (int, np.integer)):
            return ro.IntVector([int(value)])
        if isinstance(value, (float, np.floating)):
            return ro.FloatVector([float(value)])
        if isinstance(value, str):
            return ro.StrVector([value])
        if isinstance(value, np.ndarray):
            if value.dtype.kind in "iu":
                return ro.IntVector(value.tolist())
            return ro.FloatVector(value.tolist())
        if isinstance(value, dict):
            return ro.ListVector({k: self.r_value(v) for k, v in value.items()}) if value else ro.r("list()")
        if isinstance(value, (list, tuple)):
            return ro.r["list"](*[self.r_value(v) for v in value])
        raise TypeError(f"cannot send {type(value).__name__} to R")

    def r_matrix(self, array: np.ndarray, colnames: Optional[list[str]] = None) -> Any:
        ro = self._ro
        array = np.ascontiguousarray(array)
        vector = (
            ro.FloatVector(array.ravel(order="F")) if array.dtype.kind == "f" else ro.IntVector(array.ravel(order="F").tolist())
        )
        matrix = ro.r["matrix"](vector, nrow=array.shape[0], ncol=array.shape[1])
        if colnames is not None:
            matrix = ro.r["colnames<-"](matrix, ro.StrVector(colnames))
        return matrix


def _version_or_none(value: Any) -> Optional[str]:
    text = str(value)
    return None if text in ("NA", "None", "NA_character_") else text


class RError(Exception):
    """An error raised inside R; the message is R's, on one line."""


@lru_cache(maxsize=1)
def r_session() -> RSession:
    """The process's R session, started on first use."""
    return RSession()


def _r_smpls_cluster(session: RSession, folds: Folds) -> Any:
    if folds.cluster_folds is None:
        return None
    reps = []
    for rep in folds.smpls_cluster():
        reps.append(
            {
                "train_ids": [[np.asarray(v, dtype=float) for v in train] for train, _ in rep],
                "test_ids": [[np.asarray(v, dtype=float) for v in test] for _, test in rep],
            }
        )
    return session.r_value(reps)


def _r_smpls(session: RSession, folds: Folds, design: Design) -> Any:
    """DoubleML's R folds: per repetition, 1-based train and test index vectors."""
    codes = design.frame[list(design.cluster)].to_numpy().astype(np.int64) if design.cluster else None
    reps = []
    for rep in folds.smpls(codes):
        reps.append(
            {
                "train_ids": [(train + 1).astype(np.int32) for train, _ in rep],
                "test_ids": [(test + 1).astype(np.int32) for _, test in rep],
            }
        )
    return session.r_value(reps)


def fit_r(
    spec: Spec,
    design: Design,
    folds: Folds,
    session: Optional[RSession] = None,
    own_draws: bool = True,
    share_inner_split: bool = True,
) -> EngineResult:
    """Fit ``spec`` with R's ``DoubleML`` on the shared design and folds (and, when the spec asks,
    bootstrap with the tool's weights and with R's own draws, seeded by the spec seed).
    ``share_inner_split=False`` leaves SSM nonignorable's inner split to R (for measuring the gap)."""
    session = session or r_session()
    # rpy2 keeps its converter in a context variable: a worker thread (Dask) starts without one.
    with session.building():
        return _fit_r(spec, design, folds, session, own_draws, share_inner_split)


def _r_inference(session: RSession, spec: Spec, design: Design, folds: Folds, own_draws: bool) -> Any:
    """The inference request: method, draws, the tool's weights per repetition, what to report."""
    ro = session._ro
    if not spec.has_inference:
        return ro.NULL
    request: dict[str, Any] = {"joint": spec.joint, "own_draws": own_draws}
    if spec.p_adjust:
        request["p_adjust"] = spec.p_adjust
    out = session.r_value(request)
    if spec.bootstrap is not None:
        boot = spec.bootstrap
        weights = [
            session.r_matrix(bootstrap_weights(boot.method, boot.n_rep_boot, design.n_obs, spec.seed, rep))
            for rep in range(folds.n_rep)
        ]
        out.rx2["method"] = ro.StrVector([boot.method])
        out.rx2["n_rep_boot"] = ro.IntVector([boot.n_rep_boot])
        out.rx2["weights"] = ro.r["list"](*weights)
    return out


def _r_inner_splits(session: RSession, spec: Spec, design: Design, folds: Folds) -> Any:
    if spec.model != "ssm" or spec.score_name != "nonignorable":
        return session._ro.NULL
    splits = []
    for key, (first, second) in inner_splits(design, folds, spec.seed).items():
        train = np.frombuffer(key, dtype=np.int64)
        one_based = {"train": train + 1, "first": first + 1, "second": second + 1}
        splits.append({k: v.astype(np.int32) for k, v in one_based.items()})
    return session.r_value(splits)


def _fit_r(
    spec: Spec, design: Design, folds: Folds, session: RSession, own_draws: bool, share_inner_split: bool
) -> EngineResult:
    learners = {}
    for nuisance in spec.nuisances:
        resolved = resolve_learner(spec.learner_for(nuisance), nuisance, spec.model)
        key, params = resolved.r_learner(len(design.x))
        learners[nuisance] = {"key": key, "params": params, "classif": resolved.kind == "classif"}
    ro = session._ro
    start = time.perf_counter()
    out = session.call(
        "dmlp_fit",
        model=spec.model,
        x=session.r_matrix(design.frame.to_numpy(dtype=float), list(design.frame.columns)),
        y=design.y,
        d=ro.StrVector(list(design.d_cols)),
        x_cols=ro.StrVector(list(design.x)),
        z_cols=ro.StrVector(list(design.z)),
        cluster_cols=ro.StrVector(list(design.cluster)),
        learners=session.r_value(learners),
        score=spec.score_name,
        n_folds=folds.n_folds_per_cluster or folds.n_folds,
        n_rep=folds.n_rep,
        smpls=_r_smpls(session, folds, design),
        smpls_cluster=_r_smpls_cluster(session, folds) if folds.cluster_folds is not None else ro.NULL,
        trimming_threshold=spec.trimming_threshold,
        subgroups=session.r_value(spec.subgroups) if spec.subgroups else ro.NULL,
        seed=spec.seed,
        s_col=design.s if design.s else ro.NULL,
        partial=spec.partial_name,
        inference=_r_inference(session, spec, design, folds, own_draws),
        inner_splits=_r_inner_splits(session, spec, design, folds) if share_inner_split else ro.NULL,
    )
    seconds = time.perf_counter() - start
    # The numpy converter turns named R lists into ordered dicts and vectors into arrays.
    result = dict(out.items())
    fold_labels = np.asarray(result["folds"], dtype=np.int64).reshape(design.n_obs, folds.n_rep).T.copy()
    # An unnamed R list arrives as an ordered dict whose keys are all None: its items keep the order.
    per_treatment = [_treatment(dict(t.items()), seconds, fold_labels) for _, t in result["treatments"].items()]
    inference = _inference(result.get("inference"), len(per_treatment), folds.n_rep)
    first = per_treatment[0]
    if len(per_treatment) == 1 and inference is None:
        return first
    return EngineResult(
        **{f: getattr(first, f) for f in ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps", "predictions")},
        seconds=seconds,
        folds=fold_labels,
        treatments=tuple(per_treatment) if len(per_treatment) > 1 else (),
        inference=inference,
    )


def _treatment(result: dict, seconds: float, fold_labels: np.ndarray) -> EngineResult:
    predictions = {name: np.asarray(value, dtype=float) for name, value in result["predictions"].items()}
    ci = np.asarray(result["ci"], dtype=float)
    return EngineResult(
        coef=float(result["coef"][0]),
        se=float(result["se"][0]),
        t=float(result["t"][0]),
        p=float(result["p"][0]),
        ci=(float(ci[0]), float(ci[1])),
        coef_reps=np.asarray(result["coef_reps"], dtype=float),
        se_reps=np.asarray(result["se_reps"], dtype=float),
        predictions=predictions,
        seconds=seconds,
        folds=fold_labels,
    )


def _bootstrap(reported: Any, n_treat: int, n_rep: int) -> Bootstrap:
    values = dict(reported.items()) if reported is not None and hasattr(reported, "items") else {}
    boot_t = None
    if values.get("boot_t") is not None:
        # R stores (n_treat, n_rep_boot * n_rep), repetition-major; doubleml (n_rep_boot, n_treat, n_rep).
        flat = np.asarray(values["boot_t"], dtype=float).reshape(n_treat, -1)
        boot_t = flat.reshape(n_treat, n_rep, -1).transpose(2, 0, 1).copy()
    joint_ci = np.asarray(values["joint_ci"], dtype=float).reshape(n_treat, 2) if values.get("joint_ci") is not None else None
    p_adjusted = np.asarray(values["p_adjusted"], dtype=float).reshape(n_treat) if values.get("p_adjusted") is not None else None
    return Bootstrap(boot_t=boot_t, joint_ci=joint_ci, p_adjusted=p_adjusted)


def _inference(reported: Any, n_treat: int, n_rep: int) -> Optional[Inference]:
    if reported is None or not hasattr(reported, "items"):
        return None
    parts = dict(reported.items())
    own = parts.get("own")
    return Inference(
        shared=_bootstrap(parts.get("shared"), n_treat, n_rep),
        own=_bootstrap(own, n_treat, n_rep) if own is not None and hasattr(own, "items") else None,
    )
