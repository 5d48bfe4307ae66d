"""The output folder: checked before the first fit, then written whole or not at all.

``--out`` may name a new folder, an empty one, or one this tool wrote: its ``results.json`` has a
``dml-parity/results/`` schema and it holds nothing but the tool's own files. Any other folder is
refused and left exactly as it was. Problems with the place itself (a parent that is a file, no
write permission, a read-only file system, no space) are found by writing a probe next to it
before anything is fitted. Results are written into a hidden staging folder beside the target and
renamed into place, so a reader never sees half a run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from harness.errors import HarnessError

__all__ = ["OutputError", "check_output", "replace_folder"]

# What a run writes. A new kind of output file must be added here, or the next run into the same
# folder refuses it as foreign.
TOOL_FILES = frozenset({"results.json", "report.html", "report.md", "results.csv"})
TOOL_SUFFIXES = (".png", ".npz")  # plots; side files (rows and folds)
RESULTS_SCHEMA_PREFIX = "dml-parity/results/"
PROBE_BYTES = 1 << 20


class OutputError(HarnessError):
    """The output folder cannot or may not be written."""


def check_output(out: Path) -> None:
    """Raise ``OutputError`` unless a run can write ``out``; changes nothing."""
    out = Path(out)
    _check_replaceable(out)
    _probe(out)


def _check_replaceable(out: Path) -> None:
    if out.is_symlink():
        raise OutputError(f"--out {out}: is a symbolic link; name a folder")
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    try:
        entries = list(out.iterdir())
    except OSError as err:
        raise OutputError(f"--out {out}: cannot list the folder ({_reason(err)})") from None
    if not entries:
        return
    names = sorted(e.name for e in entries)
    if not _written_by_us(out / "results.json"):
        raise OutputError(f"--out {out}: not a folder dml-parity wrote (it holds {_some(names)}); choose another --out")
    foreign = [e.name for e in sorted(entries) if not _tool_file(e)]
    if foreign:
        raise OutputError(f"--out {out}: holds {_some(foreign)}, which dml-parity did not write; choose another --out")
    if not os.access(out, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out}: the folder is not writable, so its old run cannot be replaced")


def _some(names: list[str]) -> str:
    more = f" and {len(names) - 1} more" if len(names) > 1 else ""
    return f"'{names[0]}'{more}"


def _written_by_us(results: Path) -> bool:
    if results.is_symlink() or not results.is_file():
        return False
    try:
        schema = json.loads(results.read_text(encoding="utf-8")).get("schema")
    except (OSError, ValueError, AttributeError):
        return False
    return isinstance(schema, str) and schema.startswith(RESULTS_SCHEMA_PREFIX)


def _tool_file(entry: Path) -> bool:
    if entry.is_symlink() or not entry.is_file():
        return False
    return entry.name in TOOL_FILES or entry.name.endswith(TOOL_SUFFIXES)


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
        raise OutputError(f"--out {out}: cannot write in {parent} ({_reason(err)})") from None
    finally:
        if probe_dir is not None:
            shutil.rmtree(probe_dir, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _reason(err: OSError) -> str:
    return (err.strerror or err.__class__.__name__).lower()


def replace_folder(out: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(staging)`` on a fresh folder beside ``out``, then put it in ``out``'s place.

    The folder rule is checked again first: the run may have taken hours, and the folder may have
    changed meanwhile. A write that fails leaves ``out`` as it was.
    """
    out = Path(out)
    try:
        _check_replaceable(out)
    except OutputError as err:
        raise OutputError(f"{err}; the fitted specs are in the result cache") from None
    staging = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        write(staging)
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes it private; mkdir would not
        if out.exists():
            # Renamed within its parent: no write permission on the old folder itself is needed.
            old = tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent)
            os.replace(out, old)
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, out)
    except OSError as err:
        reason = _reason(err)
        raise OutputError(f"--out {out}: cannot write the results ({reason}); the fitted specs are in the result cache") from None
    finally:
        if staging is not None and staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
