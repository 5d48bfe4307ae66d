"""Two workers do twice the work (issue 24): what kept a worker idle is gone. Every worker of a
``--jobs`` run and of a Dask cluster starts its R at once, the run's own work waits for the
workers rather than they for it, a small fit skips R's full garbage collection, and the command
does not trace every object on its way out."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.running import parallel
from tests.faults import ROOT, env, write_specs


def _quiet_run(args: list) -> int:
    return main([str(a) for a in [*args, "--no-cache", "--quiet"]])


@pytest.mark.r
def test_every_jobs_worker_starts_before_the_versions_probe(tmp_path: Path, generated_csv: Path, monkeypatch) -> None:
    """Before: the second worker was started after the first had started R and answered the
    probe, and began its fits 0.8 s late."""
    events: list[str] = []

    class Recorded(parallel._Worker):
        def __init__(self, *args, **kwargs) -> None:
            events.append("worker")
            super().__init__(*args, **kwargs)

        def send(self, request) -> bool:
            events.append("versions" if request and request[0] == "versions" else "fit" if request else "stop")
            return super().send(request)

    monkeypatch.setattr(parallel, "_Worker", Recorded)
    specs = write_specs(tmp_path, generated_csv)
    assert _quiet_run(["run", "--specs", specs, "--out", tmp_path / "out", "--jobs", "2", "--only", "a_ols,c_irm"]) == 0
    assert events[:3] == ["worker", "worker", "versions"], events
    assert events.count("worker") == 2, events


def test_a_free_worker_gets_its_next_spec_before_the_result_is_stored(tmp_path: Path, generated_csv: Path, monkeypatch) -> None:
    """Before: the run stored each result (and loaded the report's modules) while the worker
    that returned it waited for its next spec."""
    from harness.running.cache import ResultCache

    events: list[str] = []

    class Recorded(parallel._Worker):
        def send(self, request) -> bool:
            if request and request[0] == "fit":
                events.append(f"send {request[1].spec.id}")
            return super().send(request)

    store = ResultCache.store

    def recorded_store(self, key, result, outputs) -> None:
        events.append(f"store {result['id']}")
        store(self, key, result, outputs)

    monkeypatch.setattr(parallel, "_Worker", Recorded)
    monkeypatch.setattr(ResultCache, "store", recorded_store)
    specs = write_specs(tmp_path, generated_csv)
    args = ["run", "--specs", specs, "--out", tmp_path / "out", "--jobs", "1", "--engines", "python"]
    assert main([str(a) for a in [*args, "--cache-dir", tmp_path / "cache", "--quiet", "--only", "a_ols,c_irm"]]) == 4
    assert events == ["send a_ols", "send c_irm", "store a_ols", "store c_irm"], events


class ProbeOrder:
    """A scheduler plugin: the order in which the run's tasks reach the scheduler and finish,
    and the workers the run sent each to."""

    name = "dml-parity-probe-order"

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.asked: dict[str, list[str]] = {}  # the workers the run sent each task to
        self.loose: list[str] = []  # tasks that may run elsewhere should those workers be busy or gone

    def update_graph(self, scheduler, *, keys, **kwargs) -> None:
        mine = [str(k) for k in keys if str(k).startswith("dml-parity-")]
        self.events += [("submitted", k) for k in mine]
        for k in mine:
            task = scheduler.tasks.get(k)
            self.asked[k] = sorted(task.worker_restrictions or ()) if task is not None else []
            if task is not None and task.loose_restrictions:
                self.loose.append(k)

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if str(key).startswith("dml-parity-") and finish == "memory":
            self.events.append(("finished", str(key)))


def test_every_dask_worker_is_probed_at_once_and_the_first_specs_spread(tmp_path: Path, generated_csv: Path) -> None:
    """Before: one worker was probed, the others only after it answered; and the scheduler gave
    the first two specs to the worker that had answered while the other still started."""
    from dask.distributed import Client, LocalCluster
    from distributed.diagnostics.plugin import SchedulerPlugin

    plugin = type("Plugin", (ProbeOrder, SchedulerPlugin), {})()
    specs = write_specs(tmp_path, generated_csv)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        cluster.scheduler.add_plugin(plugin)
        with Client(cluster) as client:  # both registered (on a busy machine the second may come later)
            client.wait_for_workers(2, timeout=60)
        workers = sorted(cluster.scheduler_info["workers"])
        args = ["run", "--specs", specs, "--engines", "python", "--scheduler", cluster.scheduler_address]
        assert _quiet_run([*args, "--out", tmp_path / "out", "--only", "a_ols,c_irm"]) == 4
    events = plugin.events
    probes = [key for what, key in events if what == "submitted" and "-versions-" in key]
    first_finished = next(i for i, (what, _) in enumerate(events) if what == "finished")
    assert len(probes) == 2 and all(events.index(("submitted", key)) < first_finished for key in probes), events
    fits = [key for what, key in events if what == "submitted" and "-versions-" not in key]
    # Sent to different workers, and to run only there (the probes alone may run elsewhere).
    assert len(fits) == 2 and sorted(w for key in fits for w in plugin.asked[key]) == workers, (plugin.asked, workers)
    assert plugin.loose == probes, plugin.loose


@pytest.mark.r
def test_a_small_fit_skips_r_full_garbage_collection(generated_csv: Path, monkeypatch) -> None:
    """Before: a full collection after every fit, 0.22 CPU-s of a 0.9 CPU-s replicate."""
    from harness.design.table import build_design, draw_folds
    from harness.engines import r_engine
    from harness.language.spec import DatasetSpec, Spec

    calls: list[bool] = []
    collect = r_engine.RSession.collect_garbage

    def recorded(self, full: bool = True) -> None:
        calls.append(full)
        collect(self, full)

    monkeypatch.setattr(r_engine.RSession, "collect_garbage", recorded)
    spec = Spec(id="s", model="plr", y="y", d="d", x=["x1", "x2", "x3"], learner="ols")
    small = build_design(spec, pd.read_csv(generated_csv), DatasetSpec(), "generated")
    result = r_engine.fit_r(spec, small, draw_folds(small, 3, 1, 3))
    assert result.se > 0 and calls == [False]
    # A design of a million values or more is followed by the full collection (its vectors may be old).
    rows = 1_000_000 // len(small.frame.columns) + 1
    large = pd.concat([small.frame] * (rows // len(small.frame) + 1), ignore_index=True)
    assert r_engine.full_collection(dataclasses.replace(small, frame=large))


def test_the_command_freezes_its_objects_before_it_ends_and_a_caller_keeps_them(tmp_path: Path) -> None:
    """The interpreter's finalisation traced every object of the report's and the engines'
    modules: 0.6-2.4 s after the report, on the shared 2-core machine."""
    code = "import gc, sys; from harness.cli import main; main(SPEC); print(gc.get_freeze_count() > 0)"
    args = ["run", "--specs", str(tmp_path / "absent.yaml"), "--out", str(tmp_path / "out")]
    as_command = code.replace("SPEC", "").replace("import gc, sys;", f"import gc, sys; sys.argv = ['dml-parity', *{args!r}];")
    proc = subprocess.run([sys.executable, "-c", as_command], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "True" and proc.stderr.startswith("dml-parity: error:"), proc.stderr
    as_caller = code.replace("SPEC", repr(args))
    proc = subprocess.run([sys.executable, "-c", as_caller], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr


@pytest.mark.r
def test_an_r_fit_off_the_main_thread_makes_no_python_event_calls(generated_csv: Path, monkeypatch) -> None:
    """Before: a 500-row forest fit called rpy2's "process events" hook, a Python callback that
    takes the GIL and a lock, about 8,000 times, also in a Dask task thread (where it can do
    nothing, and waits for the worker's other threads). The main thread keeps it: there it turns a
    Ctrl-C into R's interrupt."""
    import threading

    import rpy2.rinterface_lib.callbacks as callbacks

    from harness.design.table import build_design, draw_folds
    from harness.engines import r_engine
    from harness.language.spec import DatasetSpec, Spec

    spec = Spec(id="s", model="plr", y="y", d="d", x=["x1", "x2", "x3"], learner={"name": "rf", "n_estimators": 20})
    design = build_design(spec, pd.read_csv(generated_csv), DatasetSpec(), "generated")
    folds = draw_folds(design, 3, 1, 3)
    calls = {"main": 0, "thread": 0}
    where = ["main"]

    def counted() -> None:
        calls[where[0]] += 1

    monkeypatch.setattr(callbacks, "processevents", counted)
    on_main = r_engine.fit_r(spec, design, folds)
    where[0] = "thread"
    off_main: list = []
    thread = threading.Thread(target=lambda: off_main.append(r_engine.fit_r(spec, design, folds)))
    thread.start()
    thread.join()
    assert calls["main"] > 100 and calls["thread"] == 0, calls
    assert off_main[0].coef == on_main.coef and off_main[0].se == on_main.se  # the same fit, to the bit
    from rpy2.rinterface_lib import openrlib

    assert openrlib.rlib.ptr_R_ProcessEvents != openrlib.ffi.NULL  # given back after the fit


def test_dask_workers_are_probed_while_the_run_reads_its_input(tmp_path: Path, generated_csv: Path, monkeypatch) -> None:
    """Before: the probe (a cold worker's R start and imports, 3-5 CPU-s) was sent only after the
    spec and data had been read and checked, about 2 s of the run's own start-up."""
    from dask.distributed import LocalCluster

    from harness.running import dask_cluster, runner

    events: list[str] = []
    probe, load = dask_cluster.Cluster._probe, runner.load_spec_file

    def recorded_probe(self, worker):
        events.append("probe")
        return probe(self, worker)

    def recorded_load(*args, **kwargs):
        events.append("read")
        return load(*args, **kwargs)

    monkeypatch.setattr(dask_cluster.Cluster, "_probe", recorded_probe)
    monkeypatch.setattr(runner, "load_spec_file", recorded_load)
    specs = write_specs(tmp_path, generated_csv)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        args = ["run", "--specs", specs, "--engines", "python", "--scheduler", cluster.scheduler_address]
        assert _quiet_run([*args, "--out", tmp_path / "out", "--only", "a_ols"]) == 4
    assert events == ["probe", "probe", "read"], events


def test_a_returned_spec_does_not_wait_for_a_worker_list_round_trip(tmp_path: Path, generated_csv: Path, monkeypatch) -> None:
    """Before: every spec that returned made the run ask the scheduler for each worker's thread
    count (a round trip) before the freed worker got its next spec."""
    from dask.distributed import Client, LocalCluster

    from harness.running import dask_cluster

    asked: list[int] = []
    nthreads = Client.nthreads

    def counted(self, *args, **kwargs):
        asked.append(1)
        return nthreads(self, *args, **kwargs)

    monkeypatch.setattr(Client, "nthreads", counted)
    monkeypatch.setattr(dask_cluster, "WORKERS_S", 600.0)
    specs = write_specs(tmp_path, generated_csv)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        args = ["run", "--specs", specs, "--engines", "python", "--scheduler", cluster.scheduler_address]
        assert _quiet_run([*args, "--out", tmp_path / "out"]) == 4  # three specs, one worker: three returns
    assert len(asked) == 1, asked
