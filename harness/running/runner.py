"""Run a spec file: designs and folds first (all input errors surface before any fit), then each
spec through the engines in worker processes (or on a Dask cluster), the comparison and the claim
checks, with a per-spec result cache."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import platform
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from harness.design.data_file import DataRead, read_data, sha256_apart_from, values_sha256
from harness.design.feasibility import check_engines_accept, check_feasible
from harness.design.given_folds import given_folds
from harness.design.nuisance_columns import nuisance_columns
from harness.design.shared_memory import shared_copy, shared_frame
from harness.design.table import Design, build_design, draw_folds
from harness.engines.heap_trim import release_freed_memory
from harness.engines.result import ENGINES
from harness.errors import DataError, HarnessError, SpecError
from harness.language.fold_params import per_fold_keys
from harness.language.learners import draws_at_random
from harness.language.spec import Spec, SpecFile, load_spec_file
from harness.language.tolerances import loosened
from harness.output.arrays import pair_digest
from harness.running.cache import ResultCache, cache_key, default_cache_dir
from harness.running.fit import PreparedSpec, python_versions, run_one
from harness.running.progress import Progress

__all__ = [
    "SCHEMA",
    "PreparedSpec",
    "RunOptions",
    "default_cache_dir",
    "exit_code",
    "parse_engines",
    "prepare",
    "python_versions",
    "run",
    "run_one",
    "stable_view",
]

SCHEMA = "dml-parity/results/2"  # rows and folds in arrays.npz beside results.json (harness.output.arrays)


def parse_engines(text: str) -> tuple[str, ...]:
    """``--engines``: a comma-separated subset of python and r."""
    engines = tuple(e.strip() for e in text.split(",") if e.strip())
    unknown = [e for e in engines if e not in ENGINES]
    if unknown or not engines:
        raise HarnessError(f"--engines: unknown engine '{unknown[0] if unknown else text}' (python, r)")
    return engines


@dataclass(frozen=True)
class RunOptions:
    specs: Path
    data: Optional[Path] = None
    only: Optional[list[str]] = None
    engines: tuple[str, ...] = ENGINES
    jobs: int = 1
    scheduler: Optional[str] = None
    cache_dir: Optional[Path] = None
    use_cache: bool = True
    command: str = ""
    # --replicates N: n for every statistical-tier spec (harness/running/replicate_tasks.py).
    replicates: Optional[int] = None
    progress: Optional[Progress] = field(default=None, compare=False)
    # spec id -> a fitted model's own numbers, used as that spec's Python side (harness.compare).
    python_given: Optional[dict] = field(default=None, compare=False)
    # Fit in this process instead of worker processes: for profiling and debugging only (a crash
    # in a fit then ends the run). No CLI flag: users always get workers.
    in_process: bool = False


def _data_path(spec_file: SpecFile, override: Optional[Path]) -> Optional[Path]:
    """The data file, or None when the spec file draws its data with a generator."""
    if override is not None:
        return override
    if spec_file.dataset.generator is not None:
        return None
    if not spec_file.dataset.path:
        raise DataError(f"{spec_file.path}: dataset.path is not set and no --data was given")
    return (spec_file.path.parent / spec_file.dataset.path).resolve()


def _truth(spec_file: SpecFile, data_override: Optional[Path]) -> dict:
    """True effects of a synthetic data set; a user's own data has none (--data: none applies)."""
    if data_override is not None:
        return {}
    if spec_file.dataset.generator is not None:
        from harness.design.generated import GENERATORS, true_effect

        generator = spec_file.dataset.generator
        truth, where = {GENERATORS[generator["name"]][1]: true_effect(generator)}, "the generator's true effects"
    elif spec_file.dataset.truth:
        path = spec_file.path.parent / spec_file.dataset.truth
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"{path}: cannot read truth file ({err.__class__.__name__})") from None
        truth, where = stored.get("effects", stored), f"the truth file {path}"
    else:
        truth, where = {}, ""
    for spec in spec_file.specs:  # a key that names no effect would leave the truth column empty without a word
        if spec.truth is not None and spec.truth not in truth:
            said = (
                f"'{spec.truth}' is not in {where} (it holds {', '.join(sorted(map(str, truth)))})"
                if where
                else "the dataset has no true effects (neither dataset.truth nor a generator)"
            )
            raise SpecError(f"{spec_file.path}: spec '{spec.id}' field 'truth': {said}")
    return truth


def prepare(spec_file: SpecFile, data_path: Optional[Path], share: bool = False) -> list[PreparedSpec]:
    """Designs and folds of every spec; any input error is raised here, before a fit.

    ``data_path`` None: each spec's data is drawn by the spec file's generator with the spec's seed.
    ``share``: hold the designs and folds in memory the run's worker processes map rather than
    receive a copy of (harness.design.shared_memory)."""
    return prepare_recorded(spec_file, data_path, share)[0]


def prepare_recorded(spec_file: SpecFile, data_path: Optional[Path], share: bool = False) -> tuple[list[PreparedSpec], dict]:
    """:func:`prepare`, and the provenance of the data it read: the fingerprint of the bytes
    parsed, taken as they were read (a file changed or removed while the run fits changes nothing)."""
    read = read_data(data_path, spec_file.dataset) if data_path is not None else None
    record = _data_provenance(spec_file, data_path, read)
    data = read.frame if read is not None else None
    del read
    where = _where(spec_file, data_path)
    out = []
    tables: dict[str, tuple] = {}
    for spec in spec_file.specs:
        frame = data if data is not None else _generated(spec_file, spec.seed)
        design = build_design(spec, frame, spec_file.dataset, where)
        if spec.folds:
            folds = given_folds(spec, frame, design, where)
        else:
            folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed, where, spec.id)
        check_feasible(spec, design, folds, where)
        design = _one_copy(design, tables, share)
        if share:
            folds = dataclasses.replace(folds, labels=shared_copy(folds.labels))
        out.append(PreparedSpec(spec, design, folds))
    del data
    release_freed_memory(at_least=0)  # the CSV's parse buffers and the design steps' copies (once a run)
    return out, record


def _one_copy(design: Design, tables: dict[str, tuple], share: bool) -> Design:
    """Specs with the same table (columns, values and rows: robustness checks that change only the
    learner or the folds) hold one copy of it, in shared memory when ``share``."""
    digest = hashlib.sha256(json.dumps([str(c) for c in design.frame.columns]).encode())
    for column in design.frame.columns:  # column by column: no n x p copy
        digest.update(np.ascontiguousarray(design.frame[column].to_numpy(dtype=float)))
    digest.update(np.ascontiguousarray(design.rows))
    key = digest.hexdigest()
    if key not in tables:
        tables[key] = (shared_frame(design.frame), shared_copy(design.rows)) if share else (design.frame, design.rows)
    frame, rows = tables[key]
    return dataclasses.replace(design, frame=frame, rows=rows)


def _where(spec_file: SpecFile, data_path: Optional[Path]) -> str:
    return str(data_path) if data_path is not None else f"generator {spec_file.dataset.generator['name']}"


def _generated(spec_file: SpecFile, seed: int):
    from harness.design.generated import generate

    try:
        return generate(spec_file.dataset.generator, seed)
    except ValueError as err:
        raise SpecError(f"{spec_file.path}: dataset field '{str(err).split(':')[0]}': {str(err).split(': ', 1)[1]}") from None


def _data_provenance(spec_file: SpecFile, data_path: Optional[Path], read: Optional[DataRead]) -> dict:
    if data_path is not None and read is not None:
        record = {"path": _display_path(data_path), "sha256": read.sha256, "values_sha256": values_sha256(read.frame)}
        folds = sorted({c for spec in spec_file.specs for c in spec.folds or []})
        if folds:  # a baseline check can then tell new folds from new data
            record.update(fold_columns=folds, sha256_apart_from_folds=sha256_apart_from(read.frame, folds))
        return record
    from harness.design.generated import generated_sha256

    seeds = sorted({spec.seed for spec in spec_file.specs})
    frames = [_generated(spec_file, seed) for seed in seeds]
    return {"generator": dict(spec_file.dataset.generator), "seeds": seeds, "sha256": generated_sha256(frames)}


def _display_path(path: Path) -> str:
    """Relative to the working directory when below it, so clones in other folders give equal results."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def run(options: RunOptions) -> dict:
    """Run the spec file and return the results dict (not yet written)."""
    engines = tuple(e for e in ENGINES if e in options.engines)
    progress = options.progress or Progress(stream=io.StringIO(), live=False)
    with _executor(options, engines, progress) as executor:
        # A Dask cluster's workers (already running: the user's) start R and import the engines
        # now, while this process reads the input; no --jobs worker starts before the input is
        # checked, so bad input never starts R for nothing.
        executor.warm()
        spec_file = load_spec_file(options.specs, options.only)
        cache = ResultCache(options.cache_dir or default_cache_dir(), serve=options.use_cache)
        results: dict[int, dict] = {}
        data_path = _data_path(spec_file, options.data)
        truth = _truth(spec_file, options.data)
        prepared, data_record = prepare_recorded(spec_file, data_path, share=_shares_memory(options))
        for p in prepared:  # not in prepare: `versions` fits releases that accept them
            check_engines_accept(p.spec, p.design, engines, _where(spec_file, data_path))
        given = options.python_given or {}
        prepared = [dataclasses.replace(p, python_given=given.get(p.spec.id)) for p in prepared]
        # Replicates: every fit of the run (all replicates of all specs) is one task of one pool.
        plan = _replicate_plan(spec_file, prepared, options, data_path)
        tasks = plan.tasks
        # Every worker the fits can use starts now, together: each starts its R while the first
        # answers the versions probe (one started after that probe began its fits about 0.8 s late).
        executor.start(len(tasks))
        versions = executor.versions()
        keys = [cache_key(p, versions, engines) for p in tasks]
        todo, served, refitted = _look_up(cache, tasks, keys, progress)

        def started(i: int, where: str) -> None:  # where: "worker PID", or a Dask worker's address
            progress.started(tasks[i].spec.id, engines, where)
            _ready_report()

        def finished(i: int, result: dict) -> None:
            # Stored as each spec finishes, so an interrupted run keeps what it did. The cache
            # keeps the engines' outputs, never the verdict.
            outputs = result.pop("engine_outputs", None)
            cache.store(keys[i], result, outputs)
            results[i] = {**result, "timings": {**result["timings"], "cached": False}, **_cache_mark(i, refitted)}
            progress.finished(tasks[i].spec.id, result.get("status", "?"))

        progress.begin(len(todo), len(served))
        try:
            executor.run(tasks, todo, started, finished)
        finally:
            progress.end()

    results.update(_judged_served(tasks, served))

    from harness.verdict.claims import judge_claims
    from harness.verdict.summary import summarize

    # A spec with several treatments gives one row per treatment (harness.verdict.treatment_rows).
    specs_out = judge_claims([row for i, p in enumerate(prepared) for row in _spec_outcome(plan, i, p, results, truth, options)])
    return {
        "schema": SCHEMA,
        "provenance": {
            "command": options.command,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": versions["python"],
            "r": versions["r"],
            "engines": list(engines),
            "data": data_record,
            "spec_file": {"path": str(spec_file.path), "sha256": spec_file.sha256},
            "seeds": {p.spec.id: p.spec.seed for p in prepared},
            **({"only": list(options.only)} if options.only else {}),  # a baseline of this run holds, and checks, those
            "platform": f"{platform.system()} {platform.machine()}",
            # How many fits were served by the cache (judged again) and fitted (again): not stable.
            "cache": {"served": len(served), "fitted": len(todo) - len(refitted), "refitted": len(refitted)},
            **_executor_events(executor),
        },
        "summary": summarize(specs_out),
        "specs": specs_out,
    }


def _judged_served(tasks: list[PreparedSpec], served: dict) -> dict[int, dict]:
    """Served entries, judged by this run's code exactly as a fit is (harness.running.fit.judge_stored)."""
    from harness.running.fit import judge_stored

    judged = {}
    for i, stored in served.items():
        result = judge_stored(tasks[i], stored.engines, stored.timings)
        if stored.python_given:  # a user's fitted model: what the refit of its learners gave (fit.given_checked)
            result["python_given"] = stored.python_given
        judged[i] = {**result, "timings": {**result["timings"], "cached": True}, "cache": "served"}
    return judged


def _executor_events(executor) -> dict:
    """Dask workers that could not fit, and why (harness.running.dask_cluster), and workers that
    died while fitting, with what became of the spec (harness.running.parallel.after_death); each
    absent when none."""
    events = {}
    if getattr(executor, "set_aside", None):
        events["workers_set_aside"] = executor.set_aside
    if getattr(executor, "deaths", None):
        events["worker_deaths"] = executor.deaths
    return events


def _look_up(cache: ResultCache, tasks: list, keys: list[str], progress: Progress) -> tuple[list[int], dict, dict[int, str]]:
    """The tasks to fit, the cache entries served (by task index) and why an entry was fitted again."""
    todo, served, refitted = [], {}, {}
    for i, (p, key) in enumerate(zip(tasks, keys, strict=True)):
        stored, problem = cache.load(key, p.spec.id, pair_digest(p.design.rows, p.folds.labels))
        if stored is not None:
            served[i] = stored
            continue
        todo.append(i)
        if problem is not None:
            refitted[i] = f"cache entry {problem}; fitted again"
            progress.note(f"dml-parity: {p.spec.id}: {refitted[i]}")
    return todo, served, refitted


def _cache_mark(i: int, refitted: dict[int, str]) -> dict:
    """``cache``: ``fitted``, or ``refitted`` with ``cache_note`` saying what was wrong with the entry."""
    return {"cache": "refitted", "cache_note": refitted[i]} if i in refitted else {"cache": "fitted"}


@lru_cache(maxsize=1)
def _ready_report() -> None:
    """The report's modules and fonts (about 0.7 s), loaded while a worker fits the run's first
    spec rather than after its last."""
    from harness.report import canvas, fonts

    fonts.font_families()
    canvas.new_figure(1, 1)


def _shares_memory(options: RunOptions) -> bool:
    """Whether the run's fits read designs and folds from shared memory (worker processes only)."""
    if options.scheduler or options.in_process:
        return False
    from harness.running.parallel import WorkerPool

    return WorkerPool.shares_memory


def _executor(options: RunOptions, engines: tuple[str, ...], progress: Progress):
    """Where the fits run: the run's own worker processes, or the Dask cluster at ``--scheduler``."""
    if options.scheduler:
        from harness.running.dask_cluster import Cluster

        return Cluster(options.scheduler, engines, note=progress.note)
    from harness.running.parallel import InProcess, WorkerPool

    if options.in_process:
        return InProcess(engines)
    return WorkerPool(options.jobs, engines, note=progress.note)


def _replicate_plan(spec_file: SpecFile, prepared: list[PreparedSpec], options: RunOptions, data_path: Optional[Path]):
    from harness.running.replicate_tasks import plan_replicates, replicate_settings
    from harness.verdict.compare import spec_tier

    generator = spec_file.dataset.generator if data_path is None else None
    settings = {}
    for i, p in enumerate(prepared):
        setting = replicate_settings(p.spec, options.replicates, spec_tier(p.spec)[0], generator is not None)
        if setting is not None:
            settings[i] = setting
    return plan_replicates(prepared, settings, spec_file.dataset, generator, _where(spec_file, data_path))


def _spec_outcome(plan, index: int, prepared: PreparedSpec, results: dict[int, dict], truth: dict, options: RunOptions) -> list:
    """A spec's records: its one fit, or replicate 1 with the verdict over all its replicates (a
    one-draw verdict names the command that replicates it, with the run's spec file and --data)."""
    own = plan.results_of(index, results)
    records = _spec_records(prepared, own[0], truth)
    if index in plan.replication:  # one treatment (harness.running.replicate_tasks refuses several)
        from harness.verdict.replicate_verdict import with_replicates

        records = [with_replicates(records[0], own, plan.replication[index], prepared.spec)]
    else:  # a statistical-tier verdict from one draw says so (harness.verdict.single_draw)
        from harness.verdict.single_draw import mark_single_draw

        spec = prepared.spec
        for record in records if draws_at_random(spec) else []:  # deterministic learners: no draw to repeat
            replicable = not (spec.several_treatments or spec.has_inference)
            mark_single_draw(record, options.specs, spec.id, replicable, options.data)
    return records


def _spec_records(prepared: PreparedSpec, result: dict, truth: dict) -> list[dict]:
    from harness.verdict.treatment_rows import treatment_rows

    spec = prepared.spec
    records = []
    for row_id, d, part in treatment_rows(spec, {**result, "timings": dict(result.get("timings", {}))}):
        record = _spec_record(prepared, part, truth)
        if spec.partial is not None:
            record["partial"] = spec.partial
        if spec.several_treatments:
            claim = spec.papers.get(d)
            record.update(id=row_id, d=d, paper=claim.model_dump() if claim else None)
        records.append(record)
    return records


def _spec_record(prepared: PreparedSpec, result: dict, truth: dict) -> dict:
    from harness.language.learner_settings import learner_settings

    spec = prepared.spec
    record = {
        "id": spec.id,
        # What `check --run` compares with a baseline's when the run's spec file has changed since.
        "spec_sha256": spec.content_hash(),
        "title": spec.title,
        "title_zh": spec.title_zh,
        "table": spec.table,
        "model": spec.model,
        "score": spec.score_name,
        "y": spec.y,
        "d": spec.d,
        "learners": {n: _learner_label(spec, n) for n in spec.nuisances},
        "learner_settings": learner_settings(spec, lambda nuisance: len(nuisance_columns(spec, prepared.design, nuisance))),
        "paper": spec.paper.model_dump() if spec.paper else None,
        "truth": truth.get(spec.truth) if spec.truth else None,
        # The limit the statistical rules used, and each setting that loosened a default (the report
        # shows both beside the verdict and lists the specs in its summary).
        "coef_tolerance_se": spec.coef_tolerance_se,
        "loosened": loosened(spec),
        **({"fold_params": spec.fold_params} if spec.fold_params else {}),
        # Arrays, not lists: results.json refers to them in a side file (harness.output.arrays).
        "rows": prepared.design.rows,
        "folds": prepared.folds.labels,
    }
    timing = result.pop("timings", {})
    record.update(result)
    record["timings"] = timing
    return record


def _learner_label(spec: Spec, nuisance: str) -> str:
    choice = spec.learner_for(nuisance)
    if isinstance(choice, str):
        label = choice
    else:
        params = ", ".join(f"{k}={v}" for k, v in sorted(choice.items()) if k != "name")
        label = f"{choice['name']}({params})"
    # fold_params: the setting differs by fold; the label says which parameters (results.json has them).
    per_fold = per_fold_keys(spec, nuisance)
    return f"{label} [per fold: {', '.join(per_fold)}]" if per_fold else label


def exit_code(results: dict) -> int:
    """The run's exit code (:mod:`harness.verdict.exit_codes`: 0 all earned, 1 a finding, 3 an ``error``
    spec, 4 a spec that compared nothing)."""
    from harness.verdict.exit_codes import run_exit_code

    return run_exit_code(results)


def _plain(value):
    """In-memory results hold rows and folds as arrays; compare them as lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def stable_view(results: dict) -> dict:
    """The results without what legitimately changes between identical runs."""
    out = json.loads(json.dumps(results, default=_plain))
    out["provenance"].pop("created", None)
    out["provenance"].pop("command", None)
    out["provenance"].pop("cache", None)
    out["provenance"].pop("worker_deaths", None)  # an event of the run, not a number of it
    for spec in out["specs"]:
        for key in ("timings", "cache", "cache_note"):
            spec.pop(key, None)
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the dml-parity command")
