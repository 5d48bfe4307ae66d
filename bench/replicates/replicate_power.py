"""Size and power of the replicate verdict, stated (normal theory, harness.verdict.replicate_stats) against
simulated (the tool's own vectorised rule, harness.verdict.replicate_stats.decide, on normal and on
Student-t3 differences of the same sd). Pure numpy: about a minute.

    .venv/bin/python bench/replicates/replicate_power.py            # prints the README's table (markdown)
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.verdict.replicate_stats import decide, power_agree, power_disagree  # noqa: E402

SIMS = 40_000
MARGIN = 0.2
SHIFT = 0.5


def simulate(kind: str, mu: float, sigma: float, n: int, verdict: str, seed: int) -> float:
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((SIMS, n)) if kind == "normal" else rng.standard_t(3, (SIMS, n)) / math.sqrt(3.0)
    return float(np.mean(decide(mu + sigma * noise, MARGIN)[0] == verdict))


def row(n: int, sigma: float, seed: int) -> list[str]:
    """The four cells of one (n, sd) row."""

    def sims(mu: float, verdict: str, k: int) -> str:
        normal = simulate("normal", mu, sigma, n, verdict, seed + k)
        return f"{normal:.3f} / {simulate('t3', mu, sigma, n, verdict, seed + k + 1):.3f}"

    return [
        f"{power_agree(0.0, sigma, n, MARGIN):.3f} / {sims(0.0, 'agree', 0)}",
        f"{power_disagree(SHIFT, sigma, n, MARGIN):.3f} / {sims(SHIFT, 'disagree', 2)}",
        sims(MARGIN, "agree", 4),
        sims(MARGIN, "disagree", 6),
    ]


def main() -> int:
    print(f"{SIMS} simulated sets of n paired differences per cell; margin ±{MARGIN} se; Monte Carlo se ≤ 0.0025.\n")
    print("| n | sd of differences (se) | P(agree), mean 0: stated / normal / t3 | P(disagree), mean 0.5: stated / normal / t3 "
          "| size of agree at the margin: normal / t3 | size of disagree at the margin: normal / t3 |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for i, (n, sigma) in enumerate((n, sigma) for n in (20, 40, 100) for sigma in (0.1, 0.25, 0.45)):
        print(f"| {n} | {sigma} | " + " | ".join(row(n, sigma, seed=10 * i)) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
