"""Benchmarks of dml-parity (issue 4 §4): overhead against bare scripts, parallel gain, cached
re-runs, peak memory and growth with rows and with the number of specs.

    .venv/bin/python bench/overhead/run_bench.py                  # the full bench (42 min on a busy 2-core machine)
    .venv/bin/python bench/overhead/run_bench.py --quick          # one repetition, no 16x rows, no full-suite bare scripts
    .venv/bin/python bench/overhead/run_bench.py --specs other.yaml --data other.csv
    .venv/bin/python bench/overhead/run_bench.py --remeasure-parallel bench/overhead/run_bench_raw.json   # parallel gain again
    .venv/bin/python bench/overhead/run_bench.py --render bench/overhead/run_bench_raw.json [--note TEXT]  # re-render only

Every number is the wall time of a subprocess as a user would start it (the tool's own command
line, ``bench/common/bare_python.py``, ``Rscript r_scripts/bare_dml.R``), timed from outside. The bare scripts
fit the design matrices and folds that ``harness.running.runner.prepare()`` builds, exported here as CSV and
JSON, so both sides do the same fits. Results go into ``bench/RESULTS.md`` (between this script's
markers, above the sections other scripts own) and the raw measurements into
``bench/overhead/run_bench_raw.json``.

This script is the command line and the order of the measurements; the work is in
``bench/common/measure.py`` (timing a command, the tool and bare-script runs, profiles, the machine),
``bench/common/inputs.py`` (suite snapshot, exports, derived spec files, bigger panels),
``bench/overhead/analyse.py`` (numbers derived from measurements) and ``bench/overhead/render.py`` with
``bench/overhead/render_parts.py`` (the RESULTS.md sections).
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common.inputs import derived_spec_file, export_for_bare, replicate_panel, resolve_suite  # noqa: E402
from bench.common.measure import Measure, Runner, machine_info, med, other_processes, startup_costs  # noqa: E402
from bench.overhead.analyse import coef_check, pick_balanced, pick_subset, spec_cost  # noqa: E402
from bench.overhead.render import RESULTS_MD, render, write_section  # noqa: E402
from harness.language.spec import load_spec_file  # noqa: E402

BENCH = ROOT / "bench"
RAW_JSON = BENCH / "overhead" / "run_bench_raw.json"


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
        return _publish(raw, args.no_write)
    reps = args.reps or (1 if args.quick else 3)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="dmlp_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    command = shlex.join([".venv/bin/python", "bench/overhead/run_bench.py", *(argv if argv is not None else sys.argv[1:])])
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
    return _publish(raw, args.no_write, args.raw)


def _publish(raw: dict[str, Any], no_write: bool, raw_path: Optional[Path] = None) -> int:
    """Print the rendered sections, or write them into RESULTS.md."""
    text = render(raw)
    if no_write:
        print(text)
    else:
        write_section(text)
        print(f"wrote {RESULTS_MD}" + (f" and {raw_path}" if raw_path else ""))
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

    sub_tool = _measure_overhead(args, runner, raw, full1, reps)
    _measure_cache(runner, raw, full1, reps)
    _measure_parallel(runner, raw, full1, reps)
    _measure_growth(args, runner, raw, sub_tool)
    raw["paths"] = {"balanced_yaml": "derived: 4 copies of the balanced spec", "workdir": str(workdir)}
    return raw


def _measure_overhead(args: argparse.Namespace, runner: Runner, raw: dict[str, Any], full1: Measure, reps: int) -> list[Measure]:
    """Overhead against the bare scripts: the full suite once, the subset ``reps`` times; a profile and
    the start-up pieces. Returns the subset's tool runs (the 1x point of both growth studies)."""
    suite, subset, workdir = runner.suite, raw["subset"], runner.workdir
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
    return sub_tool


def _measure_cache(runner: Runner, raw: dict[str, Any], full1: Measure, reps: int) -> None:
    """Cached re-runs of the full suite, served from the first run's cache, and one profiled."""
    suite = runner.suite
    # 3. Cached re-runs of the full suite against the first run above.
    print(f"cached re-runs of the full suite x{reps} ...", flush=True)
    cache_full = Path(full1.extra["cache_dir"])
    cached = cached_runs(runner, cache_full, reps)
    raw["cached_full"] = [asdict(m) for m in cached]
    prof_args = [*suite.tool_args(), "--jobs", "1", "--quiet", "--cache-dir", str(cache_full), "--out", str(runner.fresh("out"))]
    raw["cached_profile"] = runner.profiled("tool full cached profiled", prof_args)


def _measure_parallel(runner: Runner, raw: dict[str, Any], full1: Measure, reps: int) -> None:
    """Parallel gain: the full suite at --jobs 2, a balanced workload at --jobs 1 and 2."""
    suite, workdir = runner.suite, runner.workdir
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


def _measure_growth(args: argparse.Namespace, runner: Runner, raw: dict[str, Any], sub_tool: list[Measure]) -> None:
    """Growth with rows (the subset on the panel replicated 4x and 16x) and with the number of specs."""
    suite, subset, workdir = runner.suite, raw["subset"], runner.workdir
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


if __name__ == "__main__":
    sys.exit(main())
