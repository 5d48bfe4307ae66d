"""The text of the report's replicates section: per replicated spec a verdict line, a seed-noise line
and a table of the statistics (rows of four cells: statistic, Python, R, Python − R)."""

from __future__ import annotations

from typing import Any, Optional

from harness.report.cells import finite
from harness.report.overview import DASH
from harness.verdict.replicate_stats import ALPHA

__all__ = ["INTRO", "SIZE_WARNING", "replicate_rows", "replicate_summary_lines"]

# A resampled size above this (1.5 times the nominal 5 %, well beyond 4000 draws' Monte Carlo error)
# is pointed out under the verdict.
SIZE_WARNING = 0.075

INTRO = (
    "Each replicated spec was fitted n times: replicate 1 as written (the estimates in the tables "
    "above), each further one with seeds derived from the spec's seed and its number (vary: seeds = "
    "learners' random streams, folds = sample splits, data = a fresh generated data set). Differences "
    "are Python minus Python's own code on R's predictions (equal to R's numbers but for the packages' "
    "intended rule differences), in units of the spec's typical se (the median of the two engines' mean "
    "se). The verdict is an equivalence test (two one-sided t-tests at 5 %): agree when the 90 % interval "
    "of the mean difference of the coefficient and of the se lies inside the tolerance, disagree when "
    "either lies wholly outside it, inconclusive otherwise. Tails: estimates more than 3 se from the "
    "pooled median. Coverage is shown only when every replicate draws new data."
)


def _f(value: Any, digits: int = 3, signed: bool = False) -> str:
    if not finite(value):
        return DASH
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _p(value: Any) -> str:
    if not finite(value):
        return DASH
    return f"{value:.3g}" if value >= 1e-4 else "< 0.0001"


def _interval(test: dict, key: str = "ci90") -> str:
    low, high = test.get(key) or (None, None)
    return f"{_f(test.get('mean'), signed=True)} [{_f(low, signed=True)}, {_f(high, signed=True)}]"


def _engine_rows(engines: dict) -> list[list[str]]:
    py, r = engines.get("python") or {}, engines.get("r") or {}

    def row(label: str, key: str, digits: int = 4, fmt=None) -> list[str]:
        shown = fmt or (lambda v: _f(v, digits))
        return [label, shown(py.get(key)), shown(r.get(key)), ""]

    def quantile(q: str):
        return ["quantile " + q, _f((py.get("quantiles") or {}).get(q), 4), _f((r.get("quantiles") or {}).get(q), 4), ""]

    rows = [
        row("mean estimate", "mean"),
        row("sd of the estimates (se)", "sd_in_se", 3),
        quantile("0.01"),
        quantile("0.5"),
        quantile("0.99"),
        row("min", "min"),
        row("max", "max"),
        [
            "tail share (> 3 se)",
            f"{_f(py.get('tail_share'), 3)} ({py.get('tail_count', DASH)})",
            f"{_f(r.get('tail_share'), 3)} ({r.get('tail_count', DASH)})",
            "",
        ],
    ]
    if "bias" in py:
        rows += [row("bias", "bias"), row("median bias", "median_bias"), row("RMSE", "rmse")]
    if "coverage" in py:

        def coverage(e: dict) -> str:
            low, high = e.get("coverage_ci95") or (None, None)
            return f"{_f(e.get('coverage'), 3)} [{_f(low, 3)}, {_f(high, 3)}]"

        rows.append(["coverage of the truth by the 95 % CI", coverage(py), coverage(r), ""])
    return rows


def _pair(entry: dict) -> str:
    return f"{_interval(entry['coef'])} / {_interval(entry['se'])}"


def replicate_rows(spec: dict) -> list[list[str]]:
    """The statistics table of one replicated spec."""
    block = spec.get("replicates") or {}
    rows = _engine_rows(block.get("engines") or {})
    coef, se = block.get("coef"), block.get("se")
    if coef:
        rows += [
            ["mean coef difference, 90 % CI (se)", "", "", _interval(coef)],
            ["mean coef difference, 95 % CI (se)", "", "", _interval(coef, "ci95")],
            ["sd of the coef differences (se)", "", "", _f(coef.get("sd"))],
            ["mean se difference, 90 % CI (se)", "", "", _interval(se)],
            *([["mean t difference, 95 % CI (not judged)", "", "", _interval(block["t"], "ci95")]] if block.get("t") else []),
            *[
                [f"repetition {e['rep']}: mean coef / se difference, 90 % CI (se)", "", "", _pair(e)]
                for e in block.get("repetitions") or []
            ],
            ["equivalence (TOST) p, coef / se", "", "", f"{_p(coef.get('p_equivalent'))} / {_p(se.get('p_equivalent'))}"],
            ["smallest detectable difference (80 % power, 5 %)", "", "", f"{_f(block.get('mde_se'))} se"],
            [
                "power, normal theory: agree if equal / disagree at a shift",
                "",
                "",
                f"{_f(coef.get('power_agree_at_zero'))} / {_f(coef.get('power_disagree_at_shift'))}"
                f" at {_f(coef.get('shift'), 2)} se",
            ],
        ]
        resampled = coef.get("resampled")
        if resampled:
            rows += [
                [
                    "power, resampled differences: agree if equal / disagree at the shift",
                    "",
                    "",
                    f"{_f(resampled['agree_at_zero'])} / {_f(resampled['disagree_at_shift'])}",
                ],
                [
                    f"size at the margin, resampled: agree / disagree (nominal {ALPHA:g})",
                    "",
                    "",
                    f"{_f(resampled['size_agree'])} / {_f(resampled['size_disagree'])} (skewness {_f(resampled['skewness'], 2)})",
                ],
            ]
    distribution = block.get("distribution")
    if distribution:
        rows.append(
            [
                "distributions equal? KS distance, paired permutation p",
                "",
                "",
                f"{_f(distribution['distance'])}, p {_p(distribution['p'])}",
            ]
        )
    tails = block.get("tails")
    if tails:
        rows.append(
            [
                "tail in one engine only (McNemar p)",
                str(tails["python_only"]),
                str(tails["r_only"]),
                f"p {_p(tails['p_mcnemar'])}",
            ]
        )
    floor = block.get("floor") or {}
    if floor.get("measured"):
        rows.append(
            [
                "seed noise: sd of own estimates (se)",
                _f(floor["python_sd_se"]),
                _f(floor["r_sd_se"]),
                f"floor {_f(floor['floor_se'])}",
            ]
        )
    single = block.get("single_draw")
    if single:
        rows.append(["single-draw rule passed", "", "", f"{single['passed']} of {single['of']} replicates"])
    return rows


def _noise_line(floor: dict, coef: Optional[dict]) -> str:
    if not floor.get("measured") or not coef:
        return f"Seed noise floor not measured ({floor.get('why', 'no paired estimates')})."
    verdict = "exceeds the seed noise" if floor["exceeds"] else "is within the seed noise"
    return (
        f"Python − R {verdict}: mean {_f(coef['mean'], signed=True)} se (95 % CI {_f(coef['ci95'][0], signed=True)} to "
        f"{_f(coef['ci95'][1], signed=True)}, p {_p(floor['p_zero'])} for a zero mean); one run's seed noise alone "
        f"spreads Python − R by {_f(floor['floor_se'])} se ({floor['noise']})."
    )


def replicate_summary_lines(spec: dict) -> list[str]:
    """Verdict, its reason, and the seed-noise reading of one replicated spec."""
    block = spec.get("replicates") or {}
    lines = [f"{spec.get('status')}: {block.get('reason', '')}"]
    if block.get("floor") is not None:
        lines.append(_noise_line(block["floor"], block.get("coef")))
    resampled = (block.get("coef") or {}).get("resampled") or {}
    if resampled.get("size_agree", 0.0) > SIZE_WARNING:
        lines.append(
            f"Caution: the differences are skewed (skewness {_f(resampled['skewness'], 2)}); resampled, the equivalence "
            f"rule's size at the margin is {resampled['size_agree']:.1%} instead of 5 %. More replicates bring it down."
        )
    structural = block.get("structural_failures") or []
    if structural:
        lines.append("structural checks failed: " + "; ".join(f"replicate {f['replicate']} {f['check']}" for f in structural[:5]))
    return lines
