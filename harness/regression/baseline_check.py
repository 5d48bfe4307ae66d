"""``dml-parity check --baseline``: re-run (or read) a run, then say what changed since the baseline
(spec fields, data, rows and folds, package versions) beside what moved, every figure with its unit.

Exit codes (/work/notes/EXIT_CODES.md): 0 nothing moved and nothing changed; 1 a number moved, or
the inputs differ from the baseline's (other data, changed spec fields, a spec added or gone: the
baseline no longer tests the same thing); 3 a spec ended in ``error``; 4 nothing compared. Other
package versions alone are no finding: estimates that hold across an upgrade are what a baseline
is for.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

from tabulate import tabulate

from harness.errors import DataError, EnvironmentProblem, HarnessError
from harness.regression.baseline import GONE, MODEL_SOURCE, drift, load_baseline, read_results, run_spec_file, spec_of
from harness.regression.input_changes import input_changes
from harness.regression.stored_r import NOT_RUN, PYTHON_ONLY, judge_stored_r, r_free_line, render_stored_r
from harness.running.progress import Progress

__all__ = ["CHECK_OUTCOMES", "CheckOptions", "check_baseline", "input_changes"]

CHECK_SCHEMA = "dml-parity/check/1"
# A check's outcome by its exit code, as check.md's last line, the CLI's and the pytest plugin's say it.
CHECK_OUTCOMES = {0: "nothing moved", 1: "something moved or changed", 3: "a spec failed", 4: "nothing compared"}


@dataclass(frozen=True)
class CheckOptions:
    baseline: Path
    run_dir: Optional[Path] = None  # read this run instead of re-running
    data: Optional[Path] = None
    only: Optional[list[str]] = None
    engines: Optional[tuple[str, ...]] = None
    out: Optional[Path] = None
    jobs: int = 1
    scheduler: Optional[str] = None
    use_cache: bool = True
    cache_dir: Optional[Path] = None
    command: str = ""
    progress: Optional[Progress] = field(default=None, compare=False)


def check_baseline(options: CheckOptions) -> int:
    """Print what changed and what moved; write check.md and check.json with the re-run's report."""
    baseline = load_baseline(options.baseline)
    chosen = ""
    if options.only is None and baseline.get("only"):  # saved from a run of some specs: those are checked
        options = dataclasses.replace(options, only=baseline["only"])
        chosen = f"specs: the baseline's run chose {', '.join(baseline['only'])} (--only); checked those"
    out = None
    if options.run_dir is not None:
        results = read_results(options.run_dir)
        try:
            spec_file = run_spec_file(results)
        except HarnessError:  # moved or gone since that run: its fields cannot be told, the rest can
            spec_file = None
    else:
        out = options.out or _default_out(baseline)
        results, spec_file = _rerun(baseline, options, out)
    only = set(options.only) if options.only else None
    changes = input_changes(baseline, spec_file, results, options.baseline.resolve().parent, only)
    engines = tuple(e for e in baseline["engines"] if e in results["provenance"]["engines"])
    rows = {r for r, e in baseline["estimates"].items() if only is None or e["spec"] in only}
    moved = drift(baseline, results, rows, engines) if engines else []
    errors = [s["id"] for s in results["specs"] if s.get("status") == "error" and (only is None or spec_of(s) in only)]
    stored = _stored_r(baseline, results, spec_file, rows)
    if stored is not None:  # R not run is said in one line, not as a package change of every row
        changes["versions"] = [c for c in changes["versions"] if (c["language"], c["package"]) != ("R", "*")]
        changes["r_not_run"] = True
    judged = [j for j in (stored or {}).values() if j["status"] != "not judged"]
    # A finding when Python now disagrees with R as stored where the baseline's own numbers did not.
    newly = any(j["status"] == "disagree" != j["baseline_status"] for j in judged)
    code = _exit_code(changes, moved, errors, bool(engines and rows) or bool(judged), newly)
    text = render(baseline, changes, moved, engines, len(rows), errors, code, stored, chosen)
    if out is not None:  # written before the verdict is printed: a failed write is the exit code, not a printed one
        summary = {**_as_json(options, changes, moved, engines, errors, code), "r_in_baseline": "r" in baseline["engines"]}
        if stored is not None:
            summary["stored_r"] = {"line": r_free_line(baseline), "not_run": NOT_RUN, "rows": stored}
        _write(results, out, text, summary)
    print(text, end="")
    if out is not None:
        print(f"wrote {out}/check.md and the run's report {out}/report.html")
    return code


def _stored_r(baseline: dict, results: dict, spec_file, rows: set[str]) -> Optional[dict]:
    """Python now against R as the baseline stored it, where the baseline has R and R was not run."""
    ran = results["provenance"]["engines"]
    if "r" not in baseline["engines"] or "r" in ran or "python" not in ran:
        return None
    return judge_stored_r(baseline, results, spec_file, rows)


def _default_out(baseline: dict) -> Path:
    stem = Path(baseline["spec_file"]).stem
    return Path("reports") / f"{stem}-check-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}"


def _rerun(baseline: dict, options: CheckOptions, out: Path):
    from harness.language.spec import load_spec_file
    from harness.output.outdir import check_output

    # Before anything is read or fitted: a check that cannot write its report must not start.
    check_output(out, cache=options.cache_dir)
    if baseline["spec_file"].startswith(f"({MODEL_SOURCE}"):
        raise DataError(
            f"{options.baseline}: made from a doubleml model by the pytest fixture ({baseline['spec_file'][1:-1]}); "
            "check it by running that test, or give --run with a run of the model's spec"
        )
    spec_path = (options.baseline.resolve().parent / baseline["spec_file"]).resolve()
    spec_file = load_spec_file(spec_path, options.only)
    engines = options.engines or tuple(baseline["engines"])
    try:
        results = _run(options, spec_path, baseline, engines)
    except EnvironmentProblem as err:
        if "r" not in engines or options.engines is not None:
            raise
        raise EnvironmentProblem(
            f"{err}; without R: dml-parity check --baseline {options.baseline} --engines python "
            "compares Python now with Python and R as stored"
        ) from None
    return results, spec_file


def _run(options: CheckOptions, spec_path: Path, baseline: dict, engines: tuple[str, ...]) -> dict:
    from harness.running.runner import RunOptions, run

    return run(
        RunOptions(
            specs=spec_path,
            data=options.data or _baseline_data(baseline, options.baseline),
            only=options.only,
            engines=engines,
            jobs=options.jobs,
            scheduler=options.scheduler,
            cache_dir=options.cache_dir,
            use_cache=options.use_cache,
            command=options.command,
            progress=options.progress,
        )
    )


def _baseline_data(baseline: dict, baseline_path: Path) -> Optional[Path]:
    """The ``--data`` the baseline's run was given, so a re-run reads the same file."""
    data = baseline["data"]
    if not data.get("override"):
        return None
    path = (baseline_path.resolve().parent / data["path"]).resolve()
    if not path.is_file():
        raise DataError(f"{path}: the baseline's data file (its run's --data) is not there; give --data")
    return path


# --- what changed since the baseline ----------------------------------------------------------------


def _findings(changes: dict) -> list[str]:
    """The input changes that make the baseline test something else."""
    found = []
    if changes["data"]:
        found.append("data")
    found += [f"dataset.{f}" for f, _, _, counts in changes["dataset"] if counts]
    for spec_id, entry in changes["specs"].items():
        if entry["status"] != "changed" or any(counts for *_, counts in entry["fields"]):
            found.append(spec_id)
    if changes["rows_folds"]:
        found.append("rows and folds")
    return found


def _exit_code(changes: dict, moved: list[dict], errors: list[str], compared: bool, disagree: bool = False) -> int:
    """``disagree``: Python now disagrees with R as the baseline stored it (R not run)."""
    if errors:
        return 3
    if moved or disagree or _findings(changes):
        return 1
    return 0 if compared else 4


# --- the report ----------------------------------------------------------------------------------


def _show(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _figure(value: Optional[float], unit: str) -> str:
    if value is None:
        return "-"
    return f"inf ({unit})" if math.isinf(value) else f"{value:.3g} {unit}"


def _why(row_id: str, entry_spec: str, changes: dict) -> str:
    """What changed for one row, for the moved table's last column."""
    parts = []
    spec = changes["specs"].get(entry_spec)
    if spec is not None:
        parts.append(", ".join(f for f, *_ in spec["fields"]) or spec["status"])
    if changes["data"]:
        parts.append("data")
    parts += [f"dataset.{f}" for f, _, _, counts in changes["dataset"] if counts]
    if row_id in changes["rows_folds"]:
        parts.append("rows/folds")
    if changes["versions"]:
        parts.append("packages")
    return "; ".join(parts) or "nothing recorded"


_SPEC_STATUS = {
    "new": "not in the baseline",
    "gone": "not in the spec file",
    "differs": "its content hash is not the baseline's; its fields are not known",
}


def _render_changes(baseline: dict, changes: dict) -> list[str]:
    """The section "What changed since the baseline": data, spec fields, rows and folds, versions."""
    lines = ["## What changed since the baseline", ""]
    data = changes["data"]
    if data:
        b, a = data["before"], data["now"]
        if str(b.get("path", "")).startswith("("):  # a model's (baseline.MODEL_SOURCE): now a temporary file
            where = f"{b['path']}, the columns the model uses (a control added or dropped changes them)"
        else:
            where = f"{b.get('path')} -> {a.get('path')}"
        lines.append(f"data: DIFFER from the baseline's: {where}, sha256 {b['sha256'][:12]} -> {a['sha256'][:12]}")
    elif changes.get("fold_columns"):
        lines.append(
            f"data: the same as the baseline's apart from its fold columns ({', '.join(changes['fold_columns'])}), "
            "which hold other folds"
        )
    elif changes.get("same_values"):
        bytes_ = changes["same_values"]
        lines.append(
            f"data: the same values as the baseline's; the file's bytes differ (line endings, quoting or the spelling "
            f"of its numbers: sha256 {bytes_['before'][:12]} -> {bytes_['now'][:12]})"
        )
    else:
        lines.append(f"data: the same as the baseline's (sha256 {baseline['data']['sha256'][:12]})")
    for f, b, a, counts in changes["dataset"]:
        lines.append(f"dataset.{f}: {_show(b)} -> {_show(a)}" + ("" if counts else " (descriptive)"))
    hashed = ""
    if not changes["spec_file_known"]:
        hashed = " (told by each spec's content hash: the run's spec file changed or is gone since it ran)"
    if not changes["specs"]:
        lines.append(f"spec fields: the same as the baseline's{hashed}")
    else:
        table = []
        for spec_id, entry in sorted(changes["specs"].items()):
            if entry["status"] != "changed":
                table.append(
                    [
                        spec_id,
                        f"({entry['status']}: {_SPEC_STATUS[entry['status']]})",
                        "",
                        "",
                    ]
                )
            for f, b, a, counts in entry["fields"]:
                table.append([spec_id, f + ("" if counts else " (descriptive)"), _show(b), _show(a)])
        lines.append(f"spec fields: {len(changes['specs'])} spec(s) differ from the baseline's{hashed}:")
        lines += ["", tabulate(table, headers=["spec", "field", "baseline", "now"], tablefmt="github", disable_numparse=True), ""]
    if changes["rows_folds"]:
        lines.append(f"rows and folds: differ for {', '.join(changes['rows_folds'])}")
    versions = changes["versions"]
    if not versions:
        which = " (Python's; R not run)" if changes.get("r_not_run") else ""
        lines.append(f"package versions: the same as the baseline's{which}")
    else:
        rows = [[c["language"], c["package"], c["before"] or "-", c["after"] or "-"] for c in versions]
        lines.append(f"{len(versions)} package version(s) differ from the baseline's:")
        lines += [
            "",
            tabulate(rows, headers=["language", "package", "baseline", "now"], tablefmt="github", disable_numparse=True),
        ]
    return lines


def render(
    baseline: dict,
    changes: dict,
    moved: list[dict],
    engines: tuple,
    n_rows: int,
    errors: list[str],
    code: int,
    stored: Optional[dict] = None,
    chosen: str = "",
) -> str:
    """The check as markdown: what changed since the baseline, what moved, Python now against R as
    stored where R was not run (``stored``), the outcome."""
    lines = [r_free_line(baseline), ""] if stored is not None else []
    if "r" not in baseline["engines"]:
        lines = [PYTHON_ONLY, ""]
    if chosen:
        lines += [chosen, ""]
    lines += _render_changes(baseline, changes)
    lines += ["", "## What moved", ""]
    skipped = [e for e in baseline["engines"] if e not in engines]
    if skipped:
        judged = stored is not None and any(j["status"] != "not judged" for j in stored.values())
        stands_in = "; its stored numbers stand in for it below" if judged else ""
        lines.append(f"not compared: {', '.join(skipped)} (in the baseline, not fitted now{stands_in})")
    if moved:
        specs = {r: e["spec"] for r, e in baseline["estimates"].items()}
        table = [
            [
                m["id"],
                m["engine"],
                m["what"],
                _show(m["before"]),
                _show(m["now"]),
                _figure(m["change"], m["unit"]),
                _figure(m["limit"], m["unit"]) if m["rule"] is None else m["rule"],
                _why(m["id"], specs.get(m["id"], m["id"]), changes),
            ]
            for m in moved
        ]
        headers = ["spec", "engine", "number", "baseline", "now", "change", "limit", "changed since the baseline"]
        lines += [tabulate(table, headers=headers, tablefmt="github", disable_numparse=True), ""]
        gone = sum(1 for m in moved if m["rule"] == GONE)
        counts = [f"{len(moved) - gone} number(s) moved beyond their tier's tolerance"] if len(moved) > gone else []
        lines.append("; ".join(counts + ([f"{gone} estimate(s) of the baseline not in this run"] if gone else [])))
    elif engines and n_rows:
        lines.append(f"no drift: {n_rows} estimate row(s) within their tier's tolerance ({', '.join(engines)})")
    if errors:
        lines.append(f"error: {', '.join(errors)} ended in status error (see the run's report)")
    if stored is not None:
        lines += ["", *render_stored_r(baseline, stored)]
    lines += ["", f"check: {CHECK_OUTCOMES[code]} (exit {code})", ""]
    return "\n".join(lines)


def _as_json(options: CheckOptions, changes: dict, moved: list[dict], engines: tuple, errors: list[str], code: int) -> dict:
    def finite(value):
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {
        "schema": CHECK_SCHEMA,
        "baseline": str(options.baseline),
        "exit_code": code,
        "engines_compared": list(engines),
        "changes": {
            **changes,
            "dataset": [{"field": f, "baseline": b, "now": a, "finding": c} for f, b, a, c in changes["dataset"]],
            "specs": {
                s: {
                    "status": e["status"],
                    "fields": [{"field": f, "baseline": b, "now": a, "finding": c} for f, b, a, c in e["fields"]],
                }
                for s, e in changes["specs"].items()
            },
        },
        "moved": [{**m, "change": finite(m["change"])} for m in moved],
        "errors": errors,
    }


def _write(results: dict, out: Path, text: str, summary: dict) -> None:
    """The re-run's folder as ``run`` writes it, with check.md and check.json beside its report."""
    from harness.output.arrays import write_arrays
    from harness.output.atomic_write import atomic_write_json, atomic_write_text
    from harness.output.outdir import OUTPUT_FILES_KEY, list_outputs, replace_folder
    from harness.report import write_report

    def write(staging: Path) -> None:
        written = write_arrays(results, staging)
        write_report(written, staging)
        atomic_write_text(staging / "check.md", text)
        atomic_write_json(staging / "check.json", summary)
        atomic_write_json(staging / "results.json", {**written, OUTPUT_FILES_KEY: list_outputs(staging)})

    replace_folder(Path(out), write)


def refuse_with_run(options: dict) -> None:
    """``--run DIR`` reads a finished run: options of a re-run have nothing to act on."""
    for name, given in options.items():
        if given:
            raise HarnessError(f"{name}: applies to a re-run; --run reads a finished run (drop one of them)")
