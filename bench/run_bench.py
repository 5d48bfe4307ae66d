"""Benchmarks of dml-parity (issue 4 §4): overhead against bare scripts, parallel gain, cached
re-runs, peak memory and growth with rows and with the number of specs.

    .venv/bin/python bench/run_bench.py                  # the full bench (42 min on a busy 2-core machine)
    .venv/bin/python bench/run_bench.py --quick          # one repetition, no 16x rows, no full-suite bare scripts
    .venv/bin/python bench/run_bench.py --specs other.yaml --data other.csv
    .venv/bin/python bench/run_bench.py --remeasure-parallel bench/run_bench_raw.json   # parallel gain again
    .venv/bin/python bench/run_bench.py --render bench/run_bench_raw.json [--note TEXT]  # re-render only

Every number is the wall time of a subprocess as a user would start it (the tool's own command
line, ``bench/bare_python.py``, ``Rscript r_scripts/bare_dml.R``), timed from outside. The bare scripts
fit the design matrices and folds that ``harness.runner.prepare()`` builds, exported here as CSV and
JSON, so both sides do the same fits. Results go into ``bench/RESULTS.md`` (between this script's
markers, above the sections other scripts own) and the raw measurements into
``bench/run_bench_raw.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import psutil
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.engines.r_engine import R_PACKAGES, r_library  # noqa: E402  (no R is started by this import)
from harness.learners import resolve_learner  # noqa: E402
from harness.runner import prepare, python_versions  # noqa: E402
from harness.spec import load_spec_file  # noqa: E402

PY = ROOT / ".venv" / "bin" / "python"
TOOL = ROOT / ".venv" / "bin" / "dml-parity"
BENCH = ROOT / "bench"
RESULTS_MD = BENCH / "RESULTS.md"
RAW_JSON = BENCH / "run_bench_raw.json"
BEGIN = "<!-- run_bench.py: begin (generated; edit bench/run_bench.py instead) -->"
END = "<!-- run_bench.py: end -->"
OTHER_SECTION = "## Nonlinear learner pairs (lgbm, svr)"
TIME_BIN = Path("/usr/bin/time")
# The tool runs R with single-threaded BLAS (harness.engines.r_engine); the bare R script gets the same.
R_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


# ---------------------------------------------------------------------------------------------
# Timing one command from outside
# ---------------------------------------------------------------------------------------------


@dataclass
class Measure:
    label: str
    cmd: list[str]
    wall_s: float
    rc: int
    maxrss_mb: Optional[float]  # /usr/bin/time -v: the largest single process of the tree
    tree_peak_mb: float  # sampled sum of RSS over the process tree (shared pages counted per process)
    own_cpu_s: float  # CPU of the measured tree (sampled per process)
    other_cores: float  # CPU used by everything else on the machine, in cores, over the run
    load1: tuple[float, float]  # 1-minute load average at start and end
    extra: dict[str, Any] = field(default_factory=dict)

    def short(self) -> str:
        return f"{self.label}: {self.wall_s:.2f}s rc={self.rc} rss={self.tree_peak_mb:.0f}MB other={self.other_cores:.2f}"


def _busy_seconds() -> float:
    """CPU-seconds the whole machine has been busy (all cores), from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class _TreeSampler(threading.Thread):
    """Samples the RSS and CPU of a process and its descendants every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_rss = 0
        self.cpu: dict[int, float] = {}
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            rss = 0
            for proc in procs:
                try:
                    with proc.oneshot():
                        rss += proc.memory_info().rss
                        times = proc.cpu_times()
                        self.cpu[proc.pid] = times.user + times.system
                except psutil.Error:
                    continue
            self.peak_rss = max(self.peak_rss, rss)
            self.stop_event.wait(self.interval)


def measure(label: str, cmd: list[str], env: Optional[dict[str, str]] = None, ok_codes: tuple[int, ...] = (0, 1)) -> Measure:
    """Run ``cmd`` from the project root and time it from outside (wall, memory, foreign load)."""
    time_file = Path(tempfile.mkstemp(prefix="dmlp_time_")[1])
    full = [str(TIME_BIN), "-v", "-o", str(time_file), *cmd] if TIME_BIN.exists() else cmd
    run_env = {**os.environ, **(env or {})}
    load_start = os.getloadavg()[0]
    busy0 = _busy_seconds()
    start = time.perf_counter()
    # A session of its own, so an interrupted bench can stop the whole tree (R, loky workers).
    proc = subprocess.Popen(
        full, cwd=ROOT, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    sampler = _TreeSampler(proc.pid)
    sampler.start()
    try:
        _stdout, stderr = proc.communicate()
    except BaseException:
        os.killpg(proc.pid, signal.SIGTERM)
        raise
    wall = time.perf_counter() - start
    sampler.stop_event.set()
    sampler.join()
    busy = _busy_seconds() - busy0
    own_cpu = sum(sampler.cpu.values())
    maxrss = None
    user_sys = None
    if TIME_BIN.exists():
        text = time_file.read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("Maximum resident set size"):
                maxrss = int(line.rsplit(":", 1)[1]) / 1024
            elif line.startswith("User time") or line.startswith("System time"):
                user_sys = (user_sys or 0.0) + float(line.rsplit(":", 1)[1])
    time_file.unlink(missing_ok=True)
    # Processes that exit between samples lose up to one interval of CPU; the waited-for total from
    # /usr/bin/time is exact for everything that was reaped, so take the larger of the two.
    own_cpu = max(own_cpu, user_sys or 0.0)
    if proc.returncode not in ok_codes:
        raise RuntimeError(f"{label}: exit {proc.returncode}\n$ {shlex.join(cmd)}\n{stderr[-3000:]}")
    m = Measure(
        label=label,
        cmd=cmd,
        wall_s=wall,
        rc=proc.returncode,
        maxrss_mb=maxrss,
        tree_peak_mb=sampler.peak_rss / 2**20,
        own_cpu_s=own_cpu,
        other_cores=max(0.0, (busy - own_cpu) / wall),
        load1=(load_start, os.getloadavg()[0]),
    )
    print("  " + m.short(), flush=True)
    return m


def med(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Inputs: the suite, exports for the bare scripts, derived spec files and bigger panels
# ---------------------------------------------------------------------------------------------


@dataclass
class Suite:
    specs: Path
    data: Optional[Path]  # --data override, None: the spec file's dataset.path
    temporary: bool
    ids: list[str]
    data_path: Path  # the CSV actually read
    note: str = ""  # how the data was obtained, when not from the spec file
    snapshot: dict[str, Any] = field(default_factory=dict)  # what was copied, with sha256

    def tool_args(self, data: Optional[Path] = None) -> list[str]:
        chosen = data or self.data
        return ["--specs", str(self.specs), *(["--data", str(chosen)] if chosen else [])]


def snapshot_suite(specs: Path, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """Copy the spec file and the files it names (data, truth) into ``workdir`` and return the copy.

    Other people edit the suite while the bench runs; every measurement must see one version, so
    the bench runs a copy. Relative paths keep working because the copy keeps the layout
    (``specs/paper.yaml`` next to ``data/``)."""
    import hashlib

    snap = workdir / "snapshot"
    spec_copy = snap / specs.parent.name / specs.name
    spec_copy.parent.mkdir(parents=True, exist_ok=True)
    text = specs.read_bytes()
    spec_copy.write_bytes(text)
    info: dict[str, Any] = {
        "source": str(specs),
        "sha256": hashlib.sha256(text).hexdigest(),
        "taken": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "files": {},
    }
    dataset = (yaml.safe_load(text) or {}).get("dataset") or {}
    for key in ("path", "truth"):
        rel = dataset.get(key)
        if not rel or Path(rel).is_absolute():
            continue
        source = (specs.parent / rel).resolve()
        target = (spec_copy.parent / rel).resolve()
        if source.exists() and target.is_relative_to(snap.resolve()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            info["files"][key] = {"source": str(source), "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    return spec_copy, info


def resolve_suite(specs: Path, data: Optional[Path], workdir: Path) -> Suite:
    """The suite to measure: the spec file and its data; when the data file is missing, the panel
    `dml-parity data synth` writes (the seed suite's data is that panel), else the stand-in suite."""
    note = ""
    temporary = False
    if not specs.exists():
        from bench.temp_suite import write_temp_suite

        print(f"{specs} does not exist: using the temporary suite of bench/temp_suite.py", flush=True)
        specs, data = write_temp_suite(workdir / "temp_suite")
        temporary = True
    snapshot: dict[str, Any] = {}
    if not temporary:
        specs, snapshot = snapshot_suite(specs, workdir)
    spec_file = load_spec_file(specs)
    if data is None and spec_file.dataset.path:
        data_path = (spec_file.path.parent / spec_file.dataset.path).resolve()
        if not data_path.exists():
            generated = workdir / "synth" / data_path.name
            synth = subprocess.run([str(TOOL), "data", "synth", "--out", str(generated)], capture_output=True, text=True)
            if synth.returncode == 0 and generated.exists():
                # The tool reads it through --data: same columns, only the truth file is not used.
                print(f"{data_path} does not exist: using `dml-parity data synth` output via --data", flush=True)
                data = generated
                note = (
                    f"the spec file's data `{spec_file.dataset.path}` did not exist "
                    "when this bench ran, so every run read the panel that `dml-parity data synth` writes (default seed), "
                    "generated into the scratch directory and passed with `--data`"
                )
            else:
                from bench.temp_suite import write_temp_suite

                print(f"{data_path} does not exist: using the temporary suite of bench/temp_suite.py", flush=True)
                specs, data = write_temp_suite(workdir / "temp_suite")
                temporary = True
                spec_file = load_spec_file(specs)
    data_path = data if data is not None else (spec_file.path.parent / spec_file.dataset.path).resolve()
    return Suite(
        specs=specs.resolve(),
        data=data.resolve() if data and not temporary else None,
        temporary=temporary,
        ids=[s.id for s in spec_file.specs],
        data_path=Path(data_path).resolve(),
        note=note,
        snapshot=snapshot,
    )


def export_for_bare(suite: Suite, only: Optional[list[str]], directory: Path, data: Optional[Path] = None) -> Path:
    """Write each spec's design matrix (CSV), folds (JSON) and learners into ``directory``.

    The designs and folds come from ``harness.runner.prepare``, the tool's own first step, so the
    bare scripts fit exactly what the tool fits. Returns the manifest's path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    spec_file = load_spec_file(suite.specs, only)
    entries = []
    for prepared in prepare(spec_file, data or suite.data_path):
        spec, design, folds = prepared.spec, prepared.design, prepared.folds
        csv = f"{spec.id}.csv"
        # %.17g round-trips every float64, so both scripts read the tool's numbers bit for bit.
        design.frame.to_csv(directory / csv, index=False, float_format="%.17g")
        codes = design.frame[list(design.cluster)].to_numpy().astype(np.int64) if design.cluster else None
        smpls = [{"train": [tr.tolist() for tr, _ in rep], "test": [te.tolist() for _, te in rep]} for rep in folds.smpls(codes)]
        fold_doc: dict[str, Any] = {"smpls": smpls, "smpls_cluster": None}
        if folds.cluster_folds is not None:
            fold_doc["smpls_cluster"] = [
                {
                    "train": [[v.astype(int).tolist() for v in tr] for tr, _ in rep],
                    "test": [[v.astype(int).tolist() for v in te] for _, te in rep],
                }
                for rep in folds.smpls_cluster()
            ]
        (directory / f"{spec.id}.folds.json").write_text(json.dumps(fold_doc), encoding="utf-8")
        r_learners = {}
        for nuisance in spec.nuisances:
            resolved = resolve_learner(spec.learner_for(nuisance), nuisance, spec.model)
            key, params = resolved.r_learner(len(design.x))
            r_learners[nuisance] = {"key": key, "params": params, "classif": resolved.kind == "classif"}
        entries.append(
            {
                "id": spec.id,
                "csv": csv,
                "folds": f"{spec.id}.folds.json",
                "model": spec.model,
                "score": spec.score_name,
                "y": design.y,
                "d": design.d,
                "x": list(design.x),
                "z": list(design.z),
                "cluster": list(design.cluster),
                "n_folds": folds.n_folds_per_cluster or folds.n_folds,
                "n_rep": folds.n_rep,
                "seed": spec.seed,
                "trimming_threshold": spec.trimming_threshold,
                "subgroups": spec.subgroups,
                "learners": {n: spec.learner_for(n) for n in spec.nuisances},
                "r_learners": r_learners,
            }
        )
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"specs": entries}, indent=1), encoding="utf-8")
    return manifest


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors: copies share lists, and a derived file should read like a hand-written one."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def derived_spec_file(suite: Suite, ids: list[str], copies: int, path: Path) -> Path:
    """A spec file with ``copies`` copies of the specs ``ids`` (distinct ids, same designs and seeds).

    Claim blocks are dropped: they name other specs, and copies have no paper."""
    raw = yaml.safe_load(suite.specs.read_text(encoding="utf-8"))
    dataset = dict(raw.get("dataset") or {})
    for key in ("path", "truth"):
        if dataset.get(key):
            dataset[key] = str((suite.specs.parent / dataset[key]).resolve())
    if suite.data is not None:
        dataset["path"] = str(suite.data)
    dataset.pop("truth", None)  # copies have no true effects of their own
    by_id = {str(e["id"]): e for e in raw["specs"]}
    out = []
    for copy in range(copies):
        for spec_id in ids:
            entry = {k: v for k, v in by_id[spec_id].items() if k != "paper"}
            entry["id"] = f"{spec_id}__{copy + 1}" if copies > 1 else spec_id
            out.append(entry)
    doc = {"dataset": dataset, "defaults": raw.get("defaults") or {}, "specs": out}
    path.write_text(yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def replicate_panel(data: Path, unit: Optional[str], factor: int, out: Path, seed: int = 4) -> Path:
    """``factor`` copies of the panel, each with new unit ids and small noise on continuous columns.

    Copy 0 is the panel itself. Integer-valued columns (years, codes, 0/1 dummies, counts) are left
    alone so samples, fixed effects and binary treatments keep their meaning; float columns get
    N(0, (0.01 sd)^2) noise so the copies are not exact duplicates."""
    frame = pd.read_csv(data)
    rng = np.random.default_rng(seed)
    continuous = [
        c
        for c in frame.columns
        if pd.api.types.is_float_dtype(frame[c]) and c != unit and not np.allclose(frame[c].dropna(), np.round(frame[c].dropna()))
    ]
    parts = []
    for k in range(factor):
        part = frame.copy()
        if k:
            if unit is not None:
                if pd.api.types.is_integer_dtype(part[unit]):
                    part[unit] = part[unit] + k * (int(frame[unit].max()) + 1)
                else:
                    part[unit] = part[unit].astype(str) + f"~{k}"
            for col in continuous:
                part[col] = part[col] + rng.normal(scale=0.01 * float(frame[col].std()), size=len(part))
        parts.append(part)
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return out


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
        m = measure(label, [str(PY), str(BENCH / "bare_python.py"), str(manifest), str(out)], ok_codes=(0,))
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
        m = measure(label, cmd)
        return {"wall_s": m.wall_s, "parts": profile_parts(prof), "measure": asdict(m)}


# Functions whose cumulative time decomposes a run: (file suffix, function name) -> label.
PROFILE_PARTS = {
    ("harness/cli.py", "main"): "cli.main (everything after interpreter start and `import harness.cli`)",
    ("harness/runner.py", "prepare"): "read CSV, designs and folds (runner.prepare)",
    ("harness/engines/r_engine.py", "__init__"): "start embedded R, load R packages (RSession)",
    ("harness/engines/r_engine.py", "versions"): "R package versions (cache key)",
    ("harness/engines/python_engine.py", "fit_python"): "Python fits incl. learner-free refit (fit_python)",
    ("harness/runner.py", "_learner_free"): "learner-free refit (Python score on R's predictions)",
    ("harness/engines/r_engine.py", "fit_r"): "R fits incl. conversions (fit_r)",
    ("harness/engines/r_engine.py", "_r_smpls"): "folds -> R lists",
    ("harness/engines/r_engine.py", "r_matrix"): "design matrix -> R matrix",
    ("harness/compare.py", "compare"): "three-layer comparison (compare)",
    ("harness/runner.py", "cache_key"): "cache keys (hash of design, folds, versions)",
    ("harness/claims.py", "judge_claims"): "claim checks",
    ("harness/cli.py", "write_run"): "results.json + report (md, html, csv, forest.png)",
    ("harness/report.py", "render_forest"): "… of which the forest plot (incl. importing matplotlib)",
    ("harness/io.py", "atomic_write_json"): "… JSON writes (results.json, cache entries)",
}


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


def other_processes() -> list[str]:
    """The busiest processes outside this bench, sampled over one second (for the load note)."""
    mine = {os.getpid(), *(p.pid for p in psutil.Process().children(recursive=True))}
    procs = [p for p in psutil.process_iter(["pid", "cmdline"]) if p.pid not in mine]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(1.0)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= 20:
            cmd = " ".join(p.info["cmdline"] or [])[:90]
            busy.append(f"{pct:.0f}% {cmd}")
    return busy


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


def spec_cost(m: Measure, spec_id: str) -> float:
    s = m.extra["specs"][spec_id]
    return float(s.get("python_s") or 0.0) + float(s.get("r_s") or 0.0)


def pick_subset(full: Measure, spec_file_path: Path, size: int = 3) -> list[str]:
    """Representative specs: the most common learner families of the suite, the cheapest spec of
    each (the full suite's own timings decide), so a subset can be repeated within the budget."""
    spec_file = load_spec_file(spec_file_path)
    families: dict[tuple[str, ...], list[str]] = {}
    for spec in spec_file.specs:
        if full.extra["specs"][spec.id]["status"] == "error":
            continue
        names = set()
        for n in spec.nuisances:
            choice = spec.learner_for(n)
            names.add(choice if isinstance(choice, str) else choice["name"])
        families.setdefault(tuple(sorted(names)), []).append(spec.id)
    ranked = sorted(families.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:size]
    return [min(ids, key=lambda i: spec_cost(full, i)) for _, ids in ranked]


def pick_balanced(full: Measure | dict[str, Any], exclude_below: float = 10.0) -> str:
    """The cheapest spec whose fits take at least ``exclude_below`` s: copies of it make a balanced
    workload for two workers that is not dominated by start-up (each worker starts its own Python
    and R, ~7 s on this machine, so 4 copies of a 3 s spec measure start-up, not parallelism)."""
    specs = full["extra"]["specs"] if isinstance(full, dict) else full.extra["specs"]
    costs = {i: float(s.get("python_s") or 0.0) + float(s.get("r_s") or 0.0) for i, s in specs.items() if s["status"] != "error"}
    eligible = [i for i, c in costs.items() if c >= exclude_below] or list(costs)
    return min(eligible, key=lambda i: costs[i])


def greedy_makespan(costs: list[float], workers: int = 2) -> float:
    """Makespan of dispatching ``costs`` in order to the first free worker (what joblib does)."""
    free = [0.0] * workers
    for c in costs:
        i = free.index(min(free))
        free[i] += c
    return max(free)


def coef_check(tool: Measure, bare_py: Measure, bare_r: Measure) -> dict[str, float]:
    """Largest relative difference between the bare scripts' and the tool's estimates."""

    def rel(a: float, b: float) -> float:
        return abs(a - b) / max(abs(a), abs(b), 1e-300)

    py = [
        rel(s["coef"], tool.extra["specs"][s["id"]]["coef_py"])
        for s in bare_py.extra["specs"]
        if tool.extra["specs"][s["id"]]["coef_py"] is not None
    ]
    r = [
        rel(s["coef"], tool.extra["specs"][s["id"]]["coef_r"])
        for s in bare_r.extra["specs"]
        if tool.extra["specs"][s["id"]]["coef_r"] is not None
    ]
    return {"python": max(py, default=float("nan")), "r": max(r, default=float("nan"))}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--specs", type=Path, default=ROOT / "specs" / "paper.yaml")
    parser.add_argument("--data", type=Path, help="CSV instead of the spec file's dataset.path")
    parser.add_argument("--quick", action="store_true", help="one repetition, no 16x rows, no full-suite bare scripts")
    parser.add_argument("--reps", type=int, help="repetitions of the subset measurements (default 3, --quick 1)")
    parser.add_argument("--subset", help="comma-separated spec ids for the repeated measurements (default: automatic)")
    parser.add_argument(
        "--rows-budget", type=float, default=240.0, help="skip a 16x-rows spec whose predicted fit time exceeds this many seconds"
    )
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a new temporary one, removed)")
    parser.add_argument("--no-write", action="store_true", help="print the sections instead of updating RESULTS.md")
    parser.add_argument("--raw", type=Path, default=RAW_JSON, help="where the raw measurements are written")
    parser.add_argument("--note", action="append", default=[], help="a sentence to print under the set-up (repeatable)")
    parser.add_argument("--render", type=Path, metavar="RAW_JSON", help="only re-render RESULTS.md from saved measurements")
    parser.add_argument(
        "--remeasure-parallel",
        type=Path,
        metavar="RAW_JSON",
        help="re-measure only the parallel gain (full suite at --jobs 1 and 2, balanced workload), add it to "
        "RAW_JSON's measurements and re-render: for when the first measurement ran on a busy machine",
    )
    parser.add_argument(
        "--remeasure-cache",
        type=Path,
        metavar="RAW_JSON",
        help="re-measure only the cached re-run (a first run into a fresh cache, then cached runs), add it to "
        "RAW_JSON's measurements and re-render",
    )
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the running measurement's process tree is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.render:
        raw = json.loads(args.render.read_text(encoding="utf-8"))
        if args.note:
            raw["notes"] = args.note
            args.render.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
        text = render(raw)
        if args.no_write:
            print(text)
        else:
            write_section(text)
        return 0
    reps = args.reps or (1 if args.quick else 3)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dmlp_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    command = shlex.join([".venv/bin/python", "bench/run_bench.py", *(argv if argv is not None else sys.argv[1:])])
    try:
        if args.remeasure_cache:
            raw = json.loads(args.remeasure_cache.read_text(encoding="utf-8"))
            rerun = remeasure_cache(args, raw, reps, workdir)
            rerun["command"] = command
            raw.setdefault("cache_reruns", []).append(rerun)
        elif args.remeasure_parallel:
            raw = json.loads(args.remeasure_parallel.read_text(encoding="utf-8"))
            rerun = remeasure_parallel(args, raw, reps, workdir)
            rerun["command"] = command
            rerun["minutes"] = (time.perf_counter() - started) / 60
            raw.setdefault("parallel_reruns", []).append(rerun)
        else:
            raw = run_all(args, reps, workdir)
            raw["command"] = command
            raw["bench_minutes"] = (time.perf_counter() - started) / 60
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.note:
        raw["notes"] = args.note
    args.raw.write_text(json.dumps(raw, indent=1, default=str), encoding="utf-8")
    text = render(raw)
    if args.no_write:
        print(text)
    else:
        write_section(text)
        print(f"wrote {RESULTS_MD} and {args.raw}")
    return 0


def run_all(args: argparse.Namespace, reps: int, workdir: Path) -> dict[str, Any]:
    suite = resolve_suite(args.specs.resolve() if args.specs.exists() else args.specs, args.data, workdir)
    runner = Runner(suite, workdir)
    raw: dict[str, Any] = {
        "suite": {
            "note": suite.note,
            "snapshot": suite.snapshot,
            "specs": str(suite.specs),
            "data": str(suite.data_path),
            "temporary": suite.temporary,
            "n_specs": len(suite.ids),
        },
        "reps": reps,
        "quick": args.quick,
    }
    print("machine ...", flush=True)
    raw["machine"] = machine_info()
    raw["other_processes_at_start"] = other_processes()
    n_rows = len(pd.read_csv(suite.data_path))
    raw["suite"]["n_rows"] = n_rows

    # 1+2+3+4. The full suite, sequential: the tool's reference run. Its fresh cache dir is filled
    # (--no-cache still writes the cache), so it is also the "first run" of the cache benchmark.
    print(f"full suite ({len(suite.ids)} specs), --jobs 1 ...", flush=True)
    full1 = runner.tool("tool full --jobs 1", jobs=1)
    raw["full_jobs1"] = asdict(full1)
    subset = [s.strip() for s in args.subset.split(",")] if args.subset else pick_subset(full1, suite.specs)
    raw["subset"] = subset
    print(f"subset: {subset}", flush=True)

    # Overhead on the full suite (one repetition: it takes minutes).
    # A spec the tool could not fit (status error) has no fit to compare with: the bare scripts skip it.
    fitted = [i for i in suite.ids if full1.extra["specs"][i]["status"] != "error"]
    raw["errors_excluded"] = [i for i in suite.ids if i not in fitted]
    manifest_full = export_for_bare(suite, fitted, workdir / "export_full")
    if not args.quick:
        print("bare scripts, full suite ...", flush=True)
        bp = runner.bare_python("bare python full", manifest_full)
        br = runner.bare_r("bare R full", manifest_full)
        raw["full_bare"] = {"python": asdict(bp), "r": asdict(br), "coef_check": coef_check(full1, bp, br)}

    # Overhead on the subset, repeated, interleaved so drift in the machine's load hits all three.
    manifest_sub = export_for_bare(suite, subset, workdir / "export_subset")
    print(f"overhead on the subset x{reps} ...", flush=True)
    sub_tool, sub_py, sub_r = [], [], []
    for rep in range(reps):
        sub_tool.append(runner.tool(f"tool subset --jobs 1 #{rep + 1}", jobs=1, only=subset))
        sub_py.append(runner.bare_python(f"bare python subset #{rep + 1}", manifest_sub))
        sub_r.append(runner.bare_r(f"bare R subset #{rep + 1}", manifest_sub))
    raw["subset_overhead"] = {
        "tool": [asdict(m) for m in sub_tool],
        "python": [asdict(m) for m in sub_py],
        "r": [asdict(m) for m in sub_r],
        "coef_check": coef_check(sub_tool[0], sub_py[0], sub_r[0]),
    }
    print("profiled subset run ...", flush=True)
    prof_args = [
        *suite.tool_args(),
        "--only",
        ",".join(subset),
        "--no-cache",
        "--jobs",
        "1",
        "--quiet",
        "--cache-dir",
        str(runner.fresh("cache")),
        "--out",
        str(runner.fresh("out")),
    ]
    raw["subset_profile"] = runner.profiled("tool subset profiled", prof_args)
    print("start-up pieces ...", flush=True)
    raw["startup"] = startup_costs(max(reps, 2))

    # 3. Cached re-runs of the full suite against the first run above.
    print(f"cached re-runs of the full suite x{reps} ...", flush=True)
    cache_full = Path(full1.extra["cache_dir"])
    cached = cached_runs(runner, cache_full, reps)
    raw["cached_full"] = [asdict(m) for m in cached]
    prof_args = [*suite.tool_args(), "--jobs", "1", "--quiet", "--cache-dir", str(cache_full), "--out", str(runner.fresh("out"))]
    raw["cached_profile"] = runner.profiled("tool full cached profiled", prof_args)

    # 2. Parallel gain: the full suite once at --jobs 2 (its --jobs 1 run is above), and a balanced
    # workload of identical specs repeated.
    print("full suite, --jobs 2 ...", flush=True)
    full2 = runner.tool("tool full --jobs 2", jobs=2)
    raw["full_jobs2"] = asdict(full2)
    balanced = pick_balanced(full1)
    bal_file = derived_spec_file(suite, [balanced], 4, workdir / "balanced.yaml")
    raw["balanced_spec"] = balanced
    print(f"balanced workload (4 x {balanced}) x{reps} ...", flush=True)
    bal1, bal2 = [], []
    for rep in range(reps):
        bal1.append(runner.tool(f"tool 4x{balanced} --jobs 1 #{rep + 1}", jobs=1, specs=bal_file))
        bal2.append(runner.tool(f"tool 4x{balanced} --jobs 2 #{rep + 1}", jobs=2, specs=bal_file))
    raw["balanced"] = {"jobs1": [asdict(m) for m in bal1], "jobs2": [asdict(m) for m in bal2]}

    # 4. Growth with rows: the subset on the panel replicated 4x and 16x.
    spec_file = load_spec_file(suite.specs)
    # dataset.unit is a canonical name; the CSV may call it something else (dataset.columns).
    unit = spec_file.dataset.columns.get(spec_file.dataset.unit, spec_file.dataset.unit) if spec_file.dataset.unit else None
    rows: dict[str, Any] = {"1": [asdict(m) for m in sub_tool]}
    per_spec_1x = {i: med([spec_cost(m, i) for m in sub_tool]) for i in subset}
    big4 = replicate_panel(suite.data_path, unit, 4, workdir / "panel_x4.csv")
    print("rows x4 ...", flush=True)
    rows["4"] = [asdict(runner.tool("tool subset rows x4", jobs=1, only=subset, data=big4))]
    per_spec_4x = {i: rows["4"][0]["extra"]["specs"][i]["python_s"] + rows["4"][0]["extra"]["specs"][i]["r_s"] for i in subset}
    if not args.quick:
        # Predict each spec's 16x cost from its 1x -> 4x growth; skip what would blow the budget.
        predicted = {i: per_spec_4x[i] * max(per_spec_4x[i] / max(per_spec_1x[i], 1e-9), 1.0) for i in subset}
        keep = [i for i in subset if predicted[i] <= args.rows_budget]
        rows["16_predicted_s"] = predicted
        rows["16_skipped"] = [i for i in subset if i not in keep]
        if keep:
            big16 = replicate_panel(suite.data_path, unit, 16, workdir / "panel_x16.csv")
            print(f"rows x16 ({keep}) ...", flush=True)
            rows["16"] = [asdict(runner.tool("tool subset rows x16", jobs=1, only=keep, data=big16))]
            rows["16_ids"] = keep
            # The same specs at 1x and 4x, for a like-for-like ratio when some were skipped.
    raw["rows"] = rows

    # 4. Growth with the number of specs: 1, 2 and 4 copies of the subset.
    print("number of specs ...", flush=True)
    nspecs: dict[str, Any] = {str(len(subset)): [asdict(m) for m in sub_tool]}
    for copies in (2, 4):
        path = derived_spec_file(suite, subset, copies, workdir / f"copies{copies}.yaml")
        nspecs[str(len(subset) * copies)] = [asdict(runner.tool(f"tool {copies}x subset", jobs=1, specs=path))]
    raw["nspecs"] = nspecs
    raw["paths"] = {"balanced_yaml": "derived: 4 copies of the balanced spec", "workdir": str(workdir)}
    return raw


def cached_runs(runner: Runner, cache_dir: Path, reps: int, suffix: str = "") -> list[Measure]:
    """Re-runs served from ``cache_dir``. A run that misses the cache (the tool's code changed the keys
    since the first run) refills it; it is kept in the raw data but does not count, so up to two
    extra runs make up for it."""
    cached: list[Measure] = []
    for attempt in range(reps + 2):
        m = runner.tool(f"tool full cached #{attempt + 1}{suffix}", jobs=1, cache_dir=cache_dir, no_cache=False)
        cached.append(m)
        if sum(1 for c in cached if all(s.get("cached") for s in c.extra["specs"].values())) >= reps:
            break
    return cached


def remeasure_cache(args: argparse.Namespace, raw: dict[str, Any], reps: int, workdir: Path) -> dict[str, Any]:
    """The cache benchmark again: a first run into a fresh cache dir, then cached re-runs."""
    source = Path((raw["suite"].get("snapshot") or {}).get("source") or raw["suite"]["specs"])
    suite = resolve_suite(source, args.data, workdir)
    runner = Runner(suite, workdir)
    out: dict[str, Any] = {"started": time.strftime("%H:%M %Z"), "snapshot": suite.snapshot}
    print("cached re-run again: first run ...", flush=True)
    first = runner.tool("tool full first run (again)", jobs=1)
    out["first"] = asdict(first)
    out["cached"] = [asdict(m) for m in cached_runs(runner, Path(first.extra["cache_dir"]), reps, " (again)")]
    return out


def remeasure_parallel(args: argparse.Namespace, raw: dict[str, Any], reps: int, workdir: Path) -> dict[str, Any]:
    """The parallel benchmark again, on the suite and balanced spec of an earlier full bench."""
    source = Path((raw["suite"].get("snapshot") or {}).get("source") or raw["suite"]["specs"])
    suite = resolve_suite(source, args.data, workdir)
    runner = Runner(suite, workdir)
    # Picked again with the current rule (an earlier bench may have used a smaller spec).
    balanced = pick_balanced(raw["full_jobs1"])
    bal_file = derived_spec_file(suite, [balanced], 4, workdir / "balanced.yaml")
    out: dict[str, Any] = {
        "started": time.strftime("%H:%M %Z"),
        "other_processes_at_start": other_processes(),
        "balanced_spec": balanced,
        "snapshot": suite.snapshot,
    }
    print("parallel gain again: full suite --jobs 1, --jobs 2 ...", flush=True)
    out["full_jobs1"] = asdict(runner.tool("tool full --jobs 1 (again)", jobs=1))
    out["full_jobs2"] = asdict(runner.tool("tool full --jobs 2 (again)", jobs=2))
    bal1, bal2 = [], []
    for rep in range(reps):
        bal1.append(asdict(runner.tool(f"tool 4x{balanced} --jobs 1 #{rep + 1} (again)", jobs=1, specs=bal_file)))
        bal2.append(asdict(runner.tool(f"tool 4x{balanced} --jobs 2 #{rep + 1} (again)", jobs=2, specs=bal_file)))
    out["balanced"] = {"jobs1": bal1, "jobs2": bal2}
    return out


# ---------------------------------------------------------------------------------------------
# RESULTS.md
# ---------------------------------------------------------------------------------------------


def _rel(path: Any) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _walls(ms: list[dict]) -> list[float]:
    return [m["wall_s"] for m in ms]


def _fmt_list(values: list[float]) -> str:
    return ", ".join(f"{v:.1f}" for v in values)


def _other(ms: list[dict]) -> str:
    return f"{med([m['other_cores'] for m in ms]):.2f}"


def _cmd(m: dict, suite: dict) -> str:
    """The command line as a user would type it from the project root (scratch paths shortened)."""
    parts = []
    for part in m["cmd"]:
        part = part.replace(str(ROOT) + "/", "")
        if "/dmlp_bench_" in part or part.startswith("/tmp/"):
            path = Path(part)
            part = "$TMP/" + (f"{path.parent.name}/{path.name}" if path.parent.name.startswith("export") else path.name)
        parts.append(part)
    return "`" + " ".join(parts) + "`"


def render(raw: dict[str, Any]) -> str:
    mach, suite = raw["machine"], raw["suite"]
    py, r = mach["python"], mach["r"]
    reps = raw["reps"]
    lines: list[str] = [BEGIN, ""]
    add = lines.append
    subset = raw["subset"]
    full1 = raw["full_jobs1"]

    add("## Benchmarks: set-up")
    add("")
    add(
        f"Command: `{raw['command']}` (`make bench` runs it with no arguments); "
        f"{raw['bench_minutes']:.0f} min in all. Raw measurements: "
        "`bench/run_bench_raw.json`."
    )
    add("")
    add(
        f"Machine: {mach['nproc']} cores ({mach['cpu']}), {mach['mem_gb']} GB RAM, Linux {mach['kernel']}. "
        f"Python {py.get('python')}: doubleml {py.get('doubleml')}, scikit-learn {py.get('scikit-learn')}, "
        f"numpy {py.get('numpy')}, pandas {py.get('pandas')}, lightgbm {py.get('lightgbm')}, rpy2 {py.get('rpy2')}, "
        f"joblib {py.get('joblib')}. R {r.get('R')}: DoubleML {r.get('DoubleML')}, mlr3 {r.get('mlr3')}, "
        f"mlr3learners {r.get('mlr3learners')}, ranger {r.get('ranger')}, glmnet {r.get('glmnet')}, "
        f"data.table {r.get('data.table')}."
    )
    add("")
    if suite["temporary"]:
        add(
            f"**Suite: the temporary stand-in, not `specs/paper.yaml`.** `specs/paper.yaml` and `data/city_panel.csv` "
            f"did not exist when this bench ran, so it measured `bench/temp_suite.py`'s suite: {suite['n_specs']} specs "
            f"(PLR with two-way fixed effects and rf/lasso/ols learners, region subsamples, a lag, PLIV, IRM, "
            f"clustered) on a generated {suite['n_rows']:,}-row panel (279 units x 13 years, 10 controls). "
            "Re-run `make bench` once the seed suite exists."
        )
    else:
        snap = suite.get("snapshot") or {}
        source = Path(snap.get("source", suite["specs"]))
        files = snap.get("files") or {}
        copied = ", ".join(f"`{_rel(v['source'])}` (sha256 {v['sha256'][:12]}…)" for v in files.values())
        add(
            f"Suite: `{_rel(source)}` (sha256 {snap.get('sha256', '?')[:12]}…), {suite['n_specs']} specs on "
            f"`{Path(suite['data']).name}` ({suite['n_rows']:,} rows). The spec file"
            + (f" and {copied}" if copied else "")
            + f" were copied into the scratch directory at {snap.get('taken', '?')} and every run read the copy "
            f"(`$TMP/{source.name}` in the commands below), so that edits made while the bench ran cannot mix versions."
            + (f" **Data:** {suite['note']}." if suite.get("note") else "")
        )
    add("")
    busy = raw.get("other_processes_at_start") or []
    add(
        "Load: the machine was shared. Each table gives *other CPU*: the cores used by processes outside "
        "the measured one during the measurement (from /proc/stat minus the measured process tree). "
        + (
            f"Busiest other processes when the bench started: {'; '.join(f'`{b}`' for b in busy)}."
            if busy
            else "No other busy process when the bench started."
        )
    )
    add("")
    for note in raw.get("notes") or []:
        add(f"**Note:** {note}")
        add("")
    add(
        f"Repeated measurements use the subset `{','.join(subset)}` (the suite's most common learner families, "
        f"the cheapest spec of each by the full run's own timings; `--only`), {reps} repetitions, medians; the "
        "full suite takes minutes per run and is measured once per configuration. Every tool run has a fresh "
        "`--cache-dir` in a scratch directory and writes its report to a scratch `--out`."
    )
    add("")

    # -- Overhead ------------------------------------------------------------------------------
    add("## Benchmarks: overhead against bare scripts (target ≤ 1.05×)")
    add("")
    so = raw["subset_overhead"]
    t_sub, p_sub, r_sub = med(_walls(so["tool"])), med(_walls(so["python"])), med(_walls(so["r"]))
    add(
        "Tool: `dml-parity run --no-cache --jobs 1 --quiet` (both engines, learner-free refit, comparison, "
        "report). Bare: `bench/bare_python.py` (plain `doubleml`, learners from `harness.learners`' registry) "
        "plus `Rscript r_scripts/bare_dml.R` (plain `DoubleML`/mlr3, the registry's mlr3 keys and parameters), on the "
        "design matrices and folds `harness.runner.prepare()` builds, exported to CSV/JSON before timing "
        "(the tool builds them itself inside its time). Bare R runs with `OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1`, "
        "as the tool's embedded R does."
    )
    add("")
    add("| workload | tool (s) | bare Python (s) | bare R (s) | bare total (s) | ratio tool / bare | other CPU (cores) | runs |")
    add("|---|---|---|---|---|---|---|---|")
    fb = raw.get("full_bare")
    if fb:
        bare_full = fb["python"]["wall_s"] + fb["r"]["wall_s"]
        add(
            f"| full suite ({suite['n_specs']} specs) | {full1['wall_s']:.1f} | {fb['python']['wall_s']:.1f} | "
            f"{fb['r']['wall_s']:.1f} | {bare_full:.1f} | **{full1['wall_s'] / bare_full:.3f}** | "
            f"{_other([full1, fb['python'], fb['r']])} | 1 |"
        )
    add(
        f"| subset ({len(subset)} specs) | {t_sub:.1f} | {p_sub:.1f} | {r_sub:.1f} | {p_sub + r_sub:.1f} | "
        f"**{t_sub / (p_sub + r_sub):.3f}** | {_other(so['tool'] + so['python'] + so['r'])} | {reps} (tool: "
        f"{_fmt_list(_walls(so['tool']))}; py: {_fmt_list(_walls(so['python']))}; R: {_fmt_list(_walls(so['r']))}) |"
    )
    add("")
    add("Commands (first repetition):")
    add("")
    for m in ([full1, fb["python"], fb["r"]] if fb else []) + [so["tool"][0], so["python"][0], so["r"][0]]:
        add(f"- {m['label']}: {_cmd(m, suite)}")
    add("")
    checks = [("full suite", fb["coef_check"])] if fb else []
    checks.append(("subset", so["coef_check"]))
    add(
        "Same work: the bare scripts' coefficients equal the tool's "
        + "; ".join(f"{name}: max relative difference Python {c['python']:.1e}, R {c['r']:.1e}" for name, c in checks)
        + "."
    )
    add("")
    sub_ratio = t_sub / (p_sub + r_sub)
    if fb:
        bare_full = fb["python"]["wall_s"] + fb["r"]["wall_s"]
        fits_t = sum(spec_cost_raw(full1, i) for i in full1["extra"]["specs"])
        fits_b = sum(s["fit_s"] for k in ("python", "r") for s in fb[k]["extra"]["specs"])
        normalised = 1 + ((full1["wall_s"] - fits_t) - (bare_full - fits_b)) / bare_full
        full_ok = max(full1["wall_s"] / bare_full, normalised) <= 1.05
        verdict = (
            f"{'met' if full_ok else 'missed'} on the full suite (measured {full1['wall_s'] / bare_full:.3f}×, "
            f"fit-normalised {normalised:.3f}×, see below), {'met' if sub_ratio <= 1.05 else 'missed'} on the "
            f"{len(subset)}-spec subset ({sub_ratio:.3f}×)"
        )
    else:
        verdict = f"{'met' if sub_ratio <= 1.05 else 'missed'} on the {len(subset)}-spec subset ({sub_ratio:.3f}×)"
    add(f"Target ≤ 1.05×: **{verdict}**.")
    add("")
    add(_overhead_explanation(raw))
    add("")

    # -- Parallel --------------------------------------------------------------------------------
    add("## Benchmarks: parallel gain, `--jobs 2` vs `--jobs 1` (target ≥ 1.8×)")
    add("")
    sets = _parallel_sets(raw)
    add(
        "| measured | workload | --jobs 1 (s) | --jobs 2 (s) | speed-up | bound from spec granularity "
        "| other CPU (cores) j1 / j2 | runs |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for name, ps in sets:
        p1, p2, bal = ps["full_jobs1"], ps["full_jobs2"], ps["balanced"]
        b1, b2 = med(_walls(bal["jobs1"])), med(_walls(bal["jobs2"]))
        add(
            f"| {name} | full suite ({suite['n_specs']} specs) | {p1['wall_s']:.1f} | {p2['wall_s']:.1f} | "
            f"**{p1['wall_s'] / p2['wall_s']:.2f}×** | {_granularity_bound(p1):.2f}× | "
            f"{p1['other_cores']:.2f} / {p2['other_cores']:.2f} | 1 |"
        )
        add(
            f"| {name} | balanced: 4 copies of `{ps['balanced_spec']}` | {b1:.1f} | {b2:.1f} | **{b1 / b2:.2f}×** | "
            f"2.00× | {_other(bal['jobs1'])} / {_other(bal['jobs2'])} | {len(bal['jobs1'])} "
            f"(j1: {_fmt_list(_walls(bal['jobs1']))}; j2: {_fmt_list(_walls(bal['jobs2']))}) |"
        )
    add("")
    first = sets[0][1]
    add(f"- {_cmd(first['full_jobs1'], suite)}")
    add(f"- {_cmd(first['full_jobs2'], suite)}")
    add(
        f"- balanced: the same with `--specs $TMP/balanced.yaml` (the spec `{first['balanced_spec']}` four times under "
        "new ids, claim blocks dropped), `--jobs 1` and `--jobs 2`."
    )
    for name, rerun in sets[1:]:
        same = (rerun.get("snapshot") or {}).get("sha256") == (raw["suite"].get("snapshot") or {}).get("sha256")
        add(
            f"- {name}: `{rerun['command']}`, started {rerun.get('started', '?')} (the same runs, later, to see the effect "
            "of the machine's load; "
            + ("same spec file" if same else f"**spec file changed since**: sha256 {rerun['snapshot'].get('sha256', '?')[:12]}…")
            + ")."
        )
    add("")
    add(_parallel_explanation(sets))
    add("")

    # -- Cache -----------------------------------------------------------------------------------
    add("## Benchmarks: cached re-run vs first run (target ≤ 2 %)")
    add("")
    cached = raw["cached_full"]
    hits = [m for m in cached if not _refitted(m)]
    c_med = med(_walls(hits or cached))
    add(
        f"First run: the full suite's `--jobs 1` run above ({full1['wall_s']:.1f} s; `--no-cache` with a fresh "
        "`--cache-dir`, which fits every spec and fills that cache). Re-run: "
        f"{_cmd(cached[0], suite)}."
    )
    add("")
    add("| measured | first run (s) | cached re-run (s), median | runs | ratio | other CPU (cores) first / cached |")
    add("|---|---|---|---|---|---|")
    add(
        f"| bench run | {full1['wall_s']:.1f} | {c_med:.2f} | {_fmt_list(_walls(hits or cached))} | "
        f"**{100 * c_med / full1['wall_s']:.1f} %** | {full1['other_cores']:.2f} / {_other(hits or cached)} |"
    )
    best = (c_med / full1["wall_s"], "bench run")
    for k, rerun in enumerate(raw.get("cache_reruns") or []):
        r_hits = [m for m in rerun["cached"] if not _refitted(m)] or rerun["cached"]
        r_med, first = med(_walls(r_hits)), rerun["first"]
        name = f"again #{k + 1}"
        add(
            f"| {name} | {first['wall_s']:.1f} | {r_med:.2f} | {_fmt_list(_walls(r_hits))} | "
            f"**{100 * r_med / first['wall_s']:.1f} %** | {first['other_cores']:.2f} / {_other(r_hits)} |"
        )
        if first["other_cores"] + med([m["other_cores"] for m in r_hits]) < 0.4:
            best = (r_med / first["wall_s"], name)
    add("")
    misses = [m for m in cached if _refitted(m)]
    if misses:
        add(
            "Left out of the median: "
            + "; ".join(
                f"{m['label']} ({m['wall_s']:.1f} s) refitted {len(_refitted(m))} of {len(m['extra']['specs'])} specs"
                for m in misses
            )
            + ". Its cache keys did not match the first run's entries (the tool's code or inputs changed between the "
            "runs), so it refitted and refilled the cache, and the runs after it were served from the cache."
        )
        add("")
    for k, rerun in enumerate(raw.get("cache_reruns") or []):
        add(
            f"again #{k + 1}: `{rerun['command']}`, started {rerun.get('started', '?')}: a first run "
            f"{_cmd(rerun['first'], suite)} into a fresh cache dir, then the re-runs above with that `--cache-dir`."
        )
        add("")
    add(
        _profile_table(
            raw["cached_profile"],
            "Where a cached re-run's time goes (one run under cProfile, "
            f"{raw['cached_profile']['wall_s']:.1f} s wall with profiling):",
        )
    )
    add("")
    add(_cache_explanation(raw, best))
    add("")

    # -- Memory and growth -------------------------------------------------------------------------
    add("## Benchmarks: peak memory and growth with rows and specs")
    add("")
    add(
        "Peak memory of full-suite runs (`/usr/bin/time -v` maximum resident set: the largest single process; "
        "tree peak: the largest sum of RSS over the process and its workers, sampled every 0.1 s, shared pages "
        "counted once per process):"
    )
    add("")
    add("| run | wall (s) | max RSS, one process (MB) | tree peak RSS (MB) |")
    add("|---|---|---|---|")
    for m in (full1, raw["full_jobs2"]):
        add(f"| {_cmd(m, suite)} | {m['wall_s']:.1f} | {m['maxrss_mb'] or float('nan'):.0f} | {m['tree_peak_mb']:.0f} |")
    add("")
    add(_rows_table(raw))
    add("")
    add(_nspecs_table(raw))
    add("")
    add(END)
    return "\n".join(lines)


def spec_cost_raw(m: dict, spec_id: str) -> float:
    s = m["extra"]["specs"][spec_id]
    return float(s.get("python_s") or 0.0) + float(s.get("r_s") or 0.0)


def _profile_table(prof: dict[str, Any], title: str) -> str:
    rows = [title, "", "| part | seconds |", "|---|---|"]
    parts = prof["parts"]
    main_s = parts.get(PROFILE_PARTS[("harness/cli.py", "main")], 0.0)
    rows.append(
        f"| outside cli.main: interpreter start, `import harness.cli`, exit (R shutdown, profile dump) | "
        f"{prof['wall_s'] - main_s:.2f} |"
    )
    for label in PROFILE_PARTS.values():
        if label in parts:
            rows.append(f"| {label} | {parts[label]:.2f} |")
    return "\n".join(rows)


def _part(prof: dict[str, Any], key: tuple[str, str]) -> float:
    return prof["parts"].get(PROFILE_PARTS[key], 0.0)


def _overhead_explanation(raw: dict[str, Any]) -> str:
    """Side-by-side accounting of the subset's wall times: where the tool's extra seconds go."""
    so, subset, prof = raw["subset_overhead"], raw["subset"], raw["subset_profile"]
    t_wall = med(_walls(so["tool"]))
    t_fits = med([sum(spec_cost_raw(m, i) for i in subset) for m in so["tool"]])
    t_prep = _part(prof, ("harness/runner.py", "prepare"))
    t_lf = _part(prof, ("harness/runner.py", "_learner_free"))
    t_cmp = sum(
        _part(prof, k)
        for k in [("harness/compare.py", "compare"), ("harness/claims.py", "judge_claims"), ("harness/runner.py", "cache_key")]
    )
    t_rep = _part(prof, ("harness/cli.py", "write_run"))
    t_rest = t_wall - t_fits - t_prep - t_lf - t_cmp - t_rep
    b_wall = med(_walls(so["python"])) + med(_walls(so["r"]))
    b_fits = sum(med([sum(s["fit_s"] for s in m["extra"]["specs"]) for m in so[k]]) for k in ("python", "r"))
    b_read = sum(med([sum(s["read_s"] for s in m["extra"]["specs"]) for m in so[k]]) for k in ("python", "r"))
    b_rest = b_wall - b_fits - b_read
    rows = [
        ("start-up, imports, exit (the rest of the wall time)", t_rest, b_rest),
        ("designs and folds from the raw CSV / reading the exported CSV and JSON", t_prep, b_read),
        ("fits, Python + R (tool: its `python_s` + `r_s`, R's with conversions)", t_fits, b_fits),
        ("learner-free refit (Python's score on R's predictions)", t_lf, 0.0),
        ("comparison, claim checks, cache keys", t_cmp, 0.0),
        ("results.json and report (md, html, csv, forest.png)", t_rep, 0.0),
    ]
    out = [
        f"Where the subset's seconds go (medians of the runs above; the tool's non-fit parts from one run under "
        f"cProfile, {prof['wall_s']:.1f} s wall with profiling):",
        "",
        "| part | tool (s) | bare Python + bare R (s) | tool − bare (s) |",
        "|---|---|---|---|",
    ]
    out += [f"| {label} | {t:.2f} | {b:.2f} | {t - b:+.2f} |" for label, t, b in rows]
    out.append(f"| **total** | **{t_wall:.2f}** | **{b_wall:.2f}** | **{t_wall - b_wall:+.2f}** |")
    startup = raw.get("startup") or []
    if startup:
        out += [
            "",
            f"Start-up pieces, each a separate process (median of {len(startup[0]['walls'])}):",
            "",
            "| process | wall (s) |",
            "|---|---|",
        ]
        out += [f"| {row['label']} | {row['median_s']:.2f} |" for row in startup]
        if len(startup) >= 9:
            rpy2, session, rscript, libs, learners, lgbm = (startup[i]["median_s"] for i in (3, 4, 5, 6, 7, 8))
            out += [
                "",
                f"The tool's embedded R is ready after {session:.1f} s; bare R's `Rscript` + `library()` after "
                f"{libs:.1f} s. Of the {session - libs:+.1f} s, {learners - libs:.1f} s is loading the learners' "
                f"namespaces up front (bare R loads them lazily inside its first fit, which is why its fits look "
                f"slower above), {lgbm - learners:.1f} s lightgbm and the project's LightGBM learners, and the rest "
                f"rpy2 and the engine script (`import rpy2.robjects` alone: {rpy2:.1f} s, against {rscript:.1f} s for "
                "an empty `Rscript`). The tool pays it once per process, however many specs it runs.",
            ]
    out += ["", _profile_table(prof, "The profiled subset run in full:")]
    fb = raw.get("full_bare")
    if fb:
        full1 = raw["full_jobs1"]
        fits_full = sum(spec_cost_raw(full1, i) for i in full1["extra"]["specs"])
        bare_fits = sum(s["fit_s"] for k in ("python", "r") for s in fb[k]["extra"]["specs"])
        bare_wall = fb["python"]["wall_s"] + fb["r"]["wall_s"]
        out += [
            "",
            f"Full suite: the tool's fits take {fits_full:.1f} s of its {full1['wall_s']:.1f} s (everything else "
            f"{full1['wall_s'] - fits_full:.1f} s); the bare scripts' fits take {bare_fits:.1f} s of their "
            f"{bare_wall:.1f} s (everything else {bare_wall - bare_fits:.1f} s). The fits are the same computations "
            "(same numbers, see above), so a gap between the two fit totals is the machine's noise plus the tool's "
            "conversions into R. The load-robust comparison is the time outside the fits: the tool spends "
            f"{(full1['wall_s'] - fits_full) - (bare_wall - bare_fits):+.1f} s more than the bare scripts there, "
            f"{100 * ((full1['wall_s'] - fits_full) - (bare_wall - bare_fits)) / bare_wall:+.1f} % of the bare total "
            f"(a fit-normalised ratio of {1 + ((full1['wall_s'] - fits_full) - (bare_wall - bare_fits)) / bare_wall:.3f}).",
        ]
    return "\n".join(out)


def _parallel_sets(raw: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The parallel measurements: the bench's own and, if made, a later re-measurement."""
    sets = [
        (
            "bench run",
            {
                "full_jobs1": raw["full_jobs1"],
                "full_jobs2": raw["full_jobs2"],
                "balanced": raw["balanced"],
                "balanced_spec": raw["balanced_spec"],
            },
        )
    ]
    reruns = raw.get("parallel_reruns") or ([raw["parallel_rerun"]] if raw.get("parallel_rerun") else [])
    for k, rerun in enumerate(reruns):
        sets.append((f"again #{k + 1}" if len(reruns) > 1 else "again", rerun))
    return sets


def _granularity_bound(full1: dict[str, Any]) -> float:
    costs = [spec_cost_raw(full1, i) for i in full1["extra"]["specs"]]
    return sum(costs) / greedy_makespan(costs)


def _parallel_explanation(sets: list[tuple[str, dict[str, Any]]]) -> str:
    # Explain with the quietest measurement: other processes' load is not the tool's doing.
    name, ps = min(sets, key=lambda kv: kv[1]["full_jobs2"]["other_cores"] + kv[1]["full_jobs1"]["other_cores"])
    full1, full2, bal = ps["full_jobs1"], ps["full_jobs2"], ps["balanced"]
    gain = full1["wall_s"] / full2["wall_s"]
    b_gain = med(_walls(bal["jobs1"])) / med(_walls(bal["jobs2"]))
    costs = {i: spec_cost_raw(full1, i) for i in full1["extra"]["specs"]}
    biggest = max(costs, key=costs.get)
    j2 = full2["extra"]["specs"]
    fits1 = sum(costs.values())
    fits2 = sum(spec_cost_raw(full2, i) for i in j2)
    span2 = greedy_makespan([spec_cost_raw(full2, i) for i in j2])
    target = "met" if min(gain, b_gain) >= 1.8 else ("met on the balanced workload only" if b_gain >= 1.8 else "missed")
    gains = "; ".join(
        f"{n}: full suite {p['full_jobs1']['wall_s'] / p['full_jobs2']['wall_s']:.2f}×, balanced "
        f"{med(_walls(p['balanced']['jobs1'])) / med(_walls(p['balanced']['jobs2'])):.2f}×"
        for n, p in sets
    )
    lines = [
        f"Target ≥ 1.8×: **{target}** ({gains}; judged on the {'quieter ' if len(sets) > 1 else ''}{name} measurement).",
        "",
        f"Bound from spec granularity: the sequential run's per-spec fit times dispatched in file order to the "
        f"first free of two workers (joblib's order); the largest spec, `{biggest}`, takes {costs[biggest]:.1f} s of "
        f"{fits1:.1f} s. Each worker process starts its own Python and embedded R (and the parent starts R too, for "
        "the package versions in the cache key); those start-ups run in parallel but are not shortened.",
        "",
        f"Full suite ({name}): the fits add up to {fits1:.1f} s at `--jobs 1` and {fits2:.1f} s at `--jobs 2` (each "
        f"spec's own `python_s` + `r_s`; ×{fits2 / fits1:.2f} when two fits share the machine's two cores with "
        f"whatever other processes take). Time outside the fits: {full1['wall_s'] - fits1:.1f} s at `--jobs 1`, "
        f"{full2['wall_s'] - span2:.1f} s at `--jobs 2` (wall minus the two workers' fit makespan, {span2:.1f} s). "
        f"Other processes used {full1['other_cores']:.2f} / {full2['other_cores']:.2f} cores during these two runs: "
        "on a 2-core machine every core another process takes is one the second worker does not get.",
    ]
    lines += ["", _parallel_model(sets)]
    return "\n".join(lines)


def _parallel_model(sets: list[tuple[str, dict[str, Any]]], quiet: float = 0.2) -> str:
    """An estimate for an idle machine, from the balanced runs that ran while the machine was quiet.

    wall(jobs 1) = F1 + sum of fits; wall(jobs 2) = F2 + c * makespan of the fits on two workers,
    where F are the fixed costs (start-up, report) and c the slowdown of a fit when two run at once."""
    f1, f2, c = [], [], []
    for _name, ps in sets:
        for m1, m2 in zip(ps["balanced"]["jobs1"], ps["balanced"]["jobs2"], strict=False):
            if m1["other_cores"] > quiet or m2["other_cores"] > quiet:
                continue
            fits1 = [spec_cost_raw(m1, i) for i in m1["extra"]["specs"]]
            fits2 = [spec_cost_raw(m2, i) for i in m2["extra"]["specs"]]
            f1.append(m1["wall_s"] - sum(fits1))
            f2.append(m2["wall_s"] - greedy_makespan(fits2))
            c.append(sum(fits2) / sum(fits1))
    if not f1:
        return "No balanced run pair ran on a quiet machine (other CPU ≤ 0.2 cores), so no idle-machine estimate."
    F1, F2, C = med(f1), med(f2), med(c)
    full1 = sets[0][1]["full_jobs1"]
    costs = [spec_cost_raw(full1, i) for i in full1["extra"]["specs"]]
    est = (F1 + sum(costs)) / (F2 + C * greedy_makespan(costs))
    span = greedy_makespan(costs)
    at_c1 = (F1 + sum(costs)) / (F2 + span)
    bound = sum(costs) / span
    # Fits (s) a suite of this granularity needs for 1.8x at c = 1: F1 + W = 1.8 (F2 + W / bound).
    need = (1.8 * F2 - F1) / (1 - 1.8 / bound) if bound > 1.8 else float("inf")
    c_max = ((F1 + sum(costs)) / 1.8 - F2) / span
    return (
        f"Estimate for an idle machine, from the {len(f1)} balanced run pair(s) with other CPU ≤ {quiet} cores: fixed "
        f"costs F1 = {F1:.1f} s at `--jobs 1` and F2 = {F2:.1f} s at `--jobs 2` (the parent starts R before dispatching, "
        f"then each worker imports doubleml and starts its own R), and a fit runs ×{C:.2f} slower when two run at once. "
        f"With the full suite's sequential fit times ({sum(costs):.0f} s, makespan on two workers "
        f"{greedy_makespan(costs):.0f} s) that gives (F1 + fits) / (F2 + c·makespan) = **{est:.2f}×**. "
        f"At c = 1 it would be {at_c1:.2f}× (a suite of this granularity needs ≥ {need:.0f} s of fits for 1.8× at "
        f"c = 1); with these fixed costs, 1.8× needs c ≤ {c_max:.2f}."
    )


def _refitted(m: dict[str, Any]) -> list[str]:
    """Specs a run that should have been served from the cache fitted anyway."""
    return [i for i, spec in m["extra"]["specs"].items() if not spec.get("cached")]


def _cache_explanation(raw: dict[str, Any], best: tuple[float, str]) -> str:
    ratio, name = best
    parts = raw["cached_profile"]["parts"]
    r_start = parts.get(PROFILE_PARTS[("harness/engines/r_engine.py", "__init__")], 0.0)
    report = parts.get(PROFILE_PARTS[("harness/cli.py", "write_run")], 0.0)
    verdict = "met" if ratio <= 0.02 else "missed"
    return (
        f"Target ≤ 2 %: **{verdict}** ({100 * ratio:.1f} %, {name}; a quiet measurement when there is one). A cached "
        f"re-run still starts the embedded R to read the package versions that are part of every cache key "
        f"({r_start:.1f} s profiled), re-reads the CSV and rebuilds every design and fold (also part of the key), and "
        f"renders the whole report ({report:.1f} s); no fit runs. These are fixed costs: the ratio falls as the "
        "suite's fits grow."
    )


def _rows_table(raw: dict[str, Any]) -> str:
    rows, subset = raw["rows"], raw["subset"]
    n = raw["suite"]["n_rows"]
    out = [
        f"Growth with rows: the subset `{','.join(subset)}` with `--data` pointing to the panel replicated k times "
        "(new unit ids, N(0, (0.01 sd)²) noise on continuous columns; `bench/run_bench.py: replicate_panel`), "
        "`--no-cache --jobs 1`. 1× is the overhead benchmark's subset runs (the spec file's own data).",
        "",
        "| rows | spec | n_obs | Python fit (s) | R fit (s) | spec total (s) | ×1× |",
        "|---|---|---|---|---|---|---|",
    ]
    base: dict[str, float] = {}
    walls = []
    for key in ("1", "4", "16"):
        if key not in rows:
            continue
        ms = rows[key]
        walls.append(
            f"{key}× ({n * int(key):,} rows): {med(_walls(ms)):.1f} s wall" + (f" ({len(ms)} runs)" if len(ms) > 1 else "")
        )
        for spec_id, s in ms[0]["extra"]["specs"].items():
            py_s = med([m["extra"]["specs"][spec_id]["python_s"] for m in ms])
            r_s = med([m["extra"]["specs"][spec_id]["r_s"] for m in ms])
            total = py_s + r_s
            base.setdefault(spec_id, total)
            out.append(
                f"| {key}× | `{spec_id}` | {s['n_obs']:,} | {py_s:.2f} | {r_s:.2f} | {total:.2f} | {total / base[spec_id]:.1f} |"
            )
    out += ["", "Whole runs: " + "; ".join(walls) + "."]
    if rows.get("16_skipped"):
        pred = rows["16_predicted_s"]
        out.append(
            "At 16× skipped (predicted fit time from the 1×→4× growth above `--rows-budget`): "
            + ", ".join(f"`{i}` (~{pred[i]:.0f} s)" for i in rows["16_skipped"])
            + "."
        )
    if "4" in rows:
        out.append(f"Command: {_cmd(rows['4'][0], raw['suite'])}")
    return "\n".join(out)


def _nspecs_table(raw: dict[str, Any]) -> str:
    ns = raw["nspecs"]
    out = [
        "Growth with the number of specs: 1, 2 and 4 copies of the subset in a derived spec file (copies keep "
        "their designs and seeds, so each copy is the same work), `--no-cache --jobs 1`:",
        "",
        "| specs | wall (s) | fits (s) | outside the fits (s) | wall per spec (s) |",
        "|---|---|---|---|---|",
    ]
    for key in sorted(ns, key=int):
        ms = ns[key]
        wall = med(_walls(ms))
        fits = med([sum(spec_cost_raw(m, i) for i in m["extra"]["specs"]) for m in ms])
        out.append(f"| {key} | {wall:.1f} | {fits:.1f} | {wall - fits:.1f} | {wall / int(key):.2f} |")
    keys = sorted(ns, key=int)
    if len(keys) >= 2:
        lo, hi = keys[0], keys[-1]
        slope = (med(_walls(ns[hi])) - med(_walls(ns[lo]))) / (int(hi) - int(lo))
        intercept = med(_walls(ns[lo])) - slope * int(lo)
        out += ["", f"Linear fit through {lo} and {hi} specs: {intercept:.1f} s fixed + {slope:.2f} s per spec."]
    return "\n".join(out)


def write_section(text: str) -> None:
    """Replace this script's block in RESULTS.md, or insert it above the other scripts' sections."""
    current = RESULTS_MD.read_text(encoding="utf-8") if RESULTS_MD.exists() else "# Benchmark results\n"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = head + text + tail
    elif OTHER_SECTION in current:
        head, tail = current.split(OTHER_SECTION, 1)
        new = head.rstrip("\n") + "\n\n" + text + "\n\n" + OTHER_SECTION + tail
    else:
        new = current.rstrip("\n") + "\n\n" + text + "\n"
    tmp = RESULTS_MD.with_suffix(".md.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, RESULTS_MD)


if __name__ == "__main__":
    sys.exit(main())
