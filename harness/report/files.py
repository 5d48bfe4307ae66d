"""Write a run directory's report files, each atomically."""

from __future__ import annotations

from pathlib import Path

from harness.output.atomic_write import atomic_write_bytes
from harness.report.forest_plot import render_forest
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.parity_plot import render_parity
from harness.report.replicates_plot import render_replicate_plots, replicate_file_name
from harness.report.table_csv import render_csv

__all__ = ["REPORT_FILES", "write_report"]

REPORT_FILES = ("report.md", "report.html", "results.csv", "parity.png", "forest.png")


def write_report(results: dict, out_dir: Path) -> list[Path]:
    """Write report.md, report.html, results.csv, parity.png and forest.png into ``out_dir``.

    Parameters
    ----------
    results : dict
        The run's results (``results.json`` itself is the caller's to write).
    out_dir : Path
        The run directory; created if missing.

    Returns
    -------
    list of Path
        The files written, in the order of ``REPORT_FILES``, then one ``replicates-<spec>.png``
        per replicated spec.
    """
    out_dir = Path(out_dir)
    parity, forest = render_parity(results), render_forest(results)
    replicate_pngs = render_replicate_plots(results)
    outputs = {
        "report.md": render_markdown(results).encode("utf-8"),
        "report.html": render_html(results, parity, forest, replicate_pngs).encode("utf-8"),
        "results.csv": render_csv(results).encode("utf-8"),
        "parity.png": parity,
        "forest.png": forest,
    }
    paths = []
    for name in REPORT_FILES:
        atomic_write_bytes(out_dir / name, outputs[name])
        paths.append(out_dir / name)
    for spec_id, png in replicate_pngs.items():
        atomic_write_bytes(out_dir / replicate_file_name(spec_id), png)
        paths.append(out_dir / replicate_file_name(spec_id))
    return paths
