"""``report.html``: the cells of :mod:`harness.report.cells` poured into ``templates/report.html.j2``.

Jinja2 autoescapes every value, so a spec title, an R error message or a claim cannot inject
markup; this module builds plain data and the template owns all markup and style.
"""

from __future__ import annotations

import base64
import functools

import jinja2

import harness.report.cells as cells
import harness.report.learner_section as learner_section
import harness.report.replicates_section as replicates_section
import harness.report.tuning_section as tuning_section
from harness.engines.result import ENGINES
from harness.report.forest_plot import forest_caption
from harness.report.overview import (
    ENGINE_LABEL,
    STATUS_LABEL,
    groups,
    has_paper,
    has_truth,
    how_to_read,
    package_rows,
    prepare,
    provenance_rows,
    summary_rows,
    title,
)
from harness.report.replicates_plot import render_replicate_plots, replicated_specs
from harness.verdict.summary import effective_status

__all__ = ["render_html"]

TEMPLATE = "report.html.j2"
# Shares (%) of the spec table's columns the template may leave out (its stylesheet gives the rest).
CLAIM_WIDTH, TRUTH_WIDTH, STATUS_WIDTH = 25, 8, 22


@functools.cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a misspelt field is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _row(spec: dict) -> dict:
    status = effective_status(spec)
    verdicts = []
    for engine in ENGINES:
        key, label, reasons = cells.verdict_lines(spec, engine)
        if key:
            verdicts.append({"engine": ENGINE_LABEL[engine], "key": key, "label": label, "reasons": reasons})
    return {
        "id": spec["id"],
        "title": spec.get("title") or "",
        "title_zh": spec.get("title_zh") or "",
        "python": cells.coef_text(spec.get("python")),
        "r": cells.coef_text(spec.get("r")),
        "joint": {engine: cells.joint_lines(spec.get(engine)) for engine in ("python", "r")},
        "gap": cells.gap_lines(spec),
        "status": status,
        "status_label": STATUS_LABEL.get(status, status),
        "tier": spec.get("tier") or "",
        # The error itself gets a full-width row of its own.
        "status_lines": cells.status_lines(spec, with_error=False),
        "checks": cells.check_rows(spec),
        "checks_summary": cells.checks_summary(spec),
        "checks_fail": any(row["ok"] is False for row in cells.check_rows(spec)),
        "claim": cells.claim_lines(spec),
        "verdicts": verdicts,
        "truth": cells.truth_text(spec),
        "error": (spec.get("error") or "no message") if status == "error" else None,
    }


def _columns(specs: list[dict]) -> dict:
    """Which optional columns of the spec table are shown, and the status column's share."""
    paper, truth = has_paper(specs), has_truth(specs)
    width = STATUS_WIDTH + (0 if paper else CLAIM_WIDTH) + (0 if truth else TRUTH_WIDTH)
    return {"paper": paper, "truth": truth, "status_width": width, "count": 5 + paper + truth}


def _replicates(results: dict, pngs: dict[str, bytes]) -> list[dict]:
    return [
        {
            "id": spec["id"],
            "status": effective_status(spec),
            "lines": replicates_section.replicate_summary_lines(spec),
            "rows": replicates_section.replicate_rows(spec),
            "png": base64.b64encode(pngs[spec["id"]]).decode("ascii") if spec["id"] in pngs else None,
        }
        for spec in replicated_specs(results)
    ]


def render_html(results: dict, parity_png: bytes, forest_png: bytes, replicate_pngs: dict[str, bytes] | None = None) -> str:
    """Render ``report.html``: one self-contained page (inline CSS, both pictures inline).

    Parameters
    ----------
    results : dict
        The run's results.
    parity_png, forest_png : bytes
        The pictures of :mod:`harness.report.parity_plot` and :mod:`harness.report.forest_plot`,
        embedded as data URIs.
    replicate_pngs : dict, optional
        Spec id -> picture of :mod:`harness.report.replicates_plot` (drawn here when not given).

    Returns
    -------
    str
        The page; it loads nothing from outside itself.
    """
    specs = prepare(results)
    prov = results.get("provenance") or {}
    if replicate_pngs is None:
        replicate_pngs = render_replicate_plots(results)
    tables = [
        {"anchor": f"table-{i}", "name": table, "rows": [_row(spec) for spec in members]}
        for i, (table, members) in enumerate(groups(specs), 1)
    ]
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            title=title(results),
            summary=summary_rows(specs),
            how_to_read=how_to_read(specs),
            tables=tables,
            columns=_columns(specs),
            forest_caption=forest_caption(specs),
            parity_png=base64.b64encode(parity_png).decode("ascii"),
            forest_png=base64.b64encode(forest_png).decode("ascii"),
            replicates=_replicates(results, replicate_pngs),
            learners=learner_section.learner_rows(specs),
            learners_intro=learner_section.INTRO,
            tuning=tuning_section.tuning_rows(specs),
            tuning_intro=tuning_section.INTRO,
            replicates_intro=replicates_section.INTRO,
            provenance=provenance_rows(prov),
            packages=package_rows(prov),
            seeds=list((prov.get("seeds") or {}).items()),
        )
    )
