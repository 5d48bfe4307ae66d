"""What the report's pictures share: colours, a figure on an Agg canvas, deterministic PNG bytes."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["ENGINE_STYLE", "STATUS_COLOUR", "new_figure", "png_bytes"]

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
ENGINE_STYLE = {"python": ("#0072B2", "o"), "r": ("#D55E00", "s")}
STATUS_COLOUR = {"agree": "#009E73", "explained": "#0072B2", "disagree": "#D55E00", "inconclusive": "#E69F00"}
NO_COMPARISON_COLOUR = "#777777"
DPI = 110


def new_figure(width: float, height: float) -> Any:
    """A figure on its own Agg canvas: no pyplot, so no global backend state is touched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Any) -> bytes:
    """The figure as PNG, without software metadata, so equal results give equal bytes on one
    installation."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()
