"""The per-spec result cache: what the engines produced, never a verdict.

An entry holds each engine's full output (numbers, predictions, folds, bootstrap draws) and the
fit's timings; the run judges a served entry with its own comparison code exactly as it judges a
fit (:func:`harness.running.fit.judge_stored`), so a rule fixed since the entry was stored applies to it,
and nothing an entry says about a status or checks is ever read. An entry is one ``.npz`` file:
a JSON ``meta`` member (schema, key, spec id, rows-and-folds digest, timings, each engine's
result with its arrays named) and the arrays, with a sha256 over all of them stored beside them;
an entry whose digest, key, id or rows-and-folds digest does not match is fitted again and
overwritten, never served and never fatal. The key holds the inputs, the package versions, the
learners as both engines build them, and a digest of the engine code (harness/engines, r_scripts):
what can change what the engines produce.

Only completed fits are stored (any status but ``error``); an ``error`` is never cached, so a
transient failure (an R error, a killed worker) is refitted next time. A cache that cannot be
written costs the cache, not the run. Entries grow with the data (the predictions are what the
nuisance checks compare); a result names the rows and folds it was fitted on by their sha256.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np

from harness.design.nuisance_columns import nuisance_columns
from harness.engines.result import EngineResult
from harness.language.learners import resolve_learner
from harness.output.atomic_write import atomic_write_bytes
from harness.running import cache_codec
from harness.running.fit import PreparedSpec

__all__ = ["Stored", "ResultCache", "cache_key", "default_cache_dir"]

ENTRY_SCHEMA = "dml-parity/cache/2"  # engine outputs only (cache/1 stored verdicts: never read)
INTEGRITY = "failed its integrity check"


def cache_key(prepared: PreparedSpec, versions: dict, engines: tuple[str, ...]) -> str:
    """Hash of everything that can change what the engines produce for a spec (the verdict is
    made again by every run, so the comparison code is not part of it)."""
    spec, design, folds = prepared.spec, prepared.design, prepared.folds
    digest = hashlib.sha256()
    digest.update(spec.content_hash().encode())
    digest.update(np.ascontiguousarray(design.frame.to_numpy(dtype=float)).tobytes())
    digest.update(json.dumps(list(design.frame.columns)).encode())
    digest.update(design.rows.tobytes())
    digest.update(folds.labels.tobytes())
    digest.update(json.dumps(versions, sort_keys=True).encode())
    # The learners as both engines will build them: a registry change (a solver tolerance,
    # an always-sent setting) must not be served an old result.
    for nuisance in spec.nuisances:
        resolved = resolve_learner(spec.learner_for(nuisance), nuisance, spec.model)
        estimator = resolved.python_estimator()
        digest.update(f"{type(estimator).__module__}.{type(estimator).__name__}".encode())
        digest.update(repr(sorted(estimator.get_params(deep=False).items())).encode())
        digest.update(repr(resolved.r_learner(len(nuisance_columns(spec, design, nuisance)))).encode())
    digest.update(",".join(engines).encode())
    if prepared.python_given is not None:  # a user's fitted model: never served to a run that fits
        digest.update(b"python side given by a fitted model")
        # ... and never to another fitted model: two models alike in all a spec says (a setting the
        # reading cannot see, external predictions) differ in their own numbers.
        digest.update(_given_digest(prepared.python_given))
    digest.update(engine_code_digest().encode())
    return digest.hexdigest()


def _given_digest(given: EngineResult) -> bytes:
    """A fitted model's own numbers, every one the Python side carries: its reported coef, se, t, p
    and interval, each repetition's coef and se, every stored prediction, the folds, and the
    bootstrap and adjusted p-values, per treatment. By the cache's own encoding of a result, so a
    field added to :class:`EngineResult` is covered (until 2026-12-07 the reported coef and se were
    not: a model whose ``coef`` was edited after its fit was served another model's verdict)."""
    arrays: dict[str, np.ndarray] = {}
    tree = cache_codec.encode(dataclasses.replace(given, seconds=0.0), arrays)
    return cache_codec.digest(json.dumps(tree, sort_keys=True, allow_nan=True), arrays).encode()


def engine_code_files() -> list[Path]:
    """The code that fits: harness/engines, the design modules that decide what a fit sees (folds,
    inner folds, the tune block's searches and grid order), r_scripts/*.R (every one exists:
    tests/test_cache.py checks it, since a path that points nowhere would freeze the digest)."""
    root = Path(__file__).resolve().parents[2]
    design = [root / "harness" / "design" / f for f in ("splits.py", "inner_folds.py", "tuning_plan.py")]
    language = [root / "harness" / "language" / f for f in ("tune_settings.py", "fold_params.py")]
    files = sorted((root / "harness" / "engines").glob("*.py")) + design + language
    return files + sorted((root / "r_scripts").glob("*.R"))


@lru_cache(maxsize=1)
def engine_code_digest() -> str:
    """sha256 of :func:`engine_code_files`: a change to how an engine is called must not be served
    outputs of the old call."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for path in engine_code_files():
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    base = os.environ.get("DMLP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "dml-parity", "results"
    )
    return Path(base)


@dataclass(frozen=True)
class Stored:
    """What an entry gives back: each engine's output (None for an engine the fit did not run) and
    the fit's timings. No status, no checks: the run judges it."""

    engines: dict[str, Optional[EngineResult]]
    timings: dict
    python_given: Optional[dict] = None  # a user's fitted model: whether the tool's refit gave its numbers


class ResultCache:
    """Entries under ``directory``, one ``.npz`` file per key."""

    def __init__(self, directory: Path, serve: bool = True) -> None:
        # serve=False (--no-cache) refits every spec but still stores what it fits.
        self.directory = Path(directory)
        self.serve = serve
        self._write_failed = False

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npz"

    def load(self, key: str, spec_id: str, arrays_sha256: Optional[str] = None) -> tuple[Optional[Stored], Optional[str]]:
        """The stored engine outputs for ``key``, or None and why not.

        The reason is None when there is no entry (or one in the old format, which held verdicts);
        otherwise it says that the entry failed its integrity check. ``arrays_sha256``: the spec's
        rows-and-folds digest; an entry fitted on others is not served."""
        path = self.path(key)
        if not self.serve or not path.exists():
            return None, None
        try:
            with np.load(path, allow_pickle=False) as entry:
                members = {name: entry[name] for name in entry.files}
            text = str(members.pop("meta"))
            stored_digest = str(members.pop("digest"))
            if cache_codec.digest(text, members) != stored_digest:
                return None, f"{INTEGRITY} (its contents do not match their sha256)"
            meta = json.loads(text)
            if meta.get("schema") != ENTRY_SCHEMA or meta.get("key") != key or meta.get("id") != spec_id:
                return None, f"{INTEGRITY} (written for another key or spec)"
            if arrays_sha256 is not None and meta.get("arrays_sha256") != arrays_sha256:
                return None, f"{INTEGRITY} (fitted on other rows or folds)"
            engines = {
                name: None if tree is None else cache_codec.decode(tree, members) for name, tree in meta["engines"].items()
            }
            timings = meta["timings"]
            if not isinstance(timings, dict) or not any(engines.values()):
                raise TypeError("no engine output")
        except Exception as err:  # unreadable, truncated, not an entry: never fatal, never served
            return None, f"{INTEGRITY} (cannot be read: {err.__class__.__name__})"
        return Stored(engines, timings, meta.get("python_given")), None

    def store(self, key: str, result: dict, outputs: Optional[dict]) -> None:
        """Keep a completed fit's engine outputs; errors are never stored. A failed write warns once."""
        if not _storable(result) or not outputs or not any(outputs.values()):
            return
        arrays: dict[str, np.ndarray] = {}
        meta = {
            "schema": ENTRY_SCHEMA,
            "key": key,
            "id": result["id"],
            "arrays_sha256": (result.get("arrays") or {}).get("sha256"),
            "timings": result.get("timings", {}),
            **({"python_given": result["python_given"]} if result.get("python_given") else {}),
            "engines": {name: None if out is None else cache_codec.encode(out, arrays) for name, out in outputs.items()},
        }
        text = json.dumps(meta, sort_keys=True, allow_nan=True)
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(text), digest=np.array(cache_codec.digest(text, arrays)), **arrays)
        try:
            atomic_write_bytes(self.path(key), buffer.getvalue())
            self.path(key).with_suffix(".json").unlink(missing_ok=True)  # the old format's verdict
        except OSError as err:
            if not self._write_failed:
                self._write_failed = True
                reason = err.strerror or err.__class__.__name__
                message = f"result cache {self.directory} not writable ({reason}); results not cached"
                print(f"dml-parity: warning: {message}", file=sys.stderr)


def _storable(result: dict) -> bool:
    # Any completed fit is worth keeping; an error is not (it may be transient).
    status = result.get("status")
    return isinstance(status, str) and status != "error"
