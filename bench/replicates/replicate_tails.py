"""What the IRM forest study (specs/examples/irm_forest_tails.yaml) finds about the two packages'
tails, from its results.json: the table and the two figures of the README.

    .venv/bin/python bench/replicates/replicate_tails.py reports/irm_forest_tails/results.json

The three specs share data, folds and learner seeds replicate by replicate, so engines are paired
across specs too. Writes ``bench/replicates/tails_quantiles.png`` and
``bench/replicates/tails_weights.png`` and prints the markdown table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.engines.result import ENGINES  # noqa: E402
from harness.report.canvas import ENGINE_STYLE, new_figure, png_bytes  # noqa: E402
from harness.report.fonts import plot_style  # noqa: E402
from harness.report.replicates_plot import quantile_points, robust_limits  # noqa: E402

OUT = ROOT / "bench" / "replicates"
SPECS = {
    "forest_trim_python_default": "leaves ≥ 2 rows, trimming 0.01",
    "forest_trim_r_default": "leaves ≥ 2 rows, trimming 1e-12",
    "forest_leaf1_trim_r_default": "leaves ≥ 1 row, trimming 1e-12",
}
# The user's setting: Python as the user ran it, R as the user ran it.
USER = (("python", "forest_trim_python_default"), ("r", "forest_leaf1_trim_r_default"))
EXTREME = 3.0  # |estimate - truth| beyond this many typical se (of the first spec) is extreme


def load(path: Path) -> tuple[dict, float, float]:
    results = json.loads(path.read_text(encoding="utf-8"))
    specs = {s["id"]: s for s in results["specs"]}
    first = specs["forest_trim_python_default"]["replicates"]
    return specs, float(first["truth"]), float(first["scale_se"])


def series(specs: dict, spec_id: str, engine: str) -> dict:
    block = specs[spec_id]["replicates"]
    return {
        "coef": np.asarray(block[engine]["coef"], dtype=float),
        "se": np.asarray(block[engine]["se"], dtype=float),
        "max_weight": np.asarray(block["propensity"][engine]["max_weight"], dtype=float),
        "at_bound": np.asarray(block["propensity"][engine]["at_bound_share"], dtype=float),
        "min": np.asarray(block["propensity"][engine]["min"], dtype=float),
        "max": np.asarray(block["propensity"][engine]["max"], dtype=float),
    }


def row(label: str, s: dict, truth: float, scale: float) -> str:
    dev = np.abs(s["coef"] - truth) / scale
    extreme = dev > EXTREME
    q = np.quantile(s["coef"], [0.01, 0.5, 0.99])
    robust_sd = stats.iqr(s["coef"]) / 1.349
    # At or beyond 0.01 / 0.99: Python stores its propensities clipped, so a clipped one sits on 0.01.
    near = np.mean((s["min"] <= 0.01 * (1 + 1e-9)) | (s["max"] >= 1 - 0.01 * (1 + 1e-9)))
    return (
        f"| {label} | {s['coef'].mean():.3f} | {s['coef'].std(ddof=1):.3f} | {robust_sd:.3f} "
        f"| {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} "
        f"| {s['coef'].min():.2f} / {s['coef'].max():.2f} | {int(extreme.sum())} | {np.median(s['max_weight']):.0f} / "
        f"{s['max_weight'].max():.0f} | {near:.2f} |"
    )


def table(specs: dict, truth: float, scale: float) -> str:
    lines = [
        f"Typical se {scale:.3f}; extreme: |estimate − {truth:g}| > {EXTREME:g} typical se. Propensity columns: the largest "
        "inverse-propensity weight the score used (median over replicates / largest), and the share of replicates with a "
        "propensity at or beyond 0.01 or 0.99 (before trimming; Python's are read after its clipping, at the bound).",
        "",
        "| engine, forest, trimming | mean | sd | IQR/1.349 | q01 / median / q99 | min / max | extreme "
        "| max weight: median / largest "
        "| share with m ≤ 0.01 or ≥ 0.99 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for spec_id, label in SPECS.items():
        for engine in ENGINES:
            lines.append(row(f"{'Python' if engine == 'python' else 'R'}, {label}", series(specs, spec_id, engine), truth, scale))
    return "\n".join(lines)


def correlations(specs: dict, truth: float, scale: float) -> list[str]:
    out = []
    for spec_id, label in SPECS.items():
        for engine in ENGINES:
            s = series(specs, spec_id, engine)
            dev = np.abs(s["coef"] - truth) / scale
            rho = stats.spearmanr(s["max_weight"], dev).statistic
            heavy = s["max_weight"] > 100
            out.append(
                f"{engine} {label}: Spearman(max weight, |error|) = {rho:.2f}; replicates with a weight > 100: "
                f"{int(heavy.sum())}, their median |error| {np.median(dev[heavy]) if heavy.any() else float('nan'):.2f} se, "
                f"the others' {np.median(dev[~heavy]):.2f} se"
            )
    return out


def paired_user(specs: dict, truth: float, scale: float) -> list[str]:
    (e1, s1), (e2, s2) = USER
    py, r = series(specs, s1, e1), series(specs, s2, e2)
    dev_py, dev_r = np.abs(py["coef"] - truth) / scale, np.abs(r["coef"] - truth) / scale
    ext_py, ext_r = dev_py > EXTREME, dev_r > EXTREME
    return [
        f"user's setting (Python: leaves ≥ 2, clipping 0.01; R: leaves ≥ 1, trimming 1e-12), same data per replicate: "
        f"sd Python {py['coef'].std(ddof=1):.3f}, R {r['coef'].std(ddof=1):.3f}; "
        f"extreme Python {int(ext_py.sum())}, R {int(ext_r.sum())}, "
        f"R only {int((ext_r & ~ext_py).sum())}, Python only {int((ext_py & ~ext_r).sum())}; "
        f"KS distance {stats.ks_2samp(py['coef'], r['coef']).statistic:.3f}"
    ]


def quantile_figure(specs: dict, truth: float) -> bytes:
    with plot_style(9):
        fig = new_figure(11, 4.2)
        left, right = fig.subplots(1, 2, sharey=True)
        panels = (
            (left, "The user's setting", [("python", "forest_trim_python_default", "Python: leaves ≥ 2, clip 0.01"),
                                          ("r", "forest_leaf1_trim_r_default", "R: leaves ≥ 1, trim 1e-12")]),
            (right, "Like for like: same forest, same threshold", [
                ("python", "forest_trim_python_default", "Python, trim 0.01"),
                ("r", "forest_trim_python_default", "R, trim 0.01"),
                ("python", "forest_trim_r_default", "Python, trim 1e-12"), ("r", "forest_trim_r_default", "R, trim 1e-12")]),
        )  # fmt: skip
        every = [specs[spec_id]["replicates"][engine]["coef"] for _, _, lines in panels for engine, spec_id, _ in lines]
        limits = robust_limits(every, 1.0, (truth,))
        for ax, title, lines in panels:
            for k, (engine, spec_id, label) in enumerate(lines):
                quantile_points(ax, specs[spec_id]["replicates"][engine]["coef"], engine, label, limits, hollow=k >= 2)
            ax.axhline(truth, color="black", linestyle="--", linewidth=1, label="truth")
            ax.set_title(title, loc="left", fontsize=9)
            ax.set_xlabel("standard normal quantile")
            ax.grid(color="#eeeeee")
            ax.legend(fontsize=7, frameon=False, loc="upper left")
        left.set_ylabel("IRM ATE estimate (200 fresh data sets)")
        return png_bytes(fig)


def weight_figure(specs: dict, truth: float, scale: float) -> bytes:
    with plot_style(9):
        fig = new_figure(11, 3.6)
        axes = fig.subplots(1, 3, sharey=True, sharex=True)
        for ax, (spec_id, label) in zip(axes, SPECS.items(), strict=True):
            for engine in ENGINES:
                s = series(specs, spec_id, engine)
                colour, marker = ENGINE_STYLE[engine]
                error = np.maximum(np.abs(s["coef"] - truth) / scale, 1e-2)  # log axis: 0.01 se is the floor
                ax.plot(s["max_weight"], error, marker=marker, linestyle="none", markersize=3,
                        color=colour, alpha=0.7, label="Python" if engine == "python" else "R")  # fmt: skip
            ax.axhline(EXTREME, color="#999999", linestyle=":", linewidth=0.8)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(label, loc="left", fontsize=9)
            ax.set_xlabel("largest inverse-propensity weight")
            ax.grid(color="#eeeeee")
        axes[0].set_ylabel("|estimate − truth| (typical se)")
        axes[0].legend(fontsize=7, frameon=False)
        return png_bytes(fig)


def main(argv: list[str]) -> int:
    specs, truth, scale = load(Path(argv[0]))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tails_quantiles.png").write_bytes(quantile_figure(specs, truth))
    (OUT / "tails_weights.png").write_bytes(weight_figure(specs, truth, scale))
    print(table(specs, truth, scale))
    print()
    for line in paired_user(specs, truth, scale) + correlations(specs, truth, scale):
        print("- " + line)
    for spec_id in SPECS:
        block = specs[spec_id]["replicates"]
        tails = block["tails"]
        print(f"- {spec_id}: {specs[spec_id]['status']}: {block['reason']}; KS p {block['distribution']['p']:.4f}; "
              f"tails Python {tails['python']}, R {tails['r']} (McNemar p {tails['p_mcnemar']:.3g})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
