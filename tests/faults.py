"""Helpers for the fault tests: the CLI as a real process in its own process group, its progress
lines as they come, and what it leaves running."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parents[1]

# Three cheap specs; b_slow's forest is slow enough that a signal sent when it starts arrives mid-fit.
SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: a_ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: b_slow, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 100}}
  - {id: c_irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}}
"""


def write_specs(folder: Path, data: Path) -> Path:
    path = folder / "s.yaml"
    path.write_text(SPECS.replace("DATA", str(data)), encoding="utf-8")
    return path


def env(**extra: str) -> dict:
    # The worker processes and the CLI import this checkout's harness, not an installed one.
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **extra}


class Run:
    """``dml-parity ARGS`` in its own session (its process group is what a terminal's Ctrl-C hits).

    ``on_line(run, line)`` is called with each stderr line as it arrives (progress lines are
    plain lines off a terminal).
    """

    def __init__(
        self,
        args: list,
        on_line: Optional[Callable[[Run, str], None]] = None,
        cwd: Optional[Path] = None,
        tmpdir: Optional[Path] = None,
    ) -> None:
        self.lines: list[str] = []
        self.stdout = ""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.cli", *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env(TMPDIR=str(tmpdir)) if tmpdir is not None else env(),
            cwd=cwd or ROOT,
            start_new_session=True,
        )
        self.pgid = self.proc.pid
        self.on_line = on_line
        self._readers = [threading.Thread(target=target, daemon=True) for target in (self._read_err, self._read_out)]
        for reader in self._readers:
            reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            if self.on_line is not None:
                self.on_line(self, line)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        self.stdout = self.proc.stdout.read()

    def wait(self, timeout: float = 240) -> int:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pgid, signal.SIGKILL)
            raise AssertionError(f"the run did not end in {timeout} s; it printed:\n{self.stderr}") from None
        for reader in self._readers:
            reader.join(10)
        return self.proc.returncode

    @property
    def stderr(self) -> str:
        return "".join(self.lines)


def live_in_group(pgid: int) -> list[str]:
    """Processes of a process group that are still running (zombies are dead), by a /proc scan."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state, ppid, pgrp, ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            out.append(f"{entry}: {cmdline[:120]}")
    return out


def nothing_left(pgid: int, within: float = 10.0) -> list[str]:
    """The group's live processes after ``within`` seconds at most (multiprocessing's resource
    tracker leaves once it sees its run gone, a moment after the run)."""
    deadline = time.monotonic() + within
    while True:
        left = live_in_group(pgid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def descendants(pid: int) -> list[int]:
    """The process's descendants (a run's workers, a nanny's worker and its forkserver), by a /proc scan."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out + [grand for child in out for grand in descendants(child)]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def worker_of(line: str, spec_id: str) -> Optional[int]:
    """The worker pid in a progress line ``fitting SPEC (...) in worker PID`` (``--jobs``) or
    ``... in Dask worker ADDRESS (pid PID)``."""
    match = re.search(rf"fitting {re.escape(spec_id)} \(.*\) in (?:worker |Dask worker \S+ \(pid )(\d+)", line)
    return int(match.group(1)) if match else None


def read_results(out: Path) -> dict:
    return json.loads((out / "results.json").read_text(encoding="utf-8"))
