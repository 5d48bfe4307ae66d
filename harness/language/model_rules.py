"""Rules that tie a spec's fields together: which column plays which role, and what each model's
treatments, instruments and selection column may be (``Spec``'s model validator calls them; each
raises ``ValueError`` starting with the field at fault; ``spec`` is a ``Spec``, which imports this
module)."""

from __future__ import annotations

from typing import Any

__all__ = [
    "SEVERAL_TREATMENTS",
    "binarized_name",
    "derived_rules",
    "interaction_name",
    "lag_name",
    "model_roles",
    "pliv_rules",
    "role_rules",
    "ssm_rules",
    "treatment_rules",
]

# Both packages' linear models take several treatments; IRM, IIVM and SSM one binary treatment.
SEVERAL_TREATMENTS = {"plr", "pliv"}


def model_roles(spec: Any) -> list[tuple[str, str]]:
    """Each model column with the spec field that names it, in the order y, d, x, z, s
    (``d[i]`` with several treatments)."""
    several = spec.several_treatments
    roles = [("y", spec.y)] + [(f"d[{i}]" if several else "d", d) for i, d in enumerate(spec.treatments)]
    roles += [(f"x[{i}]", c) for i, c in enumerate(spec.x)]
    roles += [(f"z[{i}]", c) for i, c in enumerate(spec.z or [])]
    return roles + ([("s", spec.s)] if spec.s else [])


def role_rules(spec: Any) -> None:
    """One role per column: doubleml's and DoubleML's data backends refuse a column that is both
    outcome and treatment, treatment and control, ...; a control listed twice would be two
    identical columns. Said here by field, before the data are read."""
    seen: dict[str, str] = {}
    for field, column in model_roles(spec):
        if column in seen:
            raise ValueError(f"{field}: column '{column}' is also field '{seen[column]}'; a column takes one role")
        seen[column] = field
    for column in spec.cluster or []:
        if column in seen:
            # doubleml and DoubleML both refuse a column that is a cluster and a model variable.
            role = seen[column].split("[")[0]
            raise ValueError(f"cluster: column '{column}' is also in {role}; a cluster cannot be a model variable")


def lag_name(column: str, k: int) -> str:
    """The column ``lags: {column: k}`` makes."""
    return f"{column}_lag{k}"


def interaction_name(first: str, second: str) -> str:
    """The column ``interactions: [[first, second]]`` makes."""
    return f"{first}_x_{second}"


def binarized_name(column: str) -> str:
    """The column ``binarize: {column: cut}`` makes."""
    return f"{column}_bin"


def derived_rules(spec: Any, sample_columns: tuple[str, ...]) -> None:
    """Every column that ``lags``, ``interactions`` or ``binarize`` makes is used by a field: one
    that is made and left out of the model would leave the analysis without the control its writer
    meant it to have, silently. ``sample`` is drawn after the lags and interactions are made and
    before the binarized columns (a median cut is the sample's median), so it may read the first
    two only (``harness.design.table.build_design``)."""
    used = {column for _, column in model_roles(spec)} | set(spec.cluster or []) | set(sample_columns)
    used |= {spec.fold_groups} if spec.fold_groups else set()
    made = [("lags", lag_name(column, k)) for column, k in spec.lags.items()]
    made += [("interactions", interaction_name(*pair)) for pair in spec.interactions if len(pair) == 2]
    binarized = {binarized_name(column): column for column in spec.binarize}
    made += [("binarize", name) for name in binarized]
    for column in sample_columns:
        if column in binarized:
            raise ValueError(
                f"sample: column '{column}' is made by binarize after the sample is drawn (its cut is the sample's); "
                f"write the condition on '{binarized[column]}'"
            )
    for field, column in made:
        if column not in used:
            raise ValueError(
                f"{field}: makes column '{column}', which no field of the spec uses; add it to x (or the field "
                f"it is for) or drop it from {field}"
            )
    # A 0/1 treatment cut from a control is that control's step: every row's propensity is 0 or 1, so
    # neither package can weight it (an outside user's educ_bin beside educ was refused as separated,
    # with advice that could not help).
    for treatment in spec.treatments if spec.model in ("irm", "iivm", "ssm") else ():
        source = binarized.get(treatment)
        if source is not None and source in spec.x:
            raise ValueError(
                f"d: '{treatment}' is binarize's cut of '{source}', which is also a control (x): the propensity is 0 or 1 "
                f"on every row (no overlap); drop '{source}' from x"
            )


def treatment_rules(spec: Any) -> None:
    if not spec.several_treatments:
        if spec.use_other_treat_as_covariate is False:
            raise ValueError("use_other_treat_as_covariate: false changes nothing with one treatment (it is for d: [d1, d2])")
        if spec.papers:
            raise ValueError("papers: a spec with one treatment takes `paper`")
        return
    if spec.model not in SEVERAL_TREATMENTS:
        raise ValueError(f"d: {spec.model} takes exactly one binary treatment in both packages (several treatments: plr or pliv)")
    overlap = set(spec.treatments) & set(spec.x)
    if overlap:
        raise ValueError(f"x: {sorted(overlap)} are treatments (each treatment's nuisances already control for the others)")
    if spec.paper is not None:
        raise ValueError("paper: a spec with several treatments takes `papers: {treatment: claim}`")
    unknown = set(spec.papers) - set(spec.treatments)
    if unknown:
        raise ValueError(f"papers: {sorted(unknown)} are not treatments of this spec {list(spec.treatments)}")
    if spec.truth is not None:
        raise ValueError("truth: a spec with several treatments has no single true effect")


def pliv_rules(spec: Any, score: str) -> None:
    if spec.partial is not None and spec.model != "pliv":
        raise ValueError(f"partial: only pliv has partialling variants, not {spec.model}")
    if spec.model != "pliv" or score != "IV-type":
        return
    if spec.partial_name != "X":
        raise ValueError(f"score: IV-type needs partial X in both packages (got partial {spec.partial_name})")
    if len(spec.z or []) != 1:
        raise ValueError("score: pliv IV-type needs exactly one instrument in both packages")


def ssm_rules(spec: Any, score: str) -> None:
    if not spec.s:
        raise ValueError("s: model ssm needs the selection column (1 = outcome observed)")
    if score == "nonignorable" and not spec.z:
        raise ValueError("z: ssm nonignorable needs an instrument for selection")
    if score == "missing-at-random" and spec.z:
        raise ValueError("z: ssm missing-at-random uses no instrument (both packages would ignore it)")
    if spec.fixed_effects in ("twoway", "unit", "time"):
        raise ValueError("fixed_effects: a within transformation would mix the unobserved outcomes (s = 0) into the observed")
