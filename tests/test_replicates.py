"""Replicates without R: the seeds each replicate draws, what each ``vary`` changes, one pool of
tasks (sequential, two workers and Dask give the same bytes), the cache per replicate, bad input,
the verdict over constructed replicate results, and the report's replicates section."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.language.spec import load_spec_file
from harness.running.replicate_tasks import derive_seed, plan_replicates, replicate_settings
from harness.running.runner import RunOptions, prepare, run, stable_view
from harness.verdict.replicate_verdict import replicate_outcome

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5, model: plr, y: y, d: d, x: [x1, x2, x3]}
specs:
  - {id: rf_seeds, learner: {name: rf, n_estimators: 10}, replicates: {n: 4, vary: seeds}}
  - {id: rf_folds, learner: {name: rf, n_estimators: 10}, replicates: {n: 3, vary: folds}}
  - {id: rf_both, learner: {name: rf, n_estimators: 10}, replicates: {n: 3, vary: seeds+folds}}
  - {id: ols_once, learner: ols}
"""

GENERATED = """
dataset:
  generator: {name: make_plr_CCDDHNR2018, n_obs: 200, dim_x: 3, alpha: 0.7}
defaults: {n_folds: 2, seed: 3, model: plr, y: y, d: d, x: [X1, X2, X3], truth: alpha}
specs:
  - {id: fresh, learner: {name: tree, max_depth: 3}, replicates: {n: 3, vary: data}}
"""


@pytest.fixture()
def spec_path(tmp_path: Path, generated_csv: Path) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    return path


def _plan(path: Path, override=None):
    spec_file = load_spec_file(path)
    prepared = prepare(spec_file, None if spec_file.dataset.generator else (path.parent / spec_file.dataset.path).resolve())
    settings = {}
    for i, p in enumerate(prepared):
        setting = replicate_settings(
            p.spec, override, "statistical" if p.spec.id != "ols_once" else "exact", bool(spec_file.dataset.generator)
        )
        if setting:
            settings[i] = setting
    return prepared, plan_replicates(prepared, settings, spec_file.dataset, spec_file.dataset.generator, "data")


def test_derived_seeds_are_reproducible_distinct_and_fit_r() -> None:
    assert derive_seed(5, 1, "data") == 5  # replicate 1 is the spec as written
    seeds = {derive_seed(5, k, p) for k in range(2, 200) for p in ("data", "folds", "learners")}
    assert len(seeds) == 3 * 198  # no two replicates or purposes share a stream
    assert all(0 <= s < 2**31 for s in seeds)
    assert derive_seed(5, 7, "folds") == derive_seed(5, 7, "folds") != derive_seed(6, 7, "folds")


def test_each_vary_changes_only_what_it_says(spec_path: Path) -> None:
    prepared, plan = _plan(spec_path)
    assert len(plan.tasks) == 4 + 3 + 3 + 1
    by_id = {t.spec.id: t for t in plan.tasks}
    base = {p.spec.id: p for p in prepared}

    def rf_seed(task) -> int:
        return task.spec.learner["random_state"]

    # seeds: same data and folds, new learner streams (Python's random_state, R's ranger seed and set.seed)
    seeds2 = by_id["rf_seeds#2"]
    assert seeds2.design is base["rf_seeds"].design and np.array_equal(seeds2.folds.labels, base["rf_seeds"].folds.labels)
    assert rf_seed(seeds2) == seeds2.spec.seed == derive_seed(5, 2, "learners") != rf_seed(by_id["rf_seeds#3"])
    # folds: new splits, same learners
    folds2 = by_id["rf_folds#2"]
    assert not np.array_equal(folds2.folds.labels, base["rf_folds"].folds.labels)
    assert folds2.spec.learner == base["rf_folds"].spec.learner and folds2.spec.seed == 5
    # seeds+folds: both
    both2 = by_id["rf_both#2"]
    assert not np.array_equal(both2.folds.labels, base["rf_both"].folds.labels) and rf_seed(both2) != 1
    # replicate 1 is the spec as written, and a spec without replicates is one task
    assert by_id["rf_seeds"].spec.model_dump(exclude={"replicates"}) == base["rf_seeds"].spec.model_dump(exclude={"replicates"})
    assert by_id["rf_seeds"].spec.replicates is None and "ols_once#2" not in by_id
    # rounds: all replicate-1 tasks first, so an interrupted run has whole rounds
    assert [number for _, number in plan.owner[:4]] == [1, 1, 1, 1]


def test_vary_data_draws_fresh_data_folds_and_seeds(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(GENERATED, encoding="utf-8")
    prepared, plan = _plan(path)
    frames = [t.design.frame for t in plan.tasks]
    assert len(frames) == 3 and not frames[0].equals(frames[1]) and not frames[1].equals(frames[2])
    assert plan.replication[0].seeds()["data"] == [3, derive_seed(3, 2, "data"), derive_seed(3, 3, "data")]
    assert plan.tasks[0].design.frame.equals(prepared[0].design.frame)


def test_replicates_override_sets_n_for_statistical_specs_only(spec_path: Path) -> None:
    _, plan = _plan(spec_path, override=6)
    ids = [t.spec.id for t in plan.tasks]
    assert sum(i.startswith("rf_seeds") for i in ids) == 6 and "ols_once#2" not in ids
    spec = load_spec_file(spec_path).spec("ols_once")
    assert replicate_settings(spec, 6, "statistical", generated=False) == (6, "seeds")
    assert replicate_settings(spec, 6, "statistical", generated=True) == (6, "data")
    assert replicate_settings(spec, 6, "exact", generated=True) is None


def test_vary_data_on_a_data_file_and_a_bad_n_are_one_line_errors(spec_path: Path, tmp_path: Path, capsys) -> None:
    spec_path.write_text(spec_path.read_text().replace("vary: folds", "vary: data"), encoding="utf-8")
    assert main(["run", "--specs", str(spec_path), "--engines", "python", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "spec 'rf_folds' field 'replicates.vary'" in err
    assert main(["run", "--specs", str(spec_path), "--replicates", "1", "--out", str(tmp_path / "o")]) == 2
    assert "--replicates: must be at least 2" in capsys.readouterr().err
    spec_path.write_text(spec_path.read_text().replace("n: 4, vary: seeds", "n: 1, vary: seeds"), encoding="utf-8")
    assert main(["run", "--specs", str(spec_path), "--out", str(tmp_path / "o")]) == 2
    assert "field 'replicates.n': must be at least 2" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_replicates_are_one_pool_reproducible_and_cached_each(spec_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = {"specs": spec_path, "engines": ("python",), "cache_dir": cache}
    first = run(RunOptions(**common, use_cache=False))
    second = run(RunOptions(**common, jobs=2))  # every task from the cache, through the pool code
    assert stable_view(first) == stable_view(second)
    assert all(s["timings"]["replicates"]["cached"] == s["replicates"]["n"] for s in second["specs"] if s.get("replicates"))
    parallel = run(RunOptions(**common, jobs=2, use_cache=False))
    assert json.dumps(stable_view(parallel), sort_keys=True) == json.dumps(stable_view(first), sort_keys=True)
    block = first["specs"][0]["replicates"]
    assert block["n"] == 4 and block["vary"] == "seeds" and len(block["python"]["coef"]) == 4
    assert len(set(block["python"]["coef"])) == 4  # the seeds did change the forests
    assert block["seeds"]["learners"][0] == 5 and block["seeds"]["data"] is None


def test_replicate_one_shares_the_cache_with_a_plain_run(spec_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    plain = tmp_path / "plain.yaml"
    kept = [line for line in spec_path.read_text().splitlines() if "replicates" not in line or "rf_seeds" in line]
    plain.write_text("\n".join(kept).replace(", replicates: {n: 4, vary: seeds}", ""), encoding="utf-8")
    run(RunOptions(specs=plain, engines=("python",), cache_dir=cache, only=["rf_seeds"]))
    replicated = run(RunOptions(specs=spec_path, engines=("python",), cache_dir=cache, only=["rf_seeds"]))
    assert replicated["specs"][0]["timings"]["replicates"]["cached"] == 1


@pytest.mark.slow
def test_dask_pool_gives_the_same_replicates(spec_path: Path, tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    sequential = run(RunOptions(specs=spec_path, engines=("python",), use_cache=False))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        distributed = run(RunOptions(specs=spec_path, engines=("python",), use_cache=False, scheduler=cluster.scheduler_address))
    assert stable_view(distributed)["specs"] == stable_view(sequential)["specs"]


# --- the verdict over constructed replicate results -----------------------------------------------


# Each package's p from its coef and se by its written-down rule (harness.verdict.compare.rule_checks).
RULE_P = [
    {"name": f"rule.{engine}.p", "layer": "rule", "quantity": "p", "rep": None, "value": 0.0, "limit": 1e-10, "ok": True}
    for engine in ("python", "r")
]


def _result(py: float, r: float, se: float = 1.0, status: str = "agree", checks=None) -> dict:
    estimate = {"coef": py, "se": se, "ci": [py - 1.96 * se, py + 1.96 * se]}
    other = {"coef": r, "se": se, "ci": [r - 1.96 * se, r + 1.96 * se]}
    checks = checks or [
        {"name": "folds.r", "layer": "folds", "value": 0.0, "limit": 0.0, "ok": True},
        *RULE_P,
        {"name": "end_to_end.coef", "layer": "end_to_end", "value": abs(py - r), "limit": 0.2, "ok": abs(py - r) <= 0.2},
    ]
    return {"status": status, "python": estimate, "r": other, "learner_free": dict(other), "checks": checks, "error": None}


def _results(shift: float, sd: float = 0.1, n: int = 40, seed: int = 1) -> list[dict]:
    rng = np.random.default_rng(seed)
    truth = rng.standard_normal(n)
    return [_result(t + shift + sd * e, t) for t, e in zip(truth, rng.standard_normal(n), strict=True)]


def test_statistical_verdict_from_constructed_replicates() -> None:
    status, block, checks = replicate_outcome(_results(0.0), "statistical", 0.2, "data", 0.0, seed=1)
    assert status == "agree" and block["coef"]["verdict"] == "agree" and block["se"]["verdict"] == "agree"
    assert {c["name"]: c["ok"] for c in checks} == {
        "replicates.structure": True,
        "replicates.coef.equivalence": True,
        "replicates.se.equivalence": True,
    }
    assert block["t"]["mean"] == pytest.approx(block["coef"]["mean"], abs=0.05)  # se 1: t moves with coef
    assert block["single_draw"]["of"] == 40 and block["mde_se"] > 0
    assert replicate_outcome(_results(0.5), "statistical", 0.2, "data", 0.0, seed=1)[0] == "disagree"
    status, block, _ = replicate_outcome(_results(0.2, sd=0.5, n=10), "statistical", 0.2, "data", 0.0, seed=1)
    assert status == "inconclusive" and "replicates would decide" in block["reason"]
    # coverage only over fresh data; the floor only over seeds
    assert "coverage" in block["engines"]["python"] and block["floor"]["measured"] is False
    _, block, _ = replicate_outcome(_results(0.0), "statistical", 0.2, "seeds", 0.0, seed=1)
    assert "coverage" not in block["engines"]["python"] and block["floor"]["measured"] is True


def _with_reps(result: dict, py_reps: list[float], r_reps: list[float], se: float = 1.0) -> dict:
    """A constructed result with ``n_rep`` repetitions (their median is the aggregate)."""
    out = {**result, "python": dict(result["python"]), "learner_free": dict(result["learner_free"])}
    for key, reps in (("python", py_reps), ("learner_free", r_reps)):
        out[key].update(coef=float(np.median(reps)), coef_reps=list(reps), se_reps=[se] * len(reps))
    return out


def test_replicate_tests_cover_every_repetition_and_the_aggregate_p() -> None:
    """The coverage rule of harness.verdict.checks holds for replicates: with n_rep = 2 a repetition that
    differs while the aggregate (the median of two) hides it cannot be agree; covered, it agrees."""
    rng = np.random.default_rng(3)
    truth = rng.standard_normal((40, 2))
    noise = 0.05 * rng.standard_normal((40, 2))
    base = _result(0.0, 0.0)
    same = [_with_reps(base, list(t + e), list(t)) for t, e in zip(truth, noise, strict=True)]
    status, block, checks = replicate_outcome(same, "statistical", 0.2, "data", None, seed=1)
    assert status == "agree", block["reason"]
    names = {c["name"] for c in checks}
    assert {"replicates.coef.rep1.equivalence", "replicates.se.rep2.equivalence"} <= names
    assert [e["rep"] for e in block["repetitions"]] == [1, 2]
    # repetition 1 of Python 0.3 se high, repetition 2 0.3 se low: the medians (aggregates) stay equal
    split = [
        _with_reps(base, [t[0] + 0.3 + e[0], t[1] - 0.3 + e[1]], list(t)) for t, e in zip(truth, noise, strict=True)
    ]
    for result, reference in zip(split, same, strict=True):
        result["python"]["coef"] = reference["python"]["coef"]
    status, block, checks = replicate_outcome(split, "statistical", 0.2, "data", None, seed=1)
    assert block["coef"]["verdict"] == "agree" and status == "inconclusive"
    assert {c["name"] for c in checks if not c["ok"]} == {"replicates.coef.rep1.equivalence", "replicates.coef.rep2.equivalence"}
    assert "replicates.coef.rep1.equivalence" in block["reason"]


def test_an_agree_without_a_test_of_every_quantity_is_a_tool_error() -> None:
    from harness.verdict.checks import VerdictError
    from harness.verdict.replicate_verdict import assert_replicates_covered

    _, _, checks = replicate_outcome(_results(0.0), "statistical", 0.2, "data", None, seed=1)
    # coef and se of the aggregate tested, rep 1 is the aggregate, p through both rule checks
    assert_replicates_covered(checks + RULE_P, 1, "s")
    with pytest.raises(VerdictError, match="p of the aggregate"):
        assert_replicates_covered(checks + RULE_P[:1], 1, "s")
    with pytest.raises(VerdictError, match="coef of repetition 2"):
        assert_replicates_covered(checks + RULE_P, 2, "s")
    # and through the verdict: replicates whose results lack the rule layer cannot agree
    bare = _results(0.0)
    for result in bare:
        result["checks"] = [c for c in result["checks"] if c["layer"] != "rule"]
    with pytest.raises(VerdictError, match="no replicate test for p of the aggregate"):
        replicate_outcome(bare, "statistical", 0.2, "data", None, seed=1)


def test_a_structural_failure_in_any_replicate_is_disagree() -> None:
    results = _results(0.0)
    results[6]["checks"][0] = {"name": "folds.r", "layer": "folds", "value": 2.0, "limit": 0.0, "ok": False}
    status, block, checks = replicate_outcome(results, "statistical", 0.2, "data", None, seed=1)
    assert status == "disagree" and block["reason"] == "replicate 7: folds.r failed"
    assert block["structural_failures"] == [{"replicate": 7, "check": "folds.r", "value": 2.0, "limit": 0.0}]


def test_exact_tier_needs_every_replicate_and_an_error_is_an_error() -> None:
    results = [_result(0.5 + 0.01 * k, 0.5 + 0.01 * k) for k in range(5)]  # five draws, not one five times
    assert replicate_outcome(results, "exact", 0.2, "data", None, seed=1)[0] == "agree"
    results[3]["status"] = "disagree"
    status, block, checks = replicate_outcome(results, "exact", 0.2, "data", None, seed=1)
    assert status == "disagree" and block["reason"] == "exact tier: 4 of 5 replicates agree"
    results[3] = {"status": "error", "error": "R: boom", "python": None, "r": None, "checks": []}
    status, block, _ = replicate_outcome(results, "exact", 0.2, "data", None, seed=1)
    assert status == "error" and block["reason"] == "1 of 5 replicates failed; replicate 4: R: boom"
    results[1] = _result(float("inf"), 0.5)  # a propensity of exactly 0 without trimming
    status, block, _ = replicate_outcome(results, "exact", 0.2, "data", None, seed=1)
    assert status == "error" and block["reason"].startswith(
        "2 of 5 replicates failed; replicate 2: an engine returned a non-finite"
    )


@pytest.mark.parametrize("tier", ["statistical", "exact"])
def test_identical_replicates_are_one_draw_judged_as_one(tier: str) -> None:
    """Six copies of one draw (a learner without a random stream under vary: seeds) are not six
    draws: no equivalence test, no power, replicate 1's own verdict, and the reason says so."""
    one = _result(0.31, 0.3, se=0.5)
    status, block, checks = replicate_outcome([one] * 6, tier, 0.2, "seeds", None, seed=1)
    assert status == "agree" and checks == []
    assert block["identical"] == {"draws": 1, "of": 6} and block["verdict"] == "agree"
    assert "mde_se" not in block and "coef" not in block and "floor" not in block
    assert block["reason"].startswith("the 6 replicates (vary: seeds) gave identical estimates in both engines: one draw")
    # replicate 1's single-draw verdict stands, whatever it is
    failed = _result(0.31, 0.3, se=0.5, status="disagree")
    assert replicate_outcome([failed] * 6, tier, 0.2, "seeds", None, seed=1)[0] == "disagree"
    assert replicate_outcome([one] * 5 + [failed], tier, 0.2, "seeds", None, seed=1)[0] == "disagree"
    # one replicate that differs in one engine by more than rounding makes them draws again
    moved = [one] * 5 + [_result(0.31, 0.3 + 1e-9, se=0.5)]
    assert "identical" not in replicate_outcome(moved, tier, 0.2, "seeds", None, seed=1)[1]


def test_identical_replicates_keep_replicate_ones_checks_in_the_record() -> None:
    from types import SimpleNamespace

    from harness.verdict.replicate_verdict import with_replicates

    one = _result(0.31, 0.3, se=0.5)
    spec = SimpleNamespace(coef_tolerance_se=0.2, seed=1)
    replication = SimpleNamespace(vary="seeds", seeds=lambda: {})
    record = with_replicates({"id": "svr", "tier": "statistical", "checks": one["checks"]}, [one] * 4, replication, spec)
    assert record["status"] == "agree" and record["replicates"]["identical"]["of"] == 4
    # the single-draw rule's own checks, not the replicate tests (there are none to earn agree)
    assert [c["name"] for c in record["checks"]] == [c["name"] for c in one["checks"]]


def test_an_engine_missing_in_some_replicates_is_an_error() -> None:
    results = _results(0.0, n=5)
    results[2] = {**results[2], "r": None, "learner_free": None, "status": "not-run"}
    status, block, _ = replicate_outcome(results, "statistical", 0.2, "data", None, seed=1)
    assert status == "error"
    assert block["reason"] == "1 of 5 replicates failed; replicate 3: no r estimate, which other replicates have"
    # missing in every replicate: one engine did not run (nothing compared), as before
    alone = [{**r, "r": None, "learner_free": None, "status": "not-run"} for r in _results(0.0, n=3)]
    assert replicate_outcome(alone, "statistical", 0.2, "data", None, seed=1)[0] == "not-run"


def test_report_has_a_picture_and_a_table_per_replicated_spec(spec_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["run", "--specs", str(spec_path), "--engines", "python", "--out", str(out), "--quiet"]) == 4
    pictures = sorted(p.name for p in out.glob("replicates-*.png"))
    assert pictures == ["replicates-rf_both.png", "replicates-rf_folds.png", "replicates-rf_seeds.png"]
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count('class="plot replicates-plot"') == 3 and 'id="replicates-rf_seeds"' in html
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Replicates" in markdown and "(replicates-rf_folds.png)" in markdown


def test_inconclusive_is_not_agreement_for_the_exit_code() -> None:
    from harness.running.runner import exit_code
    from harness.verdict.summary import summarize

    specs = [{"status": "agree", "python": {}, "r": {}}, {"status": "inconclusive", "python": {}, "r": {}}]
    assert exit_code({"specs": specs}) == 1 and exit_code({"specs": specs[:1]}) == 0
    counts = summarize(specs)
    assert counts["inconclusive"] == 1 and counts["agree"] == 1
