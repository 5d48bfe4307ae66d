"""Regression testing of estimates: the baseline file, and how far an estimate moved from it.

A baseline records, per estimate row, each engine's coef, se, p, CI and per-repetition coef and se,
with joint inference the adjusted p-value and the joint interval (and Python's code on R's
predictions, ``learner_free``, which the R-free check judges Python against), the tier and its
tolerance *with its unit*; per spec, the spec's content hash and fields; the data file's (or
generator's) sha256; the package versions; the UTC time it was saved (``created``); and ``sha256``,
the digest of its own content (:func:`content_sha256`), so a hand-edited baseline is refused rather
than trusted. ``harness.regression.baseline_check`` re-runs or
reads a run and says what changed since (spec fields, data, packages) beside what moved.

How far a number moved, and in which unit (:func:`quantity_change`):

- exact tier: ``|now - before| / max(|before|, |now|, se)`` (relative; the se in the scale keeps a
  coefficient near 0 from turning rounding into a large relative change); p (and an adjusted p) absolute;
- statistical tier: ``|now - before| / max(se before, se now)`` (in se; the spec's
  ``coef_tolerance_se``, default 0.2); p moves when its significance at 1/5/10 % changes. A se of 0
  on both sides never divides: the change is then relative to ``max(|before|, |now|)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Optional

import numpy as np

from harness.engines.result import ENGINES
from harness.errors import DataError
from harness.output.atomic_write import atomic_write_json
from harness.output.outdir import os_reason
from harness.regression.baseline_shape import check_shape
from harness.verdict.checks import SIGNIFICANCE_LEVELS, abs_diff, coef_diff, diff_in_se, rel_diff

__all__ = [
    "QUANTITIES",
    "SCHEMA",
    "content_sha256",
    "drift",
    "load_baseline",
    "quantity_change",
    "read_results",
    "save_baseline",
    "spec_of",
    "version_changes",
]

SCHEMA = "dml-parity/baseline/3"
# baseline/2: no learner-free numbers, no date, no digest of its own content; read (its numbers are
# compared), but Python now cannot be judged against its stored R numbers.
READ_SCHEMAS = (SCHEMA, "dml-parity/baseline/2")
OLD_SCHEMAS = ("dml-parity/baseline/1",)
# Runs whose estimates this module reads; results/2 moved rows and folds to a side file, the
# estimates are laid out as in results/1.
RESULTS_SCHEMAS = ("dml-parity/results/1", "dml-parity/results/2")
# What a baseline keeps of each engine's estimate (t is coef / se: it moves when they do); with
# joint inference also the adjusted p-value and the joint interval (shared weights: the tool's draws).
QUANTITIES = ("coef", "se", "p", "ci", "coef_reps", "se_reps", "p_adjusted", "joint_ci")
P_VALUES = ("p", "p_adjusted")
LEARNER_FREE_QUANTITIES = ("coef", "se", "ci", "coef_reps", "se_reps")


def content_sha256(baseline: dict) -> str:
    """sha256 of a baseline's canonical JSON (sorted keys, no spaces), its ``sha256`` field left out."""
    body = {k: v for k, v in baseline.items() if k != "sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_json(path: Path, missing: str, what: str):
    """A JSON file's content; a missing or unreadable one is one line naming the file."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: {missing}") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: cannot read {what}: not UTF-8 text (byte {err.start})") from None
    except json.JSONDecodeError as err:
        # Until 2026-12-07 "(JSONDecodeError)" alone (an outside user's truncated baseline).
        text = err.doc.strip()
        # A JSON object or list that never closes was cut short (wherever the parser stopped in it).
        opened = text[:1] in ("{", "[") and text[-1:] != {"{": "}", "[": "]"}[text[:1]]
        cut = "empty" if not text else "cut short" if opened or err.pos >= len(err.doc.rstrip()) else "not JSON"
        again = "save it again (dml-parity baseline save RUN --to FILE)" if what == "baseline" else "run again"
        raise DataError(
            f"{path}: cannot read {what}: the file is {cut} (line {err.lineno}, column {err.colno}); "
            f"restore it (from version control), or {again}"
        ) from None
    except OSError as err:
        raise DataError(f"{path}: cannot read {what} ({err.__class__.__name__})") from None


def spec_of(row: dict) -> str:
    """The spec a row of results.json belongs to (a several-treatment spec has a row per treatment)."""
    return row.get("spec_id", row["id"])


def read_results(run_dir: Path) -> dict:
    """A run's results.json (``run_dir`` the run's folder or the file)."""
    path = run_dir / "results.json" if run_dir.is_dir() else run_dir
    results = _read_json(path, "no results.json here", "results")
    schema = results.get("schema") if isinstance(results, dict) else None
    if schema not in RESULTS_SCHEMAS:
        raise DataError(f"{path}: not a dml-parity results file this version reads (schema {schema!r})")
    return results


def run_spec_file(results: dict):
    """The spec file a run read, loaded, or None when it changed since (its sha256 differs); a
    ``SpecError`` when it is gone or no longer valid."""
    from harness.language.spec import load_spec_file

    path = Path(results["provenance"]["spec_file"]["path"])
    if not path.is_absolute() and not path.exists():
        # A run records its spec file as given, so that clones in other folders record alike.
        raise DataError(
            f"{path}: spec file not found from {Path.cwd()}; the run recorded it relative to the folder it ran in: "
            "save from that folder, or give the run --specs as an absolute path"
        )
    spec_file = load_spec_file(path)
    return spec_file if spec_file.sha256 == results["provenance"]["spec_file"]["sha256"] else None


def rows_folds_digest(row: dict) -> Optional[str]:
    """sha256 of the rows and folds a result row used (names the data rows and the split)."""
    stored = (row.get("arrays") or {}).get("sha256")
    if stored:
        return stored
    if row.get("rows") is None or row.get("folds") is None:
        return None
    from harness.output.arrays import pair_digest

    return pair_digest(np.asarray(row["rows"]), np.asarray(row["folds"]))


def data_record(provenance: dict, spec_file, relative_to: Path) -> dict:
    """The data a run read: its sha256, and for a file its path relative to ``relative_to`` and
    whether it replaced the spec file's own ``dataset.path`` (``--data``)."""
    data = provenance["data"]
    if "path" not in data:
        return {"generator": data.get("generator"), "sha256": data["sha256"]}
    path = Path(data["path"]).resolve()
    own = None
    if spec_file is not None and spec_file.dataset.path:
        own = (spec_file.path.parent / spec_file.dataset.path).resolve()
    record = {"path": os.path.relpath(path, relative_to), "sha256": data["sha256"], "override": path != own}
    if "values_sha256" in data:  # recorded since 2026-12-07
        record["values_sha256"] = data["values_sha256"]
    if "sha256_apart_from_folds" in data:
        record.update(fold_columns=data["fold_columns"], sha256_apart_from_folds=data["sha256_apart_from_folds"])
    return record


# The spec_file of a baseline made from a doubleml model (the pytest fixture's): its spec and data
# were temporary files, whose paths would change with every run.
MODEL_SOURCE = "not a file: the spec harness.compare wrote for "


def save_baseline(run_dir: Path, to: Path, model: Optional[str] = None) -> list[str]:
    """Write the estimates of a run (a directory with results.json), what they were fitted on and
    with which packages, to a baseline file. ``model``: the run was of a doubleml model's spec, which
    the baseline names so (its files were temporary), e.g. ``DoubleMLPLR of tests/test_a.py::test_b``.
    Returns the engines the run fitted, which the baseline holds."""
    results = read_results(run_dir)
    spec_file = run_spec_file(results)
    spec_path = Path(results["provenance"]["spec_file"]["path"])
    if spec_file is None:
        raise DataError(f"{spec_path}: changed since the run in {run_dir}; run it again before saving a baseline")
    where = to.resolve().parent
    estimates, specs = {}, {}
    for row in results["specs"]:
        spec = spec_file.spec(spec_of(row))
        specs[spec.id] = {"sha256": spec.content_hash(), "fields": spec.recorded_fields()}
        tier = row.get("tier") or "statistical"
        estimates[row["id"]] = {
            "spec": spec.id,
            "tier": tier,
            "tolerance": tolerance_of(tier, row.get("tolerance"), spec.coef_tolerance_se),
            "rows_folds_sha256": rows_folds_digest(row),
            "python": _estimate(row.get("python")),
            "r": _estimate(row.get("r")),
            "learner_free": _estimate(row.get("learner_free"), LEARNER_FREE_QUANTITIES),
        }
    baseline = {
        "schema": SCHEMA,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "spec_file": os.path.relpath(spec_path.resolve(), where),
        "dataset": spec_file.dataset.model_dump(mode="json"),
        "data": data_record(results["provenance"], spec_file, where),
        "engines": results["provenance"]["engines"],
        "versions": {"python": results["provenance"]["python"], "r": results["provenance"]["r"]},
        "specs": specs,
        "estimates": estimates,
    }
    if results["provenance"].get("only"):
        baseline["only"] = results["provenance"]["only"]
    if model is not None:
        baseline["spec_file"] = f"({MODEL_SOURCE}{model})"
        baseline["data"]["path"] = f"({model}'s data)"
    _refuse_a_users_file(to)
    try:
        # Through a link to an earlier baseline, the baseline is what is updated, not the link
        # (until 2026-12-07 the link became a file and its target stayed old: an outside user).
        atomic_write_json(Path(os.path.realpath(to)), {**baseline, "sha256": content_sha256(baseline)})
    except OSError as err:
        raise DataError(f"--to {to}: cannot write the baseline ({os_reason(err)})") from None
    return baseline["engines"]


def _refuse_a_users_file(to: Path) -> None:
    """An earlier baseline is replaced (that is how one is updated); any other file is the user's."""
    if not os.path.lexists(to):
        return
    try:
        schema = json.loads(Path(to).read_text(encoding="utf-8")).get("schema")
    except (OSError, ValueError, AttributeError):
        schema = None
    if schema not in READ_SCHEMAS + OLD_SCHEMAS or not Path(to).is_file():
        raise DataError(f"--to {to}: exists and is not a dml-parity baseline; baseline save does not overwrite it")


def tolerance_of(tier: str, exact_tolerance: Optional[float], coef_tolerance_se: float) -> dict:
    """The limit a baseline applies, with its unit: the pair's relative tolerance (exact tier) or
    the spec's ``coef_tolerance_se`` in se (statistical tier; results record 0.0 for it)."""
    if tier == "exact":
        return {"limit": exact_tolerance, "unit": "relative"}
    return {"limit": coef_tolerance_se, "unit": "se"}


def _estimate(block: Optional[dict], quantities: tuple[str, ...] = QUANTITIES) -> Optional[dict]:
    if block is None:
        return None
    return {q: block[q] for q in quantities if block.get(q) is not None}


def load_baseline(path: Path) -> dict:
    """A baseline file this version reads; an older one is refused with how to re-save it, and one
    whose content no longer matches its ``sha256`` (edited by hand) is refused."""
    baseline = _read_json(path, "baseline file not found", "baseline")
    schema = baseline.get("schema") if isinstance(baseline, dict) else None
    if schema in OLD_SCHEMAS:
        raise DataError(
            f"{path}: a baseline of the older format {schema}, without spec and data digests; "
            f"re-save it: dml-parity baseline save RUN_DIR --to {path} (one the pytest plugin wrote: pytest --dml-parity-regen)"
        )
    if schema not in READ_SCHEMAS:
        raise DataError(f"{path}: not a dml-parity baseline (schema {schema!r})")
    if schema == SCHEMA and baseline.get("sha256") != content_sha256(baseline):
        raise DataError(
            f"{path}: its content does not match its sha256 (edited since it was saved); "
            f"a baseline is written only by: dml-parity baseline save RUN_DIR --to {path} (one the pytest plugin wrote: "
            "pytest --dml-parity-regen)"
        )
    check_shape(baseline, path)
    return baseline


# --- how far a number moved ------------------------------------------------------------------------


def quantity_change(quantity: str, before: float, now: float, se_before: float, se_now: float, tier: str) -> tuple[float, str]:
    """How far one number of an estimate moved, and the unit of that figure.

    ``quantity`` is coef, se, p, a CI bound or a per-repetition coef or se (``se_*`` is the se that
    goes with it: the estimate's, or the repetition's). Units: ``relative`` (exact tier, to
    ``max(|before|, |now|, se)``), ``se`` (statistical tier, to the larger se), ``absolute`` (p).
    NaN on one side only is an infinite change; NaN on both is none.
    """
    values = (before, now)
    if any(v is None for v in values) or any(math.isnan(v) for v in values):
        both = all(v is None or math.isnan(v) for v in values)
        return (0.0 if both else math.inf), "absolute"
    if quantity in P_VALUES:
        return abs_diff(before, now), "absolute"
    se = max(_finite(se_before), _finite(se_now))
    if se <= 0:  # no se to scale by: relative to the larger number (no unit where both are 0)
        return (rel_diff(before, now), "relative") if before or now else (0.0, "absolute")
    if tier == "statistical":
        return diff_in_se(before, now, se), "se"
    return coef_diff(before, now, se), "relative"


def _finite(value: Optional[float]) -> float:
    return value if value is not None and math.isfinite(value) else 0.0


def _significance(p: Optional[float]) -> Optional[int]:
    return None if p is None or math.isnan(p) else sum(p < level for level in SIGNIFICANCE_LEVELS)


def _numbers(block: dict, quantity: str) -> tuple[list[Optional[float]], list[Optional[float]]]:
    """The quantity's numbers (one, two CI bounds, or one per repetition) and the se of each."""
    value = block.get(quantity)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if quantity in ("coef_reps", "se_reps"):
        ses = list(block.get("se_reps") or [None] * len(values))
    else:
        ses = [block.get("se")] * len(values)
    return values, ses


def _label(quantity: str, i: int, n: int) -> str:
    if quantity in ("ci", "joint_ci"):
        name = quantity.replace("_", " ")
        return f"{name} {('lower', 'upper')[i]}" if n == 2 else f"{name}[{i}]"
    if quantity in ("coef_reps", "se_reps"):
        return f"{quantity[:-5]} rep {i + 1}"
    return quantity


def engine_moves(entry: dict, before: dict, now: dict) -> list[dict]:
    """Every number of one engine's estimate that moved beyond ``entry``'s tolerance."""
    tier, limit = entry["tier"], entry["tolerance"]["limit"]
    moved = []
    for quantity in QUANTITIES:
        if quantity not in before:
            continue
        old, old_se = _numbers(before, quantity)
        new, new_se = _numbers(now, quantity)
        if quantity in ("coef_reps", "se_reps") and len(old) == len(new) == 1:
            continue  # one repetition: the same numbers as coef and se
        if len(old) != len(new):
            moved.append(_moved(quantity, len(old), len(new), None, "", None, "same number of values"))
            continue
        for i, (b, a) in enumerate(zip(old, new, strict=True)):
            label = _label(quantity, i, len(old))
            change, unit = quantity_change(quantity, b, a, old_se[i], new_se[i], tier)
            if quantity in P_VALUES and tier == "statistical":
                if _significance(b) != _significance(a):
                    moved.append(_moved(label, b, a, change, unit, None, "same significance at 1/5/10 %"))
            elif not change <= limit:
                moved.append(_moved(label, b, a, change, unit, limit, None))
    return moved


def _moved(what: str, before, now, change: Optional[float], unit: str, limit: Optional[float], rule: Optional[str]) -> dict:
    return {"what": what, "before": before, "now": now, "change": change, "unit": unit, "limit": limit, "rule": rule}


GONE = "not in this run"  # the rule column of a baseline estimate the run no longer has


def drift(
    baseline: dict, results: dict, rows: Optional[set[str]] = None, engines: Optional[tuple[str, ...]] = None
) -> list[dict]:
    """Every number of ``baseline``'s estimates that ``results`` moved beyond its tier's tolerance.

    ``rows``: the baseline rows to compare (default all); ``engines``: the engines to compare
    (default those the baseline holds). A row or engine estimate that is gone is one ``missing`` move.
    """
    now = {s["id"]: s for s in results["specs"]}
    moved = []
    for row_id, entry in sorted(baseline["estimates"].items()):
        if rows is not None and row_id not in rows:
            continue
        for engine in ENGINES:
            before = entry.get(engine)
            if before is None or (engines is not None and engine not in engines):
                continue
            after = now.get(row_id, {}).get(engine)
            if after is None:
                moved.append({"id": row_id, "engine": engine, **_moved("estimate", None, None, None, "", None, GONE)})
                continue
            moved += [{"id": row_id, "engine": engine, **m} for m in engine_moves(entry, before, after)]
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
