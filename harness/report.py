"""Render a run directory from a results dict: report.md, report.html, results.csv, forest.png.

Every output is a pure function of the results dict, so the same results give the same bytes (the
only timestamp shown is the run's own ``provenance.created``). Statuses shown are *effective*
statuses: a spec with no R estimate reads "R not run" whatever the runner wrote, because a
comparison that never happened must not be counted as agreement.
"""

from __future__ import annotations

import base64
import csv
import functools
import html
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from string import Template
from typing import Any

from tabulate import tabulate

from harness.claims import (
    ENGINES,
    ENGINES_DISAGREE,
    NOT_JUDGED,
    NOT_REPRODUCED,
    REPRODUCED,
    count_claims,
    judge_claims,
)
from harness.io import atomic_write_bytes

__all__ = [
    "CSV_COLUMNS",
    "HOW_TO_READ",
    "effective_status",
    "render_csv",
    "render_forest",
    "render_html",
    "render_markdown",
    "summarize",
    "write_report",
]

ENGINE_LABEL = {"python": "Python", "r": "R"}
STATUS_LABEL = {
    "agree": "agree",
    "explained": "explained",
    "disagree": "disagree",
    "error": "error",
    "not-run": "not run",
    "r-not-run": "R not run",
    "python-not-run": "Python not run",
}
VERDICT_LABEL = {REPRODUCED: "reproduced", NOT_REPRODUCED: "not reproduced", NOT_JUDGED: "not judged"}
NO_TABLE = "Specs without a table"
DASH = "—"
# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
ENGINE_STYLE = {"python": ("#0072B2", "o"), "r": ("#D55E00", "s")}
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)

HOW_TO_READ = (
    "Each spec was estimated by Python doubleml and by R DoubleML on the same data, folds and "
    "seed, and the two estimates were compared. Exact: the learner pair solves the same problem in "
    "both languages, so Python and R must agree within that pair's tolerance (Δ is the relative "
    "difference of the coefficients). Statistical: the learners differ in algorithm or random "
    "stream, so agreement means the same sign, the same significance at the 1 %, 5 % and 10 % "
    "levels, |Δcoef| ≤ 0.2 × se (unless the spec sets another coef_tolerance_se) and nuisance "
    "predictions correlated ≥ 0.95. Explained: the two "
    "packages differ on purpose; the tool recomputed the other package's formula from the shared "
    "nuisance predictions and it accounts for the difference. R not run: there is no R estimate for "
    "the spec (R was not asked for, not available, or failed before estimating), so nothing was "
    "compared and the spec is not counted as agreeing. A paper claim is reproduced by an engine "
    "when its sign (significant at the claim's level) and every ordering against other specs hold "
    "for that engine's estimates; it is not judged when a spec it is compared with has no estimate "
    "from that engine. Stars: *** p < 0.01, ** p < 0.05, * p < 0.1."
)

CSV_COLUMNS = (
    "id", "table", "title", "title_zh", "model", "score", "y", "d", "learners", "status", "tier",
    "n_obs",
    "py_coef", "py_se", "py_t", "py_p", "py_ci_low", "py_ci_high",
    "r_coef", "r_se", "r_t", "r_p", "r_ci_low", "r_ci_high",
    "coef_abs", "coef_rel", "se_rel", "coef_in_se",
    "truth", "truth_in_ci_python", "truth_in_ci_r", "bias_python", "bias_r",
    "published_coef", "claim_python", "claim_r", "claim_agreement", "error",
)  # fmt: skip


# --- shared helpers ------------------------------------------------------------------------------


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def effective_status(spec: dict) -> str:
    """The status a reader should see for a spec.

    Parameters
    ----------
    spec : dict
        One entry of ``results["specs"]``.

    Returns
    -------
    str
        ``"error"`` for errors; ``"not-run"`` when neither engine ran; ``"r-not-run"`` or
        ``"python-not-run"`` when one engine's estimate is missing; otherwise the runner's status.
    """
    status = spec.get("status") or "not-run"
    if status == "error":
        return status
    missing = [engine for engine in ENGINES if spec.get(engine) is None]
    if len(missing) == len(ENGINES):
        return "not-run"
    if missing:
        return f"{missing[0]}-not-run"
    return status


def _prepare(results: dict) -> list[dict]:
    """Judge the claims and order specs by paper table (first appearance), then run order."""
    judged = judge_claims(results.get("specs") or [])
    order: dict[str, int] = {}
    for spec in judged:
        order.setdefault(spec.get("table") or NO_TABLE, len(order))
    return sorted(judged, key=lambda spec: order[spec.get("table") or NO_TABLE])


def _groups(specs: list[dict]) -> list[tuple[str, list[dict]]]:
    """Specs grouped by paper table; ``specs`` is already in table order."""
    groups: dict[str, list[dict]] = {}
    for spec in specs:
        groups.setdefault(spec.get("table") or NO_TABLE, []).append(spec)
    return list(groups.items())


def summarize(specs: list[dict]) -> dict[str, Any]:
    """Count specs by effective status and claims by verdict.

    Parameters
    ----------
    specs : list of dict
        Specs as returned by :func:`harness.claims.judge_claims`.

    Returns
    -------
    dict
        ``specs`` (total), one count per key of ``STATUS_LABEL``, ``agree-exact`` and
        ``agree-statistical``, and ``claims`` (see :func:`harness.claims.count_claims`).
    """
    summary: dict[str, Any] = {"specs": len(specs), **dict.fromkeys(STATUS_LABEL, 0)}
    summary["agree-exact"] = summary["agree-statistical"] = 0
    for spec in specs:
        status = effective_status(spec)
        summary[status] = summary.get(status, 0) + 1
        if status == "agree" and spec.get("tier") in ("exact", "statistical"):
            summary[f"agree-{spec['tier']}"] += 1
    summary["claims"] = count_claims(specs)
    return summary


def _num(value: Any) -> str:
    """Four decimals for everyday magnitudes, scientific notation for tiny or huge ones."""
    if not _finite(value):
        return DASH
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _signed(value: Any) -> str:
    return f"{value:+.4f}" if _finite(value) else DASH


def _stars(p: Any) -> str:
    if not _finite(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def _coef_text(estimate: dict | None) -> str:
    if not estimate or not _finite(estimate.get("coef")):
        return DASH
    return f"{_num(estimate['coef'])} ({_num(estimate.get('se'))}){_stars(estimate.get('p'))}"


def _delta_text(spec: dict) -> str:
    diff = spec.get("diff") or {}
    if not _finite(diff.get("coef_rel")):
        return DASH
    text = f"{diff['coef_rel']:.2e}"
    # Statistical pairs are judged in standard errors, so show the difference in those units too.
    if spec.get("tier") == "statistical" and _finite(diff.get("coef_in_se")):
        text += f" ({diff['coef_in_se']:.2f} se)"
    return text


def _claim_form(paper: dict) -> str:
    """The machine-checkable part of a claim in words, e.g. 'positive, p < 0.05; > baseline'."""
    parts = []
    if paper.get("sign"):
        which = "adjusted p" if paper.get("p") == "adjusted" else "p"
        parts.append(f"{paper['sign']}, {which} < {paper.get('level', 0.05):g}")
    parts += [f"> {other}" for other in paper.get("greater_than") or []]
    parts += [f"< {other}" for other in paper.get("less_than") or []]
    return "; ".join(parts)


def _per_engine_text(values: dict | None, fmt: Callable[[Any], str]) -> str:
    if values is None:
        return ""
    return ", ".join(f"{ENGINE_LABEL[e]} {fmt(values[e]) if values[e] is not None else DASH}" for e in ENGINES)


def _claim_lines(spec: dict) -> list[str]:
    """Claim cell: the words, the checked form, the published numbers, a verdict-disagreement flag."""
    paper = spec.get("paper")
    if not paper:
        return [DASH]
    lines = [paper.get("claim") or ""]
    if paper.get("claim_zh"):
        lines.append(paper["claim_zh"])
    if _claim_form(paper):
        lines.append(f"checked: {_claim_form(paper)}")
    published = paper.get("published") or {}
    if _finite(published.get("coef")):
        se = f" ({_num(published['se'])})" if _finite(published.get("se")) else ""
        note = f", {published['note']}" if published.get("note") else ""
        lines.append(f"published {_num(published['coef'])}{se}{note}")
        lines.append(f"Δ vs published: {_per_engine_text(spec.get('published_delta'), _signed)}")
    if spec.get("claim_agreement") == ENGINES_DISAGREE:
        lines.append(f"⚠ {ENGINES_DISAGREE}")
    return lines


def _verdict_lines(spec: dict, engine: str) -> tuple[str, list[str]]:
    """(verdict key, reasons); key is ``""`` without a claim and ``"none"`` without an estimate."""
    verdicts = spec.get("claim_verdict")
    if verdicts is None:
        return "", []
    if verdicts[engine] is None:
        return "none", []
    return verdicts[engine], list(spec["claim_reasons"][engine])


def _verdict_label(key: str) -> str:
    return {"": DASH, "none": "no estimate"}.get(key) or VERDICT_LABEL[key]


def _truth_text(spec: dict) -> str:
    if not _finite(spec.get("truth")):
        return DASH
    marks = _per_engine_text(spec.get("truth_in_ci"), lambda inside: "✓" if inside else "✗")
    return f"{_num(spec['truth'])} ({marks})"


def _failed_checks(spec: dict) -> list[str]:
    return [
        f"{c.get('name')} {_check_value(c.get('value'))} vs limit {_check_value(c.get('limit'))}"
        for c in spec.get("checks") or []
        if not c.get("ok")
    ]


def _layer_lines(spec: dict) -> list[str]:
    """Why a status holds: the explaining rule, the learner-free gap, the weakest nuisance."""
    lines = []
    gap = spec.get("explained_gap")
    if effective_status(spec) == "explained" and gap:
        lines.append(f"explained by: {gap.get('rule')}")
    free = spec.get("learner_free") or {}
    if _finite(free.get("coef_rel")):
        lines.append(f"learner-free Δ coef {free['coef_rel']:.1e}, se {free.get('se_rel', float('nan')):.1e}")
    corrs = [(entry.get("corr"), name) for name, entry in (spec.get("nuisance") or {}).items() if _finite(entry.get("corr"))]
    if corrs:
        corr, name = min(corrs)
        lines.append(f"lowest nuisance correlation {corr:.4f} ({name})")
    return lines


def _check_value(value: Any) -> str:
    return f"{value:.3g}" if _finite(value) else str(value)


def _spec_lines(spec: dict) -> list[str]:
    return [spec.get("title") or "", spec.get("title_zh") or ""]


def _summary_rows(summary: dict) -> list[tuple[str, str]]:
    """(label, value) rows shared by the markdown and HTML summaries."""
    tiers = f"exact {summary['agree-exact']} / statistical {summary['agree-statistical']}"
    agree = f"{summary['agree']} ({tiers})"
    rows = [("Specs run", str(summary["specs"])), ("Agree", agree)]
    for status in ("explained", "disagree", "error", "not-run", "r-not-run", "python-not-run"):
        # Python always runs in practice; show its row only when it did not.
        if status != "python-not-run" or summary[status]:
            rows.append((STATUS_LABEL[status].capitalize(), str(summary[status])))
    for engine in ENGINES:
        rows.append((f"Paper claims reproduced by {ENGINE_LABEL[engine]}", _claims_count_text(summary["claims"][engine])))
    return rows


def _claims_count_text(tally: dict[str, int]) -> str:
    text = f"{tally[REPRODUCED]} of {tally['claims']}"
    extra = [
        f"{tally[key]} {label}"
        for key, label in ((NOT_REPRODUCED, "not reproduced"), (NOT_JUDGED, "not judged"), ("no-estimate", "without an estimate"))
        if tally[key]
    ]
    return f"{text} ({', '.join(extra)})" if extra else text


def _title(results: dict) -> str:
    spec_file = ((results.get("provenance") or {}).get("spec_file") or {}).get("path")
    return f"DML parity report: {spec_file}" if spec_file else "DML parity report"


def _provenance_rows(prov: dict) -> list[tuple[str, str]]:
    rows = [
        ("Command", prov.get("command") or DASH),
        ("Created", prov.get("created") or DASH),
        ("Engines", ", ".join(prov.get("engines") or []) or DASH),
    ]
    for key, label in (("data", "Data"), ("spec_file", "Spec file")):
        item = prov.get(key) or {}
        rows.append((label, f"{item.get('path') or DASH} (sha256 {item.get('sha256') or DASH})"))
    if prov.get("platform"):
        rows.append(("Platform", prov["platform"]))
    return rows


def _package_rows(prov: dict) -> list[tuple[str, str, str]]:
    """(language, package, version) rows; a language that did not run gets one 'not run' row."""
    rows = []
    for key, label in (("python", "Python"), ("r", "R")):
        packages = prov.get(key)
        if not packages:
            rows.append((label, DASH, "not run"))
            continue
        rows += [(label, str(name), str(version)) for name, version in packages.items()]
    return rows


# --- markdown ------------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Make text safe inside a github table cell: no pipes splitting cells, no line breaks."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _md_join(lines: list[str]) -> str:
    return "<br>".join(_md(line) for line in lines if line)


def _md_verdict(spec: dict, engine: str) -> str:
    key, reasons = _verdict_lines(spec, engine)
    return _md_join([_verdict_label(key), *reasons])


def _md_status(spec: dict) -> str:
    status = effective_status(spec)
    lines = [f"**{STATUS_LABEL.get(status, status)}**"]
    if status == "error":
        lines.append(spec.get("error") or "no message")
    elif status in ("disagree", "explained"):
        lines += [f"failed: {check}" for check in _failed_checks(spec)]
    lines += _layer_lines(spec)
    return _md_join(lines)


def _md_row(spec: dict) -> list[str]:
    return [
        _md_join([f"`{spec['id']}`", *_spec_lines(spec)]),
        _md_join(_claim_lines(spec)),
        _md(_coef_text(spec.get("python"))),
        _md(_coef_text(spec.get("r"))),
        _md(_delta_text(spec)),
        _md(spec.get("tier") or DASH),
        _md_status(spec),
        _md_verdict(spec, "python"),
        _md_verdict(spec, "r"),
        _md(_truth_text(spec)),
    ]


TABLE_HEADERS = [
    "Spec",
    "Paper claim",
    "Python coef (se)",
    "R coef (se)",
    "Δ coef (rel.)",
    "Tier",
    "Status",
    "Claim: Python",
    "Claim: R",
    "Truth (in 95 % CI)",
]


def _md_table(rows: list[list[str]], headers: list[str]) -> str:
    # disable_numparse keeps our formatted numbers exactly as written.
    return tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True)


def render_markdown(results: dict) -> str:
    """Render ``report.md``.

    Parameters
    ----------
    results : dict
        The run's results (the content of ``results.json``).

    Returns
    -------
    str
        Github-flavoured markdown: summary, how to read it, one table per paper table, provenance.
    """
    specs = _prepare(results)
    prov = results.get("provenance") or {}
    parts = [
        f"# {_title(results)}",
        "## Summary",
        _md_table([[_md(a), _md(b)] for a, b in _summary_rows(summarize(specs))], ["", "Specs"]),
        f"**How to read this.** {HOW_TO_READ}",
    ]
    for table, members in _groups(specs):
        parts += [f"## {_md(table)}", _md_table([_md_row(spec) for spec in members], TABLE_HEADERS)]
    parts += [
        "## Forest plot",
        "![Estimates and 95 % confidence intervals](forest.png)",
        "## Provenance",
        _md_table([[_md(a), _md(b)] for a, b in _provenance_rows(prov)], ["Item", "Value"]),
        "### Packages",
        _md_table([[_md(c) for c in row] for row in _package_rows(prov)], ["Language", "Package", "Version"]),
        "### Seeds",
        _md_table([[_md(k), _md(v)] for k, v in (prov.get("seeds") or {}).items()], ["Spec", "Seed"]),
    ]
    return "\n\n".join(parts) + "\n"


# --- html ----------------------------------------------------------------------------------------

HTML_TEMPLATE = Template("""\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC",
       "PingFang SC", "Microsoft YaHei", sans-serif; margin: 2rem auto; max-width: 1400px;
       padding: 0 1rem; color: #1a1a1a; line-height: 1.4; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f2f2f2; }
td.num { font-family: ui-monospace, monospace; white-space: nowrap; }
.sub { display: block; color: #555; font-size: 0.85em; }
.status { font-weight: 600; padding: 0.1rem 0.4rem; border-radius: 3px; white-space: nowrap; }
.s-agree { background: #d8f0d8; color: #14531a; }
.s-explained { background: #dbe8fb; color: #173f7a; }
.s-disagree { background: #fbd9d3; color: #8a1c0b; }
.s-error { background: #8a1c0b; color: #fff; }
.s-not-run, .s-r-not-run, .s-python-not-run { background: #e6e6e6; color: #444; }
.v-reproduced { color: #14531a; font-weight: 600; }
.v-not-reproduced { color: #8a1c0b; font-weight: 600; }
.v-not-judged, .v-none { color: #666; }
tr.error-row td { background: #fdf0ee; color: #8a1c0b; font-family: ui-monospace, monospace; }
.warn { color: #8a1c0b; font-weight: 600; }
img.forest { max-width: 100%; height: auto; }
</style>
</head>
<body>
<h1>$title</h1>
<h2 id="summary">Summary</h2>
$summary
<p><strong>How to read this.</strong> $how_to_read</p>
<nav><p>Paper tables: $toc</p></nav>
$tables
<h2 id="forest">Forest plot</h2>
<p>Each spec's estimate and 95 % confidence interval: Python above, R below; × marks the truth,
◇ the published coefficient.</p>
<img class="forest" alt="Forest plot of each spec's Python and R estimates with 95 % confidence intervals"
     src="data:image/png;base64,$forest">
<h2 id="provenance">Provenance</h2>
$provenance
</body>
</html>
""")


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _html_lines(lines: list[str], first_class: str = "") -> str:
    """First line plain (or with a class), the rest as smaller sub-lines."""
    lines = [line for line in lines if line]
    if not lines:
        return ""
    first = f'<span class="{first_class}">{_esc(lines[0])}</span>' if first_class else _esc(lines[0])
    rest = "".join(f'<span class="sub">{_esc(line)}</span>' for line in lines[1:])
    return first + rest


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    """A table from already-escaped cell HTML."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _html_spec(spec: dict) -> str:
    title, title_zh = _spec_lines(spec)
    zh = f'<span class="sub" lang="zh">{_esc(title_zh)}</span>' if title_zh else ""
    plain = f'<span class="sub">{_esc(title)}</span>' if title else ""
    return f"<code>{_esc(spec['id'])}</code>{plain}{zh}"


def _html_claim(spec: dict) -> str:
    lines = _claim_lines(spec)
    paper = spec.get("paper") or {}
    out = []
    for line in lines:
        if line == paper.get("claim_zh"):
            out.append(f'<span class="sub" lang="zh">{_esc(line)}</span>')
        elif line.startswith("⚠"):
            out.append(f'<span class="sub warn">{_esc(line)}</span>')
        elif not out:
            out.append(_esc(line))
        else:
            out.append(f'<span class="sub">{_esc(line)}</span>')
    return "".join(out)


def _html_status(spec: dict) -> str:
    status = effective_status(spec)
    badge = f'<span class="status s-{_esc(status)}">{_esc(STATUS_LABEL.get(status, status))}</span>'
    failed = "".join(
        f'<span class="sub">failed: {_esc(c)}</span>' for c in _failed_checks(spec) if status in ("disagree", "explained")
    )
    failed += "".join(f'<span class="sub">{_esc(line)}</span>' for line in _layer_lines(spec))
    checks = spec.get("checks") or []
    if not checks:
        return badge + failed
    items = "".join(
        f"<li>{_esc(c.get('name'))}: {_esc(_check_value(c.get('value')))} "
        f"(limit {_esc(_check_value(c.get('limit')))}) {'ok' if c.get('ok') else 'FAILED'}</li>"
        for c in checks
    )
    return f"{badge}{failed}<details><summary>checks</summary><ul>{items}</ul></details>"


def _html_verdict(spec: dict, engine: str) -> str:
    key, reasons = _verdict_lines(spec, engine)
    return _html_lines([_verdict_label(key), *reasons], f"v-{key}" if key else "")


def _html_cells(spec: dict) -> list[str]:
    """The ``<td>`` elements of one spec's row, in ``TABLE_HEADERS`` order."""
    num = '<td class="num">{}</td>'.format
    return [
        f"<td>{_html_spec(spec)}</td>",
        f"<td>{_html_claim(spec)}</td>",
        *(num(_esc(_coef_text(spec.get(engine)))) for engine in ENGINES),
        num(_esc(_delta_text(spec))),
        f"<td>{_esc(spec.get('tier') or DASH)}</td>",
        f"<td>{_html_status(spec)}</td>",
        *(f"<td>{_html_verdict(spec, engine)}</td>" for engine in ENGINES),
        num(_esc(_truth_text(spec))),
    ]


def _html_group(index: int, table: str, members: list[dict]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in TABLE_HEADERS)
    rows = []
    for spec in members:
        rows.append(f'<tr id="spec-{_esc(spec["id"])}">{"".join(_html_cells(spec))}</tr>')
        if effective_status(spec) == "error":
            message = spec.get("error") or "no message"
            rows.append(f'<tr class="error-row"><td colspan="{len(TABLE_HEADERS)}">{_esc(spec["id"])}: {_esc(message)}</td></tr>')
    body = "\n".join(rows)
    return (
        f'<h2 id="table-{index}">{_esc(table)}</h2>\n<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'
    )


def _html_provenance(prov: dict) -> str:
    general = _html_table(["Item", "Value"], [[_esc(a), f"<code>{_esc(b)}</code>"] for a, b in _provenance_rows(prov)])
    packages = _html_table(["Language", "Package", "Version"], [[_esc(c) for c in row] for row in _package_rows(prov)])
    seeds = _html_table(["Spec", "Seed"], [[_esc(k), _esc(v)] for k, v in (prov.get("seeds") or {}).items()])
    return f"{general}\n<h3>Packages</h3>\n{packages}\n<h3>Seeds</h3>\n{seeds}"


def render_html(results: dict, forest_png: bytes) -> str:
    """Render ``report.html``: one self-contained page (inline CSS, the forest plot inline).

    Parameters
    ----------
    results : dict
        The run's results.
    forest_png : bytes
        The forest plot, as returned by :func:`render_forest`; embedded as a data URI.

    Returns
    -------
    str
        The page; it loads nothing from outside itself.
    """
    specs = _prepare(results)
    groups = _groups(specs)
    summary = _html_table(["", "Specs"], [[_esc(a), _esc(b)] for a, b in _summary_rows(summarize(specs))])
    toc = " · ".join(f'<a href="#table-{i}">{_esc(table)}</a>' for i, (table, _) in enumerate(groups, 1))
    return HTML_TEMPLATE.substitute(
        title=_esc(_title(results)),
        summary=summary,
        how_to_read=_esc(HOW_TO_READ),
        toc=toc or DASH,
        tables="\n".join(_html_group(i, table, members) for i, (table, members) in enumerate(groups, 1)),
        forest=base64.b64encode(forest_png).decode("ascii"),
        provenance=_html_provenance(results.get("provenance") or {}),
    )


# --- csv -----------------------------------------------------------------------------------------


def _csv_value(value: Any) -> str:
    """Fixed text for each value type, so equal results give equal bytes."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest text that reads back as the same float.
        return repr(float(value))
    return " ".join(str(value).split())


def _learners_text(learners: dict | None) -> str:
    def one(choice: Any) -> str:
        if isinstance(choice, str):
            return choice
        return json.dumps(choice, sort_keys=True, separators=(",", ":"))

    return ";".join(f"{nuisance}={one(choice)}" for nuisance, choice in (learners or {}).items())


def _csv_row(spec: dict) -> dict[str, Any]:
    row: dict[str, Any] = {
        key: spec.get(key)
        for key in (
            "id",
            "table",
            "title",
            "title_zh",
            "model",
            "score",
            "y",
            "d",
            "tier",
            "n_obs",
            "truth",
            "claim_agreement",
            "error",
        )
    }
    row["learners"] = _learners_text(spec.get("learners"))
    row["status"] = effective_status(spec)
    for engine, prefix in (("python", "py"), ("r", "r")):
        estimate = spec.get(engine) or {}
        for key in ("coef", "se", "t", "p"):
            row[f"{prefix}_{key}"] = estimate.get(key)
        ci = estimate.get("ci") or [None, None]
        row[f"{prefix}_ci_low"], row[f"{prefix}_ci_high"] = ci[0], ci[1]
        row[f"claim_{engine}"] = (spec.get("claim_verdict") or {}).get(engine)
        row[f"truth_in_ci_{engine}"] = (spec.get("truth_in_ci") or {}).get(engine)
        row[f"bias_{engine}"] = (spec.get("bias") or {}).get(engine)
    diff = spec.get("diff") or {}
    row.update({key: diff.get(key) for key in ("coef_abs", "coef_rel", "se_rel", "coef_in_se")})
    row["published_coef"] = (((spec.get("paper") or {}).get("published")) or {}).get("coef")
    return row


def render_csv(results: dict) -> str:
    """Render ``results.csv``: one row per spec, columns ``CSV_COLUMNS``.

    Parameters
    ----------
    results : dict
        The run's results.

    Returns
    -------
    str
        CSV text with ``\\n`` line ends; rows in report order (paper table, then run order).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for spec in _prepare(results):
        row = _csv_row(spec)
        writer.writerow([_csv_value(row[column]) for column in CSV_COLUMNS])
    return buffer.getvalue()


# --- forest plot ---------------------------------------------------------------------------------


def _forest_rows(specs: list[dict]) -> list[tuple[str, dict | None]]:
    """Plot rows top to bottom: a heading row (spec None) before each paper table's specs."""
    rows: list[tuple[str, dict | None]] = []
    for table, members in _groups(specs):
        rows.append((table, None))
        for spec in members:
            status = effective_status(spec)
            # Rows without a comparison say why in the label rather than leaving a silent gap.
            compared = status in ("agree", "explained", "disagree")
            note = "" if compared else f" ({STATUS_LABEL.get(status, status)})"
            rows.append((f"{spec['id']}{note}", spec))
    return rows


@functools.cache
def _font_families() -> tuple[tuple[str, ...], frozenset[int]]:
    """DejaVu Sans plus any installed CJK fallback font, and the code points they cover together."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    installed = {font.name for font in font_manager.fontManager.ttflist}
    families = ("DejaVu Sans", *(name for name in CJK_FONTS if name in installed))
    covered: set[int] = set()
    for family in families:
        properties = font_manager.FontProperties(family=family)
        covered.update(FT2Font(font_manager.findfont(properties, fallback_to_default=False)).get_charmap())
    return families, frozenset(covered)


def _drawable(label: str, covered: frozenset[int]) -> str:
    """Replace each run of glyphs no font has with '…' (the tables carry the full text)."""
    kept = "".join(ch if ord(ch) in covered or ch.isspace() else "…" for ch in label)
    return re.sub("…+", "…", kept)


def _plot_spec(ax: Any, y: float, spec: dict) -> None:
    for offset, engine in ((0.18, "python"), (-0.18, "r")):
        estimate = spec.get(engine) or {}
        coef = estimate.get("coef")
        if not _finite(coef):
            continue
        colour, marker = ENGINE_STYLE[engine]
        ci = estimate.get("ci") or []
        if len(ci) == 2 and _finite(ci[0]) and _finite(ci[1]):
            ax.plot([ci[0], ci[1]], [y + offset] * 2, color=colour, linewidth=1.5)
        ax.plot([coef], [y + offset], marker=marker, color=colour, markersize=5, linestyle="none")
    if _finite(spec.get("truth")):
        ax.plot([spec["truth"]], [y], marker="x", color="black", markersize=8, linestyle="none")
    published = (((spec.get("paper") or {}).get("published")) or {}).get("coef")
    if _finite(published):
        ax.plot([published], [y], marker="D", markerfacecolor="none", markeredgecolor="#555555", markersize=7, linestyle="none")


def _legend_handles() -> list[Any]:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=colour, marker=marker, label=f"{ENGINE_LABEL[engine]} (95 % CI)")
        for engine, (colour, marker) in ENGINE_STYLE.items()
    ]
    handles.append(Line2D([], [], color="black", marker="x", linestyle="none", label="truth"))
    handles.append(
        Line2D([], [], marker="D", markerfacecolor="none", markeredgecolor="#555555", linestyle="none", label="published")
    )
    return handles


def render_forest(results: dict) -> bytes:
    """Draw ``forest.png``: each spec's Python and R estimates with 95 % CIs, grouped by table.

    Parameters
    ----------
    results : dict
        The run's results.

    Returns
    -------
    bytes
        A PNG. Drawn on an Agg canvas without pyplot, so no global backend state is touched, and
        saved without software metadata so equal results give equal bytes on one installation.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = _forest_rows(_prepare(results))
    families, covered = _font_families()
    with matplotlib.rc_context({"font.family": list(families), "font.size": 9}):
        fig = Figure(figsize=(8, max(2.5, 0.34 * len(rows) + 1.4)), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ys = [-float(i) for i in range(len(rows))]
        for y, (_, spec) in zip(ys, rows, strict=True):
            if spec is not None:
                _plot_spec(ax, y, spec)
        ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
        ax.set_yticks(ys, [_drawable(label, covered) for label, _ in rows])
        for y, tick, (_, spec) in zip(ys, ax.get_yticklabels(), rows, strict=True):
            if spec is None:
                tick.set_fontweight("bold")
                if y < 0:
                    ax.axhline(y + 0.5, color="#cccccc", linewidth=0.8)
        ax.set_ylim(-len(rows) + 0.4, 0.6)
        ax.set_xlabel("coefficient")
        ax.grid(axis="x", color="#eeeeee")
        fig.legend(handles=_legend_handles(), loc="outside lower center", ncol=4, frameon=False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, metadata={"Software": None})
    return buffer.getvalue()


# --- run directory -------------------------------------------------------------------------------


def write_report(results: dict, out_dir: Path) -> list[Path]:
    """Write report.md, report.html, results.csv and forest.png into ``out_dir``, each atomically.

    Parameters
    ----------
    results : dict
        The run's results (``results.json`` itself is the runner's to write).
    out_dir : Path
        The run directory; created if missing.

    Returns
    -------
    list of Path
        The files written, in the order report.md, report.html, results.csv, forest.png.
    """
    out_dir = Path(out_dir)
    png = render_forest(results)
    outputs = {
        "report.md": render_markdown(results).encode("utf-8"),
        "report.html": render_html(results, png).encode("utf-8"),
        "results.csv": render_csv(results).encode("utf-8"),
        "forest.png": png,
    }
    paths = []
    for name, data in outputs.items():
        atomic_write_bytes(out_dir / name, data)
        paths.append(out_dir / name)
    return paths
