"""``forest.png``: each spec's Python and R estimates with 95 % intervals, one panel per paper table.

Every panel has its own axis, so a table of coefficients near 0.3 is not squeezed by a growth
effect near 6 elsewhere. A table whose specs differ in scale by more than ``SCALE_SPLIT`` (an ATE of
a binarised treatment beside slopes, a growth outcome beside an index) is split into panels of
like scale, each titled with its outcomes and treatments.
"""

from __future__ import annotations

from typing import Any

import harness.report.cells as cells
from harness.report.canvas import ENGINE_STYLE, new_figure, png_bytes
from harness.report.fonts import clipped, drawable, plot_style
from harness.report.overview import ENGINE_LABEL, STATUS_LABEL, groups, prepare
from harness.verdict.summary import effective_status

__all__ = ["SCALE_SPLIT", "forest_caption", "forest_panels", "render_forest"]

SCALE_SPLIT = 4.0  # neighbouring magnitudes further apart than this start a new panel
ROW_HEIGHT = 0.4  # inches: two label lines (id, Chinese title)
# A row label's lines are cut at this many columns (20 Chinese characters); the report's tables hold them whole.
LABEL_COLUMNS = 40
PUBLISHED_STYLE = {"marker": "D", "markerfacecolor": "none", "markeredgecolor": "#555555"}


def _points(spec: dict) -> list[float]:
    """Every x the spec draws: both intervals and estimates, the truth, the published value."""
    out = []
    for engine in ENGINE_STYLE:
        estimate = spec.get(engine) or {}
        out += [v for v in [estimate.get("coef"), *(estimate.get("ci") or [])] if cells.finite(v)]
    out += [v for v in (spec.get("truth"), _published(spec)) if cells.finite(v)]
    return out


def _published(spec: dict) -> object:
    return (((spec.get("paper") or {}).get("published")) or {}).get("coef")


def _marks(specs: list[dict]) -> tuple[bool, bool]:
    """Whether any spec draws a truth (×) and a published coefficient (◇): the legend and the
    caption name only what is drawn."""
    return any(cells.finite(s.get("truth")) for s in specs), any(cells.finite(_published(s)) for s in specs)


def forest_caption(specs: list[dict]) -> str:
    """The picture's caption in report.html, naming only the marks it draws."""
    truth, published = _marks(specs)
    marks = ["× marks the true effect"] if truth else []
    if published:
        marks.append("◇ the published coefficient" if truth else "◇ marks the published coefficient")
    said = f"; {', '.join(marks)}" if marks else ""
    return f"Each spec's estimate and 95 % confidence interval, Python above and R below{said}. Each table has its own axis."


def _magnitude(spec: dict) -> float | None:
    points = [abs(v) for v in _points(spec)]
    return max(points) if points and max(points) > 0 else None


def _split_by_scale(members: list[dict]) -> list[list[dict]]:
    """Members in order, split into groups whose magnitudes are within ``SCALE_SPLIT`` of a
    neighbour's (specs without estimates join the smallest scale)."""
    scaled = sorted({m for m in map(_magnitude, members) if m is not None})
    breaks = [b for a, b in zip(scaled, scaled[1:], strict=False) if b / a > SCALE_SPLIT]

    def group_of(spec: dict) -> int:
        magnitude = _magnitude(spec)
        return 0 if magnitude is None else sum(magnitude >= b for b in breaks)

    out: dict[int, list[dict]] = {}
    for spec in members:
        out.setdefault(group_of(spec), []).append(spec)
    # Panels in the order their first spec appears in the table.
    return list(out.values())


def forest_panels(results: dict) -> list[tuple[str, list[dict]]]:
    """(title, specs) of each panel, top to bottom."""
    panels = []
    for table, members in groups(prepare(results)):
        parts = _split_by_scale(members)
        for part in parts:
            if len(parts) == 1:
                panels.append((table, part))
                continue
            # The title says what distinguishes the panels: the outcome and the treatment.
            regressions = list(dict.fromkeys(f"{s.get('y')} on {s.get('d')}" for s in part))
            panels.append((f"{table}: {', '.join(regressions)}", part))
    return panels


def _label(spec: dict) -> str:
    status = effective_status(spec)
    compared = status in ("agree", "explained", "disagree", "inconclusive")
    # Rows without a comparison say why rather than leaving a silent gap.
    note = "" if compared else f" ({STATUS_LABEL.get(status, status)})"
    lines = [f"{spec['id']}{note}", spec.get("title_zh") or ""]
    return drawable("\n".join(clipped(line, LABEL_COLUMNS) for line in lines if line))


def _plot_spec(ax: Any, y: float, spec: dict) -> None:
    for offset, engine in ((0.17, "python"), (-0.17, "r")):
        estimate = spec.get(engine) or {}
        coef = estimate.get("coef")
        if not cells.finite(coef):
            continue
        colour, marker = ENGINE_STYLE[engine]
        ci = estimate.get("ci") or []
        if len(ci) == 2 and cells.finite(ci[0]) and cells.finite(ci[1]):
            ax.plot([ci[0], ci[1]], [y + offset] * 2, color=colour, linewidth=1.5)
        ax.plot([coef], [y + offset], marker=marker, color=colour, markersize=4.5, linestyle="none")
    if cells.finite(spec.get("truth")):
        ax.plot([spec["truth"]], [y], marker="x", color="black", markersize=7, linestyle="none")
    published = _published(spec)
    if cells.finite(published):
        ax.plot([published], [y], markersize=6, linestyle="none", **PUBLISHED_STYLE)


def _panel(ax: Any, title: str, members: list[dict]) -> None:
    ys = [-float(i) for i in range(len(members))]
    for y, spec in zip(ys, members, strict=True):
        _plot_spec(ax, y, spec)
    points = [v for spec in members for v in _points(spec)]
    if points:
        low, high = min([*points, 0.0]), max([*points, 0.0])
        pad = 0.06 * (high - low) if high > low else 1.0
        ax.set_xlim(low - pad, high + pad)
    ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_yticks(ys, [_label(spec) for spec in members], fontsize=8)
    ax.set_ylim(-len(members) + 0.45, 0.55)
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    ax.set_title(drawable(title), loc="left", fontweight="bold", fontsize=9)


def _legend_handles(truth: bool = True, published: bool = True) -> list[Any]:
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], color=colour, marker=marker, label=f"{ENGINE_LABEL[engine]} (95 % CI)")
        for engine, (colour, marker) in ENGINE_STYLE.items()
    ]
    if truth:
        handles.append(Line2D([], [], color="black", marker="x", linestyle="none", label="truth"))
    if published:
        handles.append(Line2D([], [], linestyle="none", label="published", **PUBLISHED_STYLE))
    return handles


def render_forest(results: dict) -> bytes:
    """Draw ``forest.png``.

    Parameters
    ----------
    results : dict
        The run's results.

    Returns
    -------
    bytes
        A PNG, one panel per paper table (split by scale where needed), each with its own axis;
        drawn without pyplot.
    """
    panels = forest_panels(results)
    with plot_style(9):
        heights = [len(members) * ROW_HEIGHT + 0.55 for _, members in panels]
        fig = new_figure(10, max(2.5, sum(heights) + 0.6))
        if not panels:
            fig.text(0.5, 0.5, "no specs in this run", ha="center", va="center")
            return png_bytes(fig)
        axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
        for ax, (title, members) in zip(axes, panels, strict=True):
            _panel(ax, title, members)
        axes[-1].set_xlabel("coefficient (each panel on its own scale)")
        specs = [spec for _, members in panels for spec in members]
        fig.legend(handles=_legend_handles(*_marks(specs)), loc="outside lower center", ncol=4, frameon=False)
        return png_bytes(fig)
