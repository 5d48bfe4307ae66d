"""Before and after, part by part, at one size (issue 14): each step the tool changed, timed the old
way and the new way in the same process on the same design and folds.

    .venv/bin/python bench/growth/growth_parts.py [--rows 1001700] [--reps 3]

Parts: folds handed to doubleml (its ``set_sample_splitting`` vs the tool's validation plus
``hand_splits``), folds handed to R's DoubleML (its ``set_sample_splitting`` vs
``dmlp_hand_smpls``), folds and design sent to R (Python lists vs buffer copies), and the rows
and folds written (JSON lists in results.json vs arrays.npz). Adds ``parts`` to
bench/growth/growth_raw.json and re-renders the section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

import numpy as np  # noqa: E402
from growth import OUT, RAW, spec_file, survey_csv  # noqa: E402
from growth_render import write_section  # noqa: E402

from harness.design.splits import sample_splits  # noqa: E402
from harness.engines.python_engine import _model, hand_splits  # noqa: E402
from harness.engines.r_arguments import fit_arguments  # noqa: E402
from harness.engines.r_engine import r_session  # noqa: E402
from harness.language.spec import load_spec_file  # noqa: E402
from harness.output.arrays import side_file_bytes  # noqa: E402
from harness.running.runner import prepare  # noqa: E402


def timed(fn: Callable[[], Any], reps: int) -> float:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(statistics.median(times))


def old_r_vector(ro, array: np.ndarray):
    """The engine's conversion before issue 14: a Python list, element by element."""
    return ro.IntVector(array.tolist()) if array.dtype.kind in "iu" else ro.FloatVector(array.tolist())


def measure_parts(n_rows: int, reps: int) -> dict[str, Any]:
    csv = survey_csv(n_rows, OUT)
    prepared = prepare(load_spec_file(spec_file("ols", OUT)), csv)[0]
    spec, design, folds = prepared.spec, prepared.design, prepared.folds
    splits = sample_splits(design, folds)
    parts: dict[str, dict[str, float]] = {}

    model = _model(spec, design, folds, splits)
    parts["folds -> doubleml (once per Python fit)"] = {
        "before": timed(lambda: model.set_sample_splitting(folds.smpls()), reps),
        "after": timed(lambda: hand_splits(model, sample_splits(design, folds)), reps),
    }

    parts.update(_r_parts(spec, design, folds, splits, reps))

    lists = {"rows": design.rows.tolist(), "folds": folds.labels.tolist()}
    members = {"rows_0": design.rows, "folds_0": folds.labels}
    parts["rows and folds written"] = {
        "before": timed(lambda: json.dumps(lists, indent=2), reps),
        "after": timed(lambda: side_file_bytes(members), reps),
    }
    sizes = {"before": len(json.dumps(lists, indent=2).encode()), "after": len(side_file_bytes(members))}
    return {"n_rows": n_rows, "reps": reps, "parts": parts, "bytes": sizes}


def _r_parts(spec, design, folds, splits, reps: int) -> dict[str, dict[str, float]]:
    """The R side: folds and the design to R vectors, and R's DoubleML model on given folds."""
    parts: dict[str, dict[str, float]] = {}
    session = r_session()
    ro = session._ro
    with session.building():
        old_smpls = lambda: ro.r["list"](  # noqa: E731
            *[
                ro.ListVector(
                    {
                        "train_ids": ro.r["list"](*[old_r_vector(ro, tr + 1) for tr, _ in rep]),
                        "test_ids": ro.r["list"](*[old_r_vector(ro, te + 1) for _, te in rep]),
                    }
                )
                for rep in splits.smpls
            ]
        )
        new_smpls = lambda: session.r_value(  # noqa: E731
            [{"train_ids": [tr + 1 for tr, _ in rep], "test_ids": [te + 1 for _, te in rep]} for rep in splits.smpls]
        )
        parts["folds -> R vectors"] = {"before": timed(old_smpls, reps), "after": timed(new_smpls, reps)}
        values = design.frame.to_numpy(dtype=float)

        def old_design():
            matrix = ro.r["matrix"](ro.FloatVector(values.ravel(order="F")), nrow=values.shape[0], ncol=values.shape[1])
            return ro.r["colnames<-"](matrix, ro.StrVector(list(design.frame.columns)))

        parts["design -> R (matrix, then data.table)"] = {
            "before": timed(lambda: ro.r["as.data.table"](old_design()), reps),
            "after": timed(lambda: ro.r["setDT"](session.r_columns(design.frame)), reps),
        }
        arguments = fit_arguments(spec, design, folds, splits, session)
        data = session.call_raw(
            "dmlp_data",
            x=arguments["x"],
            y=design.y,
            d=design.d,
            x_cols=arguments["x_cols"],
            z_cols=arguments["z_cols"],
            cluster_cols=arguments["cluster_cols"],
        )

        def r_model(checked: bool) -> Callable[[], Any]:
            return lambda: session.call_raw(
                "dmlp_model",
                model=spec.model,
                data=data,
                learners=arguments["learners"],
                score=spec.score_name,
                n_folds=5,
                n_rep=1,
                smpls=arguments["smpls"],
                smpls_cluster=arguments["smpls_cluster"],
                trimming_threshold=spec.trimming_threshold,
                subgroups=arguments["subgroups"],
                checked=checked,
            )

        parts["folds -> R's DoubleML (once per R fit)"] = {
            "before": timed(r_model(True), reps),
            "after": timed(r_model(False), reps),
        }
    session.collect_garbage()
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1001700)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    raw = json.loads(RAW.read_text(encoding="utf-8")) if RAW.exists() else {}
    raw["parts"] = measure_parts(args.rows, args.reps)
    raw["parts"]["command"] = " ".join(
        [".venv/bin/python", "bench/growth/growth_parts.py", *(sys.argv[1:] if argv is None else argv)]
    )
    RAW.write_text(json.dumps(raw, indent=1), encoding="utf-8")
    write_section(raw)
    print(json.dumps(raw["parts"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
