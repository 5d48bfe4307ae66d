"""Rendering, part two: the benchmark sections of ``bench/RESULTS.md`` from the raw measurements,
and the write that replaces them in place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.common.measure import BENCH, med
from bench.overhead.analyse import granularity_bound, parallel_sets, refitted, spec_cost_raw
from bench.overhead.render_parts import (
    cache_explanation,
    command_text,
    fmt_list,
    nspecs_table,
    other_cpu,
    overhead_explanation,
    parallel_explanation,
    profile_table,
    rel_path,
    rows_table,
    wall_times,
)

__all__ = ["BEGIN", "END", "RESULTS_MD", "render", "write_section"]

RESULTS_MD = BENCH / "RESULTS.md"
BEGIN = "<!-- run_bench.py: begin (generated; edit bench/overhead/run_bench.py instead) -->"
END = "<!-- run_bench.py: end -->"
OTHER_SECTION = "## Nonlinear learner pairs (lgbm, svr)"


def render(raw: dict[str, Any]) -> str:
    lines: list[str] = [BEGIN, ""]
    for section in (_setup, _overhead, _parallel, _cache, _memory):
        lines += section(raw)
    lines.append(END)
    return "\n".join(lines)


def _setup(raw: dict[str, Any]) -> list[str]:
    """The set-up: command, machine, suite, load, notes and the repeated subset."""
    mach, suite = raw["machine"], raw["suite"]
    py, r = mach["python"], mach["r"]
    reps = raw["reps"]
    lines: list[str] = []
    add = lines.append
    subset = raw["subset"]

    add("## Benchmarks: set-up")
    add("")
    add(
        f"Command: `{raw['command']}` (`make bench` runs it with no arguments); "
        f"{raw['bench_minutes']:.0f} min in all. Raw measurements: "
        "`bench/overhead/run_bench_raw.json`."
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
            f"did not exist when this bench ran, so it measured `bench/common/temp_suite.py`'s suite: {suite['n_specs']} specs "
            f"(PLR with two-way fixed effects and rf/lasso/ols learners, region subsamples, a lag, PLIV, IRM, "
            f"clustered) on a generated {suite['n_rows']:,}-row panel (279 units x 13 years, 10 controls). "
            "Re-run `make bench` once the seed suite exists."
        )
    else:
        snap = suite.get("snapshot") or {}
        source = Path(snap.get("source", suite["specs"]))
        files = snap.get("files") or {}
        copied = ", ".join(f"`{rel_path(v['source'])}` (sha256 {v['sha256'][:12]}…)" for v in files.values())
        add(
            f"Suite: `{rel_path(source)}` (sha256 {snap.get('sha256', '?')[:12]}…), {suite['n_specs']} specs on "
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
    return lines


def _overhead(raw: dict[str, Any]) -> list[str]:
    """Overhead against bare scripts (target ≤ 1.05×)."""
    suite = raw["suite"]
    reps = raw["reps"]
    lines: list[str] = []
    add = lines.append
    subset = raw["subset"]
    full1 = raw["full_jobs1"]

    add("## Benchmarks: overhead against bare scripts (target ≤ 1.05×)")
    add("")
    so = raw["subset_overhead"]
    t_sub, p_sub, r_sub = med(wall_times(so["tool"])), med(wall_times(so["python"])), med(wall_times(so["r"]))
    add(
        "Tool: `dml-parity run --no-cache --jobs 1 --quiet` (both engines, learner-free refit, comparison, "
        "report). Bare: `bench/common/bare_python.py` (plain `doubleml`, learners from `harness.language.learners`' registry) "
        "plus `Rscript r_scripts/bare_dml.R` (plain `DoubleML`/mlr3, the registry's mlr3 keys and parameters), on the "
        "design matrices and folds `harness.running.runner.prepare()` builds, exported to CSV/JSON before timing "
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
            f"{other_cpu([full1, fb['python'], fb['r']])} | 1 |"
        )
    add(
        f"| subset ({len(subset)} specs) | {t_sub:.1f} | {p_sub:.1f} | {r_sub:.1f} | {p_sub + r_sub:.1f} | "
        f"**{t_sub / (p_sub + r_sub):.3f}** | {other_cpu(so['tool'] + so['python'] + so['r'])} | {reps} (tool: "
        f"{fmt_list(wall_times(so['tool']))}; py: {fmt_list(wall_times(so['python']))}; R: {fmt_list(wall_times(so['r']))}) |"
    )
    add("")
    add("Commands (first repetition):")
    add("")
    for m in ([full1, fb["python"], fb["r"]] if fb else []) + [so["tool"][0], so["python"][0], so["r"][0]]:
        add(f"- {m['label']}: {command_text(m, suite)}")
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
    add(overhead_explanation(raw))
    add("")
    return lines


def _parallel(raw: dict[str, Any]) -> list[str]:
    """Parallel gain, ``--jobs 2`` vs ``--jobs 1`` (target ≥ 1.8×)."""
    suite = raw["suite"]
    lines: list[str] = []
    add = lines.append

    add("## Benchmarks: parallel gain, `--jobs 2` vs `--jobs 1` (target ≥ 1.8×)")
    add("")
    sets = parallel_sets(raw)
    add(
        "| measured | workload | --jobs 1 (s) | --jobs 2 (s) | speed-up | bound from spec granularity "
        "| other CPU (cores) j1 / j2 | runs |"
    )
    add("|---|---|---|---|---|---|---|---|")
    for name, ps in sets:
        p1, p2, bal = ps["full_jobs1"], ps["full_jobs2"], ps["balanced"]
        b1, b2 = med(wall_times(bal["jobs1"])), med(wall_times(bal["jobs2"]))
        add(
            f"| {name} | full suite ({suite['n_specs']} specs) | {p1['wall_s']:.1f} | {p2['wall_s']:.1f} | "
            f"**{p1['wall_s'] / p2['wall_s']:.2f}×** | {granularity_bound(p1):.2f}× | "
            f"{p1['other_cores']:.2f} / {p2['other_cores']:.2f} | 1 |"
        )
        add(
            f"| {name} | balanced: 4 copies of `{ps['balanced_spec']}` | {b1:.1f} | {b2:.1f} | **{b1 / b2:.2f}×** | "
            f"2.00× | {other_cpu(bal['jobs1'])} / {other_cpu(bal['jobs2'])} | {len(bal['jobs1'])} "
            f"(j1: {fmt_list(wall_times(bal['jobs1']))}; j2: {fmt_list(wall_times(bal['jobs2']))}) |"
        )
    add("")
    first = sets[0][1]
    add(f"- {command_text(first['full_jobs1'], suite)}")
    add(f"- {command_text(first['full_jobs2'], suite)}")
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
    add(parallel_explanation(sets))
    add("")
    return lines


def _cache(raw: dict[str, Any]) -> list[str]:
    """Cached re-run vs first run (target ≤ 2 %)."""
    suite = raw["suite"]
    lines: list[str] = []
    add = lines.append
    full1 = raw["full_jobs1"]

    add("## Benchmarks: cached re-run vs first run (target ≤ 2 %)")
    add("")
    cached = raw["cached_full"]
    hits = [m for m in cached if not refitted(m)]
    c_med = med(wall_times(hits or cached))
    add(
        f"First run: the full suite's `--jobs 1` run above ({full1['wall_s']:.1f} s; `--no-cache` with a fresh "
        "`--cache-dir`, which fits every spec and fills that cache). Re-run: "
        f"{command_text(cached[0], suite)}."
    )
    add("")
    add("| measured | first run (s) | cached re-run (s), median | runs | ratio | other CPU (cores) first / cached |")
    add("|---|---|---|---|---|---|")
    add(
        f"| bench run | {full1['wall_s']:.1f} | {c_med:.2f} | {fmt_list(wall_times(hits or cached))} | "
        f"**{100 * c_med / full1['wall_s']:.1f} %** | {full1['other_cores']:.2f} / {other_cpu(hits or cached)} |"
    )
    best = (c_med / full1["wall_s"], "bench run")
    for k, rerun in enumerate(raw.get("cache_reruns") or []):
        r_hits = [m for m in rerun["cached"] if not refitted(m)] or rerun["cached"]
        r_med, first = med(wall_times(r_hits)), rerun["first"]
        name = f"again #{k + 1}"
        add(
            f"| {name} | {first['wall_s']:.1f} | {r_med:.2f} | {fmt_list(wall_times(r_hits))} | "
            f"**{100 * r_med / first['wall_s']:.1f} %** | {first['other_cores']:.2f} / {other_cpu(r_hits)} |"
        )
        if first["other_cores"] + med([m["other_cores"] for m in r_hits]) < 0.4:
            best = (r_med / first["wall_s"], name)
    add("")
    misses = [m for m in cached if refitted(m)]
    if misses:
        add(
            "Left out of the median: "
            + "; ".join(
                f"{m['label']} ({m['wall_s']:.1f} s) refitted {len(refitted(m))} of {len(m['extra']['specs'])} specs"
                for m in misses
            )
            + ". Its cache keys did not match the first run's entries (the tool's code or inputs changed between the "
            "runs), so it refitted and refilled the cache, and the runs after it were served from the cache."
        )
        add("")
    for k, rerun in enumerate(raw.get("cache_reruns") or []):
        add(
            f"again #{k + 1}: `{rerun['command']}`, started {rerun.get('started', '?')}: a first run "
            f"{command_text(rerun['first'], suite)} into a fresh cache dir, then the re-runs above with that `--cache-dir`."
        )
        add("")
    add(
        profile_table(
            raw["cached_profile"],
            "Where a cached re-run's time goes (one run under cProfile, "
            f"{raw['cached_profile']['wall_s']:.1f} s wall with profiling):",
        )
    )
    add("")
    add(cache_explanation(raw, best))
    add("")
    return lines


def _memory(raw: dict[str, Any]) -> list[str]:
    """Peak memory and growth with rows and specs."""
    suite = raw["suite"]
    lines: list[str] = []
    add = lines.append
    full1 = raw["full_jobs1"]

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
        add(f"| {command_text(m, suite)} | {m['wall_s']:.1f} | {m['maxrss_mb'] or float('nan'):.0f} | {m['tree_peak_mb']:.0f} |")
    add("")
    add(rows_table(raw))
    add("")
    add(nspecs_table(raw))
    add("")
    return lines


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
