"""--jobs and --scheduler give the numbers a sequential run gives; progress output by context."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from harness.running.progress import Progress
from harness.running.runner import RunOptions, run, stable_view

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 2}
specs:
  - {id: ols, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols}
  - {id: rf, model: plr, y: y, d: d, x: [x1, x2, x3], learner: {name: rf, n_estimators: 20}}
  - {id: irm, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: ols, ml_m: logit}}
"""


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory, generated_csv: Path) -> Path:
    path = tmp_path_factory.mktemp("par") / "s.yaml"
    path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sequential(spec_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    # Fitted in this process: worker processes must not change a number.
    cache = tmp_path_factory.mktemp("cache")
    return stable_view(run(RunOptions(specs=spec_path, use_cache=False, cache_dir=cache, in_process=True)))


@pytest.mark.r
def test_jobs_2_equals_sequential(spec_path: Path, sequential: dict, tmp_path: Path) -> None:
    parallel = stable_view(run(RunOptions(specs=spec_path, use_cache=False, jobs=2, cache_dir=tmp_path)))
    assert parallel["specs"] == sequential["specs"]
    assert {s["status"] for s in parallel["specs"]} <= {"agree", "explained"}


@pytest.mark.r
def test_dask_scheduler_equals_sequential(spec_path: Path, sequential: dict, tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        options = RunOptions(specs=spec_path, use_cache=False, scheduler=cluster.scheduler_address, cache_dir=tmp_path)
        distributed = stable_view(run(options))
    assert distributed["specs"] == sequential["specs"]


def test_progress_plain_lines_off_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream)
    progress.begin(2, cached=1)
    progress.started("a", ("python", "r"))
    progress.finished("a", "agree")
    progress.end()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "1 fit from the cache (judged again by this run), 2 to fit"
    assert lines[1].startswith("[0/2] fitting a (python, r) elapsed")
    assert lines[2].startswith("[1/2] a: agree elapsed") and "eta" in lines[2]
    assert "\r" not in stream.getvalue()


def test_progress_rewrites_one_line_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream, live=True)
    progress.begin(1, cached=0)
    progress.started("a", ("python",))
    progress.finished("a", "not-run")
    progress.end()
    text = stream.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1


def test_a_note_is_a_whole_line_even_on_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream=stream, live=True)
    progress.begin(1, cached=0)
    progress.started("a", ("python",), "worker 42")
    note = "worker 42 died (signal 9) while fitting a_spec_id_that_is_rather_long_indeed; retrying it in another worker"
    progress.note(note)
    assert stream.getvalue().endswith("\r" + note + "\n")
    assert "in worker 42" in stream.getvalue()
