"""Every model family and score through the command line, as a user runs it (issue 19 item 11).

The shared-API matrix (tests/test_api_matrix_r.py) calls ``run_one`` directly and never passes
through the runner's checks before the fits; an SSM spec failed there with a traceback. Here each
family and score is a spec in a spec file, run by ``dml-parity run`` in its own process: exact-tier
learners (ols, logit) on small generated data, so that both engines agree to the exact tier.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import make_tables
from tests.faults import ROOT, env

X = "[x1, x2, x3]"
TABLE_SPECS = {
    "plr_po": f"{{model: plr, y: y, d: d, x: {X}, learner: ols}}",
    "plr_iv": f"{{model: plr, score: IV-type, y: y, d: d, x: {X}, learner: ols}}",
    # A 0/1 treatment's ml_m as a classifier, as both packages allow (doubleml's 401(k) examples).
    "plr_po_classifier": f"{{model: plr, y: y, d: db, x: {X}, learners: {{ml_l: ols, ml_m: logit}}}}",
    "plr_iv_classifier": f"{{model: plr, score: IV-type, y: y, d: db, x: {X}, learners: {{ml_l: ols, ml_m: logit, ml_g: ols}}}}",
    "pliv_po": f"{{model: pliv, y: y, d: d, z: [zc], x: {X}, learner: ols}}",
    "pliv_iv": f"{{model: pliv, score: IV-type, y: y, d: d, z: [zc], x: {X}, learner: ols}}",
    "pliv_z": f"{{model: pliv, partial: Z, y: y, d: d, z: [zc, z], x: {X}, learner: ols}}",
    "irm_ate": f"{{model: irm, y: y, d: db, x: {X}, learners: {{ml_g: ols, ml_m: logit}}}}",
    "irm_atte": f"{{model: irm, score: ATTE, y: y, d: db, x: {X}, learners: {{ml_g: ols, ml_m: logit}}}}",
    "iivm_late": f"{{model: iivm, y: y, d: db, z: [z], x: {X}, learners: {{ml_g: ols, ml_m: logit, ml_r: logit}}}}",
    # One subgroup key: the other is the packages' default (until 2026-12-07 doubleml raised, exit 3).
    "iivm_one_subgroup": (
        f"{{model: iivm, y: y, d: db, z: [z], x: {X}, subgroups: {{never_takers: false}}, "
        "learners: {ml_g: ols, ml_m: logit, ml_r: logit}}"
    ),
    # A 0/1 outcome's ml_g as a classifier (IRM, IIVM, SSM in both packages), and as a linear
    # probability model, which must give another estimate in each package.
    "irm_yb_classifier": f"{{model: irm, y: yb, d: db, x: {X}, learners: {{ml_g: logit, ml_m: logit}}}}",
    "irm_yb_linear": f"{{model: irm, y: yb, d: db, x: {X}, learners: {{ml_g: ols, ml_m: logit}}}}",
    "iivm_yb_classifier": f"{{model: iivm, y: yb, d: db, z: [z], x: {X}, learners: {{ml_g: logit, ml_m: logit, ml_r: logit}}}}",
    "ssm_yb_classifier": f"{{model: ssm, y: yb, d: db, s: z, x: {X}, learners: {{ml_g: logit, ml_pi: logit, ml_m: logit}}}}",
    # A lasso's penalty per repetition and fold (fold_params), beside the same spec without them.
    # With two instruments (one named as R cannot read it), whose predictions DoubleML 1.0.2 does
    # not store and the tool's R engine does (test_every_instrument_prediction_is_compared).
    "pliv_two_z_fold_params": (
        f"{{model: pliv, y: y, d: d, z: [z c, z], x: {X}, learner: {{name: lasso, alpha: 0.01}}, "
        "fold_params: {'ml_m_z c': [[{alpha: 0.001}, {alpha: 0.2}, {alpha: 0.05}]], ml_m_z: [[{alpha: 0.1}, {}, {}]]}}"
    ),
    "plr_lasso": f"{{model: plr, y: y, d: d, x: {X}, n_rep: 2, learner: {{name: lasso, alpha: 0.05}}}}",
    "plr_lasso_fold_params": (
        f"{{model: plr, y: y, d: d, x: {X}, n_rep: 2, learner: {{name: lasso, alpha: 0.05}}, "
        "fold_params: {ml_l: [[{alpha: 0.001}, {alpha: 0.3}, {alpha: 0.05}], [{alpha: 0.1}, {alpha: 0.01}, {alpha: 0.5}]]}}"
    ),
}
# Two treatments, each with the other among its nuisances' columns (both packages' default) and without.
TWO = "{model: plr, y: y, d: [d, zc], x: [x1, x2, x3], learner: ols"
APART_SPECS = {"plr_two": TWO + "}", "plr_two_apart": TWO + ", use_other_treat_as_covariate: false}"}
SSM_X = "[X1, X2, X3, X4, X5]"
SSM_LEARNERS = "{ml_g: ols, ml_pi: logit, ml_m: logit}"
SSM_LASSO = "{ml_g: {name: lasso, alpha: 0.01}, ml_pi: logit, ml_m: logit}"
SSM_FOLDS = "{ml_g_d0: [[{alpha: 0.001}, {alpha: 0.1}, {alpha: 0.02}]], ml_g_d1: [[{alpha: 0.2}, {}, {alpha: 0.002}]]}"
SSM_SPECS = {
    "ssm_mar": (True, f"{{model: ssm, y: y, d: d, s: s, x: {SSM_X}, learners: {SSM_LEARNERS}}}"),
    "ssm_nonignorable": (
        False,
        f"{{model: ssm, score: nonignorable, y: y, d: d, s: s, z: [z], x: {SSM_X}, learners: {SSM_LEARNERS}}}",
    ),
    # Fold parameters on SSM, whose treatment R renames `d` (the nonignorable score is refused).
    "ssm_mar_fold_params": (
        True,
        f"{{model: ssm, y: y, d: d, s: s, x: {SSM_X}, learners: {SSM_LASSO}, fold_params: {SSM_FOLDS}}}",
    ),
    # The same data as ssm_mar (the generator is seeded by the spec seed), weights normalised.
    "ssm_mar_normalized": (True, f"{{model: ssm, y: y, d: d, s: s, x: {SSM_X}, learners: {SSM_LEARNERS}, normalize_ipw: true}}"),
}
ALL = [*TABLE_SPECS, *SSM_SPECS]


def _spec_file(folder: Path, dataset: str, specs: dict[str, str]) -> Path:
    lines = [f"dataset: {dataset}", "defaults: {n_folds: 3, seed: 13}", "specs:"]
    lines += [f"  - {{id: {spec_id}, {entry[1:]}" for spec_id, entry in specs.items()]
    path = folder / "specs.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _spec_files(folder: Path) -> list[Path]:
    tables = folder / "tables"
    tables.mkdir()
    frame = make_tables(seed=2027, n=300)
    frame = frame.assign(yb=(frame["y"] > frame["y"].median()).astype(int), **{"z c": frame["zc"]})
    frame.to_csv(tables / "tables.csv", index=False)
    files = [_spec_file(tables, "{path: tables.csv}", {**TABLE_SPECS, **APART_SPECS})]
    for spec_id, (mar, entry) in SSM_SPECS.items():
        sub = folder / spec_id
        sub.mkdir()
        generator = f"{{generator: {{name: make_ssm_data, n_obs: 400, dim_x: 5, mar: {str(mar).lower()}}}}}"
        files.append(_spec_file(sub, generator, {spec_id: entry}))
    return files


def _run_all(folder: Path, engines: str) -> dict[str, tuple[dict, str]]:
    """Each spec's record and the stderr of the run that made it."""
    out = {}
    for spec_file in _spec_files(folder):
        target = spec_file.parent / "out"
        args = ["run", "--specs", spec_file, "--out", target, "--engines", engines, "--no-cache", "--quiet"]
        proc = subprocess.run(
            [sys.executable, "-m", "harness.cli", *map(str, args)],
            capture_output=True,
            text=True,
            env=env(),
            cwd=ROOT,
            timeout=600,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        # 4: nothing compared (one engine), 0: every verdict earned (harness.verdict.exit_codes)
        assert proc.returncode == (4 if engines == "python" else 0), proc.stderr
        for record in json.loads((target / "results.json").read_text(encoding="utf-8"))["specs"]:
            out[record["id"]] = (record, proc.stderr)
    return out


@pytest.fixture(scope="module")
def python_only(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, str]]:
    return _run_all(tmp_path_factory.mktemp("python"), "python")


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, str]]:
    return _run_all(tmp_path_factory.mktemp("both"), "python,r")


@pytest.mark.parametrize("spec_id", ALL)
def test_each_family_and_score_fits_in_python_from_a_spec_file(python_only: dict, spec_id: str) -> None:
    record, stderr = python_only[spec_id]
    assert record["status"] == "not-run", (record["status"], record.get("error"), stderr)
    assert record["python"]["coef"] == record["python"]["coef"]  # a number, not NaN


@pytest.mark.r
@pytest.mark.parametrize("spec_id", ALL)
def test_each_family_and_score_agrees_from_a_spec_file(both: dict, spec_id: str) -> None:
    record, stderr = both[spec_id]
    failed = [(c["name"], c["value"], c["limit"]) for c in record["checks"] if not c["ok"]]
    assert record["status"] in ("agree", "explained"), (record["status"], record.get("error"), failed, stderr)
    assert record["checks"] and not failed


@pytest.mark.r
def test_normalize_ipw_reaches_both_packages(both: dict) -> None:
    """Agreement alone would not show it: a setting neither package received agrees too."""
    plain, normalized = both["ssm_mar"][0], both["ssm_mar_normalized"][0]
    for engine in ("python", "r"):
        assert abs(normalized[engine]["coef"] - plain[engine]["coef"]) > 1e-4 * abs(plain[engine]["se"]), engine
    assert normalized["python"]["coef"] == pytest.approx(normalized["r"]["coef"], rel=1e-10)


@pytest.mark.r
def test_a_classifier_for_a_binary_outcome_reaches_both_packages(both: dict) -> None:
    """IRM's ml_g as a logit on a 0/1 outcome: each package predicts probabilities (its estimate
    moves from the linear probability model's) and the two agree at the exact tier."""
    classifier, linear = both["irm_yb_classifier"][0], both["irm_yb_linear"][0]
    assert classifier["learner_settings"]["ml_g"]["kind"] == "classifier"
    assert classifier["learner_settings"]["ml_g"]["r"]["learner"] == "classif.log_reg"
    for engine in ("python", "r"):
        assert abs(classifier[engine]["coef"] - linear[engine]["coef"]) > 1e-3 * linear[engine]["se"], engine
    assert classifier["python"]["coef"] == pytest.approx(classifier["r"]["coef"], rel=1e-10)
    assert classifier["tier"] == "exact" and classifier["status"] == "agree"


@pytest.mark.r
def test_fold_params_reach_both_packages(both: dict) -> None:
    """Each repetition's estimate moves from the spec without fold_params in both packages, and the
    two agree to the lasso pair's tolerance: every fold was fitted at its own penalty in each."""
    plain, per_fold = both["plr_lasso"][0], both["plr_lasso_fold_params"][0]
    for engine in ("python", "r"):
        moved = np.abs(np.array(per_fold[engine]["coef_reps"]) - np.array(plain[engine]["coef_reps"]))
        assert (moved > 1e-3 * plain[engine]["se"]).all(), engine
    assert per_fold["python"]["coef_reps"] == pytest.approx(per_fold["r"]["coef_reps"], rel=1e-8)
    assert per_fold["status"] == "explained" and per_fold["tier"] == "exact"  # n_rep 2: the aggregation rule
    # results.json says which setting differs by fold, and holds the values.
    assert per_fold["learners"]["ml_l"] == "lasso(alpha=0.05) [per fold: alpha]"
    assert plain["learners"]["ml_l"] == "lasso(alpha=0.05)"
    assert per_fold["fold_params"]["ml_l"][1][2] == {"alpha": 0.5} and "fold_params" not in plain


@pytest.mark.r
def test_every_instrument_prediction_is_compared(both: dict) -> None:
    """PLIV partialling out X with two instruments: R's prediction of each instrument is compared with
    Python's, and the learner-free fit takes R's. Until 2026-12-06 DoubleML 1.0.2 kept them to itself,
    the learner-free fit used Python's own, and a lasso on two instruments ended ``disagree`` whenever
    the lasso pair differed by more than the learner-free layer's 1e-10 (make_pliv_CHS2015 data)."""
    record = both["pliv_two_z_fold_params"][0]
    compared = {c["name"].split(".")[1] for c in record["checks"] if c["layer"] == "nuisance"}
    assert compared == {"ml_l", "ml_r", "ml_m_z c", "ml_m_z"}, compared
    assert record["status"] == "agree"


@pytest.mark.r
def test_one_instrument_predicted_for_another_in_r_disagrees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: R's two instrument predictions read each under the other's name."""
    from harness.cli import main
    from harness.engines import r_engine

    own = r_engine.users_names

    def swapped(design):
        renamed = own(design)

        def swap(predictions: dict) -> dict:
            out = renamed(predictions)
            return {**out, "ml_m_z c": out["ml_m_z"], "ml_m_z": out["ml_m_z c"]}

        return swap

    folder = tmp_path / "tables"
    folder.mkdir()
    frame = make_tables(seed=2027, n=300)
    frame.assign(**{"z c": frame["zc"]}).to_csv(folder / "tables.csv", index=False)
    spec = _spec_file(folder, "{path: tables.csv}", {"pliv_two_z": TABLE_SPECS["pliv_two_z_fold_params"]})
    monkeypatch.setattr(r_engine, "users_names", swapped)
    monkeypatch.setenv("DMLP_IN_PROCESS", "1")  # the fits in this process, where the mutation is
    assert main(["run", "--specs", str(spec), "--out", str(tmp_path / "out"), "--quiet", "--no-cache"]) == 1
    record = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"][0]
    failed = {c["name"] for c in record["checks"] if not c["ok"]}
    assert record["status"] == "disagree" and {"nuisance.ml_m_z.max_rel_diff", "nuisance.ml_m_z c.max_rel_diff"} <= failed


@pytest.mark.r
def test_use_other_treat_as_covariate_reaches_both_packages(both: dict) -> None:
    """Each treatment's row agrees with the other treatment kept out of its nuisances, and its
    estimate moved in both packages: R and Python both received the setting."""
    for d in ("d", "zc"):
        plain, apart = both[f"plr_two[{d}]"][0], both[f"plr_two_apart[{d}]"][0]
        assert apart["status"] == "agree", (d, apart["status"], [c["name"] for c in apart["checks"] if not c["ok"]])
        for engine in ("python", "r"):
            assert abs(apart[engine]["coef"] - plain[engine]["coef"]) > 0.01 * plain[engine]["se"], (d, engine)
        assert apart["python"]["coef"] == pytest.approx(apart["r"]["coef"], rel=1e-10)


def test_an_ssm_spec_no_package_can_fit_is_refused_in_one_line(tmp_path: Path) -> None:
    """Selection never observed for the treated: the selection logit on (x, d) is separated, so the
    feasibility check refuses it, naming the learner (before, any SSM spec crashed there)."""
    from harness.design.generated import generate

    frame = generate({"name": "make_ssm_data", "n_obs": 400, "dim_x": 5, "mar": True}, 13)
    frame["s"] = frame["s"] * (1 - frame["d"])
    frame.to_csv(tmp_path / "ssm.csv", index=False)
    spec = _spec_file(tmp_path, "{path: ssm.csv}", {"ssm_mar": SSM_SPECS["ssm_mar"][1]})
    args = ["run", "--specs", spec, "--out", tmp_path / "out", "--no-cache", "--quiet"]
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env(), cwd=ROOT
    )
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.splitlines()
    assert "spec 'ssm_mar' field 'learners.ml_pi'" in line and "perfectly separated" in line, line
    assert not (tmp_path / "out").exists()
