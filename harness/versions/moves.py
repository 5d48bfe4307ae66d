"""What moved between neighbouring releases, by how much, and which known change explains it.

A move is a number of an estimate (coef, se, p, a CI bound, a repetition's coef or se) that changed
between two neighbouring releases of one package beyond the spec's tier tolerance, measured as
`dml-parity check` measures a move from a baseline (``harness.regression.baseline.engine_moves``,
``quantity_change``; the tiers and tolerances of ``tolerance_of``). Its size in se is
``|now − before| / max(se before, se now)``.

Attribution is computed: a move is ``attributed_to`` a known change of that package made between
the two releases (``known_changes.KNOWN_CHANGES``) when the change's old rule, applied to the newer
release's numbers, gives the older release's number within the same tolerance; otherwise it is
``unexplained``.
"""

from __future__ import annotations

import math
from typing import Optional

from harness.regression.baseline import engine_moves
from harness.versions.known_changes import KNOWN_CHANGES, KnownChange
from harness.versions.releases import release_key

__all__ = ["UNEXPLAINED", "attribute", "first_moves", "release_moves"]

UNEXPLAINED = "unexplained"


def _size_in_se(move: dict, before: dict, now: dict) -> Optional[float]:
    b, a = move.get("before"), move.get("now")
    if move["what"] == "p":  # a probability: its change has no size in se
        return None
    if not isinstance(b, (int, float)) or not isinstance(a, (int, float)):
        return None
    se = max(v for v in (before.get("se"), now.get("se"), 0.0) if v is not None and math.isfinite(v))
    return abs(a - b) / se if se > 0 else None


def _between(change: KnownChange, engine: str, older: str, newer: str) -> bool:
    return change.engine == engine and release_key(older) < release_key(change.release) <= release_key(newer)


def attribute(
    entry: dict, engine: str, older: str, newer: str, before: dict, now: dict, scaling: Optional[int], moved: list[dict]
) -> list[dict]:
    """``moved`` (moves from ``before`` to ``now``), each with ``attributed_to`` and, when a change's
    old rule was applied, the number it reproduced (``reproduced``) and how far that is from the
    older release's (``residual``)."""
    candidates = [c for c in KNOWN_CHANGES if _between(c, engine, older, newer)]
    rebuilt = {c.id: c.old_rule(now, scaling) for c in candidates}
    left = {cid: {m["what"]: m for m in engine_moves(entry, before, r)} for cid, r in rebuilt.items() if r is not None}
    out = []
    for move in moved:
        record = {**move, "size_se": _size_in_se(move, before, now), "attributed_to": UNEXPLAINED}
        for cid, remaining in left.items():
            if move["what"] not in remaining:
                record["attributed_to"] = cid
                record["reproduced"] = _value(rebuilt[cid], move["what"])
                break
            record.setdefault("tried", []).append(
                {"change": cid, "reproduced": remaining[move["what"]]["now"], "residual": remaining[move["what"]]["change"]}
            )
        out.append(record)
    return out


def _value(block: dict, what: str):
    if what == "ci lower":
        return block["ci"][0]
    if what == "ci upper":
        return block["ci"][1]
    if " rep " in what:
        quantity, _, index = what.partition(" rep ")
        return block[f"{quantity}_reps"][int(index) - 1]
    return block.get(what)


def release_moves(spec_entry: dict, engine: str, estimates: dict[str, dict]) -> list[dict]:
    """Every move of one engine's estimate of one spec between neighbouring releases (oldest first)."""
    releases = sorted(estimates, key=release_key)
    entry = {"tier": spec_entry["tier"], "tolerance": spec_entry["tolerance"]}
    out = []
    for older, newer in zip(releases, releases[1:], strict=False):
        before, now = estimates[older], estimates[newer]
        where = {"spec": spec_entry["id"], "engine": engine, "from": older, "to": newer}
        if before.get("status") != "ok" or now.get("status") != "ok":
            if before.get("status") != now.get("status"):
                out.append(
                    {
                        **where,
                        "what": "estimate",
                        "before": before.get("status"),
                        "now": now.get("status"),
                        "change": None,
                        "unit": "",
                        "limit": None,
                        "rule": "fitted in both releases",
                        "size_se": None,
                        "attributed_to": UNEXPLAINED,
                    }
                )
            continue
        moved = engine_moves(entry, before, now)
        out += [{**where, **m} for m in attribute(entry, engine, older, newer, before, now, spec_entry.get("scaling"), moved)]
    return out


def first_moves(moves: list[dict]) -> dict[str, dict[str, dict[str, str]]]:
    """spec -> engine -> number -> the first release where it left its earlier value."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for move in sorted(moves, key=lambda m: release_key(m["to"])):
        out.setdefault(move["spec"], {}).setdefault(move["engine"], {}).setdefault(move["what"], move["to"])
    return out
