"""Columns a spec makes from the data before its design is built: lags (by panel period),
interactions and binarized columns, and the rows its ``sample`` keeps; and the messages that name
a column the spec needs and does not find, or that is text where numbers belong."""

from __future__ import annotations

import pandas as pd

from harness.design.data_file import suggest_column
from harness.errors import DataError, SpecError
from harness.language.expr import ConditionError, evaluate, parse_condition
from harness.language.model_rules import binarized_name, interaction_name, lag_name
from harness.language.spec import DatasetSpec, Spec

__all__ = ["apply_sample", "derive_binarized", "derive_interactions", "derive_lags", "first_text", "need"]


def first_text(frame: pd.DataFrame, column: str) -> str:
    """Where a column that should hold numbers first holds something else (a Stata '.', a word,
    a decimal comma), by its data row (1 = the first row under the header)."""
    values = frame[column]
    text = values.notna() & pd.to_numeric(values, errors="coerce").isna()
    if not text.any():
        return ""
    first = text.to_numpy().argmax()
    return f" (data row {int(frame['__row__'].iloc[first]) + 1} holds {str(values.iloc[first])!r})"


def need(where: str, spec: Spec, frame: pd.DataFrame, column: str, field: str) -> None:
    if column not in frame.columns:
        renamed = frame.attrs.get("renamed", {}).get(column)
        mapped = f" (dataset.columns maps the file's '{column}' to '{renamed}'; use '{renamed}')"
        hint = mapped if renamed else suggest_column(column, frame)
        if not renamed and "，" in column:  # a Chinese input method's comma: YAML read the list as one name
            hint = " (it holds a full-width '，', which does not separate list items: write ', ')"
        raise DataError(f"{where}: spec '{spec.id}' field '{field}': column '{column}' not found{hint}")


def derive_lags(spec: Spec, frame: pd.DataFrame, dataset: DatasetSpec, where: str) -> pd.DataFrame:
    if not spec.lags:
        return frame
    if not dataset.unit or not dataset.time:
        raise SpecError(f"{where}: spec '{spec.id}' field 'lags': needs dataset.unit and dataset.time")
    if not pd.api.types.is_numeric_dtype(frame[dataset.time]):
        raise DataError(
            f"{where}: spec '{spec.id}' field 'lags': the time column '{dataset.time}' (dataset.time) is not numeric"
            f"{first_text(frame, dataset.time)}; a lag of k is the value at time - k, so give the period as a number"
        )
    for col, k in spec.lags.items():
        need(where, spec, frame, col, "lags")
        if k < 1:
            raise SpecError(f"{where}: spec '{spec.id}' field 'lags.{col}': lag must be >= 1, got {k}")
        frame[_new_column(spec, frame, lag_name(col, k), "lags", where)] = _value_periods_earlier(frame, col, k, dataset)
    return frame


def _value_periods_earlier(frame: pd.DataFrame, col: str, k: int, dataset: DatasetSpec) -> pd.Series:
    """Each row's ``col`` in its unit's row at time - k: k periods earlier, not k rows earlier (as
    ``L.x`` after Stata's ``tsset``), so a panel with gaps or a step above 1 keeps every lag it has.
    Missing where that row does not exist, or where the unit or time is missing."""
    unit, time = frame[dataset.unit], frame[dataset.time]
    known = (unit.notna() & time.notna()).to_numpy()
    by_period = pd.Series(frame[col].to_numpy()[known], index=pd.MultiIndex.from_arrays([unit[known], time[known]]))
    # The data file refuses duplicate (unit, time) rows; a generated frame could still hold them.
    by_period = by_period[~by_period.index.duplicated(keep=False)]
    earlier = pd.MultiIndex.from_arrays([unit[known], time[known] - k])
    return pd.Series(by_period.reindex(earlier).to_numpy(), index=frame.index[known]).reindex(frame.index)


def _new_column(spec: Spec, frame: pd.DataFrame, name: str, field: str, where: str) -> str:
    """``name``, a column ``field`` makes, unless the data have one of that name: it would replace it."""
    if name in frame.columns:
        raise SpecError(
            f"{where}: spec '{spec.id}' field '{field}': the data have a column '{name}', the name of the column "
            f"{field} makes; rename that column"
        )
    return name


def apply_sample(spec: Spec, frame: pd.DataFrame, where: str) -> pd.DataFrame:
    if not spec.sample:
        return frame
    # Checked against the allowlist grammar when the spec was loaded (it refuses dunder names
    # such as the tool's own ``__row__``); evaluated here without eval or query.
    condition = parse_condition(spec.sample)
    try:
        mask = evaluate(condition, frame)
    except ConditionError as err:
        missing = next((c for c in condition.columns if c not in frame.columns), None)
        if missing is not None:
            raise DataError(
                f"{where}: spec '{spec.id}' field 'sample': column '{missing}' not found{suggest_column(missing, frame)}"
            ) from None
        raise SpecError(f"{where}: spec '{spec.id}' field 'sample': {err}") from None
    if not mask.any():
        raise DataError(f"{where}: spec '{spec.id}' field 'sample': no rows left")
    return frame[mask]


def derive_interactions(spec: Spec, frame: pd.DataFrame, where: str) -> pd.DataFrame:
    for pair in spec.interactions:
        if len(pair) != 2:
            raise SpecError(f"{where}: spec '{spec.id}' field 'interactions': each interaction names two columns")
        for col in pair:
            need(where, spec, frame, col, "interactions")
        made = _new_column(spec, frame, interaction_name(*pair), "interactions", where)
        frame = frame.assign(**{made: frame[pair[0]] * frame[pair[1]]})
    return frame


def derive_binarized(spec: Spec, frame: pd.DataFrame, where: str) -> pd.DataFrame:
    for col, cut in spec.binarize.items():
        need(where, spec, frame, col, "binarize")
        if not pd.api.types.is_numeric_dtype(frame[col]):
            raise DataError(f"{where}: spec '{spec.id}' field 'binarize': column '{col}' is not numeric{first_text(frame, col)}")
        threshold = float(frame[col].median()) if cut == "median" else float(cut)
        made = _new_column(spec, frame, binarized_name(col), "binarize", where)
        frame = frame.assign(**{made: (frame[col] > threshold).astype(float)})
    return frame
