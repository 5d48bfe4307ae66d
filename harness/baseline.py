"""Regression testing of estimates: save a run as a baseline, then list what moved.

An estimate has moved when it leaves its tier's tolerance: exact tier, relative change of coef or
se above the learner pair's tolerance; statistical tier, a coef or se change above
``coef_tolerance_se`` (default 0.2) times the baseline's se.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from tabulate import tabulate

from harness.compare import rel_diff
from harness.errors import DataError
from harness.io import atomic_write_json

__all__ = ["check_baseline", "drift", "save_baseline", "version_changes"]

SCHEMA = "dml-parity/baseline/1"
STATISTICAL_SE_SHARE = 0.2


def _read_results(run_dir: Path) -> dict:
    path = run_dir / "results.json" if run_dir.is_dir() else run_dir
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: no results.json here") from None
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{path}: cannot read results ({err.__class__.__name__})") from None


def save_baseline(run_dir: Path, to: Path) -> None:
    """Write the estimates of a run (a directory with results.json) to a baseline file."""
    results = _read_results(run_dir)
    spec_path = Path(results["provenance"]["spec_file"]["path"])
    estimates = {}
    for spec in results["specs"]:
        estimates[spec["id"]] = {
            "tier": spec.get("tier"),
            "tolerance": spec.get("tolerance"),
            "python": _estimate(spec.get("python")),
            "r": _estimate(spec.get("r")),
        }
    atomic_write_json(
        to,
        {
            "schema": SCHEMA,
            "spec_file": os.path.relpath(spec_path.resolve(), to.resolve().parent),
            "data_sha256": results["provenance"]["data"]["sha256"],
            "engines": results["provenance"]["engines"],
            "versions": {"python": results["provenance"]["python"], "r": results["provenance"]["r"]},
            "estimates": estimates,
        },
    )


def _estimate(block: Optional[dict]) -> Optional[dict]:
    return None if block is None else {"coef": block["coef"], "se": block["se"]}


def drift(baseline: dict, results: dict) -> list[dict]:
    """Every estimate of ``baseline`` that ``results`` moved beyond its tier's tolerance."""
    now = {s["id"]: s for s in results["specs"]}
    moved = []
    for spec_id, entry in sorted(baseline["estimates"].items()):
        for engine in ("python", "r"):
            before = entry.get(engine)
            if before is None:
                continue
            after = now.get(spec_id, {}).get(engine)
            if after is None:
                moved.append(_moved(spec_id, engine, "missing", before["coef"], None, None, None))
                continue
            for what in ("coef", "se"):
                if entry["tier"] == "exact":
                    change, limit = rel_diff(after[what], before[what]), entry["tolerance"]
                else:
                    change, limit = abs(after[what] - before[what]) / before["se"], STATISTICAL_SE_SHARE
                if not change <= limit:
                    moved.append(_moved(spec_id, engine, what, before[what], after[what], change, limit))
    return moved


def version_changes(before: dict, after: dict) -> list[dict]:
    """Package versions that differ between a baseline's ``versions`` and a run's provenance.

    Both are ``{"python": {package: version}, "r": {package: version} or None}``. A language that
    ran on one side only is one row (package ``*``), not a row per package.
    """
    changes = []
    for language, label in (("python", "Python"), ("r", "R")):
        old, new = before.get(language), after.get(language)
        if not old and not new:
            continue
        if not old or not new:
            changes.append(
                {"language": label, "package": "*", "before": "ran" if old else "not run", "after": "ran" if new else "not run"}
            )
            continue
        for package in sorted(set(old) | set(new), key=str.lower):
            if old.get(package) != new.get(package):
                changes.append({"language": label, "package": package, "before": old.get(package), "after": new.get(package)})
    return changes


def _print_version_changes(baseline: dict, results: dict) -> None:
    now = {"python": results["provenance"].get("python"), "r": results["provenance"].get("r")}
    changes = version_changes(baseline.get("versions") or {}, now)
    if not changes:
        print("package versions: the same as the baseline's")
        return
    rows = [[c["language"], c["package"], c["before"] or "-", c["after"] or "-"] for c in changes]
    print(f"{len(changes)} package version(s) differ from the baseline's:")
    print(tabulate(rows, headers=["language", "package", "baseline", "now"], tablefmt="github", disable_numparse=True))


def _moved(spec_id: str, engine: str, what: str, before, after, change, limit) -> dict:
    return {"id": spec_id, "engine": engine, "what": what, "before": before, "after": after, "change": change, "limit": limit}


def check_baseline(baseline_path: Path, run_dir: Optional[Path], engines: Optional[str]) -> int:
    """Print what moved; 0 when nothing did, 1 on drift."""
    try:
        baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{baseline_path}: baseline file not found") from None
    except (OSError, json.JSONDecodeError) as err:
        raise DataError(f"{baseline_path}: cannot read baseline ({err.__class__.__name__})") from None
    if baseline.get("schema") != SCHEMA:
        raise DataError(f"{baseline_path}: not a dml-parity baseline (schema {baseline.get('schema')!r})")
    if run_dir is not None:
        results = _read_results(run_dir)
    else:
        from harness.runner import RunOptions, parse_engines, run

        spec_file = (baseline_path.parent / baseline["spec_file"]).resolve()
        chosen = parse_engines(engines) if engines else tuple(baseline["engines"])
        results = run(RunOptions(specs=spec_file, engines=chosen))
    if results["provenance"]["data"]["sha256"] != baseline["data_sha256"]:
        print("note: the data differ from the baseline's (sha256)")
    moved = drift(baseline, results)
    if not moved:
        print(f"no drift: {len(baseline['estimates'])} specs within their tier's tolerance")
        _print_version_changes(baseline, results)
        return 0
    rows = [[m["id"], m["engine"], m["what"], m["before"], m["after"], m["change"], m["limit"]] for m in moved]
    print(tabulate(rows, headers=["spec", "engine", "estimate", "baseline", "now", "change", "limit"], tablefmt="github"))
    print(f"{len(moved)} estimate(s) moved beyond their tier's tolerance")
    # The first question when estimates move after an upgrade: what was upgraded.
    _print_version_changes(baseline, results)
    return 1
