"""CJK text in the plots: the paper's Chinese titles draw real glyphs, never missing-glyph boxes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from harness.report import render_forest, render_parity
from harness.report.canvas import new_figure
from harness.report.fonts import covered_code_points, drawable, font_families, plot_style

TITLE = "数智化对区域协调发展的影响研究——基于双重机器学习的因果推断"
# A code point no font covers (the last private-use one of plane 16).
NO_GLYPH = "\U0010fffd"


def _ink(text: str, families: list[str] | None = None) -> np.ndarray:
    """``text`` drawn alone, cropped to its ink: under the report's plot style, or with only
    ``families`` (which then shows what a missing glyph looks like on this installation)."""
    import matplotlib

    style = plot_style(24) if families is None else matplotlib.rc_context({"font.family": families, "font.size": 24})
    with style, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the missing-glyph warning of the reference drawing
        fig = new_figure(1.2, 1.2)
        fig.text(0.5, 0.5, text, ha="center", va="center")
        fig.canvas.draw()
        pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].min(axis=2) < 128
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    if not rows.size:
        return pixels[:0, :0]
    return pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))


@pytest.mark.cjk_font
def test_every_character_of_a_chinese_title_has_a_glyph_not_the_missing_glyph_box():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    assert len(font_families()) == 2, font_families()
    latin = FT2Font(font_manager.findfont("DejaVu Sans")).get_charmap()
    beyond_latin = [ch for ch in dict.fromkeys(TITLE) if ord(ch) not in latin]
    assert len(beyond_latin) >= 20
    for ch in beyond_latin:
        glyph = _ink(ch)
        # What the character looks like when no font has it: .notdef, or matplotlib's Last
        # Resort box for its Unicode block.
        missing = _ink(ch, ["DejaVu Sans"])
        assert glyph.any(), f"{ch!r} drew nothing"
        assert not _same(glyph, missing), f"{ch!r} drew the missing-glyph box"
    # A box is one shape for the whole block; real glyphs differ from character to character.
    assert _same(_ink("数", ["DejaVu Sans"]), _ink("智", ["DejaVu Sans"]))
    assert not _same(_ink("数"), _ink("智"))
    assert drawable(TITLE) == TITLE


@pytest.mark.cjk_font
def test_rendering_the_plots_with_chinese_titles_warns_of_no_missing_glyph():
    results = {
        "provenance": {},
        "specs": [
            {
                "id": "baseline_fe",
                "title_zh": TITLE,
                "table": "表 2 基准回归",
                "status": "agree",
                "tier": "statistical",
                "python": {"coef": 0.31, "se": 0.03, "p": 0.001, "ci": [0.25, 0.37]},
                "r": {"coef": 0.30, "se": 0.03, "p": 0.001, "ci": [0.24, 0.36]},
                "diff": {"coef_rel": 0.03, "se_rel": 0.0, "coef_in_se": 0.33},
                "checks": [{"name": "coef_in_se", "value": 0.33, "limit": 0.2, "ok": False}],
            }
        ],
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        render_parity(results)
        render_forest(results)
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, missing


def test_characters_no_font_covers_become_an_ellipsis_not_boxes():
    assert ord(NO_GLYPH) not in covered_code_points()
    assert drawable(f"id{NO_GLYPH}{NO_GLYPH} x") == "id… x"
    assert drawable("plain ascii") == "plain ascii"


def test_a_long_chinese_title_leaves_the_forest_plot_its_room(tmp_path, generated_csv):
    """Until 2026-12-07 (an outside user) a title of 100 characters squeezed the plot to nothing:
    matplotlib warned "constrained_layout not applied because axes sizes collapsed to zero" and drew
    a broken picture. The row label is cut with '…'; the report's tables hold the title whole."""
    import contextlib
    import io

    from harness.cli import main

    long_title = "数字经济发展水平对城市碳排放强度的非线性影响及其空间溢出效应检验（基准回归）" * 3
    specs = tmp_path / "s.yaml"
    specs.write_text(
        f"dataset: {{path: {generated_csv}}}\nspecs:\n"
        f"  - {{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: ols, title_zh: '{long_title}'}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("always")
        assert main(["run", "--specs", str(specs), "--engines", "python", "--out", str(out), "--no-cache", "--quiet"]) == 4
    said = [str(w.message) for w in caught if "constrained_layout" in str(w.message) or "collapsed" in str(w.message)]
    assert not said, said
    assert (out / "forest.png").stat().st_size > 0
    assert long_title in (out / "report.md").read_text(encoding="utf-8")
