"""Replicate throughput (issues 12, 24): one replicated workload run with ``--jobs 1``, ``--jobs 2``
and ``--scheduler`` on a Dask cluster of one and of two workers, each from a cold start and an empty
cache, in alternating order, timed from outside. The cluster is started as the README tells users
to start one: a ``dask scheduler`` and ``dask worker --nthreads 1`` processes (each with its
nanny), on 127.0.0.1, started anew for each cluster size in each round, serving two runs in a row
(the first meets workers that start R; the second, "next run", workers that have it, as a
long-lived cluster's do), and stopped by PID after them; and the same processes with Dask's default
configuration and no preload, for comparison. Peak memory is the sampled sum
of RSS over every process of the run (for Dask: the command's tree and the cluster's processes);
CPU is the CPU-seconds the run's processes used during it (for Dask: also the scheduler's, the
nannies' and the workers', counted from the run's start).

    .venv/bin/python bench/replicates/replicate_throughput.py                 # 2 rounds, 24 replicates
    .venv/bin/python bench/replicates/replicate_throughput.py --rounds 3 --replicates 40
    .venv/bin/python bench/replicates/replicate_throughput.py --render        # rewrite its RESULTS.md section only

Results are ratios to ``--jobs 1`` (this machine has 2 cores shared with other work: each
measurement records the CPU the rest of the machine used meanwhile, in cores). Raw numbers go to
``bench/replicates/replicate_throughput_raw.json``, the tables to this script's section of ``bench/RESULTS.md``
(between its begin and end markers; the rest of the file is left as it is).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import psutil

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.common.sampling import TreeSampler, busy_seconds  # noqa: E402

PY = ROOT / ".venv" / "bin" / "python"
PY = PY if PY.exists() else Path(sys.executable)  # a worktree without its own environment
DASK = PY.with_name("dask")
RAW = ROOT / "bench" / "replicates" / "replicate_throughput_raw.json"
MARKDOWN = ROOT / "bench" / "RESULTS.md"
BEGIN = "<!-- replicate_throughput.py: begin (generated; edit bench/replicates/replicate_throughput.py instead) -->"
END = "<!-- replicate_throughput.py: end -->"

# How often the run's and the cluster's memory is sampled. Every 0.1 s the sampling took 46-62 ms
# of CPU per second over a two-worker cluster's 8 processes (10-11 ms every 0.5 s): CPU a
# two-worker run on two cores has to give up and a one-worker run takes from the idle core.
SAMPLE_S = 0.5

# The workload: fresh generated data per replicate, forests in both languages (the replicate
# pool's typical task: a few seconds of Python and R each).
WORKLOAD = """
dataset:
  generator: {{name: make_plr_CCDDHNR2018, n_obs: 500, dim_x: 10, alpha: 0.5}}
defaults: {{model: plr, y: y, d: d, x: [X1, X2, X3, X4, X5, X6, X7, X8, X9, X10], n_folds: 3, seed: 4, truth: alpha}}
specs:
  - {{id: plr_forest, learner: {{name: rf, n_estimators: 50, max_depth: 6}}, replicates: {{n: {n}, vary: data}}}}
"""


def run_arguments(specs: Path, out: Path, cache: Path, args: list[str]) -> list[str]:
    """The benchmarks' ``dml-parity run`` arguments: the workload, a fresh output folder and cache,
    quiet, and ``args`` (``--jobs N`` or ``--scheduler ADDRESS``)."""
    return ["run", "--specs", str(specs), "--out", str(out), "--cache-dir", str(cache), "--quiet", *args]


def _run(label: str, args: list[str], specs: Path, extra_roots: list[int], n: int) -> dict[str, Any]:
    out = Path(tempfile.mkdtemp(prefix="dmlp_rt_out_"))
    cache = Path(tempfile.mkdtemp(prefix="dmlp_rt_cache_"))
    cmd = [str(PY), "-m", "harness.cli", *run_arguments(specs, out / "run", cache, args)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    load = os.getloadavg()[0]
    uptime = _uptime()
    cpu0 = tree_cpu(extra_roots)  # the cluster's processes existed before the run
    children0 = _children_cpu()
    busy0 = busy_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler([proc.pid, *extra_roots], interval=SAMPLE_S)
    sampler.start()
    _, stderr = proc.communicate()
    wall = time.perf_counter() - start
    sampler.stop_event.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{label}: exit {proc.returncode}: {stderr[-2000:]}")
    # The run's process and the workers it waited for, as the kernel counts them; the cluster's
    # processes existed before the run: only their CPU during it counts.
    cluster = tree_cpu(extra_roots)
    own = _children_cpu() - children0 + sum(cluster[pid] - cpu0.get(pid, 0.0) for pid in cluster)
    results = json.loads((out / "run" / "results.json").read_text(encoding="utf-8"))
    block = results["specs"][0]["replicates"]
    row = {
        "label": label,
        "wall_s": round(wall, 2),
        "replicates_per_min": round(60 * n / wall, 2),
        "peak_rss_mb": round(sampler.peak / 2**20, 1),
        "own_cpu_s": round(own, 1),
        "other_cores": round(max(0.0, (busy_seconds() - busy0 - own) / wall), 2),
        "load1_start": round(load, 2),
        "uptime_start": uptime,
        "uptime_end": _uptime(),
        "coef_sum": sum(block["python"]["coef"]) + sum(block["r"]["coef"]),
        "fits_s": round(_fit_seconds(results["specs"][0]["timings"]), 1),
    }
    print(f"  {label}: {row}", flush=True)
    return row


def _fit_seconds(timings: dict) -> float:
    """The run's fits as its workers timed them (Python and R, every replicate): the work itself,
    apart from what the run, the pool or the cluster adds around it."""
    return timings["python_s"] + timings["r_s"] + timings["replicates"]["python_s"] + timings["replicates"]["r_s"]


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _children_cpu() -> float:
    """CPU-seconds of this process's children that have ended and were waited for, and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(roots: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) of each process under ``roots``, by PID."""
    out = {}
    for root in roots:
        for proc in [psutil.Process(root), *psutil.Process(root).children(recursive=True)]:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            out[proc.pid] = times.user + times.system
    return out


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DaskCluster:
    """``dask scheduler`` and ``size`` ``dask worker --nthreads 1`` processes, as the README starts
    them (``readme``; ``settings`` for other environment settings than the README's; else with
    Dask's defaults and no preload); stopped by PID (SIGTERM to each
    process and its descendants, then SIGKILL). ``start_s``: from the first process's start to all
    workers joined (with the preload, their R started)."""

    def __init__(self, size: int, readme: bool = True, settings: Optional[dict[str, str]] = None) -> None:
        from harness.engines.r_engine import r_library
        from harness.running.dask_worker_setup import PRELOAD, SETTINGS

        port = _free_port()
        self.address = f"tcp://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "DMLP_RLIB": str(r_library()), "R_LIBS": str(r_library())}
        env.update((SETTINGS if settings is None else settings) if readme else {})  # settings: another bench's variant
        local = ["--host", "127.0.0.1", "--no-dashboard"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "cwd": ROOT}
        started = time.perf_counter()
        self.processes = [subprocess.Popen([str(DASK), "scheduler", "--port", str(port), *local], **quiet)]
        worker = [str(DASK), "worker", self.address, "--nthreads", "1", *local, *(PRELOAD if readme else [])]
        self.processes += [subprocess.Popen(worker, **quiet) for _ in range(size)]
        from dask.distributed import Client

        with Client(self.address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(size, timeout=120)
        self.start_s = round(time.perf_counter() - started, 2)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        pids = [q.pid for p in self.processes if p.poll() is None for q in psutil.Process(p.pid).children(recursive=True)]
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pid in pids:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)


HOST_FITS = 20  # forests per process in the machine's own two-CPU check before each round (about 4 s in all)
# "dask": a cluster started as the README says; "plain": the same processes with Dask's defaults.
CONFIGS = ("1", "2", "dask1", "dask2", "plain1", "plain2")


def measure_round(specs: Path, n: int, order: list[str]) -> list[dict[str, Any]]:
    rows = []
    for config in order:
        if config.startswith(("dask", "plain")):
            readme = config.startswith("dask")
            size = int(config[-1])  # "dask1": a one-worker cluster, the base of the Dask ratio
            kind = "dask" if readme else "dask (defaults)"
            label = f"{kind}, {size} worker{'s' if size > 1 else ''}"
            cluster = DaskCluster(size, readme)
            try:
                first = _run(label, ["--scheduler", cluster.address], specs, cluster.pids(), n)
                rows.append({**first, "cluster_start_s": cluster.start_s})
                # The same command again on the same cluster, as a team's long-lived cluster serves
                # run after run: its workers' R and modules are loaded already.
                rows.append(_run(f"{label}, next run", ["--scheduler", cluster.address], specs, cluster.pids(), n))
            finally:
                cluster.stop()
        else:
            rows.append(_run(f"--jobs {config}", ["--jobs", config], specs, [], n))
    return rows


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    labels = list(dict.fromkeys(r["label"] for r in rows))
    out = {}
    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        out[label] = {
            "wall_s": statistics.median(r["wall_s"] for r in mine),
            "own_cpu_s": statistics.median(r["own_cpu_s"] for r in mine),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in mine),
            "other_cores": statistics.median(r["other_cores"] for r in mine),
        }
    base = out["--jobs 1"]
    for label, values in out.items():
        values["speed_vs_jobs1"] = base["wall_s"] / values["wall_s"]
        values["memory_vs_jobs1"] = values["peak_rss_mb"] / base["peak_rss_mb"]
        # Two workers against one of the same kind (issue 24 asks >= 1.8x of each).
        one = out.get(_one_worker(label))
        values["speed_vs_one_worker"] = one["wall_s"] / values["wall_s"] if one else float("nan")
    return out


def _one_worker(label: str) -> str:
    """The one-worker run of the same kind: "--jobs 2" -> "--jobs 1", "dask, 2 workers, next run" ->
    "dask, 1 worker, next run"."""
    return "--jobs 1" if label.startswith("--jobs") else label.replace("2 workers", "1 worker")


def _ratio(value: float) -> str:
    return "-" if value != value else f"{value:.2f}x"  # NaN: no one-worker run of that kind


def render(raw: dict[str, Any]) -> str:
    summary = summarise(raw["rows"])
    lines = [
        "## Replicate throughput: `--jobs 1`, `--jobs 2` and a Dask cluster of one and two workers",
        "",
        f"Measured by `.venv/bin/python {raw['command']}` on {raw['machine']} ({raw['date']}): one spec, {raw['n']} replicates "
        "(PLR, forests of 50 trees in both languages, fresh `make_plr_CCDDHNR2018` data of 500 rows per replicate, "
        f"3 folds), {raw['rounds']} rounds in alternating order, each run from a cold start (new workers, new R, "
        "empty cache). Medians over the rounds. Every fit runs in a worker process "
        "(`harness/running/parallel.py`): `--jobs 1` is the run's process and one worker, `--jobs 2` two workers, each with "
        "its own embedded R; with `--scheduler` each replicate is a Dask task on a cluster of `dask scheduler` and one "
        "`dask worker --nthreads 1` per worker (each with its nanny), started anew for each cluster size in each round. "
        "*dask*: the cluster started as the README says (Dask's worker profiler off, its event-loop check every 1 s "
        "instead of 20 ms, and `--preload harness.running.dask_worker_setup`, with which each worker starts its R and "
        "imports the engines as it starts, before it joins: that time is in the cluster's start, the last column of "
        "the second table, not in the run). *dask (defaults)*: the same processes with Dask's default configuration "
        "and no preload; their workers start R at the run's versions probe, sent as the run starts. "
        '"next run" is the same command again on that '
        "cluster (R and modules loaded in its workers, as on a long-lived cluster), its ratio to the next run on "
        "one worker of the same kind. CPU is what the run's processes used during it "
        "(for Dask also the scheduler, the nannies and the workers); *fits* the run's Python and R fits as the workers "
        "timed them (their sum: two fits at once on two cores take longer each when other processes share the cores); "
        "peak memory is the sampled sum of RSS over "
        "the run's process tree and the cluster's. The load each run met is in the second table (`uptime` at its "
        "start and end, and the CPU the rest of the machine used meanwhile).",
        "",
        "| executor | wall (s) | replicates / min | speed vs --jobs 1 | speed vs one worker of its kind "
        "| CPU (s) | peak memory (MB) | memory vs --jobs 1 | other load (cores) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, v in summary.items():
        lines.append(
            f"| {label} | {v['wall_s']:.1f} | {60 * raw['n'] / v['wall_s']:.1f} | {v['speed_vs_jobs1']:.2f}x | "
            f"{_ratio(v['speed_vs_one_worker'])} | {v['own_cpu_s']:.1f} | {v['peak_rss_mb']:.0f} | "
            f"{v['memory_vs_jobs1']:.2f}x | {v['other_cores']:.2f} |"
        )
    lines += [
        "",
        "Every run, in order:",
        "",
        "| round | executor | wall (s) | CPU (s) | fits (s) | peak memory (MB) | other load (cores) | load at start (`uptime`) "
        "| at end | cluster start (s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in raw["rows"]:
        start = _load_text(r.get("uptime_start")) or f"{r['load1_start']:.2f}"
        lines.append(
            f"| {r['round']} | {r['label']} | {r['wall_s']:.1f} | {r['own_cpu_s']:.1f} | {r.get('fits_s', '-')} "
            f"| {r['peak_rss_mb']:.0f} "
            f"| {r['other_cores']:.2f} | {start} | {_load_text(r.get('uptime_end')) or '-'} | {r.get('cluster_start_s', '-')} |"
        )
    lines += ["", _per_round(raw["rows"]), "", *_made_of(raw["rows"], raw["n"], raw.get("host_c"))]
    same = len({round(r["coef_sum"], 12) for r in raw["rows"]}) == 1
    lines += ["", f"All runs gave the same estimates: {'yes' if same else 'NO'}."]
    if raw.get("note"):
        lines += ["", raw["note"]]
    return "\n".join(lines) + "\n"


_DASK_ONE = ("dask, 1 worker", "dask, 1 worker, next run", "dask (defaults), 1 worker", "dask (defaults), 1 worker, next run")
PAIRS = [("--jobs 1", "--jobs 2"), *((one, one.replace("1 worker", "2 workers")) for one in _DASK_ONE)]


def _per_round(rows: list[dict[str, Any]]) -> str:
    """Two workers against one within each round (the machine's speed drifts between rounds; the
    table above takes the medians of each executor's walls)."""
    parts = []
    for one, two in PAIRS:
        ratios = []
        for number in sorted({r["round"] for r in rows}):
            walls = {r["label"]: r["wall_s"] for r in rows if r["round"] == number}
            if one in walls and two in walls:
                ratios.append(walls[one] / walls[two])
        if ratios:
            parts.append(f"{two} against {one}: " + ", ".join(f"{x:.2f}x" for x in ratios))
    return "Two workers against one, round by round: " + "; ".join(parts) + "."


def _made_of(rows: list[dict[str, Any]], n: int, host_c: Optional[list[float]]) -> list[str]:
    """Each round's ratio taken apart: how much longer the fits took with two at once (c), the
    seconds outside the fits, and the ratio the round would have given with c = 1."""
    lines = [
        "What each round's ratio is made of. *c*: the two-worker run's fit seconds over the one-worker run's "
        f"(the same {n} replicates' fits; above 1 when two fits at once slow each other; on cold workers the two "
        "workers' sum holds two first fits, which take longer, against one). *Outside the fits*: the wall time "
        "less the fits, for one worker wall - fits, for two wall - fits / 2 (the run's start and end, each "
        "worker's R start, the waits between specs, the last spec's tail). *At c = 1*: the one-worker wall over "
        "the two-worker run's outside-the-fits seconds plus half the one-worker fits, the ratio the round would "
        "have given had two fits at once run as fast as one. *Machine's c*: measured just before the round "
        "without the tool (`bench/replicates/host_pairs.py`, one block: the same scikit-learn forests on each "
        "CPU alone, then on both at once).",
        "",
        "| round | machine's c | two workers | ratio | c | outside the fits, one worker (s) | two workers (s) | at c = 1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for number in sorted({r["round"] for r in rows}):
        mine = {r["label"]: r for r in rows if r["round"] == number and r.get("fits_s") is not None}
        for one, two in PAIRS:
            if one in mine and two in mine:
                a, b = mine[one], mine[two]
                outside_two = b["wall_s"] - b["fits_s"] / 2
                at_one = a["wall_s"] / (outside_two + a["fits_s"] / 2)
                machine = f"{host_c[number - 1]:.3f}" if host_c else "-"
                lines.append(
                    f"| {number} | {machine} | {two} | {a['wall_s'] / b['wall_s']:.2f}x | {b['fits_s'] / a['fits_s']:.3f} "
                    f"| {a['wall_s'] - a['fits_s']:.2f} | {outside_two:.2f} | {at_one:.2f}x |"
                )
    return lines


def _load_text(uptime: Optional[str]) -> str:
    """``uptime``'s three load averages ("0.15, 1.53, 1.95"), or empty."""
    return uptime.split("load average:")[-1].strip() if uptime and "load average:" in uptime else ""


def write_section(text: str) -> None:
    """Replace this script's section of RESULTS.md (appended the first time), through a temporary
    file and a rename, so an interrupted write leaves the old file."""
    current = MARKDOWN.read_text(encoding="utf-8")
    block = f"{BEGIN}\n\n{text}\n{END}\n"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        current = current.rstrip("\n") + "\n\n" + block
    temporary = MARKDOWN.with_suffix(".md.tmp")
    temporary.write_text(current, encoding="utf-8")
    temporary.replace(MARKDOWN)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--replicates", type=int, default=24)
    parser.add_argument("--render", action="store_true", help="rewrite the RESULTS.md section from the raw file")
    parser.add_argument("--note", help="a line about the machine's state, kept in RESULTS.md")
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    args = parser.parse_args(argv)
    if args.render:
        raw = json.loads(RAW.read_text(encoding="utf-8"))
        if args.note:
            raw["note"] = args.note
            RAW.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
        write_section(render(raw))
        return 0
    specs = Path(tempfile.mkdtemp(prefix="dmlp_rt_")) / "workload.yaml"
    specs.write_text(WORKLOAD.format(n=args.replicates), encoding="utf-8")
    rows = []
    order = [c for c in CONFIGS if c in args.configs.split(",")]
    orders = [order, order[::-1]]
    from bench.replicates.host_pairs import block as host_block

    host = []  # the machine's own two-CPU slowdown before each round (bench/replicates/host_pairs.py)
    for round_number in range(args.rounds):
        print(f"round {round_number + 1}", flush=True)
        host.append(round(host_block(HOST_FITS)["c"], 3))
        for row in measure_round(specs, args.replicates, orders[round_number % 2]):
            rows.append({"round": round_number + 1, **row})
    raw = {
        "command": "bench/replicates/replicate_throughput.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "n": args.replicates,
        "rounds": args.rounds,
        "rows": rows,
        "host_c": host,
        "note": args.note,
    }
    RAW.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    write_section(render(raw))
    print(render(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
