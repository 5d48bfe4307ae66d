"""`dml-parity versions`: every spec fitted under each release of doubleml and of R DoubleML.

Order of work: the releases are checked (refusals before anything is built), the output folder is
checked, the specs are prepared once (design tables and folds, ``harness.running.runner.prepare``),
each release's environment is built or taken from the cache (one at a time: a build takes both
cores), then each Python release fits every spec in a process of its environment's python
(``py_fit.py``) and each R release in a process of the tool's python with the release's library
first on R's path (``r_worker.py``). The moves between neighbouring releases and their attribution
are computed (``moves.py``) and the folder is written whole (``harness.output``). Every process
the run starts keeps its temporary files (``TMPDIR``) in one scratch folder the run removes however
it ends. One release of each package is fitted and reported, but compares nothing (exit 4).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from harness.errors import EnvironmentProblem, SpecError
from harness.regression.baseline import tolerance_of
from harness.verdict.exit_codes import FINDING, NOTHING_COMPARED, OK, worst
from harness.versions import environments, releases
from harness.versions.inputs import unsupported, write_inputs
from harness.versions.moves import first_moves, release_moves

__all__ = ["INSTALLED", "SCHEMA", "VersionsOptions", "cmd_versions", "run_versions"]

SCHEMA = "dml-parity/versions/1"
INSTALLED = "installed"  # a flag left out: the release installed with the tool
PY_FIT = Path(__file__).resolve().parent / "py_fit.py"


@dataclass(frozen=True)
class VersionsOptions:
    specs: Path
    py_releases: Optional[str]
    r_releases: Optional[str]
    out: Path
    only: Optional[list[str]] = None
    command: str = ""
    say: Callable[[str], None] = print


def _checked(options: VersionsOptions) -> tuple[list[str], dict[str, str]]:
    # `is None`: a flag given empty ('') is refused as ',' is, not read as left out.
    py = releases.parse_releases("--py-releases", options.py_releases) if options.py_releases is not None else [INSTALLED]
    r = releases.parse_releases("--r-releases", options.r_releases) if options.r_releases is not None else [INSTALLED]
    if py != [INSTALLED]:
        releases.check_python_releases(py)
    r_urls = releases.check_r_releases(r) if r != [INSTALLED] else {INSTALLED: ""}
    if py != [INSTALLED] or r != [INSTALLED]:  # an environment will be built or read from the cache
        environments.check_cache()
    return py, r_urls


@contextmanager
def _scratch() -> Iterator[Path]:
    """The run's inputs and its processes' TMPDIR, removed however the run ends: an R ended by
    SIGINT or SIGTERM leaves its session folder (``Rtmp*``) in TMPDIR, a killed pip its build."""
    folder = Path(tempfile.mkdtemp(prefix="dmlp-versions-"))
    try:
        yield folder
    finally:
        # A process of the group that got the same signal may still be writing: try again briefly.
        for _ in range(30):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                break
            time.sleep(0.1)


def _prepared(options: VersionsOptions):
    from harness.language.spec import load_spec_file
    from harness.running.runner import _data_path, prepare

    spec_file = load_spec_file(options.specs, options.only)  # an unknown --only id is refused there
    prepared = prepare(spec_file, _data_path(spec_file, None))
    skipped = {p.spec.id: unsupported(p) for p in prepared if unsupported(p)}
    kept = [p for p in prepared if p.spec.id not in skipped]
    if not kept:
        first = next(iter(skipped.items()))
        raise SpecError(f"{options.specs}: no spec can be fitted across releases ({first[0]}: {first[1]})")
    return spec_file, kept, skipped


def _environments(py: list[str], r_urls: dict[str, str], say, scratch: Path) -> dict:
    from harness.engines.r_engine import r_library

    envs: dict = {"python": {}, "r": {}}
    for release in py:
        if release == INSTALLED:
            envs["python"][release] = None
            continue
        envs["python"][release] = environments.python_env(release, releases.lock_path(release), say, scratch)
    for release, url in r_urls.items():
        envs["r"][release] = None if release == INSTALLED else environments.r_env(release, url, r_library(), say, scratch)
    return envs


def _subprocess(command: list[str], env: dict, what: str, out: Path) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0 or not out.exists():
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        raise EnvironmentProblem(f"{what}: the fit process failed ({lines[-1].strip() if lines else done.returncode})")
    return json.loads(out.read_text())


def _fit_python(release: str, env, job: Path, folder: Path) -> dict:
    python = sys.executable if env is None else str(env.path / "bin" / "python")
    out = folder / f"python-{release}.json"
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    threads = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    env = environments.child_environ(folder, {**clean, **threads})
    return _subprocess([python, str(PY_FIT), str(job), str(out)], env, f"doubleml {release}", out)


def _fit_r(release: str, env, job: Path, folder: Path) -> dict:
    from harness.engines.r_engine import project_root, r_library

    out = folder / f"r-{release}.json"
    env_vars = environments.child_environ(folder, {**os.environ, "PYTHONPATH": str(project_root())})
    if env is not None:
        # The release's library first (the R engine puts DMLP_RLIB before R's own paths), the
        # project's behind it for DoubleML's dependencies.
        env_vars["DMLP_RLIB"] = str(env.path)
        env_vars["R_LIBS"] = os.pathsep.join(p for p in (str(r_library()), os.environ.get("R_LIBS", "")) if p)
    command = [sys.executable, "-m", "harness.versions.r_worker", str(job), str(out)]
    return _subprocess(command, env_vars, f"DoubleML {release}", out)


def _env_record(env) -> dict:
    if env is None:
        return {"path": None, "built_now": False}
    return {"path": str(env.path), "built_now": env.built_now, **{k: v for k, v in env.record.items() if k != "digest"}}


def _scaling(prepared) -> int:
    """The n of doubleml's variance scaling (``_var_est``): the rows; with clusters the number of
    clusters, with two cluster variables the smaller of the two numbers."""
    design = prepared.design
    if not design.cluster:
        return design.n_obs
    return min(int(design.frame[c].nunique()) for c in design.cluster)


def _spec_entries(kept, skipped: dict, fits: dict) -> list[dict]:
    from harness.verdict.compare import spec_tier

    entries = []
    for item in kept:
        tier, tolerance = spec_tier(item.spec)
        entry = {
            "id": item.spec.id,
            "tier": tier,
            "tolerance": tolerance_of(tier, tolerance, item.spec.coef_tolerance_se),
            "n_obs": item.design.n_obs,
            "n_rep": item.folds.n_rep,
            "scaling": _scaling(item),
        }
        for engine in ("python", "r"):
            entry[engine] = {
                rel: fit["specs"].get(item.spec.id, {"status": "error", "error": "no result"})
                for rel, fit in fits[engine].items()
            }
        entries.append(entry)
    entries += [{"id": sid, "skipped": why} for sid, why in skipped.items()]
    return entries


def _installed_r() -> Optional[str]:
    """The DoubleML of the project's R library, read from its DESCRIPTION (no R started)."""
    from harness.engines.r_engine import r_library

    try:
        text = (r_library() / "DoubleML" / "DESCRIPTION").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r"^Version:\s*(\S+)", text, re.M)
    return found.group(1) if found else None


def _pair(given: str, added: str) -> str:
    try:
        return ",".join(sorted((given, added), key=releases.release_key))
    except ValueError:  # a development version: not a release number
        return f"{given},{added}"


def _nothing_compared(fits: dict) -> Optional[str]:
    """Why no release was compared with another (one release of each package), with how to add one;
    None when some package has two releases."""
    if len(fits["python"]) > 1 or len(fits["r"]) > 1:
        return None
    from importlib.metadata import version

    (py,), (r,) = fits["python"], fits["r"]
    hints = []
    others = [rel for rel in releases.locked_releases() if rel != py]
    installed = version("doubleml")
    added = installed if installed in others else (others[-1] if others else None)
    if added:
        hints.append(f"--py-releases {_pair(py, added)}" + (" (the installed doubleml)" if added == installed else ""))
    installed_r = _installed_r()
    if installed_r and installed_r != r:
        hints.append(f"--r-releases {_pair(r, installed_r)} (the installed DoubleML)")
    how = f"add one to compare with, e.g. {' or '.join(hints)}" if hints else "name two releases in --py-releases or --r-releases"
    return f"one release of each package (doubleml {py}, DoubleML {r}), so no release had a neighbour to compare with; {how}"


def _fit_all(kept, envs: dict, say, scratch: Path) -> dict:
    fits: dict = {"python": {}, "r": {}}
    job, r_job = write_inputs(kept, scratch)
    for release, env in envs["python"].items():
        say(f"fitting {len(kept)} spec(s) with doubleml {release}")
        fits["python"][release] = _fit_python(release, env, job, scratch)
    for release, env in envs["r"].items():
        say(f"fitting {len(kept)} spec(s) with DoubleML {release}")
        fits["r"][release] = _fit_r(release, env, r_job, scratch)
    return fits


def run_versions(options: VersionsOptions) -> dict:
    """Fit, compare across releases and write ``options.out``; returns what versions.json holds."""
    from harness.output.outdir import check_output

    py, r_urls = _checked(options)  # refusals first: nothing is built for a refused release
    check_output(options.out)
    spec_file, kept, skipped = _prepared(options)
    if len(py) == 1 and len(r_urls) == 1:  # said before a build: a mistyped flag costs no wait
        options.say(
            f"note: one release of each package (doubleml {py[0]}, DoubleML {next(iter(r_urls))}): their estimates "
            "are fitted, but there is nothing to compare them with (exit 4)"
        )
    start = time.perf_counter()
    with _scratch() as scratch:
        envs = _environments(py, r_urls, options.say, scratch)
        ready = time.perf_counter() - start
        fits = _fit_all(kept, envs, options.say, scratch)
    for engine, package in (("python", "doubleml"), ("r", "DoubleML")):  # "installed": named by its version
        if INSTALLED in fits[engine]:
            actual = fits[engine][INSTALLED]["versions"].get(package) or INSTALLED
            fits[engine] = {actual: fits[engine][INSTALLED]}
            envs[engine] = {actual: envs[engine][INSTALLED]}
    entries = _spec_entries(kept, skipped, fits)
    moves = [m for e in entries if "skipped" not in e for engine in ("python", "r") for m in release_moves(e, engine, e[engine])]
    result = {
        "schema": SCHEMA,
        "command": options.command,
        "spec_file": str(options.specs),
        "releases": {
            engine: [
                {"release": rel, "versions": fits[engine][rel]["versions"], "environment": _env_record(envs[engine][rel])}
                for rel in fits[engine]
            ]
            for engine in ("python", "r")
        },
        "combinations": [
            {"python": p, "r": r, "versions": {"python": fits["python"][p]["versions"], "r": fits["r"][r]["versions"]}}
            for p in fits["python"]
            for r in fits["r"]
        ],
        "timings": {"environments_ready_s": round(ready, 1), "fits_s": round(time.perf_counter() - start - ready, 1)},
        "specs": entries,
        "moves": moves,
        "first_moved": first_moves(moves),
        "nothing_compared": _nothing_compared(fits),
    }
    from harness.versions.report import write_versions

    write_versions(result, options.out)
    return result


def cmd_versions(args, command: str) -> int:
    """The `versions` subcommand: one line per step on stderr unless ``--quiet``; exit 0 when every
    move is explained and every fit ran, 1 otherwise (the report says which), 4 when one release
    of each package left nothing to compare (and no fit failed)."""

    def say(line: str) -> None:
        if not args.quiet:
            print(f"dml-parity versions: {line}", file=sys.stderr, flush=True)

    options = VersionsOptions(
        specs=args.specs,
        py_releases=args.py_releases,
        r_releases=args.r_releases,
        out=args.out,
        only=[s.strip() for s in args.only.split(",")] if args.only else None,
        command=command,
        say=say,
    )
    result = run_versions(options)
    unexplained = sum(m["attributed_to"] == "unexplained" for m in result["moves"])
    failed = sum(
        est.get("status") != "ok"
        for e in result["specs"]
        if "skipped" not in e
        for engine in ("python", "r")
        for est in e[engine].values()
    )
    nothing = result["nothing_compared"]
    if not args.quiet:
        moved = "nothing compared" if nothing else f"{len(result['moves'])} move(s), {unexplained} unexplained"
        print(f"{moved}, {failed} failed fit(s) -> {args.out}/report.html")
    # As `check`: a move nobody explains, or a release that could not fit a spec, is a finding (1);
    # as `run`: nothing compared is 4, never the 0 of "nothing moved".
    code = worst(FINDING if unexplained or failed else OK, NOTHING_COMPARED if nothing else OK)
    if nothing and not args.quiet:
        print(f"dml-parity: versions: nothing compared: {nothing}", file=sys.stderr)
    return code
