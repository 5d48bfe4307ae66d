"""An engine's result as a cache entry holds it: a JSON tree whose arrays are named members of
the entry's ``.npz`` file, and back, with the digest that ties the tree and the arrays together.

Everything the comparison reads from an :class:`~harness.engines.result.EngineResult` goes in
(numbers, per-repetition values, predictions, folds, treatments, bootstrap draws), so a served
entry is judged on the same inputs as a fit; nothing of a verdict does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

import numpy as np

from harness.engines.result import Bootstrap, EngineResult, Inference

__all__ = ["decode", "digest", "encode"]

_SCALARS = ("coef", "se", "t", "p", "seconds")
_BOOTSTRAP = ("boot_t", "joint_ci", "p_adjusted")


def encode(result: EngineResult, arrays: dict[str, np.ndarray]) -> dict:
    """The JSON tree of ``result``; its arrays are added to ``arrays`` under new names."""

    def put(value: np.ndarray) -> dict:
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return {"array": name}

    tree: dict = {key: float(getattr(result, key)) for key in _SCALARS}
    tree["ci"] = [float(v) for v in result.ci]
    tree["coef_reps"] = put(result.coef_reps)
    tree["se_reps"] = put(result.se_reps)
    tree["predictions"] = {name: put(value) for name, value in result.predictions.items()}
    tree["folds"] = None if result.folds is None else put(result.folds)
    tree["treatments"] = [encode(t, arrays) for t in result.treatments]
    if result.inference is not None:
        own = result.inference.own
        tree["inference"] = {"shared": _encode_bootstrap(result.inference.shared, put)}
        tree["inference"]["own"] = None if own is None else _encode_bootstrap(own, put)
    else:
        tree["inference"] = None
    tree["inner_cv"] = {name: {key: put(v) for key, v in values.items()} for name, values in result.inner_cv.items()}
    if result.tuned:  # only then: entries without a tune block keep their layout
        tree["tuned"] = {name: {key: put(v) for key, v in values.items()} for name, values in result.tuned.items()}
    if result.warnings:  # likewise
        tree["warnings"] = list(result.warnings)
    return tree


def _encode_bootstrap(boot: Bootstrap, put) -> dict:
    return {key: None if getattr(boot, key) is None else put(getattr(boot, key)) for key in _BOOTSTRAP}


def decode(tree: dict, arrays: dict[str, np.ndarray]) -> EngineResult:
    """The :class:`EngineResult` that :func:`encode` wrote (``KeyError``/``TypeError`` on a tree it
    did not write)."""

    def get(ref: Optional[dict]) -> Optional[np.ndarray]:
        return None if ref is None else arrays[ref["array"]]

    inference = None
    if tree["inference"] is not None:
        own = tree["inference"]["own"]
        inference = Inference(
            shared=Bootstrap(**{k: get(tree["inference"]["shared"][k]) for k in _BOOTSTRAP}),
            own=None if own is None else Bootstrap(**{k: get(own[k]) for k in _BOOTSTRAP}),
        )
    return EngineResult(
        **{key: float(tree[key]) for key in _SCALARS},
        ci=(float(tree["ci"][0]), float(tree["ci"][1])),
        coef_reps=get(tree["coef_reps"]),
        se_reps=get(tree["se_reps"]),
        predictions={name: get(ref) for name, ref in tree["predictions"].items()},
        folds=get(tree["folds"]),
        treatments=tuple(decode(t, arrays) for t in tree["treatments"]),
        inference=inference,
        inner_cv={name: {key: get(ref) for key, ref in values.items()} for name, values in tree.get("inner_cv", {}).items()},
        tuned={name: {key: get(ref) for key, ref in values.items()} for name, values in tree.get("tuned", {}).items()},
        warnings=tuple(str(w) for w in tree.get("warnings", ())),
    )


def digest(meta: str, arrays: dict[str, np.ndarray]) -> str:
    """sha256 over the JSON text and every array's name, dtype, shape and bytes."""
    h = hashlib.sha256(meta.encode("utf-8"))
    for name in sorted(arrays):
        value = np.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, value.dtype.str, list(value.shape)]).encode())
        h.update(value.tobytes())
    return h.hexdigest()
