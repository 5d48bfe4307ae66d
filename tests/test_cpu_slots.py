"""Each fitting process on a CPU of its own (issue 24, harness/running/cpu_slots.py): the workers
of a ``--jobs 2`` run, their R's and ranger's threads included, fit on two different CPUs, and the
numbers are those of an unpinned run; a claim ends with its process, however it ends; a forked
child does not inherit its parent's; nobody is pinned when every CPU is taken or when the user
opts out. Each test claims in a namespace of its own, beside the suite's other runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from harness.running.cpu_slots import NAMESPACE, OPT_OUT
from harness.running.runner import stable_view
from tests.faults import ROOT, Run, descendants, env

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or len(os.sched_getaffinity(0)) < 2, reason="pinning needs Linux and two CPUs"
)

ALL = sorted(os.sched_getaffinity(0))


@pytest.fixture()
def namespace(monkeypatch) -> str:
    name = f"dmlp-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(NAMESPACE, name)
    return name


def _held(namespace: str) -> set[int]:
    """The CPUs claimed in ``namespace`` right now (bound abstract socket names)."""
    prefix = f"@{namespace}-cpu-{os.getuid()}-"
    names = [line.split()[-1] for line in Path("/proc/net/unix").read_text().splitlines()[1:]]
    return {int(n[len(prefix) :]) for n in names if n.startswith(prefix)}


def _python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env=env(), cwd=ROOT, stdout=subprocess.PIPE, text=True, **kwargs
    )


FOREST = """
dataset: {{path: {data}}}
defaults: {{model: plr, y: y, d: d, x: [x1, x2, x3], n_folds: 3, seed: 3}}
specs:
{specs}
"""


def _watch_workers(run: Run) -> dict[int, dict[int, list[int]]]:
    """Every worker process of the run, each thread's affinity, sampled until the run ends."""
    seen: dict[int, dict[int, list[int]]] = {}
    while run.proc.poll() is None:
        for pid in descendants(run.proc.pid):
            try:  # a thread's id is a pid to sched_getaffinity
                threads = {int(t.name): sorted(os.sched_getaffinity(int(t.name))) for t in Path(f"/proc/{pid}/task").iterdir()}
            except OSError:
                continue  # ended meanwhile
            seen.setdefault(pid, {}).update(threads)
        time.sleep(0.05)
    return seen


@pytest.mark.r
def test_two_workers_of_a_run_fit_on_two_cpus_and_give_the_unpinned_numbers(
    tmp_path: Path, generated_csv: Path, namespace: str, monkeypatch
) -> None:
    entries = "\n".join(f"  - {{id: f{k}, learner: {{name: rf, n_estimators: 60}}, seed: {k}}}" for k in range(6))
    specs = tmp_path / "s.yaml"
    specs.write_text(FOREST.format(data=generated_csv, specs=entries), encoding="utf-8")
    outcomes = {}
    for pin in ("1", "0"):
        monkeypatch.setenv(OPT_OUT, pin)
        run = Run(["run", "--specs", specs, "--out", tmp_path / f"out{pin}", "--no-cache", "--quiet", "--jobs", "2"])
        seen = _watch_workers(run)
        assert run.wait() in (0, 1), run.stderr  # 1: a forest's one draw may disagree; not what is tested here
        workers = {pid: threads for pid, threads in seen.items() if len(threads) > 1}  # R's started (not the resource tracker)
        assert len(workers) == 2, seen
        cpus = [{cpu for affinity in threads.values() for cpu in affinity} for threads in workers.values()]
        if pin == "1":  # every thread of a worker, ranger's among them, on that worker's one CPU
            assert all(len(c) == 1 for c in cpus) and cpus[0] != cpus[1], workers
        else:
            assert all(sorted(c) == ALL for c in cpus), workers
        results = json.loads((tmp_path / f"out{pin}" / "results.json").read_text(encoding="utf-8"))
        outcomes[pin] = json.dumps(stable_view(results)["specs"], sort_keys=True)
    assert _held(namespace) == set()  # the workers ended, and their claims with them
    assert outcomes["1"] == outcomes["0"]


CLAIM = """
import os, sys
from harness.running.cpu_slots import claim_cpu
cpu = claim_cpu()
print(cpu, sorted(os.sched_getaffinity(0)), flush=True)
sys.stdin.read()  # holds the claim until told to go
"""


def _claimed(process: subprocess.Popen) -> tuple[str, str]:
    cpu, _, affinity = process.stdout.readline().strip().partition(" ")
    return cpu, affinity


def test_each_process_takes_a_free_cpu_and_none_is_left_for_the_next(namespace: str) -> None:
    holders = [_python(CLAIM, stdin=subprocess.PIPE) for _ in ALL]
    try:
        claimed = [_claimed(h) for h in holders]
        assert sorted(int(cpu) for cpu, _ in claimed) == ALL
        assert all(affinity == f"[{cpu}]" for cpu, affinity in claimed)
        assert _held(namespace) == set(ALL)
        late = _python(CLAIM, stdin=subprocess.PIPE)
        cpu, affinity = _claimed(late)
        late.communicate("")
        assert (cpu, affinity) == ("None", str(ALL))  # every CPU taken: unpinned, where the system puts it
    finally:
        for holder in holders:
            holder.kill()
            holder.wait()


def test_a_killed_holder_frees_its_cpu(namespace: str) -> None:
    holder = _python(CLAIM, stdin=subprocess.PIPE)
    cpu, _ = _claimed(holder)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert int(cpu) not in _held(namespace)
    again = _python(CLAIM, stdin=subprocess.PIPE)
    assert _claimed(again)[0] == cpu  # the first free CPU again: it was given back
    again.communicate("")


def test_a_forked_child_claims_its_own_cpu(namespace: str) -> None:
    code = """
    import os
    from harness.running.cpu_slots import claim_cpu, claimed_cpu
    parent = claim_cpu()
    pid = os.fork()
    if pid == 0:
        inherited = claimed_cpu()
        os.write(1, f"{inherited} {claim_cpu()}\\n".encode())
        os._exit(0)
    os.waitpid(pid, 0)
    print(parent, claimed_cpu())
    """
    out = _python(code).communicate()[0].split("\n")
    child_inherited, child_own = out[0].split()
    parent, parent_after = out[1].split()
    assert child_inherited == "None" and child_own != parent and parent_after == parent, out


def test_opting_out_pins_nothing(namespace: str, monkeypatch) -> None:
    monkeypatch.setenv(OPT_OUT, "0")
    process = _python(CLAIM, stdin=subprocess.PIPE)
    claimed = _claimed(process)
    process.communicate("")
    assert claimed == ("None", str(ALL))
    assert _held(namespace) == set()


WHOLE = """
import os, threading
from harness.running.cpu_slots import claim_cpu
go = threading.Event()
other = threading.Thread(target=go.wait)  # started before the claim, as a Dask worker's event loop is
other.start()
cpu = claim_cpu(whole_process={whole})
print(cpu, sorted(os.sched_getaffinity(other.native_id)), flush=True)
go.set()
"""


@pytest.mark.parametrize("whole", [True, False])
def test_a_dask_worker_pins_its_threads_that_were_there_before_the_claim(namespace: str, whole: bool) -> None:
    """A Dask worker's event loop needs the GIL its task thread holds: left free to run on the other
    worker's busy core, it kept the fit waiting there (so the Dask tasks pin the whole process)."""
    cpu, _, other = _python(WHOLE.format(whole=whole)).communicate()[0].strip().partition(" ")
    assert other == (f"[{cpu}]" if whole else str(ALL))
