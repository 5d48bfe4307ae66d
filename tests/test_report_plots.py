"""What the pictures and the folded checks say, read from the data they are drawn from."""

from __future__ import annotations

import io
import itertools
import re

import pytest
from PIL import Image

from harness.report import render_forest, render_html, render_markdown, render_parity
from harness.report.forest_plot import forest_panels
from harness.report.parity_plot import FLOOR, parity_rows


def est(coef: float, se: float, p: float = 0.01) -> dict:
    return {"coef": coef, "se": se, "t": coef / se, "p": p, "ci": [coef - 1.96 * se, coef + 1.96 * se]}


def spec(spec_id: str, python: dict | None, r: dict | None, tier: str = "statistical", **extra) -> dict:
    out = {
        "id": spec_id,
        "table": "T1",
        "status": "agree",
        "tier": tier,
        "tolerance": 0.0,
        "python": python,
        "r": r,
        "y": "y",
        "d": "d",
    }
    if python and r:
        out["diff"] = {
            "coef_rel": abs(python["coef"] - r["coef"]) / max(abs(python["coef"]), abs(r["coef"])),
            "se_rel": abs(python["se"] - r["se"]) / max(python["se"], r["se"]),
            "coef_in_se": abs(python["coef"] - r["coef"]) / (0.5 * (python["se"] + r["se"])),
        }
    out.update(extra)
    return out


def results(*specs: dict) -> dict:
    return {"provenance": {}, "specs": list(specs)}


def test_statistical_rows_are_signed_gaps_in_mean_se_against_the_specs_own_band():
    lower = spec("r_higher", est(0.30, 0.05), est(0.32, 0.03))  # Python below R: negative
    # The band is the limit the verdict's end_to_end.coef check applied.
    check = {"name": "end_to_end.coef", "value": 0.5, "limit": 0.6, "ok": True, "metric": "in se"}
    wide = spec("wide_band", est(0.50, 0.10), est(0.45, 0.10), checks=[check])
    rows = {row.label: row for row in parity_rows(results(lower, wide))["statistical"]}
    assert rows["r_higher"].values == (pytest.approx(-0.02 / 0.04),)
    assert rows["r_higher"].limit == 0.2  # the default coef_tolerance_se
    assert rows["wide_band"].values == (pytest.approx(0.5),) and rows["wide_band"].limit == 0.6


def test_exact_rows_carry_both_relative_differences_and_the_pairs_tolerance_and_keep_zeros():
    same = spec("identical", est(0.2, 0.04), est(0.2, 0.04), tier="exact", tolerance=1e-10)
    near = spec("near", est(0.2, 0.04), est(0.2 * (1 + 3e-15), 0.04), tier="exact", tolerance=1e-6)
    rows = {row.label: row for row in parity_rows(results(same, near))["exact"]}
    assert rows["identical"].values == (0.0, 0.0) and rows["identical"].limit == 1e-10
    assert rows["near"].values[0] == pytest.approx(3e-15, rel=0.1) and rows["near"].limit == 1e-6
    assert 0.0 < FLOOR < 2.0**-53  # every nonzero relative difference of doubles sits above the floor


def test_specs_without_a_comparison_keep_their_row_and_say_why():
    rows = parity_rows(results(spec("no_r", est(0.3, 0.05), None, status="not-run"), spec("boom", None, None, status="error")))
    assert [(row.label, row.values) for row in rows["statistical"]] == [("no_r (R not run)", ()), ("boom (error)", ())]


@pytest.mark.parametrize(
    "specs",
    [
        (),
        (spec("s", est(0.3, 0.05), est(0.31, 0.05)),),
        (spec("e", est(0.3, 0.05), est(0.3, 0.05), tier="exact", tolerance=1e-10),),
        (spec("s", est(0.3, 0.05), est(0.31, 0.05)), spec("e", est(0.3, 0.05), est(0.3, 0.05), tier="exact", tolerance=1e-10)),
    ],
)
def test_parity_picture_draws_for_any_mix_of_tiers_and_grows_with_the_rows(specs):
    image = Image.open(io.BytesIO(render_parity(results(*specs))))
    assert image.format == "PNG" and image.width == 1100
    if len(specs) == 2:
        assert image.height > Image.open(io.BytesIO(render_parity(results(specs[0])))).height


def test_a_table_mixing_scales_is_split_into_panels_of_like_scale_in_table_order():
    table = [
        spec("slope", est(0.30, 0.05), est(0.30, 0.05)),
        spec("ate", est(0.002, 0.001), est(0.002, 0.001), d="d_bin"),
        spec("slope_twin", est(0.25, 0.05), est(0.25, 0.05)),
        spec("growth", est(6.0, 1.0), est(6.1, 1.0), y="growth"),
    ]
    panels = forest_panels(results(*table))
    assert [[s["id"] for s in members] for _, members in panels] == [["slope", "slope_twin"], ["ate"], ["growth"]]
    assert [title for title, _ in panels] == ["T1: y on d", "T1: y on d_bin", "T1: growth on d"]
    same_scale = forest_panels(results(table[0], table[2]))
    assert [title for title, _ in same_scale] == ["T1"]
    assert Image.open(io.BytesIO(render_forest(results(*table)))).format == "PNG"


def test_each_specs_checks_are_folded_with_name_value_limit_result_and_extra_keys():
    checks = [
        {"name": "coef_in_se", "value": 0.35, "limit": 0.2, "ok": False},
        {"name": "nuisance.ml_l.corr", "value": 0.97, "limit": 0.95, "ok": True, "rmse_ratio": 1.02},
        {"name": "a_check_from_a_newer_verdict", "value": None, "limit": "same sign", "ok": True},
    ]
    bad = spec("bad", est(0.30, 0.05), est(0.28, 0.05), status="disagree", checks=checks)
    page = render_html(results(bad), b"p", b"f")
    folded = re.search(r'<details class="checks fail"><summary>1 of 3 checks fail</summary>(.*?)</details>', page, flags=re.S)
    assert folded, "the checks are not folded under the status"
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", folded.group(1))
    assert rows[0] == ("coef_in_se", "0.35", "0.2", "FAIL")
    assert rows[1][0].startswith("nuisance.ml_l.corr") and "rmse_ratio: 1.02" in rows[1][0] and rows[1][3] == "pass"
    assert rows[2] == ("a_check_from_a_newer_verdict", "—", "same sign", "pass")
    assert "<details" not in page.split('<details class="checks')[0]  # nothing else folded before it
    md = render_markdown(results(bad))
    block = md.split("<details><summary>Checks: bad: 1 of 3 checks fail</summary>")[1].split("</details>")[0]
    assert re.search(r"\| `bad`\s+\| coef_in_se\s+\| 0\.35\s+\| 0\.2\s+\| FAIL\s+\|", block)
    assert "nuisance.ml_l.corr (rmse_ratio: 1.02)" in block


def test_gap_cell_reads_in_the_units_the_tier_is_judged_in():
    stat = spec("stat", est(0.30, 0.05), est(0.28, 0.03))
    exact = spec("exact", est(0.2, 0.04), est(0.2 * (1 + 2e-15), 0.04), tier="exact", tolerance=1e-10)
    md = render_markdown(results(stat, exact))
    stat_row = next(line for line in md.splitlines() if line.startswith("| `stat`"))
    exact_row = next(line for line in md.splitlines() if line.startswith("| `exact`"))
    assert "+0.50 se<br>limit ±0.2 se" in stat_row
    assert re.search(r"coef [12]\.\d\de-15<br>se 0\.00e\+00<br>limit 1e-10", exact_row)


@pytest.mark.parametrize("tolerance", [1e-10, 1e-6, 1e-2])
def test_the_exact_panels_tick_labels_do_not_run_into_each_other(monkeypatch, tolerance):
    """Until 2026-12-07 "0 (≤1e-17)" and "1e-16" overlapped on the exact panel (an outside user's
    parity.png): each tick label's box, as drawn, clears the next one."""
    import harness.report.parity_plot as parity_plot

    seen = []

    def boxes(fig):
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
            extents = sorted((t.get_window_extent(renderer) for t in labels), key=lambda box: box.x0)
            seen.append(len(extents))
            for left, right in itertools.pairwise(extents):
                assert left.x1 < right.x0, (left, right)
        return b""

    monkeypatch.setattr(parity_plot, "png_bytes", boxes)
    zero = spec("identical", est(0.2, 0.04), est(0.2, 0.04), tier="exact", tolerance=tolerance)
    far = spec("far", est(0.2, 0.04), est(0.2 * (1 + 50 * tolerance), 0.04), tier="exact", tolerance=tolerance)
    render_parity(results(zero, far))
    assert seen and min(seen) >= 4


def test_a_replicated_specs_interval_is_drawn_so_an_inconclusive_mean_does_not_read_as_agreeing():
    """Until 2026-12-07 (an outside user) an inconclusive replicated spec was a lone dot at +0.05 se
    inside the green band, though its 90 % interval ran from -0.42 to +0.52."""
    import numpy as np

    def replicated(ci90):
        coef = {"n": 3, "mean": 0.05, "sd": 0.3, **({"ci90": ci90} if ci90 else {})}
        return spec("rep_rf", est(0.50, 0.10), est(0.495, 0.10), status="inconclusive", replicates={"n": 3, "coef": coef})

    row = parity_rows(results(replicated([-0.42, 0.52])))["statistical"][0]
    assert row.label == "rep_rf (mean of 3)" and row.interval == (-0.42, 0.52)

    def amber(picture: bytes) -> int:  # pixels of the inconclusive colour, #E69F00
        pixels = np.asarray(Image.open(io.BytesIO(picture)).convert("RGB")).astype(int)
        return int((np.abs(pixels - (230, 159, 0)).sum(axis=2) < 40).sum())

    with_bar, dot = amber(render_parity(results(replicated([-0.42, 0.52])))), amber(render_parity(results(replicated(None))))
    assert dot > 0 and with_bar > 3 * dot, (with_bar, dot)
