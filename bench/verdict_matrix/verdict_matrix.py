"""Run the exact-learner matrix (tests/matrix_cases.py) and measure what the verdict rests on.

For every case: status, wall time, and every check's value. Summarised per check family (the check
name without its repetition): the largest value seen against its limit — for the ``rule`` and
``end_to_end.*_rule_on_*`` families that is the residual left after recomputing an intended
difference between the packages.

    .venv/bin/python bench/verdict_matrix/verdict_matrix.py --half fast   # 66 cases (12 with a zero or near-zero effect)
    .venv/bin/python bench/verdict_matrix/verdict_matrix.py --half slow   # 252 cases (36 with a zero or near-zero effect)

Writes bench/out/verdict_matrix_<half>.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tabulate import tabulate  # noqa: E402

from tests.matrix_cases import cases  # noqa: E402
from tests.test_matrix_r import _run  # noqa: E402


def family(name: str) -> str:
    return re.sub(r"\.rep\d+", ".repN", name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("fast", "slow", "all"), default="fast")
    parser.add_argument("--only", default="", help="substring of case ids to run")
    args = parser.parse_args()
    chosen = cases("fast") + cases("slow") if args.half == "all" else cases(args.half)
    chosen = [c for c in chosen if args.only in c.id]
    records = []
    start = time.perf_counter()
    for case in chosen:
        t0 = time.perf_counter()
        result = _run(case)
        records.append(
            {
                "id": case.id,
                "status": result.get("status"),
                "error": result.get("error"),
                "seconds": round(time.perf_counter() - t0, 2),
                "timings": result.get("timings"),
                "checks": result.get("checks"),
            }
        )
        print(f"{case.id}: {result.get('status')}", file=sys.stderr, flush=True)
    wall = time.perf_counter() - start

    worst: dict[str, dict] = {}
    counts: dict[str, int] = defaultdict(int)
    for record in records:
        for check in record["checks"] or []:
            key = family(check["name"])
            counts[key] += 1
            value = check["value"]
            if check["metric"].startswith("1 =") or check["metric"] == "correlation":
                continue
            if key not in worst or (value is not None and value > (worst[key]["value"] or 0)):
                worst[key] = {"value": value, "limit": check["limit"], "case": record["id"]}
    out = ROOT / "bench" / "out" / f"verdict_matrix_{args.half}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"wall_s": wall, "records": records}, indent=1), encoding="utf-8")

    statuses = Counter(r["status"] for r in records)
    print(f"{len(records)} cases in {wall:.0f} s: " + ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    rows = [
        [k, counts[k], "nan" if v["value"] is None else f"{v['value']:.1e}", f"{v['limit']:.0e}", v["case"]]
        for k, v in sorted(worst.items())
    ]
    print(tabulate(rows, headers=["check family", "checks", "largest value", "limit", "where"], tablefmt="github"))
    return 0 if all(r["status"] in ("agree", "explained") for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
