"""R's time with one future per fold (mlr3's default, which ``r_scripts/engine.R`` keeps) against
one per resampling (``mlr3.exec_chunk_bins = 1``): the same R fits, each arm in a fresh process after a warm-up fit,
arms alternating. Prints each fit's seconds, the ratio, and whether the estimates are identical.

    .venv/bin/python bench/overhead/r_chunking.py              # 2 rounds
    .venv/bin/python bench/overhead/r_chunking.py --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Forests (ranger draws random numbers: the identity check matters most there) and ols/logit folds.
PAPER_SPECS = ("baseline_fe", "digital_intel_rw", "rob_k3")
MATRIX_CASES = (("generated", "iivm", "twoway", 4, 5, "small"), ("generated", "plr_po", "oneway", 3, 5, "small"))


def _arm(chunked: bool) -> dict:
    """One arm in this process: a warm-up fit, the option set, then every R fit timed."""
    sys.path.insert(0, str(ROOT))  # the matrix cases live in tests/
    import rpy2.robjects as ro

    from harness.design.table import build_design, draw_folds
    from harness.engines.r_engine import fit_r
    from harness.language.spec import DatasetSpec, Spec, load_spec_file
    from harness.running.runner import _data_path, prepare
    from tests.matrix_cases import MatrixCase, dataset_frame
    from tests.test_matrix_r import _run

    spec_file = load_spec_file(ROOT / "specs" / "paper.yaml")
    spec_file = spec_file.model_copy(update={"specs": tuple(s for s in spec_file.specs if s.id in PAPER_SPECS)})
    fits = [(p.spec, p.design, p.folds) for p in prepare(spec_file, _data_path(spec_file, None))]
    for case in (MatrixCase(*fields) for fields in MATRIX_CASES):
        spec = Spec(**case.spec_fields())
        design = build_design(spec, dataset_frame(case.dataset, case.size), DatasetSpec(), case.dataset)
        fits.append((spec, design, draw_folds(design, spec.n_folds, spec.n_rep, spec.seed, case.dataset, spec.id)))
    _run(MatrixCase("generated", "plr_po", "none", 1, 2, "small"))  # loads R, mlr3, DoubleML
    ro.r(f"options(mlr3.exec_chunk_bins = {'1L' if chunked else 'NULL'})")
    out = {}
    for spec, design, folds in fits:
        start = time.perf_counter()
        fit = fit_r(spec, design, folds)
        seconds = time.perf_counter() - start
        out[spec.id] = {"s": seconds, "coef": [float(v) for v in fit.coef_reps], "se": [float(v) for v in fit.se_reps]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--arm", choices=("chunked", "per-fold"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(_arm(args.arm == "chunked")))
        return
    runs: dict[str, list[dict]] = {"per-fold": [], "chunked": []}
    for i in range(args.rounds):
        for arm in ("per-fold", "chunked") if i % 2 == 0 else ("chunked", "per-fold"):
            done = subprocess.run([sys.executable, __file__, "--arm", arm], cwd=ROOT, capture_output=True, text=True, check=True)
            runs[arm].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for name in runs["chunked"][0]:
        per_fold = [r[name]["s"] for r in runs["per-fold"]]
        chunked = [r[name]["s"] for r in runs["chunked"]]
        first = runs["per-fold"][0][name]
        same = all((r[name]["coef"], r[name]["se"]) == (first["coef"], first["se"]) for arm in runs.values() for r in arm)
        ratio = statistics.median(per_fold) / statistics.median(chunked)
        print(f"{name:40s} per-fold {statistics.median(per_fold):6.1f} s  chunked {statistics.median(chunked):6.1f} s  "
              f"{ratio:.2f}x  identical estimates: {same}")  # fmt: skip


if __name__ == "__main__":
    main()
