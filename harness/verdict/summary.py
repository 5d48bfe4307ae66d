"""The run summary rule: what status a spec counts as, and how a run's specs add up.

It sits beside the verdict (``harness.verdict.compare``) rather than in the report because the runner
writes the same summary into ``results.json`` and the command line prints it: a comparison that
never happened must not count as agreement anywhere, not only on the page.
"""

from __future__ import annotations

from typing import Any

from harness.engines.result import ENGINES
from harness.verdict.claims import count_claims

__all__ = ["STATUSES", "effective_status", "summarize"]

# Every status a reader can see, in the order summaries list them.
STATUSES = ("agree", "explained", "disagree", "inconclusive", "error", "not-run", "r-not-run", "python-not-run")


def effective_status(spec: dict) -> str:
    """The status a reader should see for a spec.

    Parameters
    ----------
    spec : dict
        One entry of ``results["specs"]``.

    Returns
    -------
    str
        ``"error"`` for errors; ``"not-run"`` when neither engine ran; ``"r-not-run"`` or
        ``"python-not-run"`` when one engine's estimate is missing; otherwise the runner's status.
    """
    status = spec.get("status") or "not-run"
    if status == "error":
        return status
    missing = [engine for engine in ENGINES if spec.get(engine) is None]
    if len(missing) == len(ENGINES):
        return "not-run"
    if missing:
        return f"{missing[0]}-not-run"
    return status


def summarize(specs: list[dict]) -> dict[str, Any]:
    """Count specs by effective status and claims by verdict.

    Parameters
    ----------
    specs : list of dict
        Specs as returned by :func:`harness.verdict.claims.judge_claims`.

    Returns
    -------
    dict
        ``specs`` (total), one count per status of ``STATUSES``, ``agree-exact`` and
        ``agree-statistical``, and ``claims`` (see :func:`harness.verdict.claims.count_claims`).
    """
    summary: dict[str, Any] = {"specs": len(specs), **dict.fromkeys(STATUSES, 0)}
    summary["agree-exact"] = summary["agree-statistical"] = 0
    for spec in specs:
        status = effective_status(spec)
        summary[status] = summary.get(status, 0) + 1
        if status == "agree" and spec.get("tier") in ("exact", "statistical"):
            summary[f"agree-{spec['tier']}"] += 1
    summary["claims"] = count_claims(specs)
    return summary
