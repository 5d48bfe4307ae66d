"""Render a run directory from a results dict: report.md, report.html, results.csv, parity.png and
forest.png.

Every output is a pure function of the results dict, so the same results give the same bytes (the
only timestamp shown is the run's own ``provenance.created``). Statuses shown are *effective*
statuses (:mod:`harness.verdict.summary`): a spec with no R estimate reads "R not run" whatever the runner
wrote, because a comparison that never happened must not be counted as agreement.

One module per job: :mod:`.overview` (labels, order, status summary, provenance), :mod:`.cells`
(each spec's cell text), :mod:`.markdown`, :mod:`.html` (with ``templates/report.html.j2``),
:mod:`.table_csv`, :mod:`.parity_plot`, :mod:`.forest_plot` (with :mod:`.fonts` and
:mod:`.canvas`), and :mod:`.files`, which writes them.
"""

from harness.report.files import REPORT_FILES, write_report
from harness.report.forest_plot import render_forest
from harness.report.html import render_html
from harness.report.markdown import render_markdown
from harness.report.overview import HOW_TO_READ
from harness.report.parity_plot import render_parity
from harness.report.table_csv import CSV_COLUMNS, render_csv
from harness.verdict.summary import effective_status, summarize

__all__ = [
    "CSV_COLUMNS",
    "HOW_TO_READ",
    "REPORT_FILES",
    "effective_status",
    "render_csv",
    "render_forest",
    "render_html",
    "render_markdown",
    "render_parity",
    "summarize",
    "write_report",
]
