"""The per-spec result cache: what may be stored, and what may be served.

Only completed fits are stored (any status but ``error``, a disagreement included); an ``error``
is never cached, so a transient failure (an R error, a killed worker) is refitted next time. Each
entry carries its own key: an entry that cannot be read, is truncated, or was written for other
inputs is refitted and overwritten, never served and never fatal. A cache that cannot be written
costs the cache, not the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from harness.fit import PreparedSpec
from harness.io import atomic_write_json
from harness.learners import resolve_learner

__all__ = ["ResultCache", "cache_key", "default_cache_dir"]

ENTRY_SCHEMA = "dml-parity/cache/1"


def cache_key(prepared: PreparedSpec, versions: dict, engines: tuple[str, ...]) -> str:
    """Hash of everything that can change a spec's result."""
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
        digest.update(repr(resolved.r_learner(len(design.x))).encode())
    digest.update(",".join(engines).encode())
    return digest.hexdigest()


def default_cache_dir() -> Path:
    base = os.environ.get("DMLP_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "dml-parity", "results"
    )
    return Path(base)


class ResultCache:
    """Result entries under ``directory``, one JSON file per key."""

    def __init__(self, directory: Path, serve: bool = True) -> None:
        # serve=False (--no-cache) refits every spec but still stores what it fits.
        self.directory = Path(directory)
        self.serve = serve
        self._write_failed = False

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def load(self, key: str, spec_id: str) -> Optional[dict]:
        """The stored result for ``key``, or None when there is none that can be trusted."""
        if not self.serve:
            return None
        try:
            entry = json.loads(self.path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):  # missing, unreadable, truncated, not JSON
            return None
        if not isinstance(entry, dict) or entry.get("schema") != ENTRY_SCHEMA or entry.get("key") != key:
            return None
        result = entry.get("result")
        if not isinstance(result, dict) or result.get("id") != spec_id or not _storable(result):
            return None
        if not isinstance(result.get("timings"), dict):
            return None
        return result

    def store(self, key: str, result: dict) -> None:
        """Keep a completed fit; errors are never stored. A failed write warns once."""
        if not _storable(result):
            return
        try:
            atomic_write_json(self.path(key), {"schema": ENTRY_SCHEMA, "key": key, "result": result})
        except OSError as err:
            if not self._write_failed:
                self._write_failed = True
                reason = err.strerror or err.__class__.__name__
                message = f"result cache {self.directory} not writable ({reason}); results not cached"
                print(f"dml-parity: warning: {message}", file=sys.stderr)


def _storable(result: dict) -> bool:
    # Any verdict is a finding worth keeping; an error is not (it may be transient).
    status = result.get("status")
    return isinstance(status, str) and status != "error"
