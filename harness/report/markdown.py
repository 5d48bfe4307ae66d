"""``report.md``: github-flavoured markdown, one table per paper table, each spec's checks folded
under it in a ``<details>`` block."""

from __future__ import annotations

from tabulate import tabulate

import harness.report.cells as cells
import harness.report.learner_section as learner_section
import harness.report.replicates_section as replicates_section
import harness.report.tuning_section as tuning_section
from harness.engines.result import ENGINES
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
from harness.report.replicates_plot import replicate_file_name, replicated_specs
from harness.verdict.summary import effective_status

__all__ = ["TABLE_HEADERS", "render_markdown"]

TABLE_HEADERS = ["Spec", "Python coef (se)", "R coef (se)", "Python − R", "Status", "Paper claim", "Truth (in 95 % CI)"]
PAPER_HEADER, TRUTH_HEADER = TABLE_HEADERS[5], TABLE_HEADERS[6]
CHECK_HEADERS = ["Spec", "Check", "Value", "Limit", "Result"]
REPLICATE_HEADERS = ["Statistic", "Python", "R", "Python − R"]


def _md(text: object) -> str:
    """Make text safe inside a github table cell: no pipes splitting cells, no line breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _join(lines: list[str]) -> str:
    return "<br>".join(_md(line) for line in lines if line)


def _status(spec: dict) -> str:
    status = effective_status(spec)
    tier = f" ({spec['tier']})" if spec.get("tier") else ""
    return _join([f"**{STATUS_LABEL.get(status, status)}**{tier}", *cells.status_lines(spec)])


def _claim(spec: dict) -> str:
    lines = [text for _, text in cells.claim_lines(spec)]
    for engine in ENGINES:
        key, label, reasons = cells.verdict_lines(spec, engine)
        if key:
            lines += [f"{ENGINE_LABEL[engine]}: {label}", *reasons]
    return _join(lines)


def _shown(specs: list[dict]) -> list[bool]:
    """Which of TABLE_HEADERS this run shows: the claim column only with a paper block, the truth
    column only when a spec knows its true effect."""
    hidden = {PAPER_HEADER: not has_paper(specs), TRUTH_HEADER: not has_truth(specs)}
    return [not hidden.get(header, False) for header in TABLE_HEADERS]


def _pick(cells_: list[str], shown: list[bool]) -> list[str]:
    return [cell for cell, keep in zip(cells_, shown, strict=True) if keep]


def _row(spec: dict) -> list[str]:
    return [
        _join([f"`{spec['id']}`", spec.get("title") or "", spec.get("title_zh") or ""]),
        _join([cells.coef_text(spec.get("python")), *cells.joint_lines(spec.get("python"))]),
        _join([cells.coef_text(spec.get("r")), *cells.joint_lines(spec.get("r"))]),
        _join(cells.gap_lines(spec)),
        _status(spec),
        _claim(spec),
        _md(cells.truth_text(spec)),
    ]


def _table(rows: list[list[str]], headers: list[str]) -> str:
    # disable_numparse keeps our formatted numbers exactly as written.
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def _checks_block(members: list[dict]) -> str:
    rows = []
    for spec in members:
        for check in cells.check_rows(spec):
            name = f"{check['name']} ({check['extra']})" if check["extra"] else check["name"]
            rows.append([f"`{spec['id']}`", _md(name), _md(check["value"]), _md(check["limit"]), _md(check["result"])])
    if not rows:
        return ""
    summary = "; ".join(f"{spec['id']}: {cells.checks_summary(spec)}" for spec in members if spec.get("checks"))
    # Blank lines around the table let github render markdown inside the HTML block.
    return f"<details><summary>Checks: {_md(summary)}</summary>\n\n{_table(rows, CHECK_HEADERS)}\n\n</details>"


def _replicates_part(results: dict) -> list[str]:
    specs = replicated_specs(results)
    if not specs:
        return []
    parts = ["## Replicates", replicates_section.INTRO]
    for spec in specs:
        parts += [
            f"### `{spec['id']}`",
            "<br>".join(_md(line) for line in replicates_section.replicate_summary_lines(spec)),
            f"![{_md(spec['id'])}: estimate distributions and paired differences]({replicate_file_name(spec['id'])})",
            _table([[_md(c) for c in row] for row in replicates_section.replicate_rows(spec)], REPLICATE_HEADERS),
        ]
    return parts


def _learners_part(specs: list[dict]) -> list[str]:
    rows = learner_section.learner_rows(specs)
    if not rows:
        return []
    table = _table([[_md(c) for c in row] for row in rows], learner_section.HEADERS)
    return ["## Learner settings", f"<details><summary>{_md(learner_section.INTRO)}</summary>\n\n{table}\n\n</details>"]


def _tuning_part(specs: list[dict]) -> list[str]:
    rows = tuning_section.tuning_rows(specs)
    if not rows:
        return []
    return ["## Tuning", _md(tuning_section.INTRO), _table([[_md(c) for c in row] for row in rows], tuning_section.HEADERS)]


def render_markdown(results: dict) -> str:
    """Render ``report.md``.

    Parameters
    ----------
    results : dict
        The run's results (the content of ``results.json``).

    Returns
    -------
    str
        Summary, how to read it, the two pictures, one table per paper table with its checks,
        provenance.
    """
    specs = prepare(results)
    prov = results.get("provenance") or {}
    parts = [
        f"# {title(results)}",
        "## Summary",
        _table([[_md(a), _md(b)] for a, b in summary_rows(specs)], ["", "Specs"]),
        f"**How to read this.** {how_to_read(specs)}",
        "## Python versus R",
        "![Python minus R per spec: statistical tier in standard errors, exact tier as relative differences](parity.png)",
    ]
    shown = _shown(specs)
    for table, members in groups(specs):
        parts += [f"## {_md(table)}", _table([_pick(_row(spec), shown) for spec in members], _pick(TABLE_HEADERS, shown))]
        block = _checks_block(members)
        if block:
            parts.append(block)
    parts += _learners_part(specs)
    parts += _tuning_part(specs)
    parts += _replicates_part(results)
    parts += [
        "## Estimates",
        "![Estimates and 95 % confidence intervals, one panel per paper table](forest.png)",
        "## Provenance",
        _table([[_md(a), _md(b)] for a, b in provenance_rows(prov)], ["Item", "Value"]),
        "### Packages",
        _table([[_md(c) for c in row] for row in package_rows(prov)], ["Language", "Package", "Version"]),
        "### Seeds",
        _table([[_md(k), _md(v)] for k, v in (prov.get("seeds") or {}).items()], ["Spec", "Seed"]),
    ]
    return "\n\n".join(parts) + "\n"
