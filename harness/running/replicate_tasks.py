"""Replicates: every spec with ``replicates: {n, vary}`` becomes ``n`` fits, and the fits of all specs
form one list of tasks for whatever executes them (in process, worker processes, Dask).

Replicate 1 is the spec as written (its fit, and its cache entry, are those of a run without
replicates). Replicate k > 1 derives its seeds from the spec's seed and k (numpy's ``SeedSequence``
with the spawn key ``(k, purpose)``), one stream per purpose:

* ``seeds``: the learners' random streams (the ``random_state`` of every learner that has one, which
  the registry sends to R as ranger's or LightGBM's ``seed``, and the spec seed, which R's
  ``set.seed`` takes for learners drawing from R's own stream); data and folds stay;
* ``folds``: new sample splits on the same data, same learner seeds;
* ``seeds+folds``: both;
* ``data``: a fresh draw of the generated dataset, with new folds and new learner seeds (an analysis
  of new data draws everything anew).

A replicate is an ordinary spec with its own id (``<id>#<k>``), design and folds, so it is fitted,
compared and cached like any spec. Input errors of any replicate (a generator that refuses its
arguments, folds without treated rows) surface here, before the first fit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from harness.design.feasibility import check_feasible
from harness.design.table import build_design, draw_folds
from harness.errors import SpecError
from harness.language.learners import LEARNERS, LearnerChoice
from harness.language.spec import DatasetSpec, Spec

__all__ = ["PURPOSES", "ReplicatePlan", "Replication", "derive_seed", "plan_replicates", "replicate_settings"]

PURPOSES = {"data": 1, "folds": 2, "learners": 3}
SEPARATOR = "#"


def derive_seed(seed: int, replicate: int, purpose: str) -> int:
    """The seed of replicate ``replicate`` for ``purpose``; replicate 1 keeps the spec's seed.

    Below 2**31, so that R's ``set.seed``, ranger's ``seed`` and numpy all take it.
    """
    if replicate == 1:
        return seed
    sequence = np.random.SeedSequence(entropy=seed, spawn_key=(replicate, PURPOSES[purpose]))
    return int(sequence.generate_state(1, dtype=np.uint32)[0] >> 1)


@dataclass(frozen=True)
class Replication:
    """How one spec is replicated, and the seeds each replicate used (for reproduction)."""

    n: int
    vary: str
    data_seeds: Optional[list[int]]
    fold_seeds: Optional[list[int]]
    learner_seeds: Optional[list[int]]

    def seeds(self) -> dict[str, Optional[list[int]]]:
        return {"data": self.data_seeds, "folds": self.fold_seeds, "learners": self.learner_seeds}


@dataclass(frozen=True)
class ReplicatePlan:
    """All fits of a run.

    Attributes
    ----------
    tasks : list
        Prepared specs to fit, replicate 1 of every spec first, then replicate 2 of every spec, ...
        (an interrupted run has whole rounds; expensive specs spread over the run).
    owner : list of (int, int)
        Per task: the index of its spec in the run, its replicate number.
    replication : dict
        Spec index -> :class:`Replication` for replicated specs.
    """

    tasks: list
    owner: list[tuple[int, int]]
    replication: dict[int, Replication]

    def results_of(self, spec_index: int, results: dict[int, dict]) -> list[dict]:
        """The task results of one spec, replicate 1 first."""
        mine = sorted((number, t) for t, (s, number) in enumerate(self.owner) if s == spec_index)
        return [results[t] for _, t in mine]


def replicate_settings(spec: Spec, override_n: Optional[int], tier: str, generated: bool) -> Optional[tuple[int, str]]:
    """(n, vary) of a spec, or None when it is fitted once.

    ``--replicates N`` (``override_n``) sets n for every statistical-tier spec with one treatment and
    no bootstrap or adjusted p-values, and for any spec that asks for replicates itself. ``vary``
    left out is ``data`` for a generated dataset and ``seeds`` otherwise.
    """
    block = spec.replicates
    if block is None and (override_n is None or tier != "statistical"):
        return None
    if block is None and (spec.several_treatments or spec.has_inference):
        return None  # --replicates passes over what the replicate verdict cannot judge (_check_replicable)
    n = override_n if override_n is not None else block.n
    vary = (block.vary if block is not None else None) or ("data" if generated else "seeds")
    return n, vary


def _with_learner_seed(choice: Optional[LearnerChoice], seed: int) -> Optional[LearnerChoice]:
    if choice is None:
        return None
    name, params = (choice, {}) if isinstance(choice, str) else (choice["name"], {k: v for k, v in choice.items() if k != "name"})
    if "random_state" not in LEARNERS[name].defaults:
        return choice  # no random stream of its own (ols, lasso, ...): unchanged
    return {"name": name, **params, "random_state": seed}


def _replicate_spec(spec: Spec, number: int, learner_seed: Optional[int]) -> Spec:
    update: dict[str, Any] = {"replicates": None}
    if number > 1:
        update["id"] = f"{spec.id}{SEPARATOR}{number}"
    if learner_seed is not None and number > 1:
        update["seed"] = learner_seed
        update["learner"] = _with_learner_seed(spec.learner, learner_seed)
        update["learners"] = {n: _with_learner_seed(c, learner_seed) for n, c in spec.learners.items()}
    return spec.model_copy(update=update)


def plan_replicates(
    prepared: list,
    settings: dict[int, tuple[int, str]],
    dataset: DatasetSpec,
    generator: Optional[dict],
    where: str,
) -> ReplicatePlan:
    """Expand replicated specs into tasks; specs without replicates are one task each.

    Parameters
    ----------
    prepared : list of PreparedSpec
        The run's specs with their design and folds (replicate 1 of each).
    settings : dict
        Spec index -> (n, vary), from :func:`replicate_settings`.
    dataset : DatasetSpec
        The spec file's dataset section (column map, panel keys) for new designs.
    generator : dict or None
        ``dataset.generator`` when the data is generated (None: a data file, which ``vary: data``
        cannot redraw).
    where : str
        The data's name, for messages.
    """
    rounds: dict[int, list[tuple[int, Any]]] = {}
    replication: dict[int, Replication] = {}
    for index, base in enumerate(prepared):
        spec = base.spec
        if index not in settings:
            rounds.setdefault(1, []).append((index, base))
            continue
        n, vary = settings[index]
        _check_replicable(spec, where)
        if vary == "data" and generator is None:
            raise SpecError(
                f"{where}: spec '{spec.id}' field 'replicates.vary': 'data' redraws a generated dataset "
                "(dataset.generator); this data is a file: use seeds, folds or seeds+folds"
            )
        seeds = {purpose: [derive_seed(spec.seed, k, purpose) for k in range(1, n + 1)] for purpose in PURPOSES}
        replication[index] = Replication(
            n=n,
            vary=vary,
            data_seeds=seeds["data"] if vary == "data" else None,
            fold_seeds=seeds["folds"] if vary in ("folds", "seeds+folds", "data") else None,
            learner_seeds=seeds["learners"] if vary in ("seeds", "seeds+folds", "data") else None,
        )
        rounds.setdefault(1, []).append((index, dataclasses.replace(base, spec=_replicate_spec(spec, 1, None))))
        for k in range(2, n + 1):
            rounds.setdefault(k, []).append((index, _replicate(base, k, replication[index], dataset, generator, where)))
    tasks, owner = [], []
    for number in sorted(rounds):
        for index, task in rounds[number]:
            tasks.append(task)
            owner.append((index, number))
    return ReplicatePlan(tasks=tasks, owner=owner, replication=replication)


def _check_replicable(spec: Spec, where: str) -> None:
    """The replicate verdict judges one coefficient and its se: refuse what it cannot judge."""
    if spec.several_treatments:
        raise SpecError(f"{where}: spec '{spec.id}' field 'replicates': replicates judge one treatment; give one 'd'")
    if spec.has_inference:
        raise SpecError(
            f"{where}: spec '{spec.id}' field 'replicates': replicates judge the coefficient and its se, not bootstrap, "
            "joint intervals or adjusted p-values; drop 'bootstrap'/'p_adjust' or the replicates"
        )


def _replicate(base: Any, k: int, replication: Replication, dataset: DatasetSpec, generator: Optional[dict], where: str) -> Any:
    """Replicate ``k`` of a prepared spec: its spec, design and folds."""
    spec = base.spec
    learner_seed = replication.learner_seeds[k - 1] if replication.learner_seeds else None
    task_spec = _replicate_spec(spec, k, learner_seed)
    design = base.design
    here = f"{where} (replicate {k})"
    if replication.data_seeds is not None:
        from harness.design.generated import generate

        try:
            frame = generate(generator, replication.data_seeds[k - 1])
        except ValueError as err:  # worded as harness.running.runner words it for replicate 1
            raise SpecError(f"{where}: dataset field '{str(err).split(':')[0]}': {str(err).split(': ', 1)[1]}") from None
        design = build_design(spec, frame, dataset, here)
    folds = base.folds
    if replication.fold_seeds is not None:
        folds = draw_folds(design, spec.n_folds, spec.n_rep, replication.fold_seeds[k - 1], here, spec.id)
    if replication.data_seeds is not None or replication.fold_seeds is not None:
        check_feasible(spec, design, folds, here)
    return dataclasses.replace(base, spec=task_spec, design=design, folds=folds, python_given=None)
