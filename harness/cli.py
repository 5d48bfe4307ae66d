"""The ``dml-parity`` command line. Errors are one line on stderr with a non-zero exit, no traceback."""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import signal
import sys
import threading
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

from harness.errors import HarnessError
from harness.verdict.exit_codes import FAILED, FINDING

__all__ = ["main"]


EXIT_CODES = """exit codes:
  0  every spec compared and every verdict earned (agree, explained); check: nothing moved
  1  a finding: a spec disagrees or is inconclusive; check: an estimate moved
  2  bad input: a spec field, data file or column, option or path (one line names it)
  3  the tool failed: a crash, a spec that ended in error, R not usable
  4  nothing compared: one engine only (--engines python), or no spec run
  130/143  interrupted (Ctrl-C) / terminated (SIGTERM)
when several apply: 3, then 2, 1, 4"""


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(dist: str) -> str:
        try:
            return version(dist)
        except PackageNotFoundError:
            return "not installed"

    return f"dml-parity {of('dml-parity')} (Python doubleml {of('doubleml')}; `dml-parity doctor` shows R's side)"


def _parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="dml-parity",
        description="Does a DoubleML analysis give the same answer in Python and in R?",
        epilog=EXIT_CODES,
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run a spec file through both engines and write results and report",
        description="Fit every spec of a spec file in Python and in R, compare, and write results.json and report.html.",
        epilog=EXIT_CODES,
        formatter_class=raw,
    )
    run.add_argument("--specs", required=True, type=Path, help="YAML spec file")
    run.add_argument("--data", type=Path, help="data file (.csv or Stata .dta) to use instead of the spec file's dataset.path")
    run.add_argument("--only", help="comma-separated spec ids (default: every spec)")
    run.add_argument(
        "--engines", default="python,r", help="python,r (default) or python or r; one engine compares nothing (exit 4)"
    )
    run.add_argument(
        "--out", type=Path, help="output directory (default reports/<spec file name>-<UTC time>, relative to the current folder)"
    )
    run.add_argument("--jobs", type=int, default=None, help="specs fitted in parallel worker processes (default 1)")
    run.add_argument("--scheduler", help="Dask scheduler address: run the specs on that cluster")
    run.add_argument("--no-cache", action="store_true", help="refit every spec")
    run.add_argument("--cache-dir", help="result cache (default ~/.cache/dml-parity/results)")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--replicates", type=int, metavar="N", help="fit every statistical-tier spec N times (replicates.n)")

    sub.add_parser(
        "doctor",
        help="versions of both sides and which learner pairs are usable",
        description="Versions of both sides, which learner pairs are usable, and a last line: ready, or what is missing.",
        epilog="exit codes: 0 ready; 3 R or a learner pair not usable",
    )

    data = sub.add_parser("data", help="data utilities")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    synth = data_sub.add_parser("synth", help="write the synthetic 279-city panel and its true effects")
    synth.add_argument("--seed", type=int, default=20260415, help="the draw's seed (default 20260415)")
    synth.add_argument("--out", type=Path, default=Path("data/city_panel.csv"), help="CSV to write (default data/city_panel.csv)")

    baseline = sub.add_parser("baseline", help="regression-testing baselines")
    base_sub = baseline.add_subparsers(dest="baseline_command", required=True)
    save = base_sub.add_parser("save", help="save a run's estimates as a baseline")
    save.add_argument("run_dir", type=Path, help="a run's output folder (the --out of `dml-parity run`; holds results.json)")
    save.add_argument("--to", required=True, type=Path, help="the baseline file to write (JSON), e.g. baseline.json")

    check = sub.add_parser(
        "check",
        help="re-run a baseline's specs: what changed since it (specs, data, packages) and what moved",
        epilog=EXIT_CODES,
        formatter_class=raw,
    )
    check.add_argument("--baseline", required=True, type=Path, help="a baseline file written by `dml-parity baseline save`")
    check.add_argument("--run", type=Path, help="a run directory to read instead of re-running the baseline's spec file")
    check.add_argument(
        "--data", type=Path, help="data (.csv or .dta) for the re-run (default: the baseline's data); other data is a finding"
    )
    check.add_argument("--only", help="comma-separated spec ids to re-run and compare")
    check.add_argument("--engines", default=None, help="engines for a re-run (default: the baseline's)")
    check.add_argument("--out", type=Path, help="folder for the re-run and check.md (default reports/<name>-check-<time>)")
    check.add_argument("--jobs", type=int, default=None, help="specs fitted in parallel worker processes (default 1)")
    check.add_argument("--scheduler", help="Dask scheduler address: run the specs on that cluster")
    check.add_argument("--no-cache", action="store_true", help="refit every spec")
    check.add_argument("--cache-dir", help="result cache (default ~/.cache/dml-parity/results)")
    check.add_argument("--quiet", action="store_true", help="no progress output")

    _versions_parser(sub)
    return parser


def _versions_parser(sub) -> None:
    """`dml-parity versions` (harness/versions/)."""
    versions = sub.add_parser(
        "versions",
        help="fit the specs under several doubleml and DoubleML releases: which release moved which estimate, and why",
        epilog="exit codes: 0 every move explained; 1 an unexplained move or a failed fit; 2 a refused release, spec, "
        "--out or setting (DMLP_R_REPO, DMLP_VERSIONS_CACHE); 3 an environment could not be built; 4 nothing compared "
        "(one release of each package: fitted and reported, no neighbour); 130/143 interrupted / terminated",
    )
    versions.add_argument("--specs", required=True, type=Path, help="YAML spec file")
    versions.add_argument("--py-releases", help="doubleml releases, e.g. 0.9.3,0.10.1,0.11.4 (default: the installed one)")
    versions.add_argument("--r-releases", help="R DoubleML releases, e.g. 1.0.1,1.0.2 (default: the installed one)")
    versions.add_argument("--only", help="comma-separated spec ids (default: every spec)")
    versions.add_argument("--out", required=True, type=Path, help="output folder (versions.json, report.md, report.html)")
    versions.add_argument("--quiet", action="store_true", help="no progress output")


class Terminated(KeyboardInterrupt):
    """SIGTERM: the run ends as on Ctrl-C (workers ended, nothing half-written), exit 143."""


# Set by SIGTERM's handler: a Terminated raised inside a finalizer or __del__ is printed and
# dropped by Python ("Exception ignored in ..."), and the run would end as if never terminated
# (seen once in a test, 2026-12-07); main then still ends with 143.
_TERMINATED = threading.Event()


def _terminate(signum, frame) -> None:
    _TERMINATED.set()
    raise Terminated


def main(argv: Optional[list[str]] = None) -> int:
    command = argv is None  # the dml-parity command (a caller passing argv lives on: tests, scripts)
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    # Only the main thread may set a handler (main() can be called from elsewhere in tests).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    _TERMINATED.clear()
    try:
        code = _dispatch(args, argv)
        if _TERMINATED.is_set():  # a Terminated that a finalizer swallowed
            print("dml-parity: terminated", file=sys.stderr)
            return 143
        return code
    except HarnessError as err:
        print(f"dml-parity: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt as err:
        what = "terminated" if isinstance(err, Terminated) else "interrupted"
        # run and check keep each finished spec's fit in the cache; versions keeps its built environments only.
        kept = "built environments are kept" if args.command == "versions" else "finished specs are kept in the cache"
        if getattr(err, "report_written", False):  # after the report was swapped into place (harness.output.held_signals)
            print(f"dml-parity: {what} after the report was written", file=sys.stderr)
        else:
            print(f"dml-parity: {what}; {kept}, no report written", file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130
    except Exception as err:  # a defect of the tool (a VerdictError, a crash): never a finding's exit 1
        if os.environ.get("DMLP_DEBUG"):
            traceback.print_exc()
        hint = "" if os.environ.get("DMLP_DEBUG") else " (DMLP_DEBUG=1 shows the traceback)"
        text = " ".join(str(err).split())
        print(f"dml-parity: the tool failed: {err.__class__.__name__}: {text}{hint}", file=sys.stderr)
        return FAILED
    finally:
        from harness.output.outdir import release_claims

        release_claims()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
        if command:
            # The process ends now: its finalisation need not trace every object of doubleml,
            # scikit-learn, matplotlib (0.3-2 s after the report was written, measured on 2 cores;
            # 0.06-0.2 s with them frozen). Nothing is skipped: exit handlers and flushes still run.
            gc.freeze()


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
        from harness.regression.baseline import save_baseline

        engines = save_baseline(args.run_dir, args.to)
        print(f"wrote {args.to}")
        if "r" not in engines:  # a regression baseline, not a parity one: said now, and by every check of it
            print(
                f"note: {args.run_dir} ran {', '.join(engines)} only: the baseline holds no R numbers, so a check of it "
                "judges no parity between Python and R; save one from a run of both engines for that",
                file=sys.stderr,
            )
        return 0
    if args.command == "check":
        return _cmd_check(args, argv)
    if args.command == "versions":
        from harness.versions.matrix import cmd_versions

        return cmd_versions(args, shlex.join(["dml-parity", *argv]))
    return 2


def _cache_dir(args: argparse.Namespace) -> Optional[Path]:
    """--cache-dir as a folder (taken as text: an empty value would be Path(""), the current folder)."""
    if args.cache_dir is None:
        return None
    if not args.cache_dir.strip():
        raise HarnessError("--cache-dir: no folder given (leave --cache-dir out for ~/.cache/dml-parity/results)")
    return Path(args.cache_dir)


def _check_where(args: argparse.Namespace) -> None:
    """--jobs and --scheduler: where the fits run, one or the other (an empty --scheduler would fit
    here without a word, and --jobs beside a cluster would be ignored)."""
    if args.scheduler is not None and not args.scheduler.strip():
        raise HarnessError("--scheduler: no address given (leave --scheduler out to fit on this machine)")
    if args.scheduler is not None and args.jobs is not None:
        raise HarnessError(f"--jobs: with --scheduler the cluster's workers fit; leave --jobs {args.jobs} out")
    if args.jobs is not None and args.jobs < 1:
        raise HarnessError(f"--jobs: must be at least 1, got {args.jobs}")


def _cmd_run(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.output.outdir import check_output

    _check_where(args)
    _cache_dir(args)  # refused before the output folder is probed
    if args.replicates is not None and args.replicates < 2:
        raise HarnessError(f"--replicates: must be at least 2, got {args.replicates}")
    out = args.out or Path("reports") / f"{args.specs.stem}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"
    # Before anything is read or fitted: a run that cannot write its report must not start.
    check_output(out, cache=_cache_dir(args))

    from harness.running.progress import Progress
    from harness.running.runner import RunOptions, parse_engines, run

    engines = parse_engines(args.engines)
    quiet = args.quiet
    options = RunOptions(
        specs=args.specs,
        data=args.data,
        only=[s.strip() for s in args.only.split(",")] if args.only is not None else None,
        engines=engines,
        jobs=args.jobs or 1,
        scheduler=args.scheduler,
        cache_dir=_cache_dir(args),
        use_cache=not args.no_cache,
        replicates=args.replicates,
        command=shlex.join(["dml-parity", *argv]),
        progress=None if quiet else Progress(),
        # DMLP_IN_PROCESS=1: the fits run in this process, for profilers only (bench/common/measure.py,
        # bench/growth/growth.py; a profiler sees no worker's work). A crash in a fit then ends the run.
        in_process=os.environ.get("DMLP_IN_PROCESS") == "1",
    )
    results = run(options)
    # What the run made lives until the process ends after the report: frozen, the collections
    # that drawing the report sets off no longer trace it (with the at-exit freeze below).
    gc.freeze()
    kept = write_run(results, out)
    try:
        return _after_the_report(results, out, kept, quiet)
    except KeyboardInterrupt as err:  # the report is in place: the message must not say otherwise
        err.report_written = True  # type: ignore[attr-defined]
        raise


def _after_the_report(results: dict, out: Path, kept: list[str], quiet: bool) -> int:
    """What the terminal says once the report is written, and the exit code."""
    from harness.verdict.exit_codes import run_exit_code, why

    if kept:  # saved into --out while the report was written: moved into the new folder, not deleted
        print(f"dml-parity: note: kept {', '.join(kept)} in {out} (saved there during the run)", file=sys.stderr)
    if not quiet:
        s = results["summary"]
        keys = ("agree", "explained", "disagree", "inconclusive", "error", "not-run", "r-not-run")
        counts = ", ".join(f"{s[key]} {key}" for key in keys if s.get(key))
        # A spec with several treatments has a row (a verdict) per treatment: counted as estimates.
        n_specs = len({spec.get("spec_id", spec["id"]) for spec in results["specs"]})
        what = f"{s['specs']} specs" if n_specs == s["specs"] else f"{s['specs']} estimates of {n_specs} specs"
        print(f"{what}: {counts} -> {out}/report.html")
        from harness.report.cells import loosened_lines, terminal_reason
        from harness.verdict import single_draw, solver_warnings

        # Why a spec did not agree; a limit the spec loosened (an agree under it is not the default's);
        # one-draw verdicts say so, with the command for more; a fit that did not agree, what its solvers warned.
        failed = [f"  {spec['id']}: {reason}" for spec in results["specs"] if (reason := terminal_reason(spec))]
        loose = [f"  {spec['id']}: {line}" for spec in results["specs"] for line in loosened_lines(spec)]
        for line in failed + loose + single_draw.terminal_lines(results) + solver_warnings.terminal_lines(results):
            print(line)
    code = run_exit_code(results)
    if code != 0 and (code in (FAILED, FINDING) or not quiet):  # a failure or a finding is said even with --quiet
        print(f"dml-parity: {why(results)}", file=sys.stderr)
    return code


def _cmd_check(args: argparse.Namespace, argv: list[str]) -> int:
    from harness.regression.baseline_check import CHECK_OUTCOMES, CheckOptions, check_baseline, refuse_with_run
    from harness.running.progress import Progress
    from harness.running.runner import parse_engines

    if args.run is not None:
        given = {"--data": args.data, "--engines": args.engines, "--out": args.out, "--jobs": args.jobs is not None}
        refuse_with_run({**given, "--scheduler": args.scheduler, "--no-cache": args.no_cache, "--cache-dir": _cache_dir(args)})
    _check_where(args)
    options = CheckOptions(
        baseline=args.baseline,
        run_dir=args.run,
        data=args.data,
        only=[s.strip() for s in args.only.split(",")] if args.only is not None else None,
        engines=parse_engines(args.engines) if args.engines is not None else None,
        out=args.out,
        jobs=args.jobs or 1,
        scheduler=args.scheduler,
        use_cache=not args.no_cache,
        cache_dir=_cache_dir(args),
        command=shlex.join(["dml-parity", *argv]),
        progress=None if args.quiet else Progress(),
    )
    code = check_baseline(options)
    if code != 0 and (code in (FAILED, FINDING) or not args.quiet):  # as run says why on its last line of stderr
        said = CHECK_OUTCOMES.get(code, "failed") + (" since the baseline" if code == FINDING else "")
        print(f"dml-parity: exit {code}: check: {said} (the lines above say which)", file=sys.stderr)
    return code


def write_run(results: dict, out: Path) -> list[str]:
    """The run's output folder, written whole (:func:`harness.report.run_folder.write_run_folder`)."""
    from harness.report.run_folder import write_run_folder

    return write_run_folder(results, out)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
