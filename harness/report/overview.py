"""What the report says about the run as a whole: labels, spec order, the status summary and the
provenance rows, shared by the markdown and HTML views."""

from __future__ import annotations

import math

from harness.engines.result import ENGINES
from harness.report.marks import served_count
from harness.verdict.claims import NOT_JUDGED, NOT_REPRODUCED, REPRODUCED, judge_claims
from harness.verdict.summary import STATUSES, summarize

__all__ = [
    "DASH",
    "ENGINE_LABEL",
    "HOW_TO_READ",
    "STATUS_LABEL",
    "VERDICT_LABEL",
    "groups",
    "has_paper",
    "has_truth",
    "how_to_read",
    "package_rows",
    "prepare",
    "provenance_rows",
    "summary_rows",
    "title",
]

DASH = "—"
NO_TABLE = "Specs without a table"
ENGINE_LABEL = {"python": "Python", "r": "R"}
STATUS_LABEL = {
    "agree": "agree",
    "explained": "explained",
    "disagree": "disagree",
    "inconclusive": "inconclusive",
    "error": "error",
    "not-run": "not run",
    "r-not-run": "R not run",
    "python-not-run": "Python not run",
}
assert tuple(STATUS_LABEL) == STATUSES, "every status needs a label"
VERDICT_LABEL = {REPRODUCED: "reproduced", NOT_REPRODUCED: "not reproduced", NOT_JUDGED: "not judged"}

_READ_TIERS = (
    "Each spec was estimated by Python doubleml and by R DoubleML on the same data, folds and "
    "seed, and the two estimates were compared. Exact: the learner pair solves the same problem in "
    "both languages, so Python and R must agree within that pair's tolerance (the Python − R "
    "column gives the difference of the coefficient relative to max(|coef|, se), and of the se relative). "
    "Statistical: the learners differ in algorithm or random "
    "stream, so agreement means the same sign, the same significance at the 1 %, 5 % and 10 % "
    "levels, |Δcoef| ≤ 0.2 × se (unless the spec sets another coef_tolerance_se) and nuisance "
    "predictions correlated ≥ 0.95 (the Python − R column gives the gap in standard errors). Explained: the two "
    "packages differ on purpose; the tool recomputed the other package's formula from the shared "
    "nuisance predictions and it accounts for the difference. R not run: there is no R estimate for "
    "the spec (R was not asked for, not available, or failed before estimating), so nothing was "
    "compared and the spec is not counted as agreeing."
)
_READ_CLAIMS = (
    "A paper claim is reproduced by an engine "
    "when its sign (significant at the claim's level) and every ordering against other specs hold "
    "for that engine's estimates; it is not judged when a spec it is compared with has no estimate "
    "from that engine."
)
_READ_STARS = "Stars: *** p < 0.01, ** p < 0.05, * p < 0.1."
HOW_TO_READ = " ".join((_READ_TIERS, _READ_CLAIMS, _READ_STARS))


def has_paper(specs: list[dict]) -> bool:
    """Whether any spec carries a paper claim: without one, every paper-only column, row and
    sentence of the report is left out (it would only say "—")."""
    return any(spec.get("paper") for spec in specs)


def has_truth(specs: list[dict]) -> bool:
    """Whether any spec knows its true effect (generated or synthetic data): else no truth column."""
    values = [spec.get("truth") for spec in specs]
    return any(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def how_to_read(specs: list[dict]) -> str:
    """The report's reading guide; the sentence on paper claims only when a spec has one."""
    return " ".join((_READ_TIERS, *((_READ_CLAIMS,) if has_paper(specs) else ()), _READ_STARS))


def prepare(results: dict) -> list[dict]:
    """Judge the claims and order specs by paper table (first appearance), then run order."""
    judged = judge_claims(results.get("specs") or [])
    order: dict[str, int] = {}
    for spec in judged:
        order.setdefault(spec.get("table") or NO_TABLE, len(order))
    return sorted(judged, key=lambda spec: order[spec.get("table") or NO_TABLE])


def groups(specs: list[dict]) -> list[tuple[str, list[dict]]]:
    """Specs grouped by paper table; ``specs`` is already in table order. A spec file without
    tables gives one group, "Specs" (no table to be without)."""
    if not any(spec.get("table") for spec in specs):
        return [("Specs", list(specs))] if specs else []
    out: dict[str, list[dict]] = {}
    for spec in specs:
        out.setdefault(spec.get("table") or NO_TABLE, []).append(spec)
    return list(out.items())


def title(results: dict) -> str:
    spec_file = ((results.get("provenance") or {}).get("spec_file") or {}).get("path")
    return f"DML parity report: {spec_file}" if spec_file else "DML parity report"


def summary_rows(specs: list[dict]) -> list[tuple[str, str]]:
    """(label, value) rows of the status summary, recomputed from the specs (never trusted from
    the file's own ``summary``)."""
    summary = summarize(specs)
    tiers = f"exact {summary['agree-exact']} / statistical {summary['agree-statistical']}"
    rows = [("Specs run", str(summary["specs"])), ("Agree", f"{summary['agree']} ({tiers})")]
    for status in STATUSES[1:]:
        # Python always runs in practice; show its row only when it did not.
        if status != "python-not-run" or summary[status]:
            rows.append((STATUS_LABEL[status].capitalize(), str(summary[status])))
    if has_paper(specs):  # without a paper block the claim rows say nothing
        for engine in ENGINES:
            rows.append((f"Paper claims reproduced by {ENGINE_LABEL[engine]}", _claims_count_text(summary["claims"][engine])))
    rows.append(("Limits loosened by the spec", _loosened_text(specs)))
    return rows + _origin_rows(specs)


def _origin_rows(specs: list[dict]) -> list[tuple[str, str]]:
    """Where verdicts came from: one draw (harness.verdict.single_draw), the cache (harness.running.cache)."""
    rows = []
    single = [spec for spec in specs if spec.get("single_draw")]
    if single:
        near = sum(1 for spec in single if spec.get("near_margin"))
        text = f"{len(single)} (another seed can change them; run with --replicates N for a replicated verdict)"
        rows.append(("Statistical verdicts from one draw", text + (f"; {near} near the margin" if near else "")))
    served = served_count(specs)
    if served:
        rows.append(("Served from the cache", f"{served} of {len(specs)} (engine outputs, judged again by this run)"))
    return rows


def _loosened_text(specs: list[dict]) -> str:
    """'none', or each spec that loosened a default limit (harness.language.tolerances) with the setting."""
    flagged = [f"⚠ {spec['id']}: {'; '.join(spec['loosened'])}" for spec in specs if spec.get("loosened")]
    return "; ".join(flagged) if flagged else "none"


def _claims_count_text(tally: dict[str, int]) -> str:
    text = f"{tally[REPRODUCED]} of {tally['claims']}"
    extra = [
        f"{tally[key]} {label}"
        for key, label in ((NOT_REPRODUCED, "not reproduced"), (NOT_JUDGED, "not judged"), ("no-estimate", "without an estimate"))
        if tally[key]
    ]
    return f"{text} ({', '.join(extra)})" if extra else text


def provenance_rows(prov: dict) -> list[tuple[str, str]]:
    rows = [
        ("Command", prov.get("command") or DASH),
        ("Created", prov.get("created") or DASH),
        ("Engines", ", ".join(prov.get("engines") or []) or DASH),
    ]
    for key, label in (("data", "Data"), ("spec_file", "Spec file")):
        item = prov.get(key) or {}
        rows.append((label, f"{item.get('path') or DASH} (sha256 {item.get('sha256') or DASH})"))
    if prov.get("platform"):
        rows.append(("Platform", prov["platform"]))
    if prov.get("workers_set_aside"):  # Dask workers that could not fit (harness.running.dask_cluster)
        rows.append(("Workers set aside", "; ".join(f"{w}: {why}" for w, why in prov["workers_set_aside"].items())))
    if prov.get("worker_deaths"):  # harness.running.parallel.after_death
        deaths = [f"{d['what']} while fitting {d['spec']}: {d['then']}" for d in prov["worker_deaths"]]
        rows.append(("Worker deaths", "; ".join(deaths)))
    return rows


def package_rows(prov: dict) -> list[tuple[str, str, str]]:
    """(language, package, version) rows; a language that did not run gets one 'not run' row."""
    rows = []
    for key, label in (("python", "Python"), ("r", "R")):
        packages = prov.get(key)
        if not packages:
            rows.append((label, DASH, "not run"))
            continue
        rows += [(label, str(name), str(version)) for name, version in packages.items()]
    return rows
