"""Data sets drawn by doubleml's own generators: ``dataset: {generator: {name: make_irm_data, ...}}``.

``name`` is a generator of ``doubleml.plm.datasets`` or ``doubleml.irm.datasets`` (doubleml 0.11.4's
``doubleml.datasets``), every other key one of its arguments. One more: ``make_data_pliv_partialZ``,
the generator the alignment suite draws its PLIV partialling-out-Z case with, which doubleml ships
among its test helpers (``doubleml/plm/tests/conftest.py``, which imports pytest: a development
dependency here). The generators draw from numpy's global
stream, so a spec's data is drawn after ``numpy.random.seed(spec.seed)``, and the global state is put
back afterwards. The true effect of such data is the generator's own ``theta``/``alpha`` argument (or
its default). This is how the DoubleML project's alignment suite (DoubleML/doubleml-py-vs-r) draws
its data: seeding and calling the generator is enough to reproduce it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["GENERATORS", "check_generator", "generate", "generated_sha256", "true_effect"]

# generator -> (module, the argument that is the true effect)
GENERATORS: dict[str, tuple[str, str]] = {
    "make_plr_CCDDHNR2018": ("doubleml.plm.datasets", "alpha"),
    "make_plr_turrell2018": ("doubleml.plm.datasets", "theta"),
    "make_pliv_CHS2015": ("doubleml.plm.datasets", "alpha"),
    "make_pliv_multiway_cluster_CKMS2021": ("doubleml.plm.datasets", "theta"),
    "make_irm_data": ("doubleml.irm.datasets", "theta"),
    "make_iivm_data": ("doubleml.irm.datasets", "theta"),
    "make_ssm_data": ("doubleml.irm.datasets", "theta"),
    "make_data_pliv_partialZ": ("doubleml.plm.tests.conftest", "alpha"),
}


def _function(name: str) -> Callable[..., Any]:
    module, _ = GENERATORS[name]
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as err:
        raise ValueError(f"generator.name: {name} cannot be imported from {module} ({err})") from None


def check_generator(generator: dict) -> None:
    """``ValueError`` naming what is wrong with a ``dataset.generator`` mapping."""
    name = generator.get("name")
    if name not in GENERATORS:
        raise ValueError(f"generator.name: {name!r} is not a doubleml generator the tool knows ({', '.join(sorted(GENERATORS))})")
    known = _argument_names(_function(name))
    for key in generator:
        if key == "name":
            continue
        if key == "return_type":
            raise ValueError("generator.return_type: the tool always asks for a DataFrame")
        if key not in known:
            raise ValueError(f"generator.{key}: {name} has no argument '{key}' (it has {', '.join(known)})")


def _argument_names(function: Callable[..., Any]) -> list[str]:
    """Named parameters, and the keyword arguments a generator reads from ``**kwargs``
    (``kwargs.get("omega_X", ...)`` in its source), so that a misspelt one is an error."""
    parameters = inspect.signature(function).parameters
    names = [p.name for p in parameters.values() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "return_type"]
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        names += re.findall(r"kwargs\.get\(\s*[\"'](\w+)[\"']", inspect.getsource(function))
    return names


def _arguments(generator: dict) -> dict[str, Any]:
    # YAML gives lists; the generators do array arithmetic with them (omega_X and friends).
    return {k: np.asarray(v) if isinstance(v, list) else v for k, v in generator.items() if k != "name"}


def generate(generator: dict, seed: int) -> pd.DataFrame:
    """The generator's data frame, drawn after ``numpy.random.seed(seed)``.

    Raises
    ------
    ValueError
        When the generator refuses its arguments (its own message, or the failed assertion).
    """
    function = _function(generator["name"])
    arguments = _arguments(generator)
    if "return_type" in inspect.signature(function).parameters:
        arguments["return_type"] = "DataFrame"
    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        frame = function(**arguments)
    except Exception as err:  # a generator's own checks raise assertions and value errors
        text = str(err) or (traceback.extract_tb(err.__traceback__)[-1].line or "")
        raise ValueError(f"generator: {generator['name']} refused these arguments ({err.__class__.__name__}: {text})") from None
    finally:
        np.random.set_state(saved)
    return frame.reset_index(drop=True)


def true_effect(generator: dict) -> float:
    """The effect the generator builds in: its theta/alpha argument, or that argument's default."""
    name = generator["name"]
    argument = GENERATORS[name][1]
    if argument in generator:
        return float(generator[argument])
    return float(inspect.signature(_function(name)).parameters[argument].default)


def generated_sha256(frames: list[pd.DataFrame]) -> str:
    """One digest of the frames a run drew (column names and float64 values, in order)."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(np.ascontiguousarray(frame.to_numpy(dtype=float)).tobytes())
    return digest.hexdigest()
