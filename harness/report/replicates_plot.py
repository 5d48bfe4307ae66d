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

from harness.report.canvas import ENGINE_STYLE, STATUS_COLOUR, new_figure, png_bytes
from harness.report.fonts import drawable, plot_style
from harness.report.overview import ENGINE_LABEL

__all__ = ["replicate_file_name", "render_replicate_plots", "replicated_specs"]

BAND_COLOUR = "#d8f0d8"


def replicated_specs(results: dict) -> list[dict]:
    """Specs whose ``replicates`` block holds paired estimates, in run order."""
    return [s for s in results.get("specs") or [] if (s.get("replicates") or {}).get("python")]


def replicate_file_name(spec_id: str) -> str:
    """The picture's file name in the run directory (spec ids may hold any character)."""
    return f"replicates-{re.sub(r'[^A-Za-z0-9_.-]', '_', spec_id)}.png"


def _quantile_panel(ax: Any, block: dict) -> None:
    for engine in ("python", "r"):
        values = (block.get(engine) or {}).get("coef")
        if not values:
            continue
        ordered = np.sort(np.asarray(values, dtype=float))
        n = len(ordered)
        normal = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
        colour, marker = ENGINE_STYLE[engine]
        ax.plot(
            normal, ordered, marker=marker, color=colour, markersize=3.5, linestyle="none", alpha=0.8, label=ENGINE_LABEL[engine]
        )
    tails = block.get("tails") or {}
    scale = block.get("scale_se")
    if tails and scale:
        for sign in (-1, 1):
            ax.axhline(tails["centre"] + sign * tails["threshold_se"] * scale, color="#999999", linewidth=0.8, linestyle=":")
    if block.get("truth") is not None:
        ax.axhline(block["truth"], color="black", linewidth=1.0, linestyle="--", label="truth")
    ax.set_xlabel("standard normal quantile")
    ax.set_ylabel("estimate")
    ax.set_title(f"Estimates over {block['n']} replicates (vary: {block['vary']})", loc="left", fontsize=9)
    ax.grid(color="#eeeeee")
    ax.set_axisbelow(True)
    ax.legend(fontsize=7, loc="upper left", frameon=False)


def _difference_panel(ax: Any, block: dict, status: str) -> None:
    test = block["coef"]
    margin = test["margin"]
    py = np.asarray(block["python"]["coef"], dtype=float)
    lf = np.asarray(block["learner_free"]["coef"], dtype=float)
    diff = (py - lf) / block["scale_se"]
    replicate = np.arange(1, len(diff) + 1)
    ax.axhspan(-margin, margin, color=BAND_COLOUR, zorder=0, label=f"tolerance ±{margin:g} se")
    ax.axhline(0, color="#999999", linewidth=0.8)
    ax.plot(replicate, diff, marker="o", color="#444444", markersize=3, linestyle="none", label="one replicate")
    low, high = test["ci90"]
    x = len(diff) + max(1.5, 0.06 * len(diff))
    if low is not None:
        colour = STATUS_COLOUR.get(status, "#777777")
        ax.errorbar([x], [test["mean"]], yerr=[[test["mean"] - low], [high - test["mean"]]], fmt="D", color=colour,
                    markersize=5, capsize=3, label="mean, 90 % CI")  # fmt: skip
    # Replicate numbers, then the mean's own tick.
    ticks = [t for t in ax.xaxis.get_major_locator().tick_values(1, len(diff)) if 1 <= t <= len(diff) and t == int(t)]
    ax.set_xticks([*ticks, x], [*(str(int(t)) for t in ticks), "mean"])
    ax.set_xlabel("replicate")
    ax.set_ylabel("Python − R coefficient (se)")
    ax.set_title(f"Paired differences: {status}", loc="left", fontsize=9)
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
                right.text(0.5, 0.5, "one engine only: nothing to pair", ha="center", va="center")
            fig.suptitle(
                drawable(f"{spec['id']}  {spec.get('title_zh') or spec.get('title') or ''}"), x=0.01, ha="left", fontsize=10
            )
            out[spec["id"]] = png_bytes(fig)
    return out
