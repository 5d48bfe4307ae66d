"""One environment per release, built once and cached outside the clone.

- Python: a virtual environment per doubleml release, installed with ``--no-deps`` from the
  release's lock (``locks/doubleml-<release>.txt``: every package pinned), through the user's pip
  configuration (index, proxy or mirror as for `make setup`).
- R: a library per DoubleML release holding DoubleML of that release only, installed from the
  tarball of ``DMLP_R_REPO`` (the repository `make setup` uses; old releases in
  ``src/contrib/Archive/DoubleML/``); its dependencies come from the project's R library.

The cache is ``$DMLP_VERSIONS_CACHE`` or ``$XDG_CACHE_HOME/dml-parity/versions`` (default
``~/.cache/dml-parity/versions``). An environment is used only when its marker file, written last
and holding the digest of what it was built from, matches: a half-built one (killed build, full
disk) or one built from another lock is set aside, deleted in the background, and built again. A lock file per environment keeps
two runs from building the same one at once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from harness.errors import EnvironmentProblem, HarnessError
from harness.output.atomic_write import atomic_write_json

__all__ = ["BuiltEnv", "SettingRefused", "cache_root", "check_cache", "child_environ", "python_env", "r_env"]

MARKER = ".dmlp-complete.json"
CACHE_SETTING = "DMLP_VERSIONS_CACHE"


class SettingRefused(HarnessError):
    """A setting (environment variable) `versions` cannot use as given (exit 2)."""


@dataclass(frozen=True)
class BuiltEnv:
    """A ready environment: its folder, whether this run built it, and the build's record."""

    path: Path
    built_now: bool
    record: dict


def cache_root() -> Path:
    if os.environ.get(CACHE_SETTING):
        return Path(os.environ[CACHE_SETTING])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dml-parity" / "versions"


def check_cache() -> None:
    """Refuse, before anything is built, a cache that cannot hold environments: a file, under a
    file, or in a folder this user cannot write (else a build ends in an OSError, exit 3)."""
    root = cache_root()
    name = CACHE_SETTING if os.environ.get(CACHE_SETTING) else f"the release cache (default; {CACHE_SETTING} moves it)"
    existing = next(p for p in (root, *root.absolute().parents) if p.exists())
    if not existing.is_dir():
        what = f"{root} is a file" if existing == root else f"{root} cannot be a folder ({existing} is a file)"
        raise SettingRefused(f"{name}: {what}; set {CACHE_SETTING} to a folder for the release environments")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise SettingRefused(f"{name}: cannot write in {existing}; set {CACHE_SETTING} to a folder of yours")


def child_environ(scratch: Optional[Path], base: Optional[dict] = None) -> dict:
    """``base`` (default this process's environment) with ``TMPDIR`` in ``scratch``: R's session
    folder, pip's and venv's temporary files go there, and the run removes it however it ends
    (an R killed by a signal leaves its ``Rtmp*`` folder behind)."""
    env = dict(os.environ if base is None else base)
    if scratch is not None:
        env["TMPDIR"] = str(scratch)
    return env


@contextmanager
def _exclusive(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _ready(path: Path, digest: str) -> Optional[dict]:
    try:
        record = json.loads((path / MARKER).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if record.get("digest") == digest else None


def _cached(path: Path, digest: str, build: Callable[[Path], None], say: Callable[[str], None]) -> BuiltEnv:
    """The environment at ``path``, built by ``build`` unless a complete one for ``digest`` is there."""
    with _exclusive(path):
        record = _ready(path, digest)
        if record is not None:
            return BuiltEnv(path, False, record)
        if path.exists():
            _discard(path)
            say(f"set aside {path.name}: incomplete, or built from another lock")
        say(f"building {path.name} in {path.parent} (once; later runs reuse it)")
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        try:
            build(path)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        record = {
            "digest": digest,
            "seconds": round(time.perf_counter() - start, 1),
            "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        atomic_write_json(path / MARKER, record)  # last, and whole: the env is complete
        say(f"built {path.name} in {record['seconds']} s (load {record['load_1min_before']})")
        return BuiltEnv(path, True, record)


def _discard(path: Path) -> None:
    """Move ``path`` out of the way at once and delete it in the background: a virtual environment
    is some 50,000 files, 10-90 s to delete on this machine's disk (measured), which no build
    needs to wait for."""
    stale = Path(tempfile.mkdtemp(prefix=f".{path.name}.stale.", dir=path.parent))
    os.replace(path, stale / path.name)
    subprocess.Popen(["rm", "-rf", str(stale)], start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _run(command: list[str], what: str, env: Optional[dict] = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        last = lines[-1].strip() if lines else f"exit {done.returncode}"
        raise EnvironmentProblem(f"{what}: {last}")


def python_env(release: str, lock: Path, say: Callable[[str], None], scratch: Optional[Path] = None) -> BuiltEnv:
    """The virtual environment of doubleml ``release`` (its python is ``path/bin/python``); the
    build's temporary files in ``scratch`` when given."""
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()

    def build(path: Path) -> None:
        base = getattr(sys, "_base_executable", sys.executable)
        env = child_environ(scratch)
        _run([base, "-m", "venv", str(path)], f"doubleml {release}: creating the virtual environment", env)
        _run(
            [str(path / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-r", str(lock)],
            f"doubleml {release}: installing {lock.name}",
            env,
        )

    return _cached(cache_root() / f"py-doubleml-{release}", digest, build, say)


def r_env(
    release: str, tarball_url: str, project_rlib: Path, say: Callable[[str], None], scratch: Optional[Path] = None
) -> BuiltEnv:
    """The R library holding DoubleML ``release`` (dependencies from ``project_rlib``); R's
    temporary files in ``scratch`` when given."""
    digest = hashlib.sha256(tarball_url.encode()).hexdigest()
    script = Path(__file__).resolve().parents[2] / "r_scripts" / "install_release.R"

    def build(path: Path) -> None:
        path.mkdir(parents=True)
        env = child_environ(scratch, {**os.environ, "R_LIBS": str(project_rlib), "MAKEFLAGS": "-j1"})
        _run(["Rscript", str(script), str(path), tarball_url], f"DoubleML {release}: installing into {path}", env)

    return _cached(cache_root() / f"r-DoubleML-{release}", digest, build, say)
