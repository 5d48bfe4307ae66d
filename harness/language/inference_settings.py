"""The ``bootstrap`` field of a spec and the rules of its inference settings (``joint``,
``p_adjust``): what the packages refuse, and draws too few for any own-draws check to fail
(:func:`harness.verdict.multiplicity.too_few_draws`)."""

from __future__ import annotations

from typing import Literal, Optional, Protocol

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["BootstrapSpec", "inference_rules"]


class BootstrapSpec(BaseModel):
    """The multiplier bootstrap both packages run after the fit (``DoubleML.bootstrap``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    method: Literal["normal", "wild", "Bayes"] = "normal"
    n_rep_boot: int = 500

    @field_validator("n_rep_boot")
    @classmethod
    def _draws(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value


class InferenceFields(Protocol):
    """What :func:`inference_rules` reads of a spec (a protocol: harness.language.spec calls it, so it cannot
    import Spec without a cycle)."""

    joint: bool
    p_adjust: Optional[str]
    bootstrap: Optional[BootstrapSpec]
    cluster: Optional[list[str]]
    n_rep: int
    model: str
    score_name: str
    has_inference: bool


def inference_rules(spec: InferenceFields) -> None:
    """Refuse inference settings neither package runs, or that no check could judge (ValueError
    starting with the field's name)."""
    if spec.joint and spec.bootstrap is None:
        raise ValueError("joint: needs bootstrap (the joint critical value is a bootstrap quantile)")
    if spec.p_adjust == "romano-wolf" and spec.bootstrap is None:
        raise ValueError("p_adjust: romano-wolf needs bootstrap (its step-down uses the bootstrap draws)")
    if spec.bootstrap is not None and spec.cluster:
        raise ValueError("bootstrap: neither package bootstraps cluster data ('not yet implemented with clustering' in both)")
    # The verdict's Monte Carlo bounds decide how few draws no check could judge (imported here, at call
    # time: the spec language sits above the verdict in the data flow).
    from harness.verdict.multiplicity import too_few_draws

    if spec.bootstrap is not None and (why := too_few_draws(spec.bootstrap.n_rep_boot, spec.n_rep, spec.p_adjust)):
        raise ValueError(f"bootstrap.n_rep_boot: {why}")
    if spec.has_inference and spec.model == "irm" and spec.score_name == "ATTE":
        field = "bootstrap" if spec.bootstrap is not None else "p_adjust"
        raise ValueError(
            f"{field}: IRM ATTE's scores differ on purpose between the packages (R divides by each fold's treated share), "
            "so their joint inference is not compared"
        )
