"""Where a tool run's memory goes: the process's RSS sampled every 20 ms during one run with its
fits in this process (``DMLP_IN_PROCESS=1``), with marks at the start and end of each step (issue 14).

    .venv/bin/python bench/growth/growth_memory.py SPEC_FILE CSV

Prints, per mark, the RSS at the mark and the peak since the previous mark.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from harness import cli  # noqa: E402
from harness.engines import python_engine, r_engine  # noqa: E402
from harness.running import parallel, runner  # noqa: E402
from harness.verdict import compare_extended  # noqa: E402

# Marked where the run calls them (functions imported at call time are patched on their module).
STEPS = [
    (runner, "prepare"),
    (parallel, "run_one"),
    (r_engine, "fit_r"),
    (python_engine, "fit_python"),
    (compare_extended, "judge"),
    (cli, "write_run"),
]


def main(spec_file: str, csv: str) -> None:
    process = psutil.Process()
    samples: list[tuple[float, float]] = []
    marks: list[tuple[float, str]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), process.memory_info().rss / 2**20))
            time.sleep(0.02)

    def marked(module, name: str) -> None:
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            marks.append((time.perf_counter(), f"start {name}"))
            try:
                return real(*args, **kwargs)
            finally:
                marks.append((time.perf_counter(), f"end {name}"))

        setattr(module, name, wrapper)

    for module, name in STEPS:
        marked(module, name)
    threading.Thread(target=sample, daemon=True).start()
    start = time.perf_counter()
    # The fits in this process, where the marks see them (a run's workers are other processes).
    os.environ["DMLP_IN_PROCESS"] = "1"
    with tempfile.TemporaryDirectory() as scratch:
        cli.main(
            [
                "run",
                "--specs",
                spec_file,
                "--data",
                csv,
                "--no-cache",
                "--quiet",
                "--cache-dir",
                f"{scratch}/c",
                "--out",
                f"{scratch}/o",
            ]
        )
    stop.set()
    previous = start
    print("| time (s) | mark | RSS at mark (MB) | peak since previous mark (MB) |\n|---|---|---|---|")
    for at, label in marks:
        now = next((mb for t, mb in reversed(samples) if t <= at), float("nan"))
        peak = max((mb for t, mb in samples if previous <= t <= at), default=now)
        print(f"| {at - start:.1f} | {label} | {now:.0f} | {peak:.0f} |")
        previous = at
    print(f"\npeak {max(mb for _, mb in samples):.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
