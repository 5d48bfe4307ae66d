"""What each exit code of ``dml-parity`` means (README, "Exit codes"): one meaning each.

Errors raised as :class:`~harness.errors.HarnessError` carry their code (``exit_code``: 2 for bad
input, 3 for :class:`~harness.errors.EnvironmentProblem`); a run's results are mapped by
:func:`run_exit_code`; when several apply, :func:`worst` picks by ``PRECEDENCE``.
"""

from __future__ import annotations

from harness.verdict.summary import effective_status

__all__ = ["BAD_INPUT", "FAILED", "FINDING", "NOTHING_COMPARED", "OK", "PRECEDENCE", "run_exit_code", "why", "worst"]

OK = 0  # every spec compared and every verdict earned (agree, explained); check: nothing moved
FINDING = 1  # at least one disagree or inconclusive; check: something moved
BAD_INPUT = 2  # a spec field, data file or column, option or path (one line naming it)
FAILED = 3  # the tool failed: a crash, a VerdictError, a spec that ended in `error`, R not usable
NOTHING_COMPARED = 4  # a spec (or every spec) compared nothing: one engine only, or nothing to run

# The code a run with several of these ends with: a failure hides a finding, a finding an omission.
PRECEDENCE = (FAILED, BAD_INPUT, FINDING, NOTHING_COMPARED, OK)

_BY_STATUS = {
    "agree": OK,
    "explained": OK,
    "disagree": FINDING,
    "inconclusive": FINDING,
    "error": FAILED,
    "not-run": NOTHING_COMPARED,
    "r-not-run": NOTHING_COMPARED,
    "python-not-run": NOTHING_COMPARED,
}


def worst(*codes: int) -> int:
    """The code of highest precedence among ``codes`` (0 for none)."""
    present = set(codes)
    return next((code for code in PRECEDENCE if code in present), OK)


def run_exit_code(results: dict) -> int:
    """The exit code of a run: from each spec's status as a reader sees it (a spec whose status says
    agree but that lacks an engine's estimate compared nothing). A run without specs compared nothing."""
    specs = results.get("specs") or []
    if not specs:
        return NOTHING_COMPARED
    return worst(*(_BY_STATUS.get(effective_status(spec), FAILED) for spec in specs))


def why(results: dict) -> str:
    """The line that says why a run did not exit 0 ('' when it did)."""
    code = run_exit_code(results)
    specs = results.get("specs") or []
    named = [str(s.get("id")) for s in specs if _BY_STATUS.get(effective_status(s), FAILED) == code]
    listed = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    if code == FAILED:
        return f"exit 3: the tool failed on {listed} (status error; the report gives the message)"
    if code == FINDING:
        return f"exit 1: not shown to agree: {listed}"
    if code == NOTHING_COMPARED:
        if not specs:
            return "exit 4: nothing compared: no spec was run"
        return f"exit 4: nothing compared for {listed}: both engines are needed for a verdict (--engines python,r)"
    return ""
