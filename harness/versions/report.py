"""The `versions` folder: versions.json, report.md, report.html and one picture per spec.

Written into a staging folder and moved into place whole (``harness.output.outdir``). Nothing here
computes an estimate: it lays out what ``matrix`` and ``moves`` found.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from harness.output.atomic_write import atomic_write_json, atomic_write_text
from harness.output.outdir import OUTPUT_FILES_KEY, list_outputs, replace_folder

__all__ = ["markdown", "write_versions"]

ENGINE_LABEL = {"python": "doubleml", "r": "DoubleML (R)"}


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value) + "]"
    return str(value)


def _plot(entry: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2), sharey=True)
    for ax, engine in zip(axes, ("python", "r"), strict=True):
        rels = list(entry[engine])
        ok = [(i, entry[engine][r]) for i, r in enumerate(rels) if entry[engine][r].get("status") == "ok"]
        for i, est in ok:
            ax.errorbar([i], [est["coef"]], yerr=[[est["coef"] - est["ci"][0]], [est["ci"][1] - est["coef"]]], fmt="o", capsize=4)
            # The se beside each point: an aggregation change moves it while the interval stays.
            ax.annotate(f"se {est['se']:.4g}", (i, est["coef"]), textcoords="offset points", xytext=(6, 0), fontsize=7)
        ax.set_xticks(range(len(rels)), rels)
        ax.set_xlim(-0.5, len(rels) - 0.5)
        ax.set_title(ENGINE_LABEL[engine])
        ax.set_xlabel("release")
    axes[0].set_ylabel(f"{entry['id']}: coef and 95 % CI")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _estimate_rows(entry: dict) -> list[list[str]]:
    rows = []
    for engine in ("python", "r"):
        for rel, est in entry[engine].items():
            if est.get("status") != "ok":
                rows.append([ENGINE_LABEL[engine], rel, est.get("status", ""), est.get("error", ""), "", "", ""])
                continue
            rows.append([ENGINE_LABEL[engine], rel, "ok", _fmt(est["coef"]), _fmt(est["se"]), _fmt(est["p"]), _fmt(est["ci"])])
    return rows


def _move_rows(moves: list[dict]) -> list[list[str]]:
    return [
        [
            m["spec"],
            ENGINE_LABEL[m["engine"]],
            f"{m['from']} → {m['to']}",
            m["what"],
            _fmt(m["before"]),
            _fmt(m["now"]),
            f"{_fmt(m['change'])} {m['unit']}".strip(),
            _fmt(m.get("size_se")),
            m["attributed_to"],
        ]
        for m in moves
    ]


MOVE_HEAD = ["spec", "package", "releases", "number", "before", "now", "change", "size (se)", "attributed to"]
EST_HEAD = ["package", "release", "status", "coef", "se", "p", "95 % CI"]


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _first_lines(result: dict, spec_id: str) -> list[str]:
    if result.get("nothing_compared"):  # no neighbours: "nothing moved" would claim a comparison
        return ["Nothing compared: one release of each package."]
    first = result["first_moved"].get(spec_id, {})
    if not first:
        return ["Nothing moved between neighbouring releases beyond the tier's tolerance."]
    return [
        f"- {ENGINE_LABEL[e]}: {what} first left its earlier value in {rel}"
        for e, whats in first.items()
        for what, rel in whats.items()
    ]


def _summary(result: dict) -> str:
    if result.get("nothing_compared"):
        return f"Nothing compared: {result['nothing_compared']}."
    explained = sum(m["attributed_to"] != "unexplained" for m in result["moves"])
    return (
        f"{len(result['moves'])} move(s) between neighbouring releases: {explained} explained by a known change, "
        f"{len(result['moves']) - explained} unexplained."
    )


def _no_moves(result: dict) -> str:
    return "Nothing compared." if result.get("nothing_compared") else "None."


def markdown(result: dict, pictures: dict[str, str]) -> str:
    out = [
        "# Which release moved my estimate",
        "",
        f"Command: `{result['command']}`",
        "",
        _summary(result),
        "",
        "## Releases",
        "",
    ]
    for engine in ("python", "r"):
        for rel in result["releases"][engine]:
            versions = ", ".join(f"{k} {v}" for k, v in rel["versions"].items() if v)
            out.append(f"- {ENGINE_LABEL[engine]} {rel['release']}: {versions}")
    out += ["", "## Moves", "", _md_table(MOVE_HEAD, _move_rows(result["moves"])) if result["moves"] else _no_moves(result), ""]
    for entry in result["specs"]:
        out += [f"## {entry['id']}", ""]
        if "skipped" in entry:
            out += [f"Not fitted across releases: {entry['skipped']}.", ""]
            continue
        out += [
            f"Tier {entry['tier']}, tolerance {entry['tolerance']['limit']} ({entry['tolerance']['unit']}); "
            f"n_rep {entry['n_rep']}.",
            "",
            f"![{entry['id']}]({pictures[entry['id']]})",
            "",
        ]
        out += [_md_table(EST_HEAD, _estimate_rows(entry)), "", *_first_lines(result, entry["id"]), ""]
    return "\n".join(out)


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _html(result: dict, pictures: dict[str, str]) -> str:
    parts = [
        "<h1>Which release moved my estimate</h1>",
        f"<p>Command: <code>{html.escape(result['command'])}</code></p>",
        f"<p>{html.escape(_summary(result))}</p>",
        "<h2>Moves</h2>",
        _html_table(MOVE_HEAD, _move_rows(result["moves"])) if result["moves"] else f"<p>{_no_moves(result)}</p>",
    ]
    for entry in result["specs"]:
        parts.append(f"<h2>{html.escape(entry['id'])}</h2>")
        if "skipped" in entry:
            parts.append(f"<p>Not fitted across releases: {html.escape(entry['skipped'])}.</p>")
            continue
        parts.append(f'<img src="{pictures[entry["id"]]}" alt="{html.escape(entry["id"])}">')
        parts.append(_html_table(EST_HEAD, _estimate_rows(entry)))
        parts.append(
            "<ul>" + "".join(f"<li>{html.escape(line.lstrip('- '))}</li>" for line in _first_lines(result, entry["id"])) + "</ul>"
        )
    style = "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font:13px sans-serif}"
    head = f"<meta charset='utf-8'><title>versions</title><style>{style}</style>"
    return f"<!doctype html><html><head>{head}</head><body>{''.join(parts)}</body></html>"


def write_versions(result: dict, out: Path) -> None:
    def write(staging: Path) -> None:
        pictures = {}
        for i, entry in enumerate(e for e in result["specs"] if "skipped" not in e):
            pictures[entry["id"]] = f"versions-{i + 1}.png"
            _plot(entry, staging / pictures[entry["id"]])
        atomic_write_text(staging / "report.md", markdown(result, pictures))
        atomic_write_text(staging / "report.html", _html(result, pictures))
        atomic_write_json(staging / "versions.json", {**result, OUTPUT_FILES_KEY: list_outputs(staging)})

    replace_folder(Path(out), write)
