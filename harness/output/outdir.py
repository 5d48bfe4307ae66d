"""The output folder: checked before the first fit, then written whole or not at all.

``--out`` may name a new folder, an empty one, or one this tool wrote: its ``results.json`` has a
``dml-parity/results/`` schema and lists the files that run wrote (``output_files``), and the folder
holds nothing else. A file of the user's, even a picture beside the tool's, makes the run refuse. Any other folder is
refused and left exactly as it was. Problems with the place itself (a parent that is a file, no
write permission, a read-only file system, no space) are found by writing a probe next to it
before anything is fitted. Results are written into a hidden staging folder beside the target and
renamed into place, so a reader never sees half a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from harness.errors import HarnessError
from harness.output.held_signals import held_signals, raise_held

__all__ = [
    "OUTPUT_FILES_KEY", "OutputError", "check_output", "holds_a_run", "list_outputs", "os_reason", "release_claims",
    "replace_folder",
]  # fmt: skip

# Each run lists what it wrote in results.json under this key; the next run into the folder
# replaces exactly those files and refuses anything else.
OUTPUT_FILES_KEY = "output_files"
# Folders written before the list existed: the files those versions could write, by name.
LEGACY_FILES = frozenset({"results.json", "report.html", "report.md", "results.csv", "parity.png", "forest.png", "arrays.npz"})
RESULTS_SCHEMA_PREFIX = "dml-parity/results/"
# `dml-parity versions` writes versions.json in place of results.json, with the same list.
VERSIONS_SCHEMA_PREFIX = "dml-parity/versions/"
PROBE_BYTES = 1 << 20


class OutputError(HarnessError):
    """The output folder cannot or may not be written."""


def check_output(out: Path, cache: Optional[Path] = None) -> None:
    """Raise ``OutputError`` unless a run can write ``out`` (and keep its result ``cache``, when
    given, outside it), and claim it for this process: a second run started on the same folder
    meanwhile is refused; changes nothing on disk."""
    out = Path(out)
    if cache is not None and (Path(cache).resolve() == out.resolve() or out.resolve() in Path(cache).resolve().parents):
        # Until 2026-12-07 found after every fit: the new report could not replace a folder holding the cache.
        raise OutputError(f"--cache-dir {cache}: inside --out {out}, which a run replaces whole; keep the cache elsewhere")
    _check_replaceable(out)
    _probe(out)
    _claim(out)


# Each --out this process claimed: an abstract Unix socket named after the folder's real path. The
# kernel gives a name to one holder and frees it when the process ends, however it ends; nothing is
# written to disk (as harness.running.cpu_slots claims CPUs). Until 2026-12-07 two runs on one new
# folder both wrote it: one exited 2 though a report was written, the other's report ended in a
# hidden .old folder (an outside user).
_CLAIMS: dict[str, socket.socket] = {}


def _claim(out: Path) -> None:
    if not sys.platform.startswith("linux"):
        return
    digest = hashlib.sha256(os.path.realpath(out).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    name = f"\0dml-parity-out-{os.getuid()}-{digest}"
    if name in _CLAIMS:
        return
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        holder.bind(name)
    except OSError:
        holder.close()
        raise OutputError(f"--out {out}: another dml-parity run is writing this folder; let it finish, or name another") from None
    _CLAIMS[name] = holder


def release_claims() -> None:
    """Free every --out this process claimed (its command is over: a notebook or a test session
    that ran one must not keep another process from the folder for as long as it lives)."""
    while _CLAIMS:
        _CLAIMS.popitem()[1].close()


def _check_not_working_folder(out: Path) -> None:
    """The run replaces ``out`` whole: never the folder the user works in, nor one above it."""
    target, here = out.resolve(), Path.cwd().resolve()
    if target == here or target in here.parents:
        verb = "is" if target == here else "holds"
        raise OutputError(
            f"--out {out}: {verb} the folder you are working in, and a run replaces its --out folder whole; "
            "name a folder of its own, e.g. --out reports/run1"
        )
    if out.name in ("", ".", ".."):
        raise OutputError(f"--out {out}: name the folder itself, e.g. --out {out.resolve()}")


def _check_replaceable(out: Path) -> frozenset[str]:
    """The names of the tool's files in ``out`` (none when it is new or empty), or ``OutputError``."""
    _check_not_working_folder(out)
    if out.is_symlink():
        raise OutputError(f"--out {out}: is a symbolic link; name a folder")
    if not out.exists():
        return frozenset()
    if not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    try:
        entries = list(out.iterdir())
    except OSError as err:
        raise OutputError(f"--out {out}: cannot list the folder ({os_reason(err)})") from None
    if not entries:
        return frozenset()
    names = sorted(e.name for e in entries)
    ours = _files_written_by_us(out / "results.json")
    if ours is None:
        ours = _files_written_by_us(out / "versions.json", VERSIONS_SCHEMA_PREFIX)
    if ours is None:
        raise OutputError(f"--out {out}: not a folder dml-parity wrote (it holds {_some(names)}); choose another --out")
    foreign = [e.name for e in sorted(entries) if not _tool_file(e, ours)]
    if foreign:
        raise OutputError(f"--out {out}: holds {_some(foreign)}, which dml-parity did not write; choose another --out")
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: the folder is not writable, so its old run cannot be replaced")
    return ours


def _some(names: list[str]) -> str:
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return f"'{names[0]}'{more}"


def holds_a_run(folder: Path) -> bool:
    """Whether ``folder`` holds a run's output (a report, or `versions`'): the next run there replaces it whole."""
    return _files_written_by_us(folder / "results.json") is not None or (
        _files_written_by_us(folder / "versions.json", VERSIONS_SCHEMA_PREFIX) is not None
    )


def _files_written_by_us(results: Path, prefix: str = RESULTS_SCHEMA_PREFIX) -> frozenset[str] | None:
    """The names the run behind ``results`` wrote, or None when no run of this tool wrote it."""
    if results.is_symlink() or not results.is_file():
        return None
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
        schema = data.get("schema")
    except (OSError, ValueError, AttributeError):
        return None
    if not (isinstance(schema, str) and schema.startswith(prefix)):
        return None
    listed = data.get(OUTPUT_FILES_KEY)
    if listed is None:
        return LEGACY_FILES if prefix == RESULTS_SCHEMA_PREFIX else None
    if not isinstance(listed, list) or not all(_plain_file_name(n) for n in listed):
        return None  # a list that names paths is not one this tool wrote
    return frozenset({results.name, *listed})


def _plain_file_name(name: object) -> bool:
    """A name of a file in the folder itself: no path, not the folder or its parent."""
    return (
        isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\0" not in name and name == Path(name).name
    )


def _tool_file(entry: Path, ours: frozenset[str]) -> bool:
    if entry.is_symlink() or not entry.is_file():
        return False
    return entry.name in ours


def list_outputs(staging: Path) -> list[str]:
    """The files a run wrote into ``staging`` besides results.json, sorted (recorded in it)."""
    return sorted(p.name for p in Path(staging).iterdir() if p.is_file() and p.name != "results.json")


def _nearest_existing(path: Path) -> Path:
    """The closest ancestor of ``path`` that exists; it must be a folder."""
    for candidate in path.absolute().parents:
        if candidate.exists() or candidate.is_symlink():
            if not candidate.is_dir():
                raise OutputError(f"--out {path}: '{candidate}' is a file, not a folder")
            return candidate
    raise OutputError(f"--out {path}: no existing folder above it")  # pragma: no cover (/ exists)


def _probe(out: Path) -> None:
    """Create, fill and remove a file where the run will write (its staging folder's parent)."""
    parent = _nearest_existing(out)
    probe_dir = None
    try:
        probe_dir = tempfile.mkdtemp(prefix=".dml-parity-probe.", dir=parent)
        with open(os.path.join(probe_dir, "probe"), "wb") as handle:
            handle.write(b"\0" * PROBE_BYTES)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise OutputError(f"--out {out}: cannot write in {parent} ({os_reason(err)})") from None
    finally:
        if probe_dir is not None:
            shutil.rmtree(probe_dir, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def os_reason(err: OSError) -> str:
    """An OS error's reason as a message says it: "permission denied", "read-only file system"."""
    return (err.strerror or err.__class__.__name__).lower()


def replace_folder(out: Path, write: Callable[[Path], None]) -> list[str]:
    """Call ``write(staging)`` on a fresh folder beside ``out``, then put it in ``out``'s place.

    The folder rule is checked again first: the run may have taken hours, and the folder may have
    changed meanwhile. A write that fails leaves ``out`` as it was. Whatever the user saved into
    ``out`` after that check (while the results were written) is moved into the new folder, never
    deleted: the names of those entries are returned.
    """
    out = Path(out)
    try:
        ours = _check_replaceable(out)
    except OutputError as err:
        raise OutputError(f"{err}; the fitted specs are in the result cache") from None
    staging = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        write(staging)
        # mkdtemp makes it private: the new folder takes the mode of the one it replaces (the user's
        # choice), or mkdir's.
        os.chmod(staging, stat.S_IMODE(out.stat().st_mode) if out.is_dir() else 0o777 & ~_umask())
        with held_signals() as noted:  # the swap is whole or not begun (harness.output.held_signals)
            kept = _swap(staging, out, ours)
        release_claims()  # written: the folder is free for the next run
        raise_held(noted)
        return kept
    except OSError as err:
        reason = os_reason(err)
        raise OutputError(f"--out {out}: cannot write the results ({reason}); the fitted specs are in the result cache") from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _swap(staging: Path, out: Path, ours: frozenset[str]) -> list[str]:
    if not out.exists():
        os.replace(staging, out)
        return []
    # Renamed within its parent: no write permission on the old folder itself is needed.
    old = tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent)
    try:
        os.replace(out, old)
    except OSError:  # out cannot be moved (immutable, say): leave no empty folder beside it
        with contextlib.suppress(OSError):
            os.rmdir(old)
        raise
    os.replace(staging, out)
    return _clear_old(Path(old), ours, out)


def _clear_old(old: Path, ours: frozenset[str], out: Path) -> list[str]:
    """Delete the old run's own files from ``old`` by name, move anything else back into ``out``
    (a file saved between the last check and the swap), then remove ``old`` if it is empty."""
    kept: list[str] = []
    try:
        for _ in range(3):  # a file may still arrive in the old folder (a process working in it)
            for entry in sorted(old.iterdir()):
                if _tool_file(entry, ours):
                    entry.unlink()
                elif not os.path.lexists(out / entry.name):
                    os.rename(entry, out / entry.name)
                    kept.append(entry.name)
            with contextlib.suppress(OSError):
                old.rmdir()
                return kept
    except OSError as err:
        raise OutputError(f"--out {out}: written; the previous run's folder is kept as {old} ({os_reason(err)})") from None
    raise OutputError(f"--out {out}: written; files saved into it during the run that clash with its names are kept in {old}")
