"""Spec files: YAML read, validated and frozen before anything runs.

A spec file has three sections: ``dataset`` (where the data is and how its columns map),
``defaults`` (values every spec inherits) and ``specs`` (one entry per estimate). Validation errors
name the file, the spec id and the field.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import SpecError
from harness.learners import LearnerChoice, nuisances_of, parse_learner

__all__ = [
    "ClaimSpec",
    "DatasetSpec",
    "ModelName",
    "Published",
    "ReplicatesSpec",
    "Spec",
    "SpecFile",
    "load_spec_file",
]

ModelName = Literal["plr", "pliv", "irm", "iivm"]
FixedEffects = Literal["none", "twoway", "unit", "time", "dummies"]

DEFAULT_SCORES = {"plr": "partialling out", "pliv": "partialling out", "irm": "ATE", "iivm": "LATE"}
VALID_SCORES = {
    "plr": ("partialling out", "IV-type"),
    "pliv": ("partialling out",),
    "irm": ("ATE", "ATTE"),
    "iivm": ("LATE",),
}
# Models whose treatment (and instrument) must be 0/1.
BINARY_TREATMENT = {"irm", "iivm"}
NEEDS_INSTRUMENT = {"pliv", "iivm"}


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Frozen):
    """Where the data lives and how the user's columns map to the names the specs use.

    ``generator`` instead of ``path`` draws the data with a doubleml generator per spec seed
    (:mod:`harness.generated`); its true effect is the generator's theta/alpha argument."""

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
        from harness.generated import check_generator

        check_generator(self.generator)
        return self


class Published(_Frozen):
    """Numbers printed in the paper, when a user holds them."""

    coef: Optional[float] = None
    se: Optional[float] = None
    note: Optional[str] = None


class ClaimSpec(_Frozen):
    """A finding of the paper, in words and in a form the tool can check."""

    claim: str
    claim_zh: Optional[str] = None
    sign: Optional[Literal["positive", "negative"]] = None
    level: float = 0.05
    greater_than: list[str] = Field(default_factory=list)
    less_than: list[str] = Field(default_factory=list)
    published: Published = Field(default_factory=Published)

    @field_validator("greater_than", "less_than", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


# Replicates (harness/replicates.py): what changes from one replicate to the next.
Vary = Literal["data", "seeds", "folds", "seeds+folds"]


class ReplicatesSpec(_Frozen):
    """``replicates: {n: 40, vary: seeds}``: the spec is fitted ``n`` times, replicate 1 as written and
    each further one with seeds derived from the spec's seed and the replicate number.

    ``vary``: ``seeds`` (the learners' random streams), ``folds`` (new sample splits), ``seeds+folds``,
    or ``data`` (a fresh draw of a generated dataset, with new folds and seeds: a new analysis). Left
    out, it is ``data`` for a generated dataset and ``seeds`` otherwise."""

    n: int
    vary: Optional[Vary] = None

    @field_validator("n")
    @classmethod
    def _n(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"must be at least 2 (replicate 1 is the spec as written), got {value}")
        return value


class Spec(_Frozen):
    """One estimate: a model, its variables, its learners and the design steps before it."""

    id: str
    model: ModelName
    y: str
    d: str
    x: list[str] = Field(default_factory=list)
    z: Optional[list[str]] = None
    score: Optional[str] = None
    learner: Optional[LearnerChoice] = None
    learners: dict[str, LearnerChoice] = Field(default_factory=dict)
    sample: Optional[str] = None
    cluster: Optional[list[str]] = None
    trimming_threshold: float = 0.01
    subgroups: Optional[dict[str, bool]] = None
    n_folds: int = 5
    n_rep: int = 1
    seed: int = 1
    fixed_effects: FixedEffects = "none"
    fold_groups: Optional[str] = None
    winsorize: Optional[float] = None
    lags: dict[str, int] = Field(default_factory=dict)
    interactions: list[list[str]] = Field(default_factory=list)
    binarize: dict[str, Union[Literal["median"], float]] = Field(default_factory=dict)
    dropna: bool = False
    tier: Optional[Literal["exact", "statistical"]] = None
    coef_tolerance_se: float = 0.2
    replicates: Optional[ReplicatesSpec] = None
    title: Optional[str] = None
    title_zh: Optional[str] = None
    table: Optional[str] = None
    truth: Optional[str] = None
    paper: Optional[ClaimSpec] = None

    @field_validator("z", "cluster", "x", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

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

    @field_validator("winsorize")
    @classmethod
    def _winsor(cls, value: Optional[float]) -> Optional[float]:
        if value is not None and not 0 < value < 0.5:
            raise ValueError(f"must lie in (0, 0.5), got {value}")
        return value

    @field_validator("trimming_threshold")
    @classmethod
    def _trim(cls, value: float) -> float:
        if not 0 <= value < 0.5:
            raise ValueError(f"must lie in [0, 0.5), got {value}")
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
            raise ValueError(f"score: {score!r} is not a {self.model} score {VALID_SCORES[self.model]}")
        if self.model in NEEDS_INSTRUMENT and not self.z:
            raise ValueError(f"z: model {self.model} needs an instrument")
        if self.model not in NEEDS_INSTRUMENT and self.z:
            raise ValueError(f"z: model {self.model} takes no instrument")
        if self.model == "iivm" and len(self.z or []) != 1:
            raise ValueError("z: iivm takes exactly one binary instrument")
        if self.subgroups is not None and self.model != "iivm":
            raise ValueError("subgroups: only iivm has subgroups")
        if self.cluster:
            roles = {"y": [self.y], "d": [self.d], "x": self.x, "z": self.z or []}
            for field, columns in roles.items():
                both = [c for c in self.cluster if c in columns]
                if both:
                    # doubleml and DoubleML both refuse a column that is a cluster and a model variable.
                    raise ValueError(f"cluster: column '{both[0]}' is also in {field}; a cluster cannot be a model variable")
        if self.cluster and self.fold_groups:
            raise ValueError("fold_groups: cluster data already keeps each cluster's rows in one fold")
        needed = nuisances_of(self.model, score, self.subgroups)
        unknown = set(self.learners) - set(needed)
        if unknown:
            raise ValueError(f"learners: {sorted(unknown)} not nuisances of {self.model} (it has {needed})")
        missing = [n for n in needed if n not in self.learners and self.learner is None]
        if missing:
            raise ValueError(f"learners: no learner for {missing} (give learners or learner)")
        for nuisance in needed:
            resolved = parse_learner(self.learners.get(nuisance, self.learner), nuisance, self.model)
            if self.tier == "exact" and resolved.pair.tier != "exact":
                # An exact verdict needs learners that solve the same problem in both languages.
                raise ValueError(
                    f"tier: 'exact' cannot be earned with the statistical learner '{resolved.name}' ({nuisance}); "
                    "use an exact pair (ols, logit, lasso, lgbm) or drop 'tier'"
                )
        return self

    @property
    def score_name(self) -> str:
        return self.score or DEFAULT_SCORES[self.model]

    def learner_for(self, nuisance: str) -> LearnerChoice:
        return self.learners.get(nuisance, self.learner)

    @property
    def nuisances(self) -> list[str]:
        return nuisances_of(self.model, self.score_name, self.subgroups)

    def content_hash(self) -> str:
        """Hash of everything that can change this spec's estimate."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


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
    field = ".".join(str(p) for p in first["loc"] if not isinstance(p, int) or spec_id is None)
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    where = f"spec '{spec_id}'" if spec_id else "dataset"
    field_txt = f" field '{field}'" if field else ""
    return f"{path}: {where}{field_txt}: {msg}"


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: spec file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(f"{path}: cannot read spec file ({err.__class__.__name__})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or "syntax error"
        raise SpecError(f"{path}:{line}: YAML error: {problem}") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping with 'dataset', 'defaults' and 'specs'")
    unknown = set(raw) - {"dataset", "defaults", "specs"}
    if unknown:
        raise SpecError(f"{path}: unknown top-level key '{sorted(unknown)[0]}'")
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
        if spec_id in seen:
            raise SpecError(f"{path}: spec '{spec_id}': duplicate spec id")
        seen.add(spec_id)
        merged = {**defaults, **entry}
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
            raise SpecError(f"{path}: --only: no spec '{missing[0]}'")
        specs = [s for s in specs if s.id in only]
    return SpecFile(
        path=path,
        dataset=dataset,
        specs=tuple(specs),
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )


def _check_references(path: Path, specs: list[Spec]) -> None:
    ids = {s.id for s in specs}
    for spec in specs:
        if spec.paper is None:
            continue
        for field in ("greater_than", "less_than"):
            for other in getattr(spec.paper, field):
                if other not in ids:
                    raise SpecError(f"{path}: spec '{spec.id}' field 'paper.{field}': no spec '{other}'")
