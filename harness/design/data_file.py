"""The user's data file: its fingerprint, and its reading into one table with the spec file's
column map applied (harness.design.table builds each spec's design from it)."""

from __future__ import annotations

import difflib
import hashlib
from pathlib import Path

import pandas as pd

from harness.errors import DataError
from harness.language.spec import DatasetSpec

__all__ = ["load_data", "sha256_of", "suggest_column"]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_data(path: Path, dataset: DatasetSpec) -> pd.DataFrame:
    """Read the CSV and apply the spec file's column map (``canonical: user_column``)."""
    if not path.exists():
        raise DataError(f"{path}: data file not found")
    if path.suffix.lower() != ".csv":
        raise DataError(f"{path}: data file must be a .csv file")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a readable CSV file ({str(err).splitlines()[0]})") from None
    if len(frame.columns) == 1:
        # A spreadsheet's "CSV" in a comma-decimal locale is separated by ';' (or a tab): one column.
        other = next((sep for sep in (";", "\t", "|") if sep in str(frame.columns[0])), None)
        if other is not None:
            raise DataError(
                f"{path}: one column, named {str(frame.columns[0])[:60]!r}: the file is separated by {other!r}; "
                "dml-parity reads comma-separated files (decimal points)"
            )
    rename = {}
    for canonical, user in dataset.columns.items():
        if user not in frame.columns:
            raise DataError(
                f"{path}: column '{user}' (mapped to '{canonical}' in dataset.columns) not found{suggest_column(user, frame)}"
            )
        rename[user] = canonical
    frame = frame.rename(columns=rename)
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
        dup = frame.duplicated(subset=keys)
        if dup.any():
            first = frame.loc[dup, keys].iloc[0]
            raise DataError(f"{path}: {int(dup.sum())} duplicate ({keys[0]}, {keys[1]}) rows, first {tuple(first.tolist())}")


def suggest_column(name: str, frame: pd.DataFrame) -> str:
    """' (did you mean ...?)' with the data's closest column name, or nothing."""
    close = difflib.get_close_matches(name, [str(c) for c in frame.columns], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
