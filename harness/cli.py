"""The ``dml-parity`` command line. Errors are one line on stderr with a non-zero exit, no traceback."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

from harness.errors import HarnessError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dml-parity", description="Does a DoubleML analysis give the same answer in Python and in R?"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run a spec file through both engines and write results and report")
    run.add_argument("--specs", required=True, type=Path, help="YAML spec file")
    run.add_argument("--data", type=Path, help="CSV to use instead of the spec file's dataset.path")
    run.add_argument("--only", help="comma-separated spec ids")
    run.add_argument("--engines", default="python,r", help="python,r (default) or python or r")
    run.add_argument("--out", type=Path, help="output directory (default reports/<spec name>-<UTC time>)")
    run.add_argument("--jobs", type=int, default=1, help="specs fitted in parallel worker processes")
    run.add_argument("--scheduler", help="Dask scheduler address: run the specs on that cluster")
    run.add_argument("--no-cache", action="store_true", help="refit every spec")
    run.add_argument("--cache-dir", type=Path, help="result cache (default ~/.cache/dml-parity/results)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--replicates", type=int, metavar="N", help="fit every statistical-tier spec N times (replicates.n)")

    sub.add_parser("doctor", help="versions of both sides and which learner pairs are usable")

    data = sub.add_parser("data", help="data utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    synth = data_sub.add_parser("synth", help="write the synthetic 279-city panel and its true effects")
    synth.add_argument("--seed", type=int, default=20260415)
    synth.add_argument("--out", type=Path, default=Path("data/city_panel.csv"))

    baseline = sub.add_parser("baseline", help="regression-testing baselines")
    base_sub = baseline.add_subparsers(dest="baseline_command", required=True)
    save = base_sub.add_parser("save", help="save a run's estimates as a baseline")
    save.add_argument("run_dir", type=Path)
    save.add_argument("--to", required=True, type=Path)

    check = sub.add_parser("check", help="list estimates that moved beyond their tier's tolerance")
    check.add_argument("--baseline", required=True, type=Path)
    check.add_argument("--run", type=Path, help="a run directory to read (default: re-run the baseline's spec file)")
    check.add_argument("--engines", default=None, help="engines for a re-run (default: the baseline's)")
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM: the run ends as on Ctrl-C (workers ended, nothing half-written), exit 143."""


def _terminate(signum, frame) -> None:
    raise Terminated


def main(argv: Optional[list[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    # Only the main thread may set a handler (main() can be called from elsewhere in tests).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _dispatch(args, argv)
    except HarnessError as err:
        print(f"dml-parity: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        what = "terminated" if isinstance(err, Terminated) else "interrupted"
        print(f"dml-parity: {what}; finished specs are kept in the cache, no report written", file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _dispatch(args: argparse.Namespace, argv: list[str]) -> int:
    """The subcommand's exit code."""
    if args.command == "run":
        return _cmd_run(args, argv)
    if args.command == "doctor":
        from harness.doctor import doctor

        return doctor()
    if args.command == "data":
        from harness.synth import write_city_panel

        write_city_panel(args.seed, args.out)
        print(f"wrote {args.out}")
        return 0
    if args.command == "baseline":
        from harness.baseline import save_baseline

        save_baseline(args.run_dir, args.to)
        print(f"wrote {args.to}")
        return 0
    if args.command == "check":
        from harness.baseline import check_baseline

        return check_baseline(args.baseline, args.run, args.engines)
    return 2


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.outdir import check_output

    if args.jobs < 1:
        raise HarnessError(f"--jobs: must be at least 1, got {args.jobs}")
    if args.replicates is not None and args.replicates < 2:
        raise HarnessError(f"--replicates: must be at least 2, got {args.replicates}")
    out = args.out or Path("reports") / f"{args.specs.stem}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    # Before anything is read or fitted: a run that cannot write its report must not start.
    check_output(out)

    from harness.progress import Progress
    from harness.runner import RunOptions, exit_code, parse_engines, run

    engines = parse_engines(args.engines)
    quiet = args.quiet
    options = RunOptions(
        specs=args.specs,
        data=args.data,
        only=[s.strip() for s in args.only.split(",")] if args.only else None,
        engines=engines,
        jobs=args.jobs,
        scheduler=args.scheduler,
        cache_dir=args.cache_dir,
        use_cache=not args.no_cache,
        replicates=args.replicates,
        command=shlex.join(["dml-parity", *argv]),
        progress=None if quiet else Progress(),
        # DMLP_IN_PROCESS=1: the fits run in this process, for profilers only (bench/measure.py,
        # bench/growth.py; a profiler sees no worker's work). A crash in a fit then ends the run.
        in_process=os.environ.get("DMLP_IN_PROCESS") == "1",
    )
    results = run(options)
    kept = write_run(results, out)
    if kept:  # saved into --out while the report was written: moved into the new folder, not deleted
        print(f"dml-parity: note: kept {', '.join(kept)} in {out} (saved there during the run)", file=sys.stderr)
    if not quiet:
        s = results["summary"]
        keys = ("agree", "explained", "disagree", "inconclusive", "error", "not-run", "r-not-run")
        counts = ", ".join(f"{s[key]} {key}" for key in keys if s.get(key))
        print(f"{s['specs']} specs: {counts} -> {out}/report.html")
    return exit_code(results)


def write_run(results: dict, out: Path) -> list[str]:
    """Write results, their side file and the report into a staging folder, then move it into place
    whole; returns what the user saved into ``out`` meanwhile (kept in it)."""
    from harness.arrays import write_arrays
    from harness.io import atomic_write_json
    from harness.outdir import OUTPUT_FILES_KEY, list_outputs, replace_folder
    from harness.report import write_report

    def write(staging: Path) -> None:
        written = write_arrays(results, staging)  # rows and folds -> arrays.npz, referenced by sha256
        write_report(written, staging)
        # Written last, with the list of what is beside it: the next run into this folder replaces
        # exactly these files and no other.
        atomic_write_json(staging / "results.json", {**written, OUTPUT_FILES_KEY: list_outputs(staging)})

    return replace_folder(Path(out), write)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
