"""The values single settings of a spec take: ``winsorize`` (one share per tail), ``lags``
(periods back), ``trimming_threshold`` (IRM, IIVM and SSM propensities) and IIVM's ``subgroups``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from harness.language.spec_messages import did_you_mean

__all__ = ["SUBGROUPS", "Lags", "Subgroups", "TrimmingThreshold", "Winsorize"]

SUBGROUPS = ("always_takers", "never_takers")


def _one_share(value: Any) -> Any:
    if isinstance(value, list):  # [0.01, 0.99] reads as two quantiles; the field is one share per tail
        raise ValueError(f"takes one share cut from each tail (0.01: the 1st and 99th percentiles), got {value}")
    return value


def _share(value: float) -> float:
    if not 0 < value < 0.5:
        raise ValueError(f"must lie in (0, 0.5), got {value}")
    return value


def _periods_back(value: dict[str, int]) -> dict[str, int]:
    for column, k in value.items():
        if k < 1:  # a lead (k < 0) or the column itself (0): nothing of the unit's past
            raise ValueError(f"{column}: {k} periods back; a lag is at least 1")
    return value


def _trimming(value: float) -> float:
    if not 0 <= value < 0.5:
        raise ValueError(f"must lie in [0, 0.5), got {value}")
    return value


Winsorize = Annotated[float, BeforeValidator(_one_share), AfterValidator(_share)]
Lags = Annotated[dict[str, int], AfterValidator(_periods_back)]
TrimmingThreshold = Annotated[float, AfterValidator(_trimming)]


def _both_subgroups(value: dict[str, bool]) -> dict[str, bool]:
    # doubleml takes the dict only with both keys, and a key it does not know is no setting: a key
    # left out is the packages' default (true), as the feasibility check has always read it.
    for key in value:
        if key not in SUBGROUPS:
            raise ValueError(f"unknown key '{key}'{did_you_mean(key, SUBGROUPS)}; its keys are {' and '.join(SUBGROUPS)}")
    return {**value, **{key: True for key in SUBGROUPS if key not in value}}  # as written: hashes of full ones hold


Subgroups = Annotated[dict[str, bool], AfterValidator(_both_subgroups)]
