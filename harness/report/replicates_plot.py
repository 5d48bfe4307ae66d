"""One picture per replicated spec: both engines' estimate distributions and the paired differences.

Left, a normal quantile plot of each engine's estimates over the replicates (sorted estimates
against standard normal quantiles): a straight line is a normal distribution, points bending away
at the ends are tails; the truth (when known) and the tail threshold (``TAIL_SE`` typical se from
the pooled median) are drawn across. Right, each replicate's Python − R coefficient difference in
typical se (the quantity the equivalence test judges), the tolerance band, and the mean with its
90 % interval (the test's interval) at the right edge.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from scipy import stats

from harness.engines.result import ENGINES
from harness.report.canvas import ENGINE_STYLE, STATUS_COLOUR, new_figure, png_bytes
from harness.report.fonts import clipped, drawable, plot_style
from harness.report.overview import ENGINE_LABEL

__all__ = ["quantile_points", "replicate_file_name", "render_replicate_plots", "replicated_specs", "robust_limits"]

BAND_COLOUR = "#d8f0d8"


def replicated_specs(results: dict) -> list[dict]:
    """Specs whose ``replicates`` block holds paired estimates, in run order."""
    return [s for s in results.get("specs") or [] if (s.get("replicates") or {}).get("python")]


def replicate_file_name(spec_id: str) -> str:
    """The picture's file name in the run directory (spec ids may hold any character)."""
    return f"replicates-{re.sub(r'[^A-Za-z0-9_.-]', '_', spec_id)}.png"


def robust_limits(samples: list[np.ndarray], floor: float, keep: tuple[float, ...] = ()) -> tuple[float, float]:
    """Axis limits that show the bulk of ``samples`` and the values in ``keep`` (the truth), at least
    ``floor`` either side of the pooled median: one estimate 40 se out must not flatten the rest,
    it is drawn at the edge with its value (:func:`quantile_points`)."""
    pooled = np.concatenate([np.asarray(v, dtype=float) for v in samples])
    centre = float(np.median(pooled))
    low, high = np.quantile(pooled, [0.01, 0.99])
    half = max(2.0 * max(high - centre, centre - low), floor, *(1.1 * abs(k - centre) for k in keep))
    return centre - half, centre + half


def quantile_points(ax: Any, values: Any, engine: str, label: str, limits: tuple[float, float], hollow: bool = False) -> None:
    """One engine's normal quantile plot; values beyond ``limits`` sit on the edge as triangles with
    their value written beside them."""
    ordered = np.sort(np.asarray(values, dtype=float))
    normal = stats.norm.ppf((np.arange(1, len(ordered) + 1) - 0.5) / len(ordered))
    colour, marker = ENGINE_STYLE[engine]
    inside = (ordered >= limits[0]) & (ordered <= limits[1])
    face = "none" if hollow else colour
    ax.plot(normal[inside], ordered[inside], marker=marker, color=colour, markerfacecolor=face, markersize=3.5,
            linestyle="none", alpha=0.8, label=label)  # fmt: skip
    for k, (x, value) in enumerate(zip(normal[~inside], ordered[~inside], strict=True)):
        top = value > limits[1]
        edge, arrow = (limits[1], "^") if top else (limits[0], "v")
        ax.plot([x], [edge], marker=arrow, color=colour, markerfacecolor=face, markersize=6, linestyle="none", clip_on=False)
        step = -(6 + 9 * (k % 3)) if top else 6 + 9 * (k % 3)  # neighbours' labels stacked, not overprinted
        ax.annotate(f"{value:.3g}", (x, edge), textcoords="offset points", xytext=(-5, step),
                    ha="right", va="top" if top else "bottom", fontsize=7, color=colour)  # fmt: skip
    ax.set_ylim(*limits)


def _quantile_panel(ax: Any, block: dict) -> None:
    shown = [e for e in ENGINES if (block.get(e) or {}).get("coef")]
    truth = block.get("truth")
    scale = block.get("scale_se") or 0.0
    limits = robust_limits([block[e]["coef"] for e in shown], 4 * scale, (truth,) if truth is not None else ())
    for engine in shown:
        quantile_points(ax, block[engine]["coef"], engine, ENGINE_LABEL[engine], limits)
    tails = block.get("tails") or {}
    if tails and scale:
        for sign in (-1, 1):
            ax.axhline(tails["centre"] + sign * tails["threshold_se"] * scale, color="#999999", linewidth=0.8, linestyle=":")
    if truth is not None:
        ax.axhline(truth, color="black", linewidth=1.0, linestyle="--", label="truth")
    ax.set_xlabel("standard normal quantile (dotted: the tail threshold, 3 typical se)")
    ax.set_ylabel("estimate")
    ax.set_title(f"Estimates over {block['n']} replicates (vary: {block['vary']})", loc="left", fontsize=9)
    ax.grid(color="#eeeeee")
    ax.set_axisbelow(True)
    ax.legend(fontsize=7, loc="upper left", frameon=False)


def _difference_panel(ax: Any, block: dict, status: str) -> None:
    test = block["coef"]
    margin = test["margin"]
    py = np.asarray(block["python"]["coef"], dtype=float)
    learner_free = np.asarray(block["learner_free"]["coef"], dtype=float)
    diff = (py - learner_free) / block["scale_se"]
    replicate = np.arange(1, len(diff) + 1)
    ax.axhspan(-margin, margin, color=BAND_COLOUR, zorder=0, label=f"tolerance ±{margin:g} se")
    ax.axhline(0, color="#999999", linewidth=0.8)
    limits = robust_limits([diff], 3 * margin, (test["ci90"][0] or 0.0, test["ci90"][1] or 0.0))
    inside = (diff >= limits[0]) & (diff <= limits[1])
    ax.plot(replicate[inside], diff[inside], marker="o", color="#444444", markersize=3, linestyle="none", label="one replicate")
    for x, value in zip(replicate[~inside], diff[~inside], strict=True):
        edge = limits[1] if value > limits[1] else limits[0]
        ax.plot([x], [edge], marker="^" if value > 0 else "v", color="#444444", markersize=6, linestyle="none", clip_on=False)
        ax.annotate(f"{value:.3g}", (x, edge), textcoords="offset points", xytext=(4, -6 if value > 0 else 6),
                    va="top" if value > 0 else "bottom", fontsize=7, color="#444444")  # fmt: skip
    ax.set_ylim(*limits)
    low, high = test["ci90"]
    x = len(diff) + max(1.5, 0.1 * len(diff))
    if low is not None:
        colour = STATUS_COLOUR.get(status, "#777777")
        ax.errorbar([x], [test["mean"]], yerr=[[test["mean"] - low], [high - test["mean"]]], fmt="D", color=colour,
                    markersize=5, capsize=3, label="mean, 90 % CI")  # fmt: skip
    # Replicate numbers, then the mean's own tick.
    ticks = [t for t in ax.xaxis.get_major_locator().tick_values(1, len(diff)) if 1 <= t <= len(diff) and t == int(t)]
    ax.set_xticks([*ticks, x], [*(str(int(t)) for t in ticks), "mean"])
    ax.set_xlabel("replicate")
    ax.set_ylabel("Python − R coefficient (se)")
    se_verdict = (block.get("se") or {}).get("verdict", "?")
    title = f"Paired coefficient differences; verdict {status} (coef {test['verdict']}, se {se_verdict})"
    ax.set_title(title, loc="left", fontsize=9)
    ax.grid(color="#eeeeee")
    ax.set_axisbelow(True)
    ax.legend(fontsize=7, loc="best", frameon=False)


def render_replicate_plots(results: dict) -> dict[str, bytes]:
    """``{spec id: PNG}`` for every replicated spec with both engines' estimates."""
    out = {}
    with plot_style(9):
        for spec in replicated_specs(results):
            block = spec["replicates"]
            fig = new_figure(11, 3.8)
            left, right = fig.subplots(1, 2, width_ratios=[1, 1.25])
            _quantile_panel(left, block)
            if block.get("coef") and block.get("learner_free"):
                _difference_panel(right, block, spec.get("status") or "")
            else:
                right.set_axis_off()
                why = "identical draws: one draw, judged as one" if block.get("identical") else "one engine only: nothing to pair"
                right.text(0.5, 0.5, why, ha="center", va="center")
            title = f"{spec['id']}  {spec.get('title_zh') or spec.get('title') or ''}"
            fig.suptitle(drawable(clipped(title, 140)), x=0.01, ha="left", fontsize=10)
            out[spec["id"]] = png_bytes(fig)
    return out
