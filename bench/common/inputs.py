"""The inputs a bench measures: the suite (a snapshot of the spec file and its data), exports of
the designs and folds for the bare scripts, derived spec files and bigger panels."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import yaml

from bench.common.measure import TOOL
from harness.design.nuisance_columns import nuisance_columns
from harness.design.table import cluster_codes
from harness.language.learners import resolve_learner
from harness.language.spec import load_spec_file
from harness.running.fit import PreparedSpec
from harness.running.runner import prepare

__all__ = [
    "Suite", "derived_spec_file", "export_design", "export_for_bare", "manifest_entry", "replicate_panel",
    "resolve_suite", "snapshot_suite",
]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Inputs: the suite, exports for the bare scripts, derived spec files and bigger panels
# ---------------------------------------------------------------------------------------------


@dataclass
class Suite:
    specs: Path
    data: Optional[Path]  # --data override, None: the spec file's dataset.path
    temporary: bool
    ids: list[str]
    data_path: Path  # the CSV actually read
    note: str = ""  # how the data was obtained, when not from the spec file
    snapshot: dict[str, Any] = field(default_factory=dict)  # what was copied, with sha256

    def tool_args(self, data: Optional[Path] = None) -> list[str]:
        chosen = data or self.data
        return ["--specs", str(self.specs), *(["--data", str(chosen)] if chosen else [])]


def snapshot_suite(specs: Path, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """Copy the spec file and the files it names (data, truth) into ``workdir`` and return the copy.

    Other people edit the suite while the bench runs; every measurement must see one version, so
    the bench runs a copy. Relative paths keep working because the copy keeps the layout
    (``specs/paper.yaml`` next to ``data/``)."""
    import hashlib

    snap = workdir / "snapshot"
    spec_copy = snap / specs.parent.name / specs.name
    spec_copy.parent.mkdir(parents=True, exist_ok=True)
    text = specs.read_bytes()
    spec_copy.write_bytes(text)
    info: dict[str, Any] = {
        "source": str(specs),
        "sha256": hashlib.sha256(text).hexdigest(),
        "taken": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "files": {},
    }
    dataset = (yaml.safe_load(text) or {}).get("dataset") or {}
    for key in ("path", "truth"):
        rel = dataset.get(key)
        if not rel or Path(rel).is_absolute():
            continue
        source = (specs.parent / rel).resolve()
        target = (spec_copy.parent / rel).resolve()
        if source.exists() and target.is_relative_to(snap.resolve()):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            info["files"][key] = {"source": str(source), "sha256": hashlib.sha256(source.read_bytes()).hexdigest()}
    return spec_copy, info


def resolve_suite(specs: Path, data: Optional[Path], workdir: Path) -> Suite:
    """The suite to measure: the spec file and its data; when the data file is missing, the panel
    `dml-parity data synth` writes (the seed suite's data is that panel), else the stand-in suite."""
    note = ""
    temporary = False
    if not specs.exists():
        from bench.common.temp_suite import write_temp_suite

        print(f"{specs} does not exist: using the temporary suite of bench/common/temp_suite.py", flush=True)
        specs, data = write_temp_suite(workdir / "temp_suite")
        temporary = True
    snapshot: dict[str, Any] = {}
    if not temporary:
        specs, snapshot = snapshot_suite(specs, workdir)
    spec_file = load_spec_file(specs)
    if data is None and spec_file.dataset.path:
        data_path = (spec_file.path.parent / spec_file.dataset.path).resolve()
        if not data_path.exists():
            generated = workdir / "synth" / data_path.name
            synth = subprocess.run([str(TOOL), "data", "synth", "--out", str(generated)], capture_output=True, text=True)
            if synth.returncode == 0 and generated.exists():
                # The tool reads it through --data: same columns, only the truth file is not used.
                print(f"{data_path} does not exist: using `dml-parity data synth` output via --data", flush=True)
                data = generated
                note = (
                    f"the spec file's data `{spec_file.dataset.path}` did not exist "
                    "when this bench ran, so every run read the panel that `dml-parity data synth` writes (default seed), "
                    "generated into the scratch directory and passed with `--data`"
                )
            else:
                from bench.common.temp_suite import write_temp_suite

                print(f"{data_path} does not exist: using the temporary suite of bench/common/temp_suite.py", flush=True)
                specs, data = write_temp_suite(workdir / "temp_suite")
                temporary = True
                spec_file = load_spec_file(specs)
    data_path = data if data is not None else (spec_file.path.parent / spec_file.dataset.path).resolve()
    return Suite(
        specs=specs.resolve(),
        data=data.resolve() if data and not temporary else None,
        temporary=temporary,
        ids=[s.id for s in spec_file.specs],
        data_path=Path(data_path).resolve(),
        note=note,
        snapshot=snapshot,
    )


def export_for_bare(suite: Suite, only: Optional[list[str]], directory: Path, data: Optional[Path] = None) -> Path:
    """Write each spec's design matrix (CSV), folds (JSON) and learners into ``directory``.

    The designs and folds come from ``harness.running.runner.prepare``, the tool's own first step, so the
    bare scripts fit exactly what the tool fits. Returns the manifest's path.
    """
    directory.mkdir(parents=True, exist_ok=True)
    spec_file = load_spec_file(suite.specs, only)
    entries = [export_design(prepared, directory) for prepared in prepare(spec_file, data or suite.data_path)]
    manifest = directory / "manifest.json"
    manifest.write_text(json.dumps({"specs": entries}, indent=1), encoding="utf-8")
    return manifest


def export_design(prepared: PreparedSpec, directory: Path) -> dict[str, Any]:
    """Write one spec's design (``<id>.csv``) and folds (``<id>.folds.json``); its manifest entry."""
    spec, design, folds = prepared.spec, prepared.design, prepared.folds
    csv = f"{spec.id}.csv"
    # %.17g round-trips every float64, so both scripts read the tool's numbers bit for bit.
    design.frame.to_csv(directory / csv, index=False, float_format="%.17g")
    rep_folds = folds.smpls(cluster_codes(design))
    smpls = [{"train": [tr.tolist() for tr, _ in rep], "test": [te.tolist() for _, te in rep]} for rep in rep_folds]
    fold_doc: dict[str, Any] = {"smpls": smpls, "smpls_cluster": None}
    if folds.cluster_folds is not None:
        fold_doc["smpls_cluster"] = [
            {
                "train": [[v.astype(int).tolist() for v in tr] for tr, _ in rep],
                "test": [[v.astype(int).tolist() for v in te] for _, te in rep],
            }
            for rep in folds.smpls_cluster()
        ]
    (directory / f"{spec.id}.folds.json").write_text(json.dumps(fold_doc), encoding="utf-8")
    return manifest_entry(prepared, csv, f"{spec.id}.folds.json")


def manifest_entry(prepared: PreparedSpec, csv: str, folds_file: Optional[str]) -> dict[str, Any]:
    """What the bare scripts need to fit one spec: columns, model, folds (a file, or None: the
    script draws its own), seed and both languages' learners."""
    spec, design, folds = prepared.spec, prepared.design, prepared.folds
    r_learners = {}
    for nuisance in spec.nuisances:
        resolved = resolve_learner(spec.learner_for(nuisance), nuisance, spec.model)
        key, params = resolved.r_learner(len(nuisance_columns(spec, design, nuisance)))
        r_learners[nuisance] = {"key": key, "params": params, "classif": resolved.kind == "classif"}
    return {
        "id": spec.id,
        "csv": csv,
        "folds": folds_file,
        "model": spec.model,
        "score": spec.score_name,
        "y": design.y,
        "d": design.d,
        "x": list(design.x),
        "z": list(design.z),
        "cluster": list(design.cluster),
        "n_folds": folds.n_folds_per_cluster or folds.n_folds,
        "n_rep": folds.n_rep,
        "seed": spec.seed,
        "trimming_threshold": spec.trimming_threshold,
        "subgroups": spec.subgroups,
        "learners": {n: spec.learner_for(n) for n in spec.nuisances},
        "r_learners": r_learners,
    }


class _PlainDumper(yaml.SafeDumper):
    """No YAML anchors: copies share lists, and a derived file should read like a hand-written one."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def derived_spec_file(suite: Suite, ids: list[str], copies: int, path: Path) -> Path:
    """A spec file with ``copies`` copies of the specs ``ids`` (distinct ids, same designs and seeds).

    Claim blocks are dropped: they name other specs, and copies have no paper."""
    raw = yaml.safe_load(suite.specs.read_text(encoding="utf-8"))
    dataset = dict(raw.get("dataset") or {})
    for key in ("path", "truth"):
        if dataset.get(key):
            dataset[key] = str((suite.specs.parent / dataset[key]).resolve())
    if suite.data is not None:
        dataset["path"] = str(suite.data)
    dataset.pop("truth", None)  # copies have no true effects of their own
    by_id = {str(e["id"]): e for e in raw["specs"]}
    out = []
    for copy in range(copies):
        for spec_id in ids:
            entry = {k: v for k, v in by_id[spec_id].items() if k != "paper"}
            entry["id"] = f"{spec_id}__{copy + 1}" if copies > 1 else spec_id
            out.append(entry)
    doc = {"dataset": dataset, "defaults": raw.get("defaults") or {}, "specs": out}
    path.write_text(yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def replicate_panel(data: Path, unit: Optional[str], factor: int, out: Path, seed: int = 4) -> Path:
    """``factor`` copies of the panel, each with new unit ids and small noise on continuous columns.

    Copy 0 is the panel itself. Integer-valued columns (years, codes, 0/1 dummies, counts) are left
    alone so samples, fixed effects and binary treatments keep their meaning; float columns get
    N(0, (0.01 sd)^2) noise so the copies are not exact duplicates."""
    frame = pd.read_csv(data)
    rng = np.random.default_rng(seed)
    continuous = [
        c
        for c in frame.columns
        if pd.api.types.is_float_dtype(frame[c]) and c != unit and not np.allclose(frame[c].dropna(), np.round(frame[c].dropna()))
    ]
    parts = []
    for k in range(factor):
        part = frame.copy()
        if k:
            if unit is not None:
                if pd.api.types.is_integer_dtype(part[unit]):
                    part[unit] = part[unit] + k * (int(frame[unit].max()) + 1)
                else:
                    part[unit] = part[unit].astype(str) + f"~{k}"
            for col in continuous:
                part[col] = part[col] + rng.normal(scale=0.01 * float(frame[col].std()), size=len(part))
        parts.append(part)
    pd.concat(parts, ignore_index=True).to_csv(out, index=False)
    return out
