"""What a baseline's fits read that a run's did not: the data, the dataset block, each spec's fields
(or, where the run's spec file changed since it ran, each spec's content hash), the rows and folds,
the package versions (``dml-parity check``, harness.regression.baseline_check)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from harness.language.spec import DEFAULT_SCORES
from harness.regression.baseline import data_record, rows_folds_digest, spec_of, version_changes

__all__ = ["DESCRIPTIVE_DATASET_FIELDS", "DESCRIPTIVE_FIELDS", "input_changes"]

# Spec fields that describe an estimate without changing it: shown, but no finding.
DESCRIPTIVE_FIELDS = frozenset({"title", "title_zh", "table", "paper", "papers", "truth"})
DESCRIPTIVE_DATASET_FIELDS = frozenset({"path", "truth"})  # the data's sha256 says whether it changed


def input_changes(baseline: dict, spec_file, results: dict, baseline_dir: Path, only: Optional[set[str]]) -> dict:
    """What the fits now read that differs from what the baseline's fits read.

    ``spec_file`` None: the run's spec file changed since it ran, so its fields cannot be told.
    """
    before_data, now_data = baseline["data"], data_record(results["provenance"], spec_file, baseline_dir)
    data, fold_columns, same_values = None, [], None
    if "path" in before_data and before_data["sha256"] != now_data["sha256"]:
        apart = before_data.get("sha256_apart_from_folds")
        if apart is not None and apart == now_data.get("sha256_apart_from_folds"):
            fold_columns = now_data["fold_columns"]  # the file differs in its fold columns only
        elif before_data.get("values_sha256") and before_data["values_sha256"] == now_data.get("values_sha256"):
            # Saved again (CRLF line endings, other quoting): no value the fits read differs.
            # Until 2026-12-07 "data: DIFFER" and exit 1 (an outside user's CI after git's autocrlf).
            same_values = {"before": before_data["sha256"], "now": now_data["sha256"]}
        else:
            data = {"before": before_data, "now": now_data}
    specs, dataset = {}, []
    if spec_file is not None:
        dataset = _field_changes(baseline.get("dataset") or {}, spec_file.dataset.model_dump(mode="json"))
        dataset = [(f, b, a, f not in DESCRIPTIVE_DATASET_FIELDS) for f, b, a in dataset]
        known = baseline["specs"]
        for spec in spec_file.specs:
            if only is not None and spec.id not in only:
                continue
            if spec.id not in known:
                specs[spec.id] = {"status": "new", "fields": []}
            elif known[spec.id]["sha256"] != spec.content_hash():
                fields = _field_changes(_as_set(known[spec.id]["fields"]), _as_set(spec.recorded_fields()))
                if fields:  # else written otherwise, set alike (learner: ols / {name: ols}, a default spelt out)
                    counted = [(f, b, a, f not in DESCRIPTIVE_FIELDS) for f, b, a in fields]
                    specs[spec.id] = {"status": "changed", "fields": counted}
        ids = {s.id for s in spec_file.specs}
        for spec_id in sorted(set(known) - ids):
            if only is None:
                specs[spec_id] = {"status": "gone", "fields": []}
    else:
        specs = _changed_by_hash(baseline["specs"], results, only)
    now_rows = {s["id"]: s for s in results["specs"]}
    rows_folds = sorted(
        row_id
        for row_id, entry in baseline["estimates"].items()
        if row_id in now_rows
        and entry.get("rows_folds_sha256")
        and rows_folds_digest(now_rows[row_id]) not in (None, entry["rows_folds_sha256"])
    )
    now_versions = {"python": results["provenance"].get("python"), "r": results["provenance"].get("r")}
    return {
        "spec_file_known": spec_file is not None,
        "data": data,
        "fold_columns": fold_columns,
        "same_values": same_values,
        "dataset": dataset,
        "specs": specs,
        "rows_folds": rows_folds,
        "versions": version_changes(baseline.get("versions") or {}, now_versions),
    }


def _changed_by_hash(known: dict, results: dict, only: Optional[set[str]]) -> dict:
    """The specs of a run whose spec file changed since it ran, told by the content hash the run
    recorded for each: their fields cannot be shown. Until 2026-12-07 they were not compared at all,
    and a run of changed specs whose numbers had not moved passed (an outside user). A run of before
    then recorded no hash: its specs cannot be told the baseline's, so they count as differing."""
    recorded = {spec_of(row): row.get("spec_sha256") for row in results["specs"]}
    specs = {}
    for spec_id, sha256 in recorded.items():
        if only is not None and spec_id not in only:
            continue
        if spec_id not in known:
            specs[spec_id] = {"status": "new", "fields": []}
        elif sha256 != known[spec_id]["sha256"]:
            specs[spec_id] = {"status": "differs", "fields": []}
    for spec_id in sorted(set(known) - set(recorded)):
        if only is None:
            specs[spec_id] = {"status": "gone", "fields": []}
    return specs


# Optional fields whose unset value means this setting, which a spec may also spell out.
_UNSET_MEANS = {"partial": "X", "normalize_ipw": False, "use_other_treat_as_covariate": True}


def _as_set(fields: dict) -> dict:
    """A spec's recorded fields as the fits read them: a learner ``{name: ols}`` is ``ols``, and an
    unset score or option is its default, so writing either out is no change."""

    def learner(choice):
        return choice["name"] if isinstance(choice, dict) and set(choice) == {"name"} else choice

    out = {**fields, "learner": learner(fields.get("learner"))}
    out["learners"] = {n: learner(c) for n, c in (fields.get("learners") or {}).items()}
    if out.get("score") is None:
        out["score"] = DEFAULT_SCORES.get(fields.get("model"))
    for name, meaning in _UNSET_MEANS.items():
        out[name] = meaning if out.get(name) is None else out[name]
    return out


def _field_changes(before: dict, now: dict) -> list[tuple[str, object, object]]:
    missing = object()
    out = []
    for key in sorted(set(before) | set(now)):
        b, a = before.get(key, missing), now.get(key, missing)
        if b != a:
            out.append((key, None if b is missing else b, None if a is missing else a))
    return out
