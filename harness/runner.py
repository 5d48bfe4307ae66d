"""Run a spec file: designs and folds first (all input errors surface before any fit), then each
spec through the engines, the comparison and the claim checks, with a per-spec result cache."""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import sys
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

import numpy as np

from harness.compare import compare, spec_tier
from harness.design import Design, Folds, build_design, check_folds, draw_folds, load_data, sha256_of
from harness.engines.python_engine import fit_python
from harness.engines.result import EngineResult
from harness.errors import DataError, EnvironmentProblem, SpecError
from harness.learners import resolve_learner
from harness.progress import Progress
from harness.spec import Spec, SpecFile, load_spec_file

__all__ = ["SCHEMA", "PreparedSpec", "RunOptions", "exit_code", "prepare", "python_versions", "run", "run_one", "stable_view"]

SCHEMA = "dml-parity/results/1"
ENGINES = ("python", "r")


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
    # --replicates N: n for every statistical-tier spec (harness/replicates.py).
    replicates: Optional[int] = None
    progress: Optional[Progress] = field(default=None, compare=False)


@dataclass(frozen=True)
class PreparedSpec:
    spec: Spec
    design: Design
    folds: Folds

    def cache_key(self, versions: dict, engines: tuple[str, ...]) -> str:
        digest = hashlib.sha256()
        digest.update(self.spec.content_hash().encode())
        digest.update(np.ascontiguousarray(self.design.frame.to_numpy(dtype=float)).tobytes())
        digest.update(json.dumps(list(self.design.frame.columns)).encode())
        digest.update(self.design.rows.tobytes())
        digest.update(self.folds.labels.tobytes())
        digest.update(json.dumps(versions, sort_keys=True).encode())
        # The learners as both engines will build them: a registry change (a solver tolerance,
        # an always-sent setting) must not be served an old result.
        for nuisance in self.spec.nuisances:
            resolved = resolve_learner(self.spec.learner_for(nuisance), nuisance, self.spec.model)
            estimator = resolved.python_estimator()
            digest.update(f"{type(estimator).__module__}.{type(estimator).__name__}".encode())
            digest.update(repr(sorted(estimator.get_params(deep=False).items())).encode())
            digest.update(repr(resolved.r_learner(len(self.design.x))).encode())
        digest.update(",".join(engines).encode())
        return digest.hexdigest()


def python_versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {"python": platform.python_version()}
    for dist in ("doubleml", "scikit-learn", "numpy", "pandas", "scipy", "lightgbm", "dml-parity"):
        try:
            out[dist] = version(dist)
        except Exception:
            out[dist] = None
    return out


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
    """True effects of a synthetic data set; a user's own data has none."""
    if data_override is None and spec_file.dataset.generator is not None:
        from harness.generated import GENERATORS, true_effect

        generator = spec_file.dataset.generator
        return {GENERATORS[generator["name"]][1]: true_effect(generator)}
    if data_override is not None or not spec_file.dataset.truth:
        return {}
    path = spec_file.path.parent / spec_file.dataset.truth
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read truth file ({err.__class__.__name__})") from None
    return truth.get("effects", truth)


def prepare(spec_file: SpecFile, data_path: Optional[Path]) -> list[PreparedSpec]:
    """Designs and folds of every spec; any input error is raised here, before a fit.

    ``data_path`` None: each spec's data is drawn by the spec file's generator with the spec's seed."""
    data = load_data(data_path, spec_file.dataset) if data_path is not None else None
    where = _where(spec_file, data_path)
    out = []
    for spec in spec_file.specs:
        frame = data if data is not None else _generated(spec_file, spec.seed)
        design = build_design(spec, frame, spec_file.dataset, where)
        folds = draw_folds(design, spec.n_folds, spec.n_rep, spec.seed, where, spec.id)
        check_folds(spec, design, folds, where)
        out.append(PreparedSpec(spec, design, folds))
    return out


def _where(spec_file: SpecFile, data_path: Optional[Path]) -> str:
    return str(data_path) if data_path is not None else f"generator {spec_file.dataset.generator['name']}"


def _generated(spec_file: SpecFile, seed: int):
    from harness.generated import generate

    try:
        return generate(spec_file.dataset.generator, seed)
    except ValueError as err:
        raise SpecError(f"{spec_file.path}: dataset field '{str(err).split(':')[0]}': {str(err).split(': ', 1)[1]}") from None


def _data_provenance(spec_file: SpecFile, data_path: Optional[Path]) -> dict:
    if data_path is not None:
        return {"path": _display_path(data_path), "sha256": sha256_of(data_path)}
    from harness.generated import generated_sha256

    seeds = sorted({spec.seed for spec in spec_file.specs})
    frames = [_generated(spec_file, seed) for seed in seeds]
    return {"generator": dict(spec_file.dataset.generator), "seeds": seeds, "sha256": generated_sha256(frames)}


def _display_path(path: Path) -> str:
    """Relative to the working directory when below it, so clones in other folders give equal results."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def _error_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or err.__class__.__name__
    return f"{err.__class__.__name__}: {text}" if not str(err).startswith(err.__class__.__name__) else text


def run_one(prepared: PreparedSpec, engines: tuple[str, ...]) -> dict:
    """Fit one spec in the requested engines and compare; never raises for a fit failure."""
    spec, design, folds = prepared.spec, prepared.design, prepared.folds
    tier, tolerance = spec_tier(spec)
    result: dict = {
        "id": spec.id,
        "tier": tier,
        "tolerance": tolerance,
        "n_obs": design.n_obs,
        "n_dropped_na": design.n_dropped_na,
        "python": None,
        "r": None,
        "diff": None,
        "checks": [],
        "learner_free": None,
        "nuisance": {},
        "error": None,
        "timings": {},
    }
    py = r = None
    try:
        if "python" in engines:
            py = fit_python(spec, design, folds)
            result["python"] = py.summary()
            result["timings"]["python_s"] = round(py.seconds, 3)
        if "r" in engines:
            from harness.engines.r_engine import RError, fit_r

            try:
                r = fit_r(spec, design, folds)
            except RError as err:
                result["error"] = f"R: {err}"
            else:
                result["r"] = r.summary()
                result["timings"]["r_s"] = round(r.seconds, 3)
        if py is not None and r is not None:
            learner_free = _learner_free(spec, design, folds, r)
            comparison = compare(spec, design, folds, py, r, learner_free)
            result.update(comparison.as_dict())
        elif result["error"]:
            result["status"] = "error"
        else:
            result["status"] = "not-run"
    except EnvironmentProblem:
        raise
    except Exception as err:  # one spec's failure must not stop the others
        result["status"] = "error"
        result["error"] = _error_line(err)
        if os.environ.get("DMLP_DEBUG"):
            traceback.print_exc()
    return result


def _learner_free(spec: Spec, design: Design, folds: Folds, r) -> EngineResult:
    """Python's score and inference code on R's predictions.

    A nuisance R leaves unfitted (``ml_g1`` for IRM ATTE, which the ATTE score does not use) is left
    to Python's own learner.
    """
    fitted = {name: pred for name, pred in r.predictions.items() if not np.isnan(pred).all()}
    return fit_python(spec, design, folds, external_predictions=fitted)


def _cache_path(cache_dir: Path, key: str) -> Path:
    return cache_dir / key[:2] / f"{key}.json"


def default_cache_dir() -> Path:
    base = os.environ.get("DMLP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "dml-parity", "results"
    )
    return Path(base)


def run(options: RunOptions) -> dict:
    """Run the spec file and return the results dict (not yet written)."""
    from harness.io import atomic_write_json

    spec_file = load_spec_file(options.specs, options.only)
    data_path = _data_path(spec_file, options.data)
    truth = _truth(spec_file, options.data)
    prepared = prepare(spec_file, data_path)
    # Replicates: every fit of the run (all replicates of all specs) is one task of one pool.
    plan = _replicate_plan(spec_file, prepared, options, data_path)
    tasks = plan.tasks

    versions = {"python": python_versions(), "r": None}
    engines = tuple(e for e in ENGINES if e in options.engines)
    if "r" in engines:
        from harness.engines.r_engine import r_session

        versions["r"] = r_session().versions()

    cache_dir = options.cache_dir or default_cache_dir()
    keys = [p.cache_key(versions, engines) for p in tasks]
    results: dict[int, dict] = {}
    todo = []
    for i, key in enumerate(keys):
        path = _cache_path(cache_dir, key)
        if options.use_cache and path.exists():
            try:
                results[i] = json.loads(path.read_text(encoding="utf-8"))
                results[i]["timings"]["cached"] = True
                continue
            except (OSError, json.JSONDecodeError):
                pass  # a damaged entry is refitted and overwritten
        todo.append(i)

    def finished(i: int, result: dict) -> None:
        # Written as each spec finishes, so an interrupted run keeps what it did.
        if result.get("status") != "error" or result.get("error", "").startswith("R:"):
            atomic_write_json(_cache_path(cache_dir, keys[i]), result)
        results[i] = {**result, "timings": {**result["timings"], "cached": False}}

    _execute(tasks, todo, engines, options, finished)

    specs_out = [_spec_outcome(plan, i, prepared[i], results, truth) for i in range(len(prepared))]
    from harness.claims import judge_claims
    from harness.summary import summarize

    specs_out = judge_claims(specs_out)
    return {
        "schema": SCHEMA,
        "provenance": {
            "command": options.command,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "python": versions["python"],
            "r": versions["r"],
            "engines": list(engines),
            "data": _data_provenance(spec_file, data_path),
            "spec_file": {"path": str(spec_file.path), "sha256": spec_file.sha256},
            "seeds": {p.spec.id: p.spec.seed for p in prepared},
            "platform": f"{platform.system()} {platform.machine()}",
        },
        "summary": summarize(specs_out),
        "specs": specs_out,
    }


def _execute(prepared: list[PreparedSpec], todo: list[int], engines: tuple[str, ...], options: RunOptions, finished) -> None:
    progress = options.progress or Progress(stream=io.StringIO(), live=False)
    progress.begin(len(todo), len(prepared) - len(todo))

    def done(i: int, result: dict) -> None:
        finished(i, result)
        progress.finished(prepared[i].spec.id, result.get("status", "?"))

    try:
        if options.jobs == 1 and not options.scheduler:
            for i in todo:
                progress.started(prepared[i].spec.id, engines)
                done(i, run_one(prepared[i], engines))
        else:
            from harness.parallel import run_parallel

            run_parallel(prepared, todo, engines, options, done)
    finally:
        progress.end()


def _replicate_plan(spec_file: SpecFile, prepared: list[PreparedSpec], options: RunOptions, data_path: Optional[Path]):
    from harness.replicates import plan_replicates, replicate_settings

    generator = spec_file.dataset.generator if data_path is None else None
    settings = {}
    for i, p in enumerate(prepared):
        setting = replicate_settings(p.spec, options.replicates, spec_tier(p.spec)[0], generator is not None)
        if setting is not None:
            settings[i] = setting
    return plan_replicates(prepared, settings, spec_file.dataset, generator, _where(spec_file, data_path))


def _spec_outcome(plan, index: int, prepared: PreparedSpec, results: dict[int, dict], truth: dict) -> dict:
    """A spec's record: its one fit, or replicate 1 with the verdict over all its replicates."""
    own = plan.results_of(index, results)
    record = _spec_record(prepared, dict(own[0]), truth)
    if index in plan.replication:
        from harness.replicate_verdict import with_replicates

        record = with_replicates(record, own, plan.replication[index], prepared.spec)
    return record


def _spec_record(prepared: PreparedSpec, result: dict, truth: dict) -> dict:
    spec = prepared.spec
    record = {
        "id": spec.id,
        "title": spec.title,
        "title_zh": spec.title_zh,
        "table": spec.table,
        "model": spec.model,
        "score": spec.score_name,
        "y": spec.y,
        "d": spec.d,
        "learners": {n: _learner_label(spec, n) for n in spec.nuisances},
        "paper": spec.paper.model_dump() if spec.paper else None,
        "truth": truth.get(spec.truth) if spec.truth else None,
        "rows": prepared.design.rows.tolist(),
        "folds": prepared.folds.labels.tolist(),
    }
    timing = result.pop("timings", {})
    record.update(result)
    record["timings"] = timing
    return record


def _learner_label(spec: Spec, nuisance: str) -> str:
    choice = spec.learner_for(nuisance)
    if isinstance(choice, str):
        return choice
    params = ", ".join(f"{k}={v}" for k, v in sorted(choice.items()) if k != "name")
    return f"{choice['name']}({params})"


def exit_code(results: dict) -> int:
    """0 when every spec agrees (or is explained, or R was not asked for), 1 otherwise (an
    ``inconclusive`` replicated spec has not shown agreement either)."""
    return 1 if any(s.get("status") in ("disagree", "error", "inconclusive") for s in results["specs"]) else 0


def stable_view(results: dict) -> dict:
    """The results without what legitimately changes between identical runs."""
    out = json.loads(json.dumps(results))
    out["provenance"].pop("created", None)
    out["provenance"].pop("command", None)
    for spec in out["specs"]:
        spec.pop("timings", None)
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use the dml-parity command")
