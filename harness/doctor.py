"""``dml-parity doctor``: versions of both sides and which learner pairs can run."""

from __future__ import annotations

import sys

from tabulate import tabulate

from harness.errors import EnvironmentProblem
from harness.language.learners import LEARNERS

__all__ = ["doctor"]


def doctor() -> int:
    """Print versions and learner-pair usability; 0 when the R side is usable, 3 when not."""
    from harness.running.runner import python_versions

    py = python_versions()
    print("Python side")
    print(tabulate(sorted(py.items()), headers=["package", "version"], tablefmt="github"))
    try:
        from harness.engines.r_engine import r_library, r_session

        session = r_session()
        rv = session.versions()
    except EnvironmentProblem as err:
        print(f"\nR side: NOT USABLE\n  {err}", file=sys.stderr)
        _pairs(None)
        print(f"\nnot ready: R is not usable ({' '.join(str(err).split())})", file=sys.stderr)
        return err.exit_code
    try:
        import rpy2

        rv["rpy2"] = rpy2.__version__
    except ImportError:  # pragma: no cover - the session above would have failed first
        pass
    print(f"\nR side (library {r_library()})")
    print(tabulate(sorted(rv.items(), key=lambda kv: kv[0].lower()), headers=["package", "version"], tablefmt="github"))
    return _pairs(session)


def _tolerance(pair) -> str:
    """The limit a pair's estimates are held to: relative for exact pairs, in se for statistical ones."""
    if pair.tier == "exact":
        return f"{pair.tolerance:g} relative"
    from harness.language.spec import Spec

    return f"±{Spec.model_fields['coef_tolerance_se'].default:g} se (coef_tolerance_se)"


def _pairs(session) -> int:
    rows = []
    bad = []
    for pair in LEARNERS.values():
        for kind, make in sorted(pair.python.items()):
            try:
                make()
                py_ok = "yes"
            except Exception as err:  # an optional Python package may be missing
                py_ok = f"no ({err.__class__.__name__})"
            if session is None:
                r_ok = "no (R not usable)"
            else:
                try:
                    session.call("dmlp_learner", pair.r_key[kind], session.r_value({}), kind == "classif")
                    r_ok = "yes"
                except Exception as err:
                    r_ok = f"no ({' '.join(str(err).split())[:60]})"
            if py_ok != "yes" or r_ok != "yes":
                bad.append(f"{pair.name} ({kind})")
            rows.append([pair.name, kind, pair.tier, _tolerance(pair), py_ok, pair.r_key[kind], r_ok])
    print("\nLearner pairs")
    print(tabulate(rows, headers=["name", "kind", "tier", "tolerance", "python", "mlr3", "R"], tablefmt="github"))
    if session is None:
        return 3
    if bad:
        print(f"\nnot ready: {len(bad)} learner pair(s) not usable: {', '.join(bad)}; run `make setup`", file=sys.stderr)
        return 3
    print("\nready: both engines and every learner pair are usable")
    return 0
