"""R engine: the design and folds through R's ``DoubleML``, in-process via rpy2.

This is the only module that imports rpy2. R starts once per process, finds its packages once and
sources ``r_scripts/engine.R``. A fit's arguments and R's answer cross at rpy2's low level
(rinterface): arrays are copied once through their buffers, in and out, and no robjects wrapper
keeps R's memory alive after the call; small calls (versions, set-up) use one converter.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np

from harness.design.splits import SampleSplits, sample_splits
from harness.design.table import Design, Folds
from harness.engines.heap_trim import release_freed_memory
from harness.engines.r_arguments import fit_arguments, users_names
from harness.engines.r_tuning import tuned_from_r
from harness.engines.result import Bootstrap, EngineResult, Inference, distinct_warnings
from harness.errors import EnvironmentProblem
from harness.language.spec import Spec

__all__ = ["R_PACKAGES", "RSession", "fit_arguments", "fit_r", "project_root", "r_library", "r_session"]

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
FULL_GC_BYTES = 8_000_000  # a design of a million values (doubles): R's full collection after the fit (fit_r)
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
        home = os.environ.get("R_HOME")
        if home and not (Path(home) / "library" / "base").is_dir():
            # R started on it would end this process ("Fatal error: unable to open the base
            # package"): a pytest session, a notebook, the doctor, with no word of why.
            raise EnvironmentProblem(f"R_HOME={home}: no R there (no library/base); unset R_HOME or set it to `R RHOME`")
        try:
            import rpy2.rinterface as rinterface
            import rpy2.rinterface_lib.callbacks as callbacks
            import rpy2.robjects as ro
            from rpy2.robjects import default_converter, numpy2ri
        except Exception as err:  # rpy2 raises several types when R itself is missing
            raise EnvironmentProblem(
                f"rpy2 or R is not usable ({err.__class__.__name__}: {str(err).splitlines()[0] if str(err) else ''}); {FIX}"
            ) from None
        self._ro = ro
        self._ri = rinterface
        if saved_ld_path is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = saved_ld_path
        self.converter = default_converter + numpy2ri.converter
        self._messages: list[str] = []
        # R's console output goes to a buffer, not to the user's terminal or the report.
        callbacks.consolewrite_print = self._messages.append
        callbacks.consolewrite_warnerror = self._messages.append
        with self.building():
            self._setup()

    def _setup(self) -> None:
        ro = self._ro
        lib = r_library()
        ro.r[".libPaths"](ro.StrVector([str(lib), *ro.r[".libPaths"]()]))
        # Installed, not loaded (engine.R dmlp_setup says why): a learner loads its package on first use.
        missing = [p for p in REQUIRED_R_PACKAGES if not ro.r["nzchar"](ro.r["system.file"](package=p))[0]]
        if missing:
            # A library named by DMLP_RLIB is the setting's to fix (an outside user's worker was told to run make setup).
            filled = project_root() / ".rlib"
            given = "DMLP_RLIB" in os.environ and lib.resolve() != filled.resolve()
            fix = f"DMLP_RLIB names it: point it at the library `make setup` filled ({filled})" if given else FIX
            raise EnvironmentProblem(f"R package(s) missing: {', '.join(missing)} (library {lib}); {fix}")
        ro.r["source"](str(project_root() / "r_scripts" / "engine.R"))
        self.call("dmlp_setup", script_dir=str(project_root() / "r_scripts"))

    def building(self):
        """rpy2's default converter, under which R values are built and stay R objects.

        Entered by every call that converts (start, versions, each fit): rpy2 keeps its rules in
        a context variable, which a thread or context inherits only from the one that set them. A
        Dask worker runs each task in a fresh copy of its event loop's context, so rules set while
        an earlier task (perhaps another client's) started R are not there."""
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

    @contextmanager
    def events_unhooked(self) -> Iterator[None]:
        """R without rpy2's "process events" hook, where that hook can do nothing: in a thread
        other than the main one (a Dask task) or a process that ignores Ctrl-C (a ``--jobs``
        worker). R calls the hook whenever it checks for an interrupt, about 8,000 times in a
        500-row forest fit (ranger checks after every tree), and each call enters Python, taking
        the GIL and a lock: beside a Dask worker's own threads, which take the GIL every few
        milliseconds, each such call may wait for them. The hook only turns a Ctrl-C that Python
        received into R's interrupt; R's own interrupt check stays."""
        import signal
        import threading

        from rpy2.rinterface_lib import openrlib

        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            yield
            return
        rlib = openrlib.rlib
        hook = rlib.ptr_R_ProcessEvents
        rlib.ptr_R_ProcessEvents = openrlib.ffi.NULL
        try:
            yield
        finally:
            rlib.ptr_R_ProcessEvents = hook

    def call_raw(self, name: str, **kwargs: Any) -> Any:
        """Call an R function on R objects and return R's value unconverted (rinterface level)."""
        from rpy2.rinterface_lib.embedded import RRuntimeError

        try:
            return self._ri.globalenv.find(name)(**kwargs)
        except RRuntimeError as err:
            raise RError(" ".join(str(err).split())) from None

    def versions(self, packages: tuple[str, ...] = R_PACKAGES) -> dict[str, Optional[str]]:
        with self.building():
            values = self.call("dmlp_versions", self._ro.StrVector(list(packages)))
            out = {p: _version_or_none(v) for p, v in zip(packages, list(values), strict=True)}
            version = self._ro.r["R.version"]
            out["R"] = ".".join(str(v[0]) for v in (version.rx2("major"), version.rx2("minor")))
        return out

    # -- conversion helpers -------------------------------------------------------------
    # Arrays go to R through rpy2's memoryview path: one memcpy into a freshly allocated R vector,
    # never a Python list (a million fold indices as Python ints cost seconds and hundreds of MB).
    # They are built as rpy2's low-level (rinterface) objects: robjects' vectors reference
    # themselves through their delegators, so they, and the R memory they protect, would wait for
    # Python's cycle collector instead of being released when the call returns.
    def r_vector(self, array: np.ndarray) -> Any:
        """An R integer, double or logical vector holding ``array``'s values."""
        ri = self._ri
        array = np.asarray(array)
        if array.dtype.kind == "b":
            return ri.BoolSexpVector(array.tolist())  # R's logicals are 32-bit: no byte-for-byte copy
        if array.dtype.kind in "iu":
            if array.size and (array.min() < -(2**31 - 1) or array.max() > 2**31 - 1):
                raise OverflowError("integer array does not fit R's 32-bit integers")
            return ri.IntSexpVector(np.ascontiguousarray(array.ravel(), dtype=np.int32))
        return ri.FloatSexpVector(np.ascontiguousarray(array.ravel(), dtype=np.float64))

    def r_list(self, values: list, names: Optional[list[str]] = None) -> Any:
        """An R list of R objects, named when ``names`` is given."""
        out = self._ri.ListSexpVector(values)
        if names is not None:
            out.do_slot_assign("names", self._ri.StrSexpVector(names))
        return out

    def r_value(self, value: Any) -> Any:
        ri = self._ri
        if value is None:
            return ri.NULL
        if isinstance(value, ri.Sexp):  # already an R object (a matrix built by r_matrix)
            return value
        if isinstance(value, bool):
            return ri.BoolSexpVector([value])
        if isinstance(value, (int, np.integer)):
            return ri.IntSexpVector([int(value)])
        if isinstance(value, (float, np.floating)):
            return ri.FloatSexpVector([float(value)])
        if isinstance(value, str):
            return ri.StrSexpVector([value])
        if isinstance(value, np.ndarray):
            return self.r_vector(value)
        if isinstance(value, dict):
            return self.r_list([self.r_value(v) for v in value.values()], [str(k) for k in value])
        if isinstance(value, (list, tuple)):
            return self.r_list([self.r_value(v) for v in value])
        raise TypeError(f"cannot send {type(value).__name__} to R")

    def r_strings(self, values: list[str]) -> Any:
        return self._ri.StrSexpVector([str(v) for v in values])

    def r_matrix(self, array: np.ndarray, colnames: Optional[list[str]] = None) -> Any:
        """An R matrix: the column-major values copied once, dimensions set in place."""
        vector = self.r_vector(np.asarray(array).ravel(order="F"))
        vector.do_slot_assign("dim", self._ri.IntSexpVector(list(array.shape)))
        if colnames is not None:
            vector.do_slot_assign("dimnames", self.r_list([self._ri.NULL, self.r_strings(colnames)]))
        return vector

    def r_columns(self, frame: Any, names: Optional[list[str]] = None) -> Any:
        """A named R list of the frame's columns (one copy each), called ``names`` in R when given;
        R makes it a data.table in place."""
        # As doubles, as the design holds them (a float column converts without a copy).
        columns = [self.r_vector(frame[c].to_numpy(dtype=float)) for c in frame.columns]
        return self.r_list(columns, names or [str(c) for c in frame.columns])

    def collect_garbage(self, full: bool = True) -> None:
        """Run R's garbage collector (R returns large freed vectors to the system); ``full=False``
        collects the young generation only."""
        self._ri.baseenv["gc"](verbose=self._ri.BoolSexpVector([False]), full=self._ri.BoolSexpVector([full]))


def _version_or_none(value: Any) -> Optional[str]:
    text = str(value)
    return None if text in ("NA", "None", "NA_character_") else text


class RError(Exception):
    """An error raised inside R; the message is R's, on one line."""


@lru_cache(maxsize=1)
def r_session() -> RSession:
    """The process's R session, started on first use."""
    return RSession()


def fit_r(
    spec: Spec,
    design: Design,
    folds: Folds,
    session: Optional[RSession] = None,
    own_draws: bool = True,
    share_inner_split: bool = True,
    splits: Optional[SampleSplits] = None,
) -> EngineResult:
    """Fit ``spec`` with R's ``DoubleML`` on the shared design and folds (and, when the spec asks,
    bootstrap with the tool's weights and with R's own draws, seeded by the spec seed).
    ``share_inner_split=False`` leaves SSM nonignorable's inner split to R (for measuring the gap).
    ``splits``: the validated folds (built from ``folds`` when not given).

    Everything R built for the fit (data, tasks, learners, model) is garbage once the numbers are
    copied out; R's collector runs before this returns, so the next spec starts from a small heap.
    """
    session = session or r_session()
    # Entered here, in every fit (RSession.building says why).
    try:
        with session.building():
            # Folds built here are garbage once R has its copy: not held in Python during R's fit.
            arguments = fit_arguments(
                spec, design, folds, splits or sample_splits(design, folds), session, own_draws, share_inner_split
            )
            return _fit_r(design, folds, arguments, session)
    finally:
        session.collect_garbage(full=full_collection(design))
        release_freed_memory()


def full_collection(design: Design) -> bool:
    """Whether R's full garbage collection follows a fit on ``design``.

    A full collection marks every loaded namespace: about 0.2 s, a quarter of a 500-row forest
    fit's CPU. Below ``FULL_GC_BYTES`` of design the fit's garbage is young and small (a replicate
    worker's peak was the same, 550 MB after 30 fits either way), so the young generation alone is
    collected; above it the fit's large vectors may already be old."""
    return int(design.frame.memory_usage(index=False).sum()) >= FULL_GC_BYTES


def _fit_r(design: Design, folds: Folds, arguments: dict[str, Any], session: RSession) -> EngineResult:
    start = time.perf_counter()
    with session.events_unhooked():
        out = session.call_raw("dmlp_fit", **arguments)
    seconds = time.perf_counter() - start
    del arguments
    result = _from_r(session, out)
    del out
    # (n_obs, n_rep) as R returns it, (n_rep, n_obs) as the tool holds folds.
    fold_labels = np.asarray(result["folds"], dtype=np.int64).reshape(design.n_obs, folds.n_rep).T.copy()
    chosen = _inner_cv(result.get("inner_cv"), design.n_obs, folds.n_rep)
    tuned = tuned_from_r(result.get("tuned"), design.n_obs, folds.n_rep, folds.n_folds_per_cluster or folds.n_folds)
    back = users_names(design)
    per_treatment = [
        _treatment({**t, "predictions": back(t["predictions"])}, seconds, fold_labels, chosen, tuned)
        for t in result["treatments"]
    ]
    inference = _inference(result.get("inference"), len(per_treatment), folds.n_rep)
    warned = distinct_warnings(result.get("warnings") or [])
    first = per_treatment[0]
    if len(per_treatment) == 1 and inference is None:
        return dataclasses.replace(first, warnings=warned)
    return EngineResult(
        **{f: getattr(first, f) for f in ("coef", "se", "t", "p", "ci", "coef_reps", "se_reps", "predictions")},
        seconds=seconds,
        folds=fold_labels,
        treatments=tuple(per_treatment) if len(per_treatment) > 1 else (),
        inference=inference,
        inner_cv=chosen,
        tuned=tuned,
        warnings=warned,
    )


def _inner_cv(reported: Any, n_obs: int, n_rep: int) -> dict:
    """R's read-back of its cross-validated learners, shaped as the Python engine's
    (``EngineResult.inner_cv``); ``lambda_min`` is what glmnet's own rule would have chosen."""
    if not isinstance(reported, dict):
        return {}
    out = {}
    for name, values in reported.items():
        alpha = np.asarray(values["alpha"], dtype=float).reshape(n_rep, -1, order="F")
        n_folds = alpha.shape[1]
        folds = np.asarray(values["folds"]).reshape(n_obs, n_folds, n_rep, order="F").transpose(2, 1, 0)
        out[name] = {
            "alpha": alpha,
            "lambda_min": np.asarray(values["lambda_min"], dtype=float).reshape(n_rep, n_folds, order="F"),
            "folds": folds.astype(np.int8),
        }
    return out


def _from_r(session: RSession, value: Any) -> Any:
    """R's answer as Python values, copied out of R's memory (numpy reads R vectors and matrices
    through their buffers): a named list becomes a dict, an unnamed one a list, NULL None, a
    character vector a list of str, any other vector a numpy array of R's shape.

    At the rinterface level, like the arguments (see ``RSession.r_vector``): nothing here keeps
    R's objects alive once the call returns."""
    ri = session._ri
    if value is ri.NULL or value.typeof == ri.RTYPES.NILSXP:
        return None
    if isinstance(value, ri.ListSexpVector):
        items = [_from_r(session, v) for v in value]
        names = value.names
        if names is ri.NULL or names.typeof == ri.RTYPES.NILSXP:
            return items
        return dict(zip([str(n) for n in names], items, strict=True))
    if isinstance(value, ri.StrSexpVector):
        return [str(v) for v in value]
    return np.array(value)


def _treatment(result: dict, seconds: float, fold_labels: np.ndarray, inner_cv: dict, tuned: dict) -> EngineResult:
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
        inner_cv=inner_cv,
        tuned=tuned,
    )


def _bootstrap(reported: Any, n_treat: int, n_rep: int) -> Bootstrap:
    values = reported if isinstance(reported, dict) else {}
    boot_t = None
    if values.get("boot_t") is not None:
        # R stores (n_treat, n_rep_boot * n_rep), repetition-major; doubleml (n_rep_boot, n_treat, n_rep).
        flat = np.asarray(values["boot_t"], dtype=float).reshape(n_treat, -1)
        boot_t = flat.reshape(n_treat, n_rep, -1).transpose(2, 0, 1).copy()
    joint_ci = np.asarray(values["joint_ci"], dtype=float).reshape(n_treat, 2) if values.get("joint_ci") is not None else None
    p_adjusted = np.asarray(values["p_adjusted"], dtype=float).reshape(n_treat) if values.get("p_adjusted") is not None else None
    return Bootstrap(boot_t=boot_t, joint_ci=joint_ci, p_adjusted=p_adjusted)


def _inference(reported: Any, n_treat: int, n_rep: int) -> Optional[Inference]:
    if not isinstance(reported, dict):
        return None
    own = reported.get("own")
    return Inference(
        shared=_bootstrap(reported.get("shared"), n_treat, n_rep),
        own=_bootstrap(own, n_treat, n_rep) if isinstance(own, dict) else None,
    )
