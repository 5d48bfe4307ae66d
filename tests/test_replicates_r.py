"""Replicates through both packages.

* An exact-tier spec under replicates must agree in every replicate (fresh data, new folds).
* The equivalence verdict on real between-engine noise: a statistical spec whose learner pair
  draws from each language's own random stream (``rf``: scikit-learn's forest and ranger; until
  issue 23 this was ``lasso_cv``, whose inner folds the tool now shares), fitted on fresh data in
  every replicate, is ``agree``; the same replicates with a systematic shift of 0.5 typical se injected
  into Python's estimates are ``disagree``. The shift is injected where the test looks (the paired
  estimates the verdict reads), not into an engine's data: a shifted outcome or treatment would
  change the estimand of one engine, and a deliberately biased learner would move the estimate by
  an unknown amount (the score is Neyman-orthogonal, so nuisance bias enters only second order).
  Here the noise is the packages' own and the shift is known exactly, so the stated power can be
  checked: resampling the real paired differences gives the verdict's frequency, which must match
  the power the tool states for them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.verdict.replicate_stats import decide, power_agree, power_disagree
from harness.verdict.replicate_verdict import replicate_outcome

pytestmark = pytest.mark.r

X20 = ", ".join(f"X{i}" for i in range(1, 21))

EXACT = """
dataset:
  generator: {name: make_irm_data, n_obs: 300, dim_x: 5, theta: 0.5}
defaults: {model: irm, y: y, d: d, x: [X1, X2, X3, X4, X5], n_folds: 3, seed: 21, truth: theta,
           learners: {ml_g: ols, ml_m: logit}}
specs:
  - {id: irm_ate, replicates: {n: 5, vary: data}}
  - {id: irm_atte, score: ATTE, replicates: {n: 3, vary: seeds+folds}}
"""

NOISY = f"""
dataset:
  generator: {{name: make_plr_CCDDHNR2018, n_obs: 300, dim_x: 20, alpha: 0.5}}
defaults: {{model: plr, y: y, d: d, x: [{X20}], n_folds: 2, seed: 12, truth: alpha}}
specs:
  - {{id: rf_fresh_data, learner: {{name: rf, n_estimators: 100}}, replicates: {{n: 30, vary: data}}}}
"""

SHIFT = 0.5
BOOTSTRAP = 4000


def _run(tmp_path: Path, text: str, name: str) -> dict:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / name
    main(["run", "--specs", str(path), "--out", str(out), "--quiet"])
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_exact_tier_agrees_in_every_replicate(tmp_path: Path) -> None:
    results = _run(tmp_path, EXACT, "exact")
    for spec in results["specs"]:
        block = spec["replicates"]
        assert spec["tier"] == "exact"
        assert spec["status"] in ("agree", "explained"), block["reason"]
        assert all(status in ("agree", "explained") for status in block["status"])
        assert len(block["status"]) == block["n"] and not block["structural_failures"]
        # every check of every replicate is in the record, each at its worst replicate
        assert all(c.get("replicates_failed", 0) == 0 for c in spec["checks"])
    ate = results["specs"][0]["replicates"]
    assert len(set(ate["python"]["coef"])) == 5  # fresh data each time
    assert max(abs(a - b) for a, b in zip(ate["python"]["coef"], ate["r"]["coef"], strict=True)) < 1e-9


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _run(tmp_path_factory.mktemp("noisy"), NOISY, "noisy")["specs"][0]


def _replicate_results(spec: dict, shift: float) -> list[dict]:
    """Per-replicate results as ``replicate_outcome`` reads them, from the run's paired estimates,
    with ``shift`` typical se added to Python's coefficient."""
    block = spec["replicates"]
    # the rule layer passed in every replicate (the record keeps each check at its worst replicate)
    rule = [c for c in spec["checks"] if c["layer"] == "rule"]
    assert rule and all(c["ok"] for c in rule)
    out = []
    for i in range(block["n"]):
        py = {"coef": block["python"]["coef"][i] + shift * block["scale_se"], "se": block["python"]["se"][i]}
        r = {"coef": block["r"]["coef"][i], "se": block["r"]["se"][i]}
        lf = {"coef": block["learner_free"]["coef"][i], "se": block["learner_free"]["se"][i]}
        out.append({"status": block["status"][i], "python": py, "r": r, "learner_free": lf, "checks": rule, "error": None})
    return out


def test_shift_free_replicates_agree_with_the_stated_power(noisy: dict) -> None:
    block = noisy["replicates"]
    assert not block["structural_failures"] and not block["errors"]
    assert noisy["status"] == "agree", block["reason"]
    coef = block["coef"]
    # real noise between the packages, not identical numbers
    assert 0.02 < coef["sd"] < 0.3, coef["sd"]
    assert coef["power_agree_at_zero"] >= 0.99 and coef["power_disagree_at_shift"] >= 0.99
    # The verdict recomputed from the stored paired estimates is the one the run wrote.
    status, again, _ = replicate_outcome(_replicate_results(noisy, 0.0), "statistical", 0.2, "data", 0.5, seed=12)
    assert status == "agree" and again["coef"]["mean"] == pytest.approx(coef["mean"])


def test_an_injected_shift_of_half_an_se_is_disagree(noisy: dict) -> None:
    block = noisy["replicates"]
    status, shifted, checks = replicate_outcome(_replicate_results(noisy, SHIFT), "statistical", 0.2, "data", 0.5, seed=12)
    assert status == "disagree", shifted["reason"]
    assert shifted["coef"]["mean"] == pytest.approx(block["coef"]["mean"] + SHIFT)
    assert shifted["coef"]["ci90"][0] > 0.2
    assert [c["name"] for c in checks if not c["ok"]] == ["replicates.coef.equivalence"]
    # A shift at the margin itself must not be called agree.
    assert (
        replicate_outcome(_replicate_results(noisy, 0.2 - block["coef"]["mean"]), "statistical", 0.2, "data", 0.5, seed=12)[0]
        != "agree"
    )


def test_stated_power_holds_on_the_real_paired_differences(noisy: dict) -> None:
    """The tool states normal-theory power at the observed sd and a resampled one; an independent
    resampling of the real differences, centred at 0 (agree if the engines were equal) and at the
    0.5 se shift (disagree), must give both within Monte Carlo error."""
    block = noisy["replicates"]
    coef = block["coef"]
    diff = (np.array(block["python"]["coef"]) - np.array(block["learner_free"]["coef"])) / block["scale_se"]
    n = len(diff)
    rng = np.random.default_rng(0)
    resampled = (diff - diff.mean())[rng.integers(0, n, size=(BOOTSTRAP, n))]
    for mean, verdict, stated, tool in (
        (0.0, "agree", coef["power_agree_at_zero"], coef["resampled"]["agree_at_zero"]),
        (SHIFT, "disagree", coef["power_disagree_at_shift"], coef["resampled"]["disagree_at_shift"]),
    ):
        share = float(np.mean(decide(resampled + mean, 0.2)[0] == verdict))
        assert abs(share - tool) <= 0.02, (verdict, share, tool)
        assert abs(share - stated) <= 0.03, (verdict, share, stated)
    assert n == 30 and power_agree(0.0, diff.std(ddof=1), n, 0.2) == pytest.approx(coef["power_agree_at_zero"])
    assert power_disagree(SHIFT, diff.std(ddof=1), n, 0.2) == pytest.approx(coef["power_disagree_at_shift"])


# -- learners without a random stream under replicates ------------------------------------------
# The verdict matrix of replicates over deterministic learners: {ols, lasso (exact tier), svr
# (statistical)} x {vary: seeds (nothing they use changes: one draw), vary: folds (new draws)}.

DETERMINISTIC = {"ols": "ols", "lasso": "{name: lasso, alpha: 0.01}", "svr": "svr"}
VARY = ("seeds", "folds")
DETERMINISTIC_SPECS = (
    "dataset: {path: DATA}\ndefaults: {n_folds: 3, seed: 7, model: plr, y: y, d: d, x: [x1, x2, x3]}\nspecs:\n"
    + "".join(
        f"  - {{id: {name}_{vary}, learner: {learner}, replicates: {{n: 4, vary: {vary}}}}}\n"
        for name, learner in DETERMINISTIC.items()
        for vary in VARY
    )
)


@pytest.fixture(scope="module")
def deterministic(tmp_path_factory: pytest.TempPathFactory, generated_csv: Path) -> tuple[int, str, dict]:
    """One run of the matrix through the command line, as a user runs it."""
    import subprocess
    import sys

    from tests.faults import ROOT, env

    folder = tmp_path_factory.mktemp("deterministic")
    spec = folder / "det.yaml"
    spec.write_text(DETERMINISTIC_SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--specs", str(spec), "--out", str(folder / "out"), "--no-cache"],
        capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600,
    )  # fmt: skip
    results = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
    return proc.returncode, proc.stderr, {s["id"]: s for s in results["specs"]}


@pytest.mark.parametrize("vary", VARY)
@pytest.mark.parametrize("name", list(DETERMINISTIC))
def test_deterministic_learners_under_replicates(deterministic: tuple[int, str, dict], name: str, vary: str) -> None:
    code, stderr, specs = deterministic
    spec = specs[f"{name}_{vary}"]
    block = spec["replicates"]
    assert "Traceback" not in stderr and code in (0, 1), stderr  # never the tool failing, never nothing compared
    if vary == "seeds":
        # Four copies of one draw: said so, judged as that one draw, given no power.
        assert block["identical"] == {"draws": 1, "of": 4}, block.get("reason")
        assert len(set(block["python"]["coef"])) == 1 and len(set(block["r"]["coef"])) == 1
        assert spec["status"] == block["status"][0] and "mde_se" not in block and "coef" not in block
        assert "one draw, judged as one" in block["reason"]
        assert not any(c["layer"] == "replicates" for c in spec["checks"]) and spec["checks"]
    else:
        # New folds: four different draws, judged over the replicates.
        assert "identical" not in block and len(set(block["python"]["coef"])) == 4
        if spec["tier"] == "exact":
            assert spec["status"] == "agree" and block["reason"] == "exact tier: 4 of 4 replicates agree"
        else:
            # libsvm on both sides: on this data each draw's Python and R numbers match to rounding,
            # so four different draws with (near) zero paired differences are a real agree.
            assert spec["status"] == "agree" and block["coef"]["verdict"] == "agree", block["reason"]
    if spec["tier"] == "exact":
        assert spec["status"] == "agree", block["reason"]


def test_a_replicated_verdict_that_is_not_agree_says_why_on_the_terminal(tmp_path: Path, capsys) -> None:
    """Three forest replicates cannot decide within ±0.2 se: the terminal says so and how many would
    (until 2026-12-07 it said only 'not shown to agree'; the reason was in the report alone)."""
    path = tmp_path / "few.yaml"
    path.write_text(NOISY.replace("n: 30", "n: 3").replace("n_obs: 300", "n_obs: 200"), encoding="utf-8")
    code = main(["run", "--specs", str(path), "--out", str(tmp_path / "few"), "--jobs", "2"])
    printed = capsys.readouterr().out
    [record] = json.loads((tmp_path / "few" / "results.json").read_text(encoding="utf-8"))["specs"]
    assert code == 1 and record["status"] == "inconclusive", record["replicates"]["reason"]
    line = next(line for line in printed.splitlines() if line.startswith("  rf_fresh_data: "))
    assert line == f"  rf_fresh_data: inconclusive over 3 replicates: {record['replicates']['reason']}"
    assert "replicates would decide" in line
