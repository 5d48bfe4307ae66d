"""The README's table of the seed suite under seed replicates (specs/paper_seed_replicates.yaml):
per spec the verdict, the mean Python − R difference against the seed-noise floor, and how often
the single-draw rule would have passed.

    .venv/bin/python bench/replicates/replicate_seed_suite.py reports/paper_seed_replicates/results.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _interval(test: dict, key: str) -> str:
    low, high = test[key]
    return f"{test['mean']:+.3f} [{low:+.3f}, {high:+.3f}]"


def main(argv: list[str]) -> int:
    results = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    print("| spec | verdict | Python − R coef, mean [95 % CI] (se) | seed-noise floor (se): Python / R / single run "
          "| exceeds the seed noise | Python − R se, mean [90 % CI] | single-draw rule passed |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    counts: dict[str, int] = {}
    exceeds = 0
    for spec in results["specs"]:
        block = spec["replicates"]
        floor = block["floor"]
        counts[spec["status"]] = counts.get(spec["status"], 0) + 1
        exceeds += bool(floor.get("exceeds"))
        single = block["single_draw"]
        print(
            f"| `{spec['id']}` | {spec['status']} | {_interval(block['coef'], 'ci95')} | {floor['python_sd_se']:.3f} / "
            f"{floor['r_sd_se']:.3f} / {floor['floor_se']:.3f} | {'yes' if floor['exceeds'] else 'no'} (p {floor['p_zero']:.2g}) "
            f"| {_interval(block['se'], 'ci90')} | {single['passed']} of {single['of']} |"
        )
    print()
    print(
        f"{len(results['specs'])} specs: "
        + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        + f"; {exceeds} exceed the seed noise."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
