"""A run's whole output folder: results.json, its arrays and the report, written into a staging
folder and moved into place whole (the command line's ``run`` and ``harness.compare``'s ``save``)."""

from __future__ import annotations

from pathlib import Path

from harness.output.arrays import write_arrays
from harness.output.atomic_write import atomic_write_json
from harness.output.outdir import OUTPUT_FILES_KEY, list_outputs, replace_folder
from harness.report.files import write_report

__all__ = ["write_run_folder"]


def write_run_folder(results: dict, out: Path) -> list[str]:
    """Write results, their side file and the report into a staging folder, then move it into place
    whole; returns what the user saved into ``out`` meanwhile (kept in it)."""

    def write(staging: Path) -> None:
        written = write_arrays(results, staging)  # rows and folds -> arrays.npz, referenced by sha256
        write_report(written, staging)
        # Written last, with the list of what is beside it: the next run into this folder replaces
        # exactly these files and no other.
        atomic_write_json(staging / "results.json", {**written, OUTPUT_FILES_KEY: list_outputs(staging)})

    return replace_folder(Path(out), write)
