"""What ``harness.compare`` returns: the run's results with the ways a notebook reads them (status,
checks and summary as tables, an HTML view) and writes them (the command line's report folder, or
a spec file and data that ``dml-parity run`` reproduces the comparison from)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Union

import pandas as pd

from harness.errors import HarnessError
from harness.output.atomic_write import atomic_write_bytes
from harness.report.parity_plot import render_parity
from harness.report.run_folder import write_run_folder
from harness.report.table_csv import render_csv
from harness.verdict.summary import STATUSES, effective_status

__all__ = ["ParityResult"]

# The worst status of several treatments' rows is the spec's (a disagreement is never outvoted).
_WORST_FIRST = ("error", "disagree", "inconclusive", "r-not-run", "python-not-run", "not-run", "explained", "agree")


class ParityResult:
    """One model compared in Python and R.

    Attributes
    ----------
    results : dict
        The run's results, as ``results.json`` holds them.
    files : dict of str to bytes
        ``spec.yaml`` and ``data.csv`` the comparison ran from (:meth:`to_spec` writes them).
    """

    def __init__(self, results: dict, files: dict[str, bytes]) -> None:
        self.results = results
        self.files = files

    @property
    def rows(self) -> list[dict]:
        """``results["specs"]``: one row per treatment."""
        return self.results["specs"]

    @property
    def status(self) -> str:
        """The verdict as the run's summary counts it (``effective_status``: ``r-not-run`` where only
        Python ran, which a row of ``results.json`` records as ``not-run``); several treatments: the
        worst of their rows."""
        statuses = [effective_status(row) for row in self.rows]
        assert set(statuses) <= set(STATUSES)
        return next(s for s in _WORST_FIRST if s in statuses)

    @property
    def checks(self) -> pd.DataFrame:
        """Every check the verdict made: one row each (``treatment`` names its row's treatment)."""
        records = [{"treatment": row["d"], **check} for row in self.rows for check in row.get("checks") or []]
        return pd.DataFrame.from_records(records)

    def summary(self) -> pd.DataFrame:
        """The table ``results.csv`` holds: one row per treatment, both engines' numbers side by side."""
        return pd.read_csv(io.StringIO(render_csv(self.results)))

    def save(self, out: Union[str, Path]) -> Path:
        """Write the report folder the command line writes (results.json, arrays.npz, report.html,
        ...) into ``out``, whole or not at all; returns ``out``."""
        from harness.output.outdir import OutputError, check_output, release_claims

        out = Path(out)
        try:
            check_output(out)
            write_run_folder(self.results, out)
        except OutputError as err:  # said in the command line's words (--out): here the folder is save's
            raise OutputError(_in_save_terms(str(err), out)) from None
        finally:
            release_claims()  # a notebook lives on: the folder is not held after its save
        return out

    def to_spec(self, out: Union[str, Path]) -> Path:
        """Write ``out/spec.yaml`` and ``out/data.csv`` (the model's columns and folds) so that
        ``dml-parity run --specs out/spec.yaml`` reproduces this comparison; returns the spec path.
        A different file already at either path is refused, not overwritten."""
        from harness.output.outdir import holds_a_run

        out = Path(out)
        if out.is_dir() and holds_a_run(out):  # its files would be lost, or the folder no run's --out any more
            raise HarnessError(f"to_spec: {out} holds a report dml-parity wrote; give the spec a folder of its own")
        for name, data in self.files.items():
            path = out / name
            if path.exists() and path.read_bytes() != data:
                raise HarnessError(f"{path}: exists and differs; to_spec does not overwrite a file (give another folder)")
        out.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            atomic_write_bytes(out / name, data)
        return out / "spec.yaml"

    def __repr__(self) -> str:
        row = self.rows[0]
        if len(self.rows) > 1:  # one row per treatment: the status is over all of them, not the first's
            return f"<ParityResult {row.get('spec_id', row['id'])} ({len(self.rows)} treatments): {self.status}>"
        numbers = ""
        if row.get("python") and row.get("r"):
            py, r = row["python"], row["r"]
            numbers = f", python {py['coef']:.6g} ({py['se']:.3g}), r {r['coef']:.6g} ({r['se']:.3g})"
        return f"<ParityResult {row['id']}: {self.status}{numbers}>"

    def _repr_html_(self) -> str:
        picture = base64.b64encode(render_parity(self.results)).decode("ascii")
        table = self.summary().dropna(axis=1, how="all").to_html(index=False, float_format=lambda v: f"{v:.6g}")
        checks = self.checks
        failed = checks[~checks["ok"]] if "ok" in checks else checks.iloc[0:0]
        lines = "".join(
            f"<li>{html.escape(str(c['name']))}: {c['value']:.3g} (limit {c['limit']:.3g}, {html.escape(str(c['metric']))})</li>"
            for c in failed.to_dict("records")
        )
        return (
            f"<div><p><b>dml-parity: {html.escape(self.status)}</b> ({len(checks)} checks"
            f"{', failed:' if lines else ', none failed'})</p>{f'<ul>{lines}</ul>' if lines else ''}"
            f'<img alt="parity" style="max-width:640px" src="data:image/png;base64,{picture}"/>{table}</div>'
        )


def _in_save_terms(message: str, out: Path) -> str:
    """An ``--out`` message of the command line as ``save(out)``'s."""
    message = message.replace(f"--out {out}:", f"save: {out}:", 1)
    for cli, api in (("choose another --out", "give another folder"), ("e.g. --out ", "e.g. ")):
        message = message.replace(cli, api)
    return message
