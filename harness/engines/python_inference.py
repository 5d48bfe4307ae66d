"""doubleml's bootstrap, joint intervals and multiple-testing adjustment, with the tool's draws.

How the tool's draws reach doubleml's own code (read in doubleml 0.11.4's source):

* bootstrap weights: ``DoubleMLFramework.bootstrap`` draws each repetition's weights through the
  module-level ``_draw_weights`` that ``double_ml_framework.py`` imports from ``utils/_estimation.py``.
  For the duration of the call the tool substitutes that one name by a function that returns the
  tool's weights (:func:`harness.design.shared_draws.bootstrap_weights`) for the same arguments; the rest
  of ``bootstrap``, ``confint(joint=True)`` and ``p_adjust`` run unchanged. Substituting the name is
  the narrowest hook the source offers: the draw is one call, made once per repetition with
  ``(method, n_rep_boot, n_obs)``, and nothing else reads it.
* SSM nonignorable: ``DoubleMLSSM._nuisance_est`` halves each training fold with
  ``sklearn.model_selection.train_test_split``, imported by name into ``irm/ssm.py``; the tool
  substitutes that name by a lookup of its own split (:func:`harness.design.shared_draws.inner_splits`).

Both substitutions hold a process-wide lock, so threads (a Dask worker's) never see each other's.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator

import numpy as np

from harness.design.shared_draws import bootstrap_weights, inner_splits, split_key
from harness.engines.result import CI_LEVEL, Bootstrap, Inference
from harness.language.spec import Spec

__all__ = ["python_inference", "shared_inner_split"]

_LOCK = threading.RLock()


@contextlib.contextmanager
def _substituted(module, name: str, replacement) -> Iterator[None]:
    original = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, original)


@contextlib.contextmanager
def shared_inner_split(spec: Spec, design, folds) -> Iterator[None]:
    """SSM nonignorable: doubleml halves each training fold with the tool's split."""
    if spec.model != "ssm" or spec.score_name != "nonignorable":
        yield
        return
    import doubleml.irm.ssm as ssm_module

    splits = inner_splits(design, folds, spec.seed)

    def tool_split(train, **_ignored):
        # doubleml fits ml_pi on the first half, ml_m and ml_g on the second.
        return splits[split_key(train)]

    with _LOCK, _substituted(ssm_module, "train_test_split", tool_split):
        yield


def _run_bootstrap(spec: Spec, model, shared: bool) -> Bootstrap:
    import doubleml.double_ml_framework as framework_module

    boot = spec.bootstrap
    boot_t = None
    if boot is not None:
        if shared:
            reps = itertools.count()

            def tool_weights(method: str, n_rep_boot: int, n_obs: int) -> np.ndarray:
                return bootstrap_weights(method, n_rep_boot, n_obs, spec.seed, next(reps))

            with _LOCK, _substituted(framework_module, "_draw_weights", tool_weights):
                model.bootstrap(method=boot.method, n_rep_boot=boot.n_rep_boot)
        else:
            # doubleml's own draws come from numpy's global stream: seeded, and put back after.
            with _LOCK:
                saved = np.random.get_state()
                try:
                    np.random.seed(spec.seed)
                    model.bootstrap(method=boot.method, n_rep_boot=boot.n_rep_boot)
                finally:
                    np.random.set_state(saved)
        boot_t = np.array(model.framework.boot_t_stat, dtype=float)
    joint_ci = model.confint(joint=True, level=CI_LEVEL).to_numpy(dtype=float) if spec.joint else None
    p_adjusted = model.p_adjust(method=spec.p_adjust)["pval"].to_numpy(dtype=float) if spec.p_adjust else None
    return Bootstrap(boot_t=boot_t, joint_ci=joint_ci, p_adjusted=p_adjusted)


def python_inference(spec: Spec, model, own_draws: bool = True) -> Inference:
    """Bootstrap (shared weights, then doubleml's own draws), joint intervals and adjusted p-values."""
    shared = _run_bootstrap(spec, model, shared=True)
    own = _run_bootstrap(spec, model, shared=False) if spec.bootstrap is not None and own_draws else None
    return Inference(shared=shared, own=own)
