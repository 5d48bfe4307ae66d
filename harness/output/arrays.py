"""Row and fold indices of a run, kept out of ``results.json`` in one compact side file.

``arrays.npz`` beside ``results.json`` is a zip of ``.npy`` files (``numpy.load`` reads it), two
per spec, named by the spec's position ``i`` in ``results.json``'s ``specs`` list:

- ``rows_<i>``: shape ``(n_obs,)``, the 0-based rows of the data file the spec used, in the
  design's order (row ``j`` of the design is data row ``rows_<i>[j]``);
- ``folds_<i>``: shape ``(n_rep, n_obs)``, the 0-based test fold of every design row per
  repetition. With clusters, fold ``k`` is the cell ``k = sum_v fold_v * K**v`` of the cluster
  variables' folds; a training set is then the rows whose clusters avoid the test cell in every
  cluster variable.

Records fitted on the same rows and folds (the treatments of one spec, specs of one panel with the
same seed) share the members of the first of them, stored once: a record's ``arrays`` block names
its members, so readers follow the names, never the position. Each record names its two members
and their sha256 (``arrays``); ``results.json``'s ``arrays`` block holds the file's name and
sha256. Integers are stored little-endian in the smallest signed type that holds them, and the zip
is written with fixed timestamps and order, so the same run gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Union

import numpy as np

from harness.errors import DataError
from harness.output.atomic_write import atomic_write_bytes

__all__ = [
    "SIDE_FILE",
    "attach_arrays",
    "detach_arrays",
    "encode",
    "pair_digest",
    "read_arrays",
    "side_file_bytes",
    "write_arrays",
]

SIDE_FILE = "arrays.npz"
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: no run time in the bytes


def _compact(array: np.ndarray) -> np.ndarray:
    """The smallest little-endian signed integer type holding ``array``'s values."""
    array = np.asarray(array)
    if array.dtype.kind not in "iu":
        raise TypeError(f"row and fold indices must be integers, got {array.dtype}")
    low, high = (int(array.min()), int(array.max())) if array.size else (0, 0)
    for dtype in ("<i1", "<i2", "<i4", "<i8"):
        info = np.iinfo(np.dtype(dtype))
        if info.min <= low and high <= info.max:
            return np.ascontiguousarray(array, dtype=np.dtype(dtype))
    raise OverflowError("index does not fit in 64 bits")


def encode(array: np.ndarray) -> bytes:
    """The ``.npy`` bytes of ``array`` in its compact type."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, _compact(array), allow_pickle=False)
    return buffer.getvalue()


def pair_digest(rows: np.ndarray, folds: np.ndarray) -> str:
    """sha256 of a spec's two members as stored: names which rows and folds a result used."""
    digest = hashlib.sha256()
    digest.update(encode(rows))
    digest.update(encode(folds))
    return digest.hexdigest()


def side_file_bytes(members: dict[str, np.ndarray]) -> bytes:
    """A deterministic ``.npz``: members in the given order, fixed dates and permissions."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in members.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the platform writing it
            archive.writestr(info, encode(array), compresslevel=1)  # level 6 is 10x slower for 2 % less
    return buffer.getvalue()


def _names(i: int) -> tuple[str, str]:
    return f"rows_{i}", f"folds_{i}"


def detach_arrays(results: dict) -> tuple[dict, bytes]:
    """``results`` with each spec's rows and folds replaced by references, and the side file's bytes.

    The records' ``rows`` and ``folds`` are arrays (``harness.running.runner``); a record without them
    (a hand-made one) gets no reference.
    """
    members: dict[str, np.ndarray] = {}
    stored: dict[str, tuple[str, str]] = {}  # digest -> member names: one copy of a shared pair
    specs = []
    for i, spec in enumerate(results["specs"]):
        spec = dict(spec)
        rows, folds = spec.pop("rows", None), spec.pop("folds", None)
        if rows is not None and folds is not None:
            digest = pair_digest(rows, folds)
            if digest not in stored:
                stored[digest] = _names(i)
                members[stored[digest][0]], members[stored[digest][1]] = np.asarray(rows), np.asarray(folds)
            rows_name, folds_name = stored[digest]
            spec["arrays"] = {**spec.get("arrays", {}), "rows": rows_name, "folds": folds_name, "sha256": digest}
        specs.append(spec)
    data = side_file_bytes(members)
    out = {**results, "specs": specs, "arrays": {"path": SIDE_FILE, "sha256": hashlib.sha256(data).hexdigest()}}
    return out, data


def write_arrays(results: dict, folder: Union[str, Path]) -> dict:
    """Write ``folder/arrays.npz``; return the JSON-ready results that refer to it."""
    out, data = detach_arrays(results)
    atomic_write_bytes(Path(folder) / SIDE_FILE, data)
    return out


def read_arrays(folder: Union[str, Path], results: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Spec id -> (rows, folds) as int64, after checking the file's and each pair's sha256."""
    block = results.get("arrays")
    if not block:
        raise DataError(f"{folder}: results.json refers to no side file (schema {results.get('schema')!r})")
    path = Path(folder) / block["path"]
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read the run's row and fold indices ({err.__class__.__name__})") from None
    if hashlib.sha256(data).hexdigest() != block["sha256"]:
        raise DataError(f"{path}: sha256 differs from the one in results.json (changed or damaged)")
    out = {}
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        for spec in results["specs"]:
            ref = spec.get("arrays")
            if not ref:
                continue
            rows, folds = archive[ref["rows"]], archive[ref["folds"]]
            if pair_digest(rows, folds) != ref["sha256"]:
                raise DataError(f"{path}: rows and folds of spec '{spec['id']}' do not match their sha256")
            out[spec["id"]] = (rows.astype(np.int64), folds.astype(np.int64))
    return out


def attach_arrays(folder: Union[str, Path], results: dict) -> dict:
    """``results`` as read from ``folder`` with each spec's ``rows`` and ``folds`` arrays back in place."""
    arrays = read_arrays(folder, results)
    specs = []
    for spec in results["specs"]:
        spec = dict(spec)
        if spec["id"] in arrays:
            spec["rows"], spec["folds"] = arrays[spec["id"]]
        specs.append(spec)
    return {**results, "specs": specs}
