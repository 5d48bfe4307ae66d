"""The user's data file: its fingerprint, and its reading into one table with the spec file's
column map applied (harness.design.table builds each spec's design from it)."""

from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from harness.errors import DataError
from harness.language.spec import DatasetSpec
from harness.language.spec_messages import did_you_mean, not_utf8

__all__ = ["DataRead", "load_data", "read_data", "sha256_apart_from", "suggest_column"]


def sha256_apart_from(frame: pd.DataFrame, columns: list[str]) -> str:
    """sha256 of the data's table (as read, column map applied) without ``columns``: the fold
    columns ``harness.compare`` writes beside a model's data change with every fold draw, the data
    itself does not."""
    frame = frame.drop(columns=[c for c in columns if c in frame.columns])
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode("utf-8")).hexdigest()


def values_sha256(frame: pd.DataFrame) -> str:
    """sha256 of the table's values as parsed (each column's name, type and hashed values): the same
    for a file saved again with other line endings, quoting or spelling of its numbers, which
    change its bytes' sha256 and not one value the fits read."""
    digest = hashlib.sha256()
    for name in frame.columns:
        digest.update(repr((str(name), str(frame[name].dtype))).encode("utf-8"))
        digest.update(pd.util.hash_pandas_object(frame[name], index=False).to_numpy().tobytes())
    return digest.hexdigest()


class DataRead(NamedTuple):
    frame: pd.DataFrame
    sha256: str  # of the bytes the frame was parsed from


class _Hashing(io.RawIOBase):
    """A file read once: the bytes the parser takes are the bytes hashed. Hashed apart from the
    parse, a file changed while a run fitted was recorded by its new fingerprint beside the old
    data's estimates, and a baseline check then called a real data change unexplained drift."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._handle.readinto(buffer)
        self.digest.update(memoryview(buffer)[:n])
        return n

    def hexdigest(self) -> str:
        for block in iter(lambda: self._handle.read(1 << 20), b""):  # whatever the parser left unread
            self.digest.update(block)
        return self.digest.hexdigest()


def load_data(path: Path, dataset: DatasetSpec) -> pd.DataFrame:
    """Read the CSV or Stata file and apply the spec file's column map (``canonical: user_column``)."""
    return read_data(path, dataset).frame


def read_data(path: Path, dataset: DatasetSpec) -> DataRead:
    """:func:`load_data`, with the sha256 of the bytes it read."""
    if not path.exists():
        raise DataError(f"{path}: data file not found")
    if path.is_dir():
        raise DataError(f"{path}: a folder, not a data file (give a .csv or Stata .dta file)")
    suffix = path.suffix.lower()
    if suffix == ".dta":
        raw = path.read_bytes()  # Stata's reader seeks: parsed from the bytes hashed
        return DataRead(_mapped(path, _read_stata(io.BytesIO(raw), path), dataset), hashlib.sha256(raw).hexdigest())
    if suffix != ".csv":
        raise DataError(f"{path}: data file must be a .csv or Stata .dta file")
    with open(path, "rb") as handle:
        hashing = _Hashing(handle)
        try:
            frame = pd.read_csv(io.BufferedReader(hashing, buffer_size=1 << 20))
        except UnicodeDecodeError as err:
            handle.seek(0)
            raise DataError(f"{path}: not a readable CSV file: {not_utf8(err, handle.read(2), excel=True)}") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise DataError(f"{path}: not a readable CSV file ({str(err).splitlines()[0]})") from None
        digest = hashing.hexdigest()
    _check_header(path)
    if len(frame.columns) == 1:
        # A spreadsheet's "CSV" in a comma-decimal locale is separated by ';' (or a tab): one column.
        other = next((sep for sep in (";", "\t", "|") if sep in str(frame.columns[0])), None)
        if other is not None:
            raise DataError(
                f"{path}: one column, named {str(frame.columns[0])[:60]!r}: the file is separated by {other!r}; "
                "dml-parity reads comma-separated files (decimal points)"
            )
    return DataRead(_mapped(path, frame, dataset), digest)


def _check_header(path: Path) -> None:
    """A name the header holds twice: pandas would read the second column as 'name.1' and a spec's
    'name' would silently mean the first."""
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle), [])
    first: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name and name in first:
            raise DataError(f"{path}: the header names column '{name}' twice (columns {first[name]} and {position}); rename one")
        first.setdefault(name, position)


def _read_stata(source: io.BytesIO, path: Path) -> pd.DataFrame:
    """A Stata file's values as stored: value labels are not applied, so a labelled variable
    stays the numbers Stata's own estimation commands use, not text; and dates stay Stata's
    numbers (a %ty year is the year, %tm months since 1960m1), so a lag of 1 is one period of the
    variable's own unit, as Stata's ``L.`` after ``tsset``."""
    try:
        frame = pd.read_stata(source, convert_categoricals=False, convert_dates=False)
    except Exception as err:  # pandas raises ValueError, struct.error, UnicodeDecodeError, ... on a damaged file
        first = str(err).splitlines()[0] if str(err) else err.__class__.__name__
        raise DataError(f"{path}: not a readable Stata file ({first[:200]})") from None
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    _check_stata_text(source.getvalue(), frame, text, path)
    # Stata's missing string is "" (pandas keeps it as text): missing, as an empty CSV field is, so
    # a row without a cluster id is dropped by dropna (as Stata's own commands drop it), not one cluster.
    return frame.assign(**{c: frame[c].mask(frame[c] == "") for c in text}) if text else frame


def _stata_release(raw: bytes) -> int:
    """The file format's release: 118 and later (Stata 14+) store UTF-8 text; 117 (Stata 13,
    ``<stata_dta>`` XML-like header) and the binary formats before it (first byte) no encoding."""
    if raw.startswith(b"<stata_dta>"):
        start = raw.find(b"<release>") + len(b"<release>")
        return int(raw[start : raw.find(b"</release>")] or 0)
    return raw[0] if raw else 0


def _check_stata_text(raw: bytes, frame: pd.DataFrame, text: list, path: Path) -> None:
    """Stata 13 and earlier record no text encoding: pandas decodes as Latin-1, and a Chinese
    Windows Stata's GBK text becomes other characters, so `sample: "region != '东部'"` kept every
    row and `unit: 城市` was not found, without a word (an outside user, 2026-12-07). Such a file's
    non-ASCII text is refused: its meaning cannot be known."""
    release = _stata_release(raw)
    if release >= 118:
        return
    names = [str(c) for c in frame.columns if not str(c).isascii()]
    values = next((c for c in text if not frame[c].dropna().astype(str).map(str.isascii).all()), None)
    if names or values is not None:
        where = f"column names ({names[0]!r} ...)" if names else f"the values of '{values}'"
        raise DataError(
            f"{path}: a Stata 13 or older file (format {release}) with non-ASCII text in {where}: its encoding "
            "is not recorded (GBK from Chinese Windows reads as other characters); save it from Stata 14 or later "
            "(after `unicode translate`), or export a UTF-8 CSV"
        )


def _mapped(path: Path, frame: pd.DataFrame, dataset: DatasetSpec) -> pd.DataFrame:
    if frame.empty:
        raise DataError(f"{path}: the data file holds no rows")
    rename = {}
    named: dict[str, str] = {}
    for canonical, user in dataset.columns.items():
        if user in named:  # a rename keeps one name per column: the other would silently be missing
            raise DataError(
                f"{path}: dataset.columns maps column '{user}' to both '{named[user]}' and '{canonical}'; "
                "a column takes one name (copy it in the file to use it twice)"
            )
        named[user] = canonical
        if user not in frame.columns:
            raise DataError(
                f"{path}: column '{user}' (mapped to '{canonical}' in dataset.columns) not found{suggest_column(user, frame)}"
            )
        rename[user] = canonical
    frame = frame.rename(columns=rename)
    # Which file column each name replaced: a spec that names the file's column is told (derived.need).
    frame.attrs["renamed"] = {user: canonical for user, canonical in rename.items() if user not in frame.columns}
    _check_panel_keys(path, frame, dataset)
    return frame


def _check_panel_keys(path: Path, frame: pd.DataFrame, dataset: DatasetSpec) -> None:
    keys = [k for k in (dataset.unit, dataset.time) if k]
    for key in keys:
        if key not in frame.columns:
            raise DataError(
                f"{path}: panel column '{key}' (dataset.{'unit' if key == dataset.unit else 'time'}) "
                f"not found{suggest_column(key, frame)}"
            )
    if len(keys) == 2:
        # Rows missing either key are no pair: a spec that reads the keys refuses or drops them.
        dup = frame.duplicated(subset=keys) & frame[keys].notna().all(axis=1)
        if dup.any():
            first = frame.loc[dup, keys].iloc[0]
            raise DataError(f"{path}: {int(dup.sum())} duplicate ({keys[0]}, {keys[1]}) rows, first {tuple(first.tolist())}")


def suggest_column(name: str, frame: pd.DataFrame) -> str:
    """' (did you mean ...?)' with the data's closest column name, or nothing."""
    return did_you_mean(name, frame.columns)
