"""Measuring: time one command from outside (wall, memory, CPU, the machine's other load), run the
tool and the bare scripts as a user would, profile a run, and describe the machine."""

from __future__ import annotations

import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from bench.common.sampling import TIME_BIN, Measure, measure_command, other_processes
from harness.engines.r_engine import R_PACKAGES, r_library  # (no R is started by this import)
from harness.running.runner import python_versions

ROOT = Path(__file__).resolve().parents[2]

if TYPE_CHECKING:
    from bench.common.inputs import Suite

__all__ = [
    "BENCH", "PROFILE_PARTS", "RETIRED_PARTS", "PY", "R_ENV", "ROOT", "TOOL", "Measure", "Runner", "machine_info",
    "measure", "med", "other_processes", "profile_labels", "profile_parts", "startup_costs",
]  # fmt: skip

PY = ROOT / ".venv" / "bin" / "python"
TOOL = ROOT / ".venv" / "bin" / "dml-parity"
BENCH = ROOT / "bench"
# The tool runs R with single-threaded BLAS (harness.engines.r_engine); the bare R script gets the same.
R_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


# ---------------------------------------------------------------------------------------------
# Timing one command from outside
# ---------------------------------------------------------------------------------------------


def measure(label: str, cmd: list[str], env: Optional[dict[str, str]] = None, ok_codes: tuple[int, ...] = (0, 1)) -> Measure:
    """Run ``cmd`` from the project root and time it from outside (wall, memory, foreign load)."""
    m = measure_command(label, cmd, ROOT, env, ok_codes)
    print("  " + m.short(), flush=True)
    return m


def med(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------


class Runner:
    def __init__(self, suite: Suite, workdir: Path) -> None:
        self.suite = suite
        self.workdir = workdir
        self.counter = 0

    def fresh(self, prefix: str) -> Path:
        self.counter += 1
        return self.workdir / f"{prefix}{self.counter:03d}"

    def tool(
        self,
        label: str,
        *,
        jobs: int = 1,
        only: Optional[list[str]] = None,
        specs: Optional[Path] = None,
        data: Optional[Path] = None,
        cache_dir: Optional[Path] = None,
        no_cache: bool = True,
    ) -> Measure:
        """``dml-parity run``; every run gets a cache dir of its own so ~/.cache is never touched."""
        if specs is None:
            args = self.suite.tool_args(data)
        else:
            # A derived spec file names its data itself (an absolute dataset.path).
            args = ["--specs", str(specs), *(["--data", str(data)] if data else [])]
        out = self.fresh("out")
        cache = cache_dir or self.fresh("cache")
        cmd = [
            str(TOOL),
            "run",
            *args,
            *(["--only", ",".join(only)] if only else []),
            *(["--no-cache"] if no_cache else []),
            "--jobs",
            str(jobs),
            "--quiet",
            "--cache-dir",
            str(cache),
            "--out",
            str(out),
        ]
        m = measure(label, cmd)
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        m.extra["specs"] = {
            s["id"]: {
                "status": s.get("status"),
                "n_obs": s.get("n_obs"),
                **(s.get("timings") or {}),
                "coef_py": (s.get("python") or {}).get("coef"),
                "coef_r": (s.get("r") or {}).get("coef"),
            }
            for s in results["specs"]
        }
        m.extra["cache_dir"] = str(cache)
        shutil.rmtree(out, ignore_errors=True)
        return m

    def bare_python(self, label: str, manifest: Path) -> Measure:
        out = self.fresh("bare_py").with_suffix(".json")
        m = measure(label, [str(PY), str(BENCH / "common" / "bare_python.py"), str(manifest), str(out)], ok_codes=(0,))
        m.extra.update(json.loads(out.read_text(encoding="utf-8")))
        return m

    def bare_r(self, label: str, manifest: Path) -> Measure:
        out = self.fresh("bare_r").with_suffix(".json")
        scripts = ROOT / "r_scripts"
        cmd = ["Rscript", str(scripts / "bare_dml.R"), str(manifest), str(out), str(r_library()), str(scripts)]
        m = measure(label, cmd, env=R_ENV, ok_codes=(0,))
        m.extra.update(json.loads(out.read_text(encoding="utf-8")))
        return m

    def profiled(self, label: str, tool_args: list[str], top: int = 25) -> dict[str, Any]:
        """One tool run under cProfile: where the Python-visible time goes (R's own work shows up
        as the rpy2 calls that wait for it)."""
        prof = self.fresh("prof").with_suffix(".prof")
        cmd = [str(PY), "-m", "cProfile", "-o", str(prof), "-m", "harness.cli", "run", *tool_args]
        m = measure(label, cmd, env={"DMLP_IN_PROCESS": "1"})  # the fits in the profiled process
        return {"wall_s": m.wall_s, "parts": profile_parts(prof), "measure": asdict(m)}


# Functions whose cumulative time decomposes a run: (file suffix, function name) -> label. The
# profiled run fits in its own process (DMLP_IN_PROCESS=1, see ``Runner.profiled``): in the
# worker processes a normal run uses, cProfile of the run's process would see no fit at all.
PROFILE_PARTS = {
    ("harness/cli.py", "main"): "cli.main (everything after interpreter start and `import harness.cli`)",
    ("harness/running/runner.py", "prepare"): "read CSV, designs and folds (runner.prepare)",
    ("harness/engines/r_engine.py", "__init__"): "start embedded R, load R packages (RSession)",
    ("harness/engines/r_engine.py", "versions"): "R package versions (cache key)",
    ("harness/design/splits.py", "sample_splits"): "folds built and validated once (splits.sample_splits)",
    ("harness/engines/python_engine.py", "fit_python"): "Python fits incl. learner-free refit (fit_python)",
    ("harness/engines/python_engine.py", "hand_splits"): "… of which folds handed to doubleml (hand_splits)",
    ("harness/running/fit.py", "_learner_free"): "learner-free refit (Python score on R's predictions)",
    ("harness/engines/r_engine.py", "fit_r"): "R fits incl. conversions (fit_r)",
    ("harness/engines/r_engine.py", "fit_arguments"): "… of which design, folds, weights -> R vectors (fit_arguments)",
    ("harness/engines/r_engine.py", "_r_smpls"): "… … of which folds -> R vectors (_r_smpls)",
    ("harness/engines/r_engine.py", "r_columns"): "… … of which design columns -> R vectors (r_columns)",
    ("harness/engines/r_engine.py", "_from_r"): "… of which R's answer -> numpy (_from_r)",
    ("harness/engines/r_engine.py", "collect_garbage"): "… of which R's garbage collection after each fit",
    ("harness/verdict/compare_extended.py", "judge"): "comparison and verdict (compare_extended.judge)",
    ("harness/verdict/compare.py", "compare"): "three-layer comparison (compare)",
    ("harness/running/cache.py", "cache_key"): "cache keys (hash of design, folds, versions)",
    ("harness/verdict/claims.py", "judge_claims"): "claim checks",
    ("harness/cli.py", "write_run"): "results.json + report (md, html, csv, forest.png)",
    ("harness/output/arrays.py", "write_arrays"): "… of which arrays.npz (rows and folds)",
    ("harness/report/forest_plot.py", "render_forest"): "… of which the forest plot (incl. importing matplotlib)",
    ("harness/report/parity_plot.py", "render_parity"): "… of which the parity plot",
    ("harness/output/atomic_write.py", "atomic_write_json"): "… JSON writes (results.json, cache entries)",
}
# Parts earlier versions of the tool measured (runner.py's lists to R), so that stored raw data
# (bench/overhead/run_bench_raw.json) renders as it did; label -> the label it is listed after.
RETIRED_PARTS = {
    "folds -> R lists": "R fits incl. conversions (fit_r)",
    "design matrix -> R matrix": "folds -> R lists",
}


def profile_labels() -> list[str]:
    """Every part's label in the order a profile table lists them, retired ones included."""
    labels = list(PROFILE_PARTS.values())
    for label, after in RETIRED_PARTS.items():
        labels.insert(labels.index(after) + 1, label)
    return labels


def profile_parts(prof: Path) -> dict[str, float]:
    stats = pstats.Stats(str(prof))
    out: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for (suffix, func), label in PROFILE_PARTS.items():
            if name == func and filename.endswith(suffix):
                out[label] = out.get(label, 0.0) + ct
    return out


# Start-up pieces, each its own process (wall minus nothing: compare rows with each other).
STARTUP = [
    ("Python interpreter (`python -c pass`)", [str(PY), "-c", "pass"], None),
    ("`import harness.cli` (the tool before any work)", [str(PY), "-c", "import harness.cli"], None),
    ("`import doubleml, sklearn.ensemble`", [str(PY), "-c", "import doubleml, sklearn.ensemble"], None),
    ("`import rpy2.robjects` (starts embedded R, no packages)", [str(PY), "-c", "import rpy2.robjects"], R_ENV),
    (
        "embedded R ready: `r_session()` (rpy2, R packages, engine.R, lgbm learners)",
        [str(PY), "-c", "from harness.engines.r_engine import r_session; r_session()"],
        None,
    ),
    ("Rscript, no packages (`Rscript -e NULL`)", ["Rscript", "-e", "NULL"], R_ENV),
    (
        "Rscript + `library(data.table, mlr3, mlr3learners, DoubleML)` (bare R's start-up)",
        [
            "Rscript",
            "-e",
            f".libPaths('{r_library()}'); suppressPackageStartupMessages({{library(data.table); "
            "library(mlr3); library(mlr3learners); library(DoubleML)})",
        ],
        R_ENV,
    ),
    (
        "the same + the learners' namespaces ranger, glmnet, rpart, nnet",
        [
            "Rscript",
            "-e",
            f".libPaths('{r_library()}'); suppressPackageStartupMessages({{library(data.table); "
            "library(mlr3); library(mlr3learners); library(DoubleML); for (p in c('ranger', 'glmnet', 'rpart', 'nnet')) "
            "requireNamespace(p, quietly = TRUE)})",
        ],
        R_ENV,
    ),
    (
        "the same + lightgbm and `source(lgbm_learners.R)` (all that the tool's R start-up loads)",
        [
            "Rscript",
            "-e",
            f".libPaths('{r_library()}'); suppressPackageStartupMessages({{library(data.table); "
            "library(mlr3); library(mlr3learners); library(DoubleML); for (p in c('ranger', 'glmnet', 'rpart', 'nnet', "
            "'lightgbm')) requireNamespace(p, quietly = TRUE)}); "
            f"source('{ROOT / 'r_scripts' / 'lgbm_learners.R'}')",
        ],
        R_ENV,
    ),
]


def startup_costs(reps: int) -> list[dict[str, Any]]:
    out = []
    for label, cmd, env in STARTUP:
        walls = [measure(f"start-up: {label[:40]}", cmd, env=env, ok_codes=(0,)).wall_s for _ in range(reps)]
        out.append({"label": label, "walls": walls, "median_s": med(walls)})
    return out


# ---------------------------------------------------------------------------------------------
# Machine
# ---------------------------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    r_code = (
        f".libPaths(c('{r_library()}', .libPaths())); pk <- c({', '.join(repr(p) for p in R_PACKAGES)}); "
        "v <- vapply(pk, function(p) tryCatch(as.character(packageVersion(p)), error = function(e) 'NA'), ''); "
        "cat(paste0('R=', R.version$major, '.', R.version$minor), paste0(pk, '=', v), sep = '\\n')"
    )
    r_out = subprocess.run(["Rscript", "-e", r_code], capture_output=True, text=True, check=False).stdout.split()
    from importlib.metadata import version

    py = python_versions()
    try:
        py["rpy2"] = version("rpy2")
        py["joblib"] = version("joblib")
    except Exception:
        pass
    return {
        "nproc": os.cpu_count(),
        "mem_gb": round(mem_kb / 2**20, 1),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": py,
        "r": dict(item.split("=", 1) for item in r_out if "=" in item),
        "time_v": TIME_BIN.exists(),
    }
