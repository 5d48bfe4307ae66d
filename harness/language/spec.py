"""Spec files: YAML read, validated and frozen before anything runs.

A spec file has three sections: ``dataset`` (where the data is and how its columns map), ``defaults``
(values every spec inherits) and ``specs`` (one entry per estimate). Errors name file, spec id and field.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import SpecError
from harness.language.expr import check_column_name, parse_condition
from harness.language.fold_params import FOLD_PARAMS_FORMS, FoldParams, fold_params_rules
from harness.language.inference_settings import BootstrapSpec, inference_rules
from harness.language.learners import LearnerChoice, nuisances_of, parse_learner
from harness.language.model_rules import derived_rules, pliv_rules, role_rules, ssm_rules, treatment_rules
from harness.language.replicate_settings import ReplicatesSpec
from harness.language.setting_values import Lags, Subgroups, TrimmingThreshold, Winsorize
from harness.language.spec_messages import (
    UNSUPPORTED,
    did_you_mean,
    error_field,
    id_problem,
    not_utf8,
    union_error,
    validation_message,
    yaml_message,
)
from harness.language.tolerances import DEFAULT_CLAIM_LEVEL, DEFAULT_COEF_TOLERANCE_SE, ClaimLevel, CoefToleranceSe
from harness.language.tune_settings import TuneSpec, tune_rules
from harness.language.yaml_loader import OneValuePerKey

__all__ = ["BootstrapSpec", "ClaimSpec", "DatasetSpec", "ModelName", "Published", "Spec", "SpecFile", "load_spec_file"]

ModelName = Literal["plr", "pliv", "irm", "iivm", "ssm"]
FixedEffects = Literal["none", "twoway", "unit", "time", "dummies"]

DEFAULT_SCORES = {"plr": "partialling out", "pliv": "partialling out", "irm": "ATE", "iivm": "LATE", "ssm": "missing-at-random"}
VALID_SCORES = {
    "plr": ("partialling out", "IV-type"),
    "pliv": ("partialling out", "IV-type"),
    "irm": ("ATE", "ATTE"),
    "iivm": ("LATE",),
    "ssm": ("missing-at-random", "nonignorable"),
}
# Models whose treatment (and instrument) must be 0/1.
BINARY_TREATMENT = {"irm", "iivm", "ssm"}
NEEDS_INSTRUMENT = {"pliv", "iivm"}
# Both packages fit one coefficient per treatment (the others as controls) only in the partially
# linear models; IRM, IIVM and SSM refuse more than one binary treatment in both.


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DatasetSpec(_Frozen):
    """Where the data lives and how the user's columns map to the names the specs use.

    ``generator`` instead of ``path`` draws the data with a doubleml generator per spec seed
    (:mod:`harness.design.generated`); its true effect is the generator's theta/alpha argument."""

    path: Optional[str] = None
    generator: Optional[dict[str, Any]] = None
    unit: Optional[str] = None
    time: Optional[str] = None
    columns: dict[str, str] = Field(default_factory=dict)
    truth: Optional[str] = None

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSpec:
        if self.generator is None:
            return self
        if self.path is not None:
            raise ValueError("generator: give either path or generator, not both")
        if self.truth is not None or self.columns:
            raise ValueError("generator: generated data has no truth file or column map (its truth is the generator's)")
        from harness.design.generated import check_generator

        check_generator(self.generator)
        return self


class Published(_Frozen):
    """Numbers printed in the paper, when a user holds them."""

    coef: Optional[float] = None
    se: Optional[float] = None
    note: Optional[str] = None


class ClaimSpec(_Frozen):
    """A finding of the paper, in words and in a form the tool can check.

    ``p: adjusted`` judges the significance on the spec's multiple-testing adjusted p-value
    (``p_adjust``) instead of the pointwise one."""

    claim: Optional[str] = None
    claim_zh: Optional[str] = None
    sign: Optional[Literal["positive", "negative"]] = None
    level: ClaimLevel = DEFAULT_CLAIM_LEVEL
    p: Literal["pointwise", "adjusted"] = "pointwise"
    greater_than: list[str] = Field(default_factory=list)
    less_than: list[str] = Field(default_factory=list)
    published: Published = Field(default_factory=Published)

    @field_validator("greater_than", "less_than", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _in_words(self) -> ClaimSpec:
        # A study in Chinese may word its findings in Chinese only.
        if not (self.claim or self.claim_zh):
            raise ValueError("needs the finding in words: claim, claim_zh or both")
        return self


# Spec fields added after content hashes were stored in caches and baselines (see recorded_fields).
LATER_FIELDS = ("folds", "tune", "normalize_ipw", "use_other_treat_as_covariate", "fold_params")


class Spec(_Frozen):
    """One estimate: a model, its variables, its learners and the design steps before it.

    ``d`` is one treatment or a list of them (one coefficient each, the others as controls)."""

    id: str
    model: ModelName
    y: str
    d: Union[str, list[str]]
    x: list[str] = Field(default_factory=list)
    z: Optional[list[str]] = None
    s: Optional[str] = None
    score: Optional[str] = None
    partial: Optional[Literal["X", "Z", "XZ"]] = None
    bootstrap: Optional[BootstrapSpec] = None
    joint: bool = False
    p_adjust: Optional[Literal["romano-wolf", "bonferroni", "holm"]] = None
    learner: Optional[LearnerChoice] = None
    learners: dict[str, LearnerChoice] = Field(default_factory=dict)
    sample: Optional[str] = None
    cluster: Optional[list[str]] = None
    trimming_threshold: TrimmingThreshold = 0.01
    subgroups: Optional[Subgroups] = None
    n_folds: int = 5
    n_rep: int = 1
    seed: int = 1
    fixed_effects: FixedEffects = "none"
    fold_groups: Optional[str] = None
    # Data columns holding each repetition's 0-based test fold of every row (harness.design.given_folds).
    folds: Optional[list[str]] = None
    winsorize: Optional[Winsorize] = None
    lags: Lags = Field(default_factory=dict)
    interactions: list[list[str]] = Field(default_factory=list)
    binarize: dict[str, Union[Literal["median"], float]] = Field(default_factory=dict)
    dropna: bool = False
    tier: Optional[Literal["exact", "statistical"]] = None
    coef_tolerance_se: CoefToleranceSe = DEFAULT_COEF_TOLERANCE_SE
    replicates: Optional[ReplicatesSpec] = None
    title: Optional[str] = None
    title_zh: Optional[str] = None
    table: Optional[str] = None
    truth: Optional[str] = None
    paper: Optional[ClaimSpec] = None
    papers: dict[str, ClaimSpec] = Field(default_factory=dict)
    # Last, and left out of the content hash when unset: specs without them keep their hashes.
    tune: Optional[TuneSpec] = None
    # ssm: Hajek-normalised inverse-probability weights, in both packages' SSM score alike.
    normalize_ipw: Optional[bool] = None
    # Several treatments (plr, pliv): false keeps the other treatments out of each treatment's
    # nuisances (both packages' DoubleMLData option; the default, true, puts them in).
    use_other_treat_as_covariate: Optional[bool] = None
    # Learner parameters per repetition and fold, for every treatment or per treatment
    # (harness.language.fold_params).
    fold_params: Optional[FoldParams] = None

    @field_validator("z", "cluster", "x", "folds", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("y", "d", "x", "z", "s", "cluster", "folds")
    @classmethod
    def _column_names(cls, value: Any) -> Any:
        for name in [value] if isinstance(value, str) else value or []:
            check_column_name(name)
        return value

    @field_validator("sample")
    @classmethod
    def _sample(cls, value: Optional[str]) -> Optional[str]:
        # A spec is data: the condition is checked against the allowlist grammar here, before
        # any data is read, and never handed to an evaluator.
        if value is not None:
            parse_condition(value)
        return value

    @field_validator("d", mode="before")
    @classmethod
    def _one_treatment(cls, value: Any) -> Any:
        # `d: [d1]` is the single-treatment spec `d: d1`: its results keep the single-treatment form.
        return value[0] if isinstance(value, list) and len(value) == 1 else value

    @field_validator("d")
    @classmethod
    def _treatments(cls, value: Union[str, list[str]]) -> Union[str, list[str]]:
        if isinstance(value, list):
            if not value:
                raise ValueError("needs at least one treatment")
            if len(set(value)) != len(value):
                raise ValueError(f"treatments repeat: {value}")
        return value

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: int) -> int:
        # Both packages must take it: numpy's seeds are not negative, R's set.seed takes 32-bit integers.
        if not 0 <= value < 2**31:
            raise ValueError(f"must lie in [0, 2147483647], got {value}")
        return value

    @field_validator("n_folds")
    @classmethod
    def _folds(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"must be at least 2, got {value}")
        return value

    @field_validator("n_rep")
    @classmethod
    def _reps(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1, got {value}")
        return value

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: Optional[list[str]]) -> Optional[list[str]]:
        if value is not None and not 1 <= len(value) <= 2:
            raise ValueError("one or two cluster columns")
        return value

    @model_validator(mode="after")
    def _model_rules(self) -> Spec:
        score = self.score or DEFAULT_SCORES[self.model]
        if score not in VALID_SCORES[self.model]:
            hint = did_you_mean(score, VALID_SCORES[self.model])
            raise ValueError(f"score: {score!r} is not a {self.model} score {VALID_SCORES[self.model]}{hint}")
        if self.model in NEEDS_INSTRUMENT and not self.z:
            raise ValueError(f"z: model {self.model} needs an instrument")
        if self.model == "ssm":
            ssm_rules(self, score)
        elif self.model not in NEEDS_INSTRUMENT and self.z:
            raise ValueError(f"z: model {self.model} takes no instrument")
        if self.normalize_ipw and self.model != "ssm":
            raise ValueError(
                f"normalize_ipw: DoubleML for R 1.0.2 normalises the weights of ssm alone; doubleml's {self.model} "
                "option has no R twin"
            )
        if self.model != "ssm" and self.s is not None:
            raise ValueError(f"s: only the sample selection model (ssm) has a selection column, not {self.model}")
        if self.model == "iivm" and len(self.z or []) != 1:
            raise ValueError("z: iivm takes exactly one binary instrument")
        if self.subgroups is not None and self.model != "iivm":
            raise ValueError("subgroups: only iivm has subgroups")
        if self.cluster and self.fold_groups:
            raise ValueError("fold_groups: cluster data already keeps each cluster's rows in one fold")
        if self.folds is not None and len(self.folds) != self.n_rep:
            raise ValueError(f"folds: one column per repetition: {len(self.folds)} columns, n_rep {self.n_rep}")
        if self.folds is not None and self.fold_groups:
            raise ValueError("fold_groups: the folds are given (folds), not drawn")
        treatment_rules(self)
        role_rules(self)
        derived_rules(self, parse_condition(self.sample).columns if self.sample else ())
        pliv_rules(self, score)
        inference_rules(self)
        needed = nuisances_of(self.model, score, self.subgroups, self.partial_name)
        unknown = set(self.learners) - set(needed)
        if unknown:
            raise ValueError(f"learners: {sorted(unknown)} not nuisances of {self.model} (it has {needed})")
        missing = [n for n in needed if n not in self.learners and self.learner is None]
        if missing:
            raise ValueError(f"learners: no learner for {missing} (give learners or learner)")
        for nuisance in needed:
            resolved = parse_learner(self.learners.get(nuisance, self.learner), nuisance, self.model, score)
            if self.tier == "exact" and resolved.pair.tier != "exact":
                # An exact verdict needs learners that solve the same problem in both languages.
                raise ValueError(
                    f"tier: 'exact' cannot be earned with the statistical learner '{resolved.name}' ({nuisance}); "
                    "use an exact pair (ols, logit, lasso, lasso_cv, lgbm) or drop 'tier'"
                )
        tune_rules(self)
        fold_params_rules(self)
        return self

    @property
    def score_name(self) -> str:
        return self.score or DEFAULT_SCORES[self.model]

    @property
    def partial_name(self) -> str:
        """PLIV's partialling variant (X unless the spec says otherwise)."""
        return self.partial or "X"

    @property
    def treatments(self) -> tuple[str, ...]:
        return tuple(self.d) if isinstance(self.d, list) else (self.d,)

    @property
    def several_treatments(self) -> bool:
        return len(self.treatments) > 1

    @property
    def n_cells(self) -> int:
        """The folds both packages cross-fit on: ``n_folds`` per cluster variable, crossed."""
        return self.n_folds ** max(len(self.cluster or []), 1)

    @property
    def has_inference(self) -> bool:
        """Whether the spec asks for bootstrap, joint intervals or a multiple-testing adjustment."""
        return self.bootstrap is not None or self.joint or self.p_adjust is not None

    def learner_for(self, nuisance: str) -> LearnerChoice:
        return self.learners.get(nuisance, self.learner)

    @property
    def nuisances(self) -> list[str]:
        return nuisances_of(self.model, self.score_name, self.subgroups, self.partial_name)

    def recorded_fields(self) -> dict:
        """The spec's fields as a baseline records them (JSON types). Fields added after baselines
        existed are left out while unset, so a spec that does not use them hashes and compares as
        it did before they were added (caches and baselines hold)."""
        return self.model_dump(mode="json", exclude={f for f in LATER_FIELDS if getattr(self, f) is None})

    def content_hash(self) -> str:
        """Hash of everything that can change this spec's estimate."""
        unset = {f for f in LATER_FIELDS if getattr(self, f) is None}
        text = self.model_dump_json(exclude=unset or None)
        return hashlib.sha256(text.encode()).hexdigest()


class SpecFile(_Frozen):
    """A validated spec file."""

    path: Path
    dataset: DatasetSpec
    specs: tuple[Spec, ...]
    sha256: str

    def spec(self, spec_id: str) -> Spec:
        return next(s for s in self.specs if s.id == spec_id)


def _format_error(path: Path, spec_id: Optional[str], err: ValidationError) -> str:
    first = err.errors()[0]
    union = union_error(err.errors())
    field = error_field(union[0] if union else first["loc"], keep_indices=spec_id is None, forms=FOLD_PARAMS_FORMS)
    known = (Spec if spec_id else DatasetSpec).model_fields
    msg = union[1] if union else validation_message(first, known) or first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden" and field in UNSUPPORTED:
        msg = f"not supported: {UNSUPPORTED[field]}"
    where = f"spec '{spec_id}'" if spec_id else "dataset"
    field_txt = f" field '{field}'" if field else ""
    return f"{path}: {where}{field_txt}: {msg}"


def _spec_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: cannot read spec file: {not_utf8(err, path.read_bytes()[:2])}") from None
    except OSError as err:
        raise SpecError(f"{path}: cannot read spec file ({err.__class__.__name__})") from None


def load_spec_file(path: Union[str, Path], only: Optional[list[str]] = None) -> SpecFile:
    """Read, merge defaults into and validate a spec file.

    Parameters
    ----------
    path : str or Path
        The YAML spec file.
    only : list of str, optional
        Spec ids to keep; an unknown id is an error.

    Returns
    -------
    SpecFile
    """
    path = Path(path)
    text = _spec_text(path)
    try:
        raw = yaml.load(text, Loader=OneValuePerKey)
    except yaml.YAMLError as err:
        mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None) or "syntax error"
        where = f" {yaml_message(problem, mark.line, text)}" if mark is not None else f" YAML error: {problem}"
        raise SpecError(f"{path}:{where}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping with 'dataset', 'defaults' and 'specs'")
    unknown = set(raw) - {"dataset", "defaults", "specs"}
    if unknown:
        first = sorted(unknown, key=str)[0]
        raise SpecError(f"{path}: unknown top-level key '{first}'{did_you_mean(first, ('dataset', 'defaults', 'specs'))}")
    if not isinstance(raw.get("dataset") or {}, dict):
        raise SpecError(f"{path}: 'dataset' must be a mapping (for example dataset: {{path: data.csv}})")
    try:
        dataset = DatasetSpec(**(raw.get("dataset") or {}))
    except ValidationError as err:
        raise SpecError(_format_error(path, None, err)) from None
    defaults = raw.get("defaults") or {}
    entries = raw.get("specs")
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{path}: 'specs' must be a non-empty list")
    if not isinstance(defaults, dict):
        raise SpecError(f"{path}: 'defaults' must be a mapping")
    specs: list[Spec] = []
    seen: set[str] = set()
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "id" not in entry:
            raise SpecError(f"{path}: spec #{position}: every spec needs an 'id'")
        spec_id = str(entry["id"])
        if id_problem(spec_id):
            raise SpecError(f"{path}: spec #{position} field 'id': {spec_id!r} {id_problem(spec_id)}")
        if spec_id in seen:
            raise SpecError(f"{path}: spec '{spec_id}': duplicate spec id")
        seen.add(spec_id)
        merged = {**defaults, **entry}
        if "trimming_threshold" in entry and merged.get("model") in ("plr", "pliv"):  # a default may serve other models
            raise SpecError(
                f"{path}: spec '{spec_id}' field 'trimming_threshold': {merged['model']} has no propensity to trim "
                "(irm, iivm and ssm have); a field that does nothing would read as a setting compared"
            )
        if "learners" in entry and "learner" not in entry:
            merged.pop("learner", None)
        try:
            specs.append(Spec(**merged))
        except ValidationError as err:
            raise SpecError(_format_error(path, spec_id, err)) from None
    _check_references(path, specs)
    if only:
        missing = [s for s in only if s not in seen]
        if missing:
            raise SpecError(f"{path}: --only: no spec '{missing[0]}'{did_you_mean(missing[0], sorted(seen))}")
        specs = [s for s in specs if s.id in only]
    return SpecFile(
        path=path,
        dataset=dataset,
        specs=tuple(specs),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def _check_references(path: Path, specs: list[Spec]) -> None:
    """Claims compare with other rows: a single-treatment spec's id, or ``spec[treatment]``."""
    ids = {s.id for s in specs if not s.several_treatments}
    ids |= {f"{s.id}[{d}]" for s in specs if s.several_treatments for d in s.treatments}
    for spec in specs:
        claims = [("paper", spec.paper)] if spec.paper is not None else []
        claims += [(f"papers.{d}", claim) for d, claim in spec.papers.items()]
        for where, claim in claims:
            if claim.p == "adjusted" and spec.p_adjust is None:
                raise SpecError(f"{path}: spec '{spec.id}' field '{where}.p': adjusted needs p_adjust")
            for field in ("greater_than", "less_than"):
                for other in getattr(claim, field):
                    if other not in ids:
                        raise SpecError(f"{path}: spec '{spec.id}' field '{where}.{field}': no spec '{other}'")
