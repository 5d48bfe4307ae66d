"""What a statistical-tier verdict from one draw says about itself (issue 25).

One fit of a random learner is one draw: another seed moves the estimates (a random forest's by
0.05-0.08 se per engine on the seed suite, README "The seed suite under seed replicates"), so an
``agree`` near the ±c margin can be overturned by a seed. Such a record gets ``single_draw``: that
it is one draw and the command that gets a replicated verdict (``--replicates``); a record whose
end-to-end check lies within a quarter of its margin (either side) gets ``near_margin``.
"""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Optional

__all__ = ["NEAR_SHARE", "REPLICATES", "mark_single_draw", "near_margin", "terminal_lines"]

NEAR_SHARE = 0.25  # "near the margin": within this share of the limit, on either side
REPLICATES = 20  # as in specs/paper_seed_replicates.yaml: power near 1 at the seed suite's noise
_JUDGED = ("agree", "disagree", "explained")


def near_margin(checks: list[dict]) -> Optional[dict]:
    """The end-to-end check (in se units) that decides a one-draw verdict, when it lies within
    NEAR_SHARE of its limit: the one farthest along its limit, for a verdict is as far from turning
    as its worst check (until 2026-12-07 the check nearest its limit was named, so a spec 12 times
    beyond its coef limit read "near the margin" by its se). None when any other check failed: that
    verdict is not a margin call."""
    in_se = []
    for check in checks:
        value, limit = check.get("value"), check.get("limit")
        if check.get("layer") != "end_to_end" or check.get("metric") != "in se":
            if check.get("ok") is False:
                return None
            continue
        if not isinstance(value, (int, float)) or not isinstance(limit, (int, float)) or not limit > 0 or math.isnan(value):
            continue
        in_se.append({"check": check["name"], "value": value, "limit": limit, "share": round(value / limit, 3)})
    worst = max(in_se, key=lambda c: c["value"] / c["limit"], default=None)
    return worst if worst is not None and abs(worst["value"] / worst["limit"] - 1) <= NEAR_SHARE else None


def mark_single_draw(record: dict, specs_path: Path, spec_id: str, replicable: bool, data: Optional[Path] = None) -> None:
    """Label a statistical-tier record of spec ``spec_id`` fitted once (``replicable``:
    ``--replicates`` would replicate it; ``data``: the run's ``--data``, which the command repeats)."""
    if record.get("tier") != "statistical" or record.get("status") not in _JUDGED or record.get("replicates"):
        return
    data_args = ["--data", str(data)] if data is not None else []
    command = shlex.join(
        ["dml-parity", "run", "--specs", str(specs_path), *data_args, "--only", spec_id, "--replicates", str(REPLICATES)]
    )
    record["single_draw"] = {
        "note": "a statistical-tier verdict from one draw: another seed can move it",
        "replicates_command": command if replicable else None,
        **({} if replicable else {"why_not": "replicates judge one treatment without bootstrap or adjusted p-values"}),
    }
    near = near_margin(record.get("checks") or [])
    if near is not None:
        record["near_margin"] = near


def label(spec: dict) -> list[str]:
    """The lines a reader sees under a single-draw verdict (report and terminal)."""
    lines = []
    single = spec.get("single_draw")
    if single:
        how = (
            f"for a replicated verdict: {single['replicates_command']}"
            if single.get("replicates_command")
            else single.get("why_not", "")
        )
        lines.append(f"one draw: another seed can change this verdict; {how}")
    near = spec.get("near_margin")
    if near:
        lines.append(f"near the margin: {near['check']} {near['value']:.3g} se against ±{near['limit']:.3g} se")
    return lines


def terminal_lines(results: dict) -> list[str]:
    """One line per spec whose verdict is one draw, after the run's summary line."""
    out = []
    for spec in results.get("specs", []):
        for line in label(spec):
            out.append(f"  {spec['id']}: {line}")
    return out
