"""``parity.png``: how far apart Python and R are, one row per spec, against the limit the verdict
uses.

Statistical tier: the signed coefficient gap (Python − R) in units of the engines' mean standard
error, with the spec's tolerance band. Exact tier, on its own log-scaled panel: the relative
differences of coefficient and standard error against the learner pair's tolerance. A difference
of exactly zero has no place on a log axis, so it is drawn at ``FLOOR`` (below the smallest
nonzero relative difference of two doubles, about 1.1e-16) with a hollow marker, and the axis
says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import harness.report.cells as cells
from harness.report.canvas import NO_COMPARISON_COLOUR, STATUS_COLOUR, new_figure, png_bytes
from harness.report.fonts import drawable, plot_style
from harness.report.overview import STATUS_LABEL, prepare
from harness.verdict.summary import effective_status

__all__ = ["FLOOR", "parity_rows", "render_parity"]

FLOOR = 1e-17
BAND_COLOUR = "#d9efd9"
LIMIT_COLOUR = "#2e7d32"
ROW_HEIGHT = 0.27  # inches


@dataclass(frozen=True)
class ParityRow:
    """One spec's row: ``values`` are the gap in se (statistical) or (coef_rel, se_rel) (exact)."""

    label: str
    status: str
    limit: float | None
    values: tuple[float, ...]
    # Replicated (statistical): the 90 % interval of the mean gap, drawn as a bar, so an inconclusive
    # mean inside the band does not read as agreeing (a lone dot until 2026-12-07: an outside user).
    interval: tuple[float, float] | None = None


def _compared(spec: dict) -> bool:
    return effective_status(spec) in STATUS_COLOUR and bool(spec.get("diff"))


def _label(spec: dict) -> str:
    status = effective_status(spec)
    note = "" if _compared(spec) else f" ({STATUS_LABEL.get(status, status)})"
    if _compared(spec) and ((spec.get("replicates") or {}).get("coef") or {}).get("n"):
        note = f" (mean of {spec['replicates']['coef']['n']})"  # the replicates' mean paired difference
    return drawable(f"{spec['id']}{note}")


def parity_rows(results: dict) -> dict[str, list[ParityRow]]:
    """Rows of the two panels, ``statistical`` and ``exact``, in report order."""
    panels: dict[str, list[ParityRow]] = {"statistical": [], "exact": []}
    for spec in prepare(results):
        exact = spec.get("tier") == "exact"
        diff = spec.get("diff") or {}
        values: tuple[float, ...] = ()
        if _compared(spec):
            if exact:
                values = tuple(float(diff[k]) if cells.finite(diff.get(k)) else math.nan for k in ("coef_rel", "se_rel"))
            else:
                gap = cells.gap_in_se(spec)
                values = (gap,) if gap is not None else ()
        if exact:
            limit = float(spec["tolerance"]) if cells.finite(spec.get("tolerance")) and spec["tolerance"] > 0 else None
        else:
            limit = cells.se_band(spec)[0]
        interval = None
        ci = ((spec.get("replicates") or {}).get("coef") or {}).get("ci90") or []
        if not exact and values and len(ci) == 2 and all(cells.finite(v) for v in ci):
            interval = (float(ci[0]), float(ci[1]))
        row = ParityRow(_label(spec), effective_status(spec), limit, values, interval)
        panels["exact" if exact else "statistical"].append(row)
    return panels


def _colour(status: str) -> str:
    return STATUS_COLOUR.get(status, NO_COMPARISON_COLOUR)


def _rows_axis(ax: Any, rows: list[ParityRow]) -> list[float]:
    ys = [-float(i) for i in range(len(rows))]
    ax.set_yticks(ys, [row.label for row in rows])
    for tick, row in zip(ax.get_yticklabels(), rows, strict=True):
        tick.set_color(_colour(row.status) if row.status == "disagree" else "#222222")
        if row.status == "disagree":
            tick.set_fontweight("bold")
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    return ys


def _statistical_panel(ax: Any, rows: list[ParityRow]) -> None:
    ys = _rows_axis(ax, rows)
    bands = [row.limit for row in rows if row.limit]
    gaps = [abs(v) for row in rows for v in (*row.values, *(row.interval or ())) if math.isfinite(v)]
    widest = max(bands, default=cells.DEFAULT_SE_BAND)
    # Wide enough to show the band with room around it; a far-off gap is drawn at the edge.
    edge = max(2.5 * widest, min(1.15 * max(gaps, default=0.0), 10 * widest))
    for y, row in zip(ys, rows, strict=True):
        if row.limit:
            ax.barh(y, 2 * row.limit, left=-row.limit, height=0.72, color=BAND_COLOUR, linewidth=0)
        if row.interval:
            low, high = (max(-edge, min(edge, v)) for v in row.interval)
            ax.plot([low, high], [y, y], color=_colour(row.status), linewidth=1.6, solid_capstyle="butt")
        for value in row.values:
            if not math.isfinite(value):
                continue
            shown = max(-edge, min(edge, value))
            marker = "o" if shown == value else (">" if value > 0 else "<")
            ax.plot([shown], [y], marker=marker, color=_colour(row.status), markersize=6, linestyle="none")
            if shown != value:
                ax.annotate(f"{value:+.1f}", (shown, y), xytext=(-4 if value > 0 else 4, 5), textcoords="offset points",
                            ha="right" if value > 0 else "left", fontsize=7, color=_colour(row.status))  # fmt: skip
    ax.axvline(0, color="#888888", linewidth=0.8)
    ax.set_xlim(-edge, edge)
    limits = sorted({row.limit for row in rows if row.limit})
    band = " / ".join(f"±{b:g}" for b in limits) or "none"
    bars = "; a bar: the 90 % interval of a replicated spec's mean" if any(row.interval for row in rows) else ""
    title = "(Python − R) coefficient ÷ mean standard error of the two engines"
    ax.set_xlabel(f"{title}\ngreen: within the tolerance, {band} se{bars}")
    ax.set_title("Statistical tier: coefficient gap in standard errors", loc="left")


def _exact_panel(ax: Any, rows: list[ParityRow]) -> None:
    ys = _rows_axis(ax, rows)
    values = [v for row in rows for v in row.values if math.isfinite(v)]
    limits = [row.limit for row in rows if row.limit]
    top = max([*values, *limits, 1e-12])
    high = 10 ** math.ceil(math.log10(top) + 1)
    ax.set_xscale("log")
    ax.set_xlim(FLOOR / 4, high)
    for y, row in zip(ys, rows, strict=True):
        if row.limit:
            ax.barh(y, row.limit - FLOOR / 4, left=FLOOR / 4, height=0.72, color=BAND_COLOUR, linewidth=0)
            ax.plot([row.limit, row.limit], [y - 0.36, y + 0.36], color=LIMIT_COLOUR, linewidth=1.6)
        for offset, marker, value in zip((0.14, -0.14), ("o", "s"), row.values, strict=False):
            if not math.isfinite(value):
                continue
            zero = value <= FLOOR
            colour = _colour(row.status)
            ax.plot([max(value, FLOOR)], [y + offset], marker=marker, markersize=5.5, linestyle="none",
                    markeredgecolor=colour, markerfacecolor="white" if zero else colour)  # fmt: skip
    ax.axvline(2.0**-52, color="#aaaaaa", linewidth=0.8, linestyle=":")
    # No tick at 1e-16: a decade from FLOOR, its label ran into "0 (≤1e-17)" (an outside user's
    # parity.png, 2026-12-07); the dotted line marks double precision there.
    ticks = [t for t in (1e-14, 1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2, 1.0, 1e2) if t < high]
    ax.set_xticks([FLOOR, *ticks], [f"0 (≤{FLOOR:.0e})", *(f"1e{round(math.log10(t))}" for t in ticks)])
    ax.minorticks_off()
    ax.set_xlabel("|Python − R| ÷ max(|Python|, |R|), log scale\n"
                  "green: within the learner pair's tolerance (dark line); dotted: double precision, 2.2e-16")  # fmt: skip
    ax.set_title("Exact tier: relative difference of coefficient (●) and standard error (■)", loc="left")


def _legend(fig: Any, rows: list[ParityRow]) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    shown = {row.status for row in rows}
    handles = [
        Line2D([], [], marker="o", color=colour, linestyle="none", label=STATUS_LABEL[status])
        for status, colour in STATUS_COLOUR.items()
        if status in shown
    ]
    handles.append(Patch(color=BAND_COLOUR, label="within tolerance"))
    if any(v <= FLOOR for row in rows for v in row.values if math.isfinite(v)):
        handles.append(Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor="#333333", linestyle="none",
                              label=f"exactly 0 (drawn at {FLOOR:.0e})"))  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)


def render_parity(results: dict) -> bytes:
    """Draw ``parity.png``.

    Parameters
    ----------
    results : dict
        The run's results.

    Returns
    -------
    bytes
        A PNG with a statistical panel and a log-scaled exact panel (a panel without specs is left
        out); drawn without pyplot.
    """
    panels = {name: rows for name, rows in parity_rows(results).items() if rows}
    with plot_style(9):
        n_rows = sum(len(rows) for rows in panels.values())
        fig = new_figure(10, 1.0 + ROW_HEIGHT * n_rows + 1.0 * len(panels))
        if not panels:
            fig.text(0.5, 0.5, "no specs in this run", ha="center", va="center")
            return png_bytes(fig)
        axes = fig.subplots(len(panels), 1, squeeze=False, height_ratios=[len(rows) + 3 for rows in panels.values()])[:, 0]
        for ax, (name, rows) in zip(axes, panels.items(), strict=True):
            (_statistical_panel if name == "statistical" else _exact_panel)(ax, rows)
        _legend(fig, [row for rows in panels.values() for row in rows])
        fig.suptitle("How far apart are Python and R?", x=0.01, ha="left", fontweight="bold", fontsize=11)
        return png_bytes(fig)
