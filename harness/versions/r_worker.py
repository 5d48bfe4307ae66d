"""The R side of `dml-parity versions`: one process per DoubleML release.

``python -m harness.versions.r_worker JOB.pickle OUT.json``, started by ``harness.versions.matrix``
with ``DMLP_RLIB`` set to the release's library (the tool's R engine puts it first on R's
``.libPaths``) and ``R_LIBS`` to the project's library (DoubleML's dependencies). A process of its
own because R loads one DoubleML per process. It fits with the tool's R engine
(``harness/engines/r_engine.py``, ``r_scripts/engine.R``), after ``r_scripts/versions_compat.R``
for releases whose data classes lack an argument engine.R passes.
"""

from __future__ import annotations

import os
import pickle
import sys

from harness.output.atomic_write import atomic_write_json
from harness.versions.inputs import unsupported

__all__ = ["R_VERSION_PACKAGES", "main"]

R_VERSION_PACKAGES = ("DoubleML", "mlr3", "mlr3learners", "glmnet", "lightgbm", "data.table")


def _record(result) -> dict:
    return {
        "status": "ok",
        "coef": result.coef,
        "se": result.se,
        "t": result.t,
        "p": result.p,
        "ci": list(result.ci),
        "coef_reps": [float(v) for v in result.coef_reps],
        "se_reps": [float(v) for v in result.se_reps],
    }


def main(job_path: str, out_path: str) -> int:
    from harness.engines.r_engine import fit_r, project_root, r_session
    from harness.running.fit import error_line

    with open(job_path, "rb") as handle:
        prepared = pickle.load(handle)
    session = r_session()
    session.call("source", str(project_root() / "r_scripts" / "versions_compat.R"))
    versions = session.versions(R_VERSION_PACKAGES)
    out: dict = {"versions": versions, "library": os.environ.get("DMLP_RLIB"), "specs": {}}
    for item in prepared:
        if unsupported(item):
            continue
        try:
            out["specs"][item.spec.id] = _record(fit_r(item.spec, item.design, item.folds, session, own_draws=False))
        except Exception as err:  # one spec's failure is its result
            out["specs"][item.spec.id] = {"status": "error", "error": error_line(err)}
    atomic_write_json(out_path, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
