"""``harness.compare(model)``: a doubleml model compared with its R twin, without a spec file.

The model is read (:mod:`harness.api.model_reading`) into a spec entry, its columns and its folds,
written as ``spec.yaml`` + ``data.csv`` into a temporary folder, and run by the same runner as
``dml-parity run --specs spec.yaml``: R gets the same rows and the same folds. A fitted model's own
numbers are the Python side (``python_given``), not a refit; an unfitted one is fitted by the tool
on the model's splits (or on folds the tool draws when the model holds none).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import pandas as pd
import yaml

from harness.api.model_reading import ModelReading, read_model
from harness.api.parity_result import ParityResult
from harness.engines.result import CI_LEVEL, ENGINES, Bootstrap, Inference
from harness.errors import DataError, HarnessError
from harness.verdict.single_draw import REPLICATES

__all__ = ["compare", "spec_files"]


def _plain(value: Any) -> Any:
    """YAML-safe Python values (numpy scalars become int, float, bool)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def spec_files(reading: ModelReading) -> dict[str, bytes]:
    """``spec.yaml`` and ``data.csv`` of a read model; the data's numbers read back bit for bit."""
    # A single-precision column (Stata's float, a downcast frame) is written with the digits of its
    # exact value in double precision: its own shortest digits would read back as another number.
    frame = reading.frame
    narrow = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype) and frame[c].dtype.itemsize < 8]
    frame = frame.astype(dict.fromkeys(narrow, "float64")) if narrow else frame
    text = io.StringIO()
    frame.to_csv(text, index=False, lineterminator="\n")
    data = text.getvalue().encode("utf-8")
    back = pd.read_csv(io.BytesIO(data))
    for column in frame.columns:
        ours, theirs = frame[column].to_numpy(), back[column].to_numpy()
        if pd.api.types.is_numeric_dtype(ours.dtype) and not np.array_equal(ours.astype(float), theirs.astype(float)):
            raise DataError(f"data: column '{column}' does not survive a round trip through CSV exactly")
    spec = {"dataset": {"path": "data.csv"}, "specs": [_plain(reading.entry)]}
    head = "# Written by harness.compare: `dml-parity run --specs spec.yaml` repeats the comparison.\n"
    if "bootstrap" in reading.entry:  # said since 2026-12-07 (an outside user found the joint intervals apart)
        head += (
            "# Except for the model's own bootstrap draws, which a spec cannot hold: the run draws its own, so\n"
            "# Python's joint intervals and Romano-Wolf p-values differ from harness.compare's.\n"
        )
    return {"spec.yaml": (head + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)).encode("utf-8"), "data.csv": data}


def _own_inference(model: Any, entry: dict) -> Optional[Inference]:
    """What the user's model gives beyond its estimates: the bootstrap the user ran, as doubleml's
    own draws (its bootstrapped t statistics and the joint intervals they give), and the adjusted
    p-values of ``entry["p_adjust"]`` as ``model.p_adjust`` gives them: Romano-Wolf's from those
    draws, Holm's and Bonferroni's (no draws) as the Python side's. The shared-weight run is the
    tool's (harness.running.fit.given_checked)."""
    method = entry.get("p_adjust")
    if "bootstrap" not in entry and method is None:
        return None
    adjusted = model.p_adjust(method=method)["pval"].to_numpy(dtype=float) if method else None
    shared = Bootstrap(p_adjusted=adjusted if method != "romano-wolf" else None)
    if "bootstrap" not in entry:
        return Inference(shared=shared)
    joint = model.confint(joint=True, level=CI_LEVEL).to_numpy(dtype=float) if entry.get("joint") else None
    own = Bootstrap(
        boot_t=np.array(model.framework.boot_t_stat, dtype=float),
        joint_ci=joint,
        p_adjusted=adjusted if method == "romano-wolf" else None,
    )
    return Inference(shared=shared, own=own)


def _asked_adjustment(reading: ModelReading, p_adjust: Optional[str]) -> None:
    """``compare(p_adjust=...)`` into the spec entry: a question asked of the model (doubleml keeps
    no record of ``p_adjust`` calls), answered by the model's numbers when it is fitted."""
    if p_adjust is None:
        return
    if p_adjust == "romano-wolf" and "bootstrap" not in reading.entry:
        raise HarnessError(
            "p_adjust: romano-wolf steps down on bootstrap draws, and the model holds none; "
            "fit it and run model.bootstrap() before harness.compare"
        )
    reading.entry["p_adjust"] = p_adjust


def compare(
    model: Any, *, engines: tuple[str, ...] = ENGINES, replicates: Optional[int] = None, p_adjust: Optional[str] = None
) -> ParityResult:
    """Compare a doubleml model with DoubleML (R) on the same data and folds.

    Parameters
    ----------
    model : doubleml.DoubleMLPLR, DoubleMLPLIV, DoubleMLIRM, DoubleMLIIVM or DoubleMLSSM
        Fitted (its own numbers are the Python side) or not (the tool fits it on its splits).
        Its learners must have R twins in the learner registry.
    engines : tuple of str
        ``("python", "r")``, or one of them.
    replicates : int, optional
        As ``dml-parity run --replicates``: statistical-tier specs repeat the fit with other folds.
    p_adjust : {"romano-wolf", "bonferroni", "holm"}, optional
        Compare the adjusted p-values ``model.p_adjust(p_adjust)`` gives with R's. Romano-Wolf
        needs the model's bootstrap (``model.bootstrap()``).

    Returns
    -------
    ParityResult
    """
    from harness.running.runner import RunOptions, parse_engines, run

    engines = parse_engines(",".join(engines))
    if replicates is not None and replicates < 2:
        raise HarnessError(f"replicates: must be at least 2, got {replicates}")
    reading = read_model(model)
    _asked_adjustment(reading, p_adjust)
    files = spec_files(reading)
    given = None
    if reading.fitted and "python" in engines:
        from harness.engines.python_engine import result_of

        given = {reading.entry["id"]: result_of(model, reading.labels, 0.0, inference=_own_inference(model, reading.entry))}
    with tempfile.TemporaryDirectory(prefix="dmlp-compare-") as folder:
        for name, data in files.items():
            (Path(folder) / name).write_bytes(data)
        options = RunOptions(
            specs=Path(folder) / "spec.yaml",
            engines=engines,
            replicates=replicates,
            command=f"harness.compare({type(model).__name__}{', fitted' if reading.fitted else ''})",
            python_given=given,
        )
        try:
            results = run(options)
        except HarnessError as err:
            raise type(err)(_as_the_model_says(str(err), folder, files, reading.entry["id"], model)) from None
    # The temporary folder is gone: the provenance names the files to_spec writes (same sha256).
    provenance = results["provenance"]
    provenance["spec_file"]["path"] = "spec.yaml (ParityResult.to_spec)"
    provenance["data"]["path"] = "data.csv (ParityResult.to_spec)"
    for record in results["specs"]:  # its command named the temporary spec file: the call is the way here
        if (record.get("single_draw") or {}).get("replicates_command"):
            record["single_draw"]["replicates_command"] = f"harness.compare(model, replicates={REPLICATES})"
    return ParityResult(results, files)


def _as_the_model_says(message: str, folder: str, files: dict, spec_id: str, model: Any) -> str:
    """An input error as the model's user reads it: about the model (``DoubleMLIRM: field ...``),
    not the temporary spec entry; other files named as to_spec writes them."""
    for name in files:
        where = f"{folder}/{name}: spec '{spec_id}'"
        message = message.replace(f"{where} field ", f"{type(model).__name__}: field ").replace(where, type(model).__name__)
    # The feasibility rules' advice is a spec's; a model is built with the dict doubleml takes.
    for off, on in (("always_takers", "never_takers"), ("never_takers", "always_takers")):
        message = message.replace(f"set {off}: false", f"build it with subgroups={{'{off}': False, '{on}': True}}")
    return message.replace(f"{folder}/", "")
