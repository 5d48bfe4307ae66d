"""Fonts for the plots: DejaVu Sans for Latin text, a CJK font for the paper's Chinese titles.

Matplotlib (3.6+) falls back glyph by glyph along ``font.family``, so a list of DejaVu Sans and a
CJK family draws mixed text. ``make setup`` installs Debian's ``fonts-noto-cjk``; a font the
matplotlib font cache predates is registered here from the system font folders. Without any CJK
font, characters no font covers are replaced by '…' rather than drawn as missing-glyph boxes
(the report's tables carry the full text).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from contextlib import AbstractContextManager

__all__ = ["CJK_FAMILIES", "covered_code_points", "drawable", "font_families", "plot_style"]

# Preference order; Debian's fonts-noto-cjk provides the first.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
BASE_FAMILY = "DejaVu Sans"


def _register_system_cjk_fonts() -> None:
    """Add CJK font files installed after matplotlib built its font cache."""
    from matplotlib import font_manager

    for path in font_manager.findSystemFonts():
        name = path.rsplit("/", 1)[-1]
        if re.search(r"CJK|SourceHan|wqy|SimHei|YaHei|PingFang", name, flags=re.I):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue  # an unreadable font file is skipped, as matplotlib itself does


@functools.cache
def font_families() -> tuple[str, ...]:
    """DejaVu Sans followed by the first installed CJK family, if any."""
    from matplotlib import font_manager

    def installed() -> set[str]:
        return {font.name for font in font_manager.fontManager.ttflist}

    names = installed()
    if not any(family in names for family in CJK_FAMILIES):
        _register_system_cjk_fonts()
        names = installed()
    cjk = [family for family in CJK_FAMILIES if family in names][:1]
    return (BASE_FAMILY, *cjk)


@functools.cache
def covered_code_points() -> frozenset[int]:
    """Code points that some font of :func:`font_families` draws."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    covered: set[int] = set()
    for family in font_families():
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        covered.update(FT2Font(path).get_charmap())
    return frozenset(covered)


def drawable(label: str) -> str:
    """``label`` with each run of characters no font covers replaced by '…'."""
    covered = covered_code_points()
    kept = "".join(ch if ord(ch) in covered or ch.isspace() else "…" for ch in label)
    return re.sub("…+", "…", kept)


def clipped(text: str, columns: int) -> str:
    """``text`` cut to ``columns`` display columns (a Chinese character takes two), ending in '…'
    where it was cut: a label longer than its plot leaves it no room (matplotlib's layout gives up)."""
    used = 0
    for at, ch in enumerate(text):
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > columns:
            return text[: max(at - 1, 0)].rstrip() + "…"
    return text


def plot_style(font_size: float = 9) -> AbstractContextManager:
    """The rc settings every plot of the report is drawn under."""
    import matplotlib

    return matplotlib.rc_context({"font.family": list(font_families()), "font.size": font_size})
