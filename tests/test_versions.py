"""`dml-parity versions`: the attribution rule on constructed numbers, the refusals (before anything
is built), and a real run across two doubleml and two DoubleML releases (slow, R)."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.versions.known_changes import old_python_aggregation
from harness.versions.moves import UNEXPLAINED, release_moves

ROOT = Path(__file__).resolve().parents[1]
CHANGE = "doubleml-0.10.0-nrep-aggregation"
COEFS, SES, N = [0.50, 0.53, 0.47, 0.51, 0.55], [0.10, 0.12, 0.09, 0.11, 0.10], 200


def _new_rule(coefs: list[float], ses: list[float]) -> dict:
    """doubleml >= 0.10.0, written out independently of the code under test."""
    median = statistics.median(coefs)
    se = (statistics.median(c + 1.96 * s for c, s in zip(coefs, ses, strict=True)) - median) / 1.96
    return _block(median, se, coefs, ses)


def _block(coef: float, se: float, coefs: list[float], ses: list[float]) -> dict:
    p = math.erfc(abs(coef / se) / math.sqrt(2))
    return {"status": "ok", "coef": coef, "se": se, "p": p, "ci": [0.3, 0.7], "coef_reps": coefs, "se_reps": ses}


def _old_release(se_factor: float = 1.0) -> dict:
    median = statistics.median(COEFS)
    se = math.sqrt(statistics.median(s * s + (c - median) ** 2 / N for c, s in zip(COEFS, SES, strict=True))) * se_factor
    return _block(median, se, COEFS, SES)


def _entry(tier: str = "exact", limit: float = 1e-6) -> dict:
    return {"id": "s", "tier": tier, "tolerance": {"limit": limit, "unit": "relative" if tier == "exact" else "se"}, "scaling": N}


def test_the_old_aggregation_rule_explains_the_0_10_moves() -> None:
    moves = release_moves(_entry(), "python", {"0.9.3": _old_release(), "0.10.1": _new_rule(COEFS, SES)})
    assert {m["what"] for m in moves} == {"se", "p"}  # the coef (median) and the CI (median of CIs) stay
    assert all(m["attributed_to"] == CHANGE for m in moves)
    se = next(m for m in moves if m["what"] == "se")
    assert se["size_se"] > 1e-3 and math.isclose(se["reproduced"], se["before"], rel_tol=1e-12)


def test_a_move_the_old_rule_does_not_reproduce_is_unexplained() -> None:
    moves = release_moves(_entry(), "python", {"0.9.3": _old_release(se_factor=1.01), "0.10.1": _new_rule(COEFS, SES)})
    se = next(m for m in moves if m["what"] == "se")
    assert se["attributed_to"] == UNEXPLAINED
    assert se["tried"][0]["change"] == CHANGE and se["tried"][0]["residual"] > 1e-6


def test_no_known_change_between_releases_leaves_a_move_unexplained() -> None:
    # the same numbers across 0.10.0 in R (no R change is known), and within doubleml 0.9.x
    for engine, older, newer in (("r", "1.0.1", "1.0.2"), ("python", "0.9.2", "0.9.3")):
        moves = release_moves(_entry(), engine, {older: _old_release(), newer: _new_rule(COEFS, SES)})
        assert moves and all(m["attributed_to"] == UNEXPLAINED for m in moves)


def test_a_change_within_the_tier_tolerance_is_no_move() -> None:
    same = _new_rule(COEFS, SES)
    nudged = {**same, "coef": same["coef"] * (1 + 1e-9), "se": same["se"] * (1 + 1e-9)}
    assert release_moves(_entry(), "python", {"0.10.1": same, "0.11.4": nudged}) == []
    assert [m["what"] for m in release_moves(_entry(limit=1e-12), "python", {"0.10.1": same, "0.11.4": nudged})] == ["coef", "se"]


def test_changed_repetitions_are_not_explained_by_an_aggregation_rule() -> None:
    moved = [c * 1.1 for c in COEFS]
    moves = release_moves(_entry(), "python", {"0.9.3": _old_release(), "0.10.1": _new_rule(moved, SES)})
    assert any(m["what"] == "coef" for m in moves)
    assert all(m["attributed_to"] == UNEXPLAINED for m in moves)


def test_the_old_rule_needs_the_repetitions() -> None:
    assert old_python_aggregation({"coef": 1.0, "se": 0.1}, N) is None


# --- refusals: one line, exit 2, nothing built ------------------------------------------------------


def _fake_cran(tmp_path: Path) -> str:
    contrib = tmp_path / "cran" / "src" / "contrib"
    (contrib / "Archive" / "DoubleML").mkdir(parents=True)
    (contrib / "PACKAGES").write_text("Package: DoubleML\nVersion: 1.0.2\n\nPackage: mlr3\nVersion: 1.8.0\n")
    for old in ("0.4.0", "1.0.1"):
        (contrib / "Archive" / "DoubleML" / f"DoubleML_{old}.tar.gz").write_bytes(b"")
    return f"file://{tmp_path / 'cran'}"


def _versions(tmp_path: Path, *flags: str, repo: str = "", cache: str = "") -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMLP_VERSIONS_CACHE": cache or str(tmp_path / "envs")}
    if repo:
        env["DMLP_R_REPO"] = repo
    command = [sys.executable, "-m", "harness.cli", "versions", "--specs", str(ROOT / "specs" / "versions.yaml"), *flags]
    return subprocess.run([*command, "--out", str(tmp_path / "out")], capture_output=True, text=True, env=env, cwd=tmp_path)


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--r-releases", "1.0.9"), "DoubleML 1.0.9 is not a DoubleML release in file://"),
        (("--r-releases", "0.4.0,1.0.2"), "DoubleML 0.4.0 is not supported"),
        (("--py-releases", "0.10.1,0.10"), "doubleml 0.10 is not a doubleml release"),
        (("--py-releases", "0.7.1,0.11.4"), "doubleml 0.7.1 is not supported (its models take dml_procedure"),
        (("--py-releases", "0.10.0"), "doubleml 0.10.0 has no lock"),
        (("--py-releases", "0.11.4,latest"), "'latest' is not a release number"),
    ],
)
def test_a_release_the_tool_cannot_run_is_refused_before_anything_is_built(tmp_path: Path, flags, says) -> None:
    done = _versions(tmp_path, *flags, repo=_fake_cran(tmp_path))
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "envs").exists() and not (tmp_path / "out").exists()


def test_a_repository_that_cannot_be_read_is_named_not_the_release(tmp_path: Path) -> None:
    """Until 2026-12-07 an unreachable repository read as 'DoubleML 1.0.2 is not a DoubleML release
    in ... (it holds: none)': the release was blamed. Here a repository folder that is not there."""
    done = _versions(tmp_path, "--r-releases", "1.0.2", repo=f"file://{tmp_path / 'absent'}")
    lines = done.stderr.strip().splitlines()
    # A setting that points nowhere is bad input (2), named first; until 2026-12-07 it was exit 3.
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"DMLP_R_REPO: cannot read file://{tmp_path / 'absent'}/src/contrib/PACKAGES (" in lines[0], lines[0]
    assert "set DMLP_R_REPO to a CRAN-style repository this machine reaches" in lines[0]
    assert "is not a DoubleML release" not in done.stderr
    assert not (tmp_path / "envs").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("flags", [("--py-releases", ""), ("--r-releases", ""), ("--py-releases", ",")])
def test_an_empty_release_flag_is_refused_as_a_comma_is(tmp_path: Path, flags) -> None:
    """Until 2026-12-07 `--py-releases ''` meant the installed release while `','` was refused:
    leaving the flag out is the one way to ask for the installed release."""
    done = _versions(tmp_path, *flags, repo=_fake_cran(tmp_path))
    assert done.returncode == 2, done.stderr
    flag = flags[0]
    assert done.stderr.strip() == f"dml-parity: error: {flag}: no release given (leave {flag} out for the installed release)"
    assert not (tmp_path / "envs").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("setting", "flags", "says"),
    [
        ("cache-file", ("--py-releases", "0.10.1"), "DMLP_VERSIONS_CACHE: {tmp}/cache is a file; set DMLP_VERSIONS_CACHE to"),
        ("cache-under-file", ("--py-releases", "0.10.1"), "DMLP_VERSIONS_CACHE: {tmp}/cache/envs cannot be a folder"),
        ("repo-path", ("--r-releases", "1.0.2"), "DMLP_R_REPO: '{tmp}/cran' is not a repository URL"),
    ],
    ids=["cache-file", "cache-under-file", "repo-path"],
)
def test_a_setting_that_cannot_be_used_is_named_with_exit_2(tmp_path: Path, setting: str, flags, says: str) -> None:
    """Until 2026-12-07 these ended in exit 3 ("the tool failed": FileExistsError, ValueError)."""
    (tmp_path / "cache").write_text("")
    cache = {"cache-file": "cache", "cache-under-file": "cache/envs"}.get(setting, "envs")
    repo = _fake_cran(tmp_path).removeprefix("file://") if setting == "repo-path" else ""
    done = _versions(tmp_path, *flags, repo=repo, cache=str(tmp_path / cache))
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"dml-parity: error: {says.format(tmp=tmp_path)}"), lines[0]
    if setting == "repo-path":
        assert f"a local repository is file://{tmp_path}/cran" in lines[0]
    assert (tmp_path / "cache").is_file() and not (tmp_path / "envs").exists() and not (tmp_path / "out").exists()


# --- a real run ----------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.r
def test_two_releases_each_and_the_aggregation_change_explained(tmp_path: Path) -> None:
    """Releases 0.9.3 and 0.10.1 of doubleml, 1.0.1 and 1.0.2 of DoubleML, on the n_rep > 1 IRM spec.
    The environments are cached (built on first use, minutes); the second run builds nothing."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if "DMLP_R_REPO" not in env and (ROOT.parent / "shared" / "cran").is_dir():  # the offline mirror .ci/run uses
        env["DMLP_R_REPO"] = f"file://{ROOT.parent / 'shared' / 'cran'}"
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harness.cli", "versions", "--specs", str(ROOT / "specs" / "versions.yaml")]
    command += ["--only", "rob_irm_logit_rep3", "--py-releases", "0.9.3,0.10.1", "--r-releases", "1.0.1,1.0.2", "--out", str(out)]
    first = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    result = json.loads((out / "versions.json").read_text())
    moves = result["moves"]
    assert {(m["engine"], m["what"]) for m in moves} == {("python", "se"), ("python", "p")}
    assert all(m["attributed_to"] == CHANGE and (m["from"], m["to"]) == ("0.9.3", "0.10.1") for m in moves)
    assert [r["versions"]["doubleml"] for r in result["releases"]["python"]] == ["0.9.3", "0.10.1"]
    assert [r["versions"]["DoubleML"] for r in result["releases"]["r"]] == ["1.0.1", "1.0.2"]
    spec = result["specs"][0]
    # every release fitted the same folds: the repetitions agree across releases and engines
    reps = [spec[e][r]["coef_reps"] for e in ("python", "r") for r in spec[e]]
    assert all(max(abs(a - b) for a, b in zip(rep, reps[0], strict=True)) < 1e-9 for rep in reps)
    assert result["first_moved"]["rob_irm_logit_rep3"]["python"] == {"se": "0.10.1", "p": "0.10.1"}
    assert (out / "report.html").read_text().count("<img") == 1 and (out / "versions-1.png").stat().st_size > 1000
    start = time.perf_counter()
    second = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert second.returncode == 0 and "building" not in second.stderr, second.stderr
    assert json.loads((out / "versions.json").read_text())["timings"]["environments_ready_s"] < 5
    assert time.perf_counter() - start < 120


# --- the cache: a half-built environment is built again, a complete one is used ----------------------


def test_an_environment_is_used_only_when_its_marker_matches(tmp_path: Path) -> None:
    from harness.versions.environments import MARKER, _cached

    built: list[Path] = []

    def build(path: Path) -> None:
        path.mkdir()
        (path / "bin").mkdir()
        built.append(path)

    target = tmp_path / "py-doubleml-0.10.1"
    target.mkdir()
    (target / "half-installed").write_text("")  # a build killed before its marker
    first = _cached(target, "lock-a", build, lambda _: None)
    assert first.built_now and not (target / "half-installed").exists() and (target / MARKER).exists()
    assert not _cached(target, "lock-a", build, lambda _: None).built_now and len(built) == 1
    assert _cached(target, "lock-b", build, lambda _: None).built_now  # another lock: built again

    def failing(path: Path) -> None:
        path.mkdir()
        raise RuntimeError("pip failed")

    with pytest.raises(RuntimeError):
        _cached(tmp_path / "py-doubleml-0.9.3", "lock-a", failing, lambda _: None)
    assert not (tmp_path / "py-doubleml-0.9.3").exists()  # nothing half-built is left to be used


def test_a_versions_folder_may_be_replaced_by_the_next_run_and_a_foreign_file_is_refused(tmp_path: Path) -> None:
    from harness.output.outdir import OutputError, check_output

    out = tmp_path / "out"
    out.mkdir()
    (out / "versions.json").write_text(json.dumps({"schema": "dml-parity/versions/1", "output_files": ["report.md"]}))
    (out / "report.md").write_text("")
    check_output(out)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="notes.txt"):
        check_output(out)


def _says_nothing_compared(done: subprocess.CompletedProcess, out: Path, pair: str) -> None:
    """Exit 4 as `run` and `check` end when nothing was compared: said on the terminal and in the
    report, which fits the estimates but claims no "nothing moved"."""
    assert done.returncode == 4, done.stderr
    assert done.stdout.startswith("nothing compared, 0 failed fit(s) -> "), done.stdout
    reason = f"nothing compared: one release of each package ({pair}), so no release had a neighbour to compare with; add one"
    assert reason in done.stderr and "note: one release of each package" in done.stderr, done.stderr
    result = json.loads((out / "versions.json").read_text())
    assert result["nothing_compared"].startswith(reason.removeprefix("nothing compared: ")) and result["moves"] == []
    for report in ("report.md", "report.html"):
        text = (out / report).read_text()
        assert "Nothing moved" not in text and "Nothing compared: one release of each package" in text, report
    assert all(spec["python"] and spec["r"] for spec in result["specs"] if "skipped" not in spec)  # fitted all the same


@pytest.mark.slow
@pytest.mark.r
def test_one_release_of_each_package_compares_nothing(tmp_path: Path) -> None:
    """The outside user's run (2026-12-07): one release each, so no neighbours. It said "0 move(s)",
    "Nothing moved between neighbouring releases" and exit 0. The environments are the slow test's
    above (the default cache)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if "DMLP_R_REPO" not in env and (ROOT.parent / "shared" / "cran").is_dir():
        env["DMLP_R_REPO"] = f"file://{ROOT.parent / 'shared' / 'cran'}"
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harness.cli", "versions", "--specs", str(ROOT / "specs" / "versions.yaml")]
    command += ["--only", "rob_irm_logit_rep3", "--py-releases", "0.10.1", "--r-releases", "1.0.1", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path)
    _says_nothing_compared(done, out, "doubleml 0.10.1, DoubleML 1.0.1")
    assert "e.g. --py-releases 0.10.1,0.11.4 (the installed doubleml)" in done.stderr


@pytest.mark.r
def test_without_release_flags_the_installed_packages_are_the_releases(tmp_path: Path) -> None:
    """No environment is built: the tool's own doubleml and DoubleML, named by their versions. One
    release of each package: fitted and reported, nothing compared (exit 4)."""
    from importlib.metadata import version

    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMLP_VERSIONS_CACHE": str(tmp_path / "envs")}
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harness.cli", "versions", "--specs", str(ROOT / "specs" / "versions.yaml")]
    done = subprocess.run(
        [*command, "--only", "baseline_fe_lasso_rep5", "--out", str(out)], capture_output=True, text=True, env=env
    )
    result = json.loads((out / "versions.json").read_text())
    r_release = result["releases"]["r"][0]["release"]
    _says_nothing_compared(done, out, f"doubleml {version('doubleml')}, DoubleML {r_release}")
    assert [r["release"] for r in result["releases"]["python"]] == [version("doubleml")]
    assert result["releases"]["python"][0]["environment"] == {"path": None, "built_now": False}
    spec = result["specs"][0]
    (py,), (r,) = spec["python"].values(), spec["r"].values()
    assert py["status"] == r["status"] == "ok" and len(py["coef_reps"]) == 5
    assert abs(py["coef"] - r["coef"]) <= 1e-6 * abs(r["coef"])  # the exact tier's tolerance
    assert not (tmp_path / "envs").exists() and result["moves"] == []


def _r_fitting(tmpdir: Path) -> bool:
    """Whether this run's R worker is fitting: its process (its job lies under ``tmpdir``) has
    glmnet's library mapped, which R loads at the lasso's first fit (Linux's /proc)."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"harness.versions.r_worker" in cmdline and str(tmpdir).encode() in cmdline:
                return "glmnet" in (proc / "maps").read_text()
        except OSError:  # not a process, or one that ended
            continue
    return False


@pytest.mark.r
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_nothing_in_tmpdir(tmp_path: Path, sig: int, code: int) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) or a CI cancel (SIGTERM to the
    group) while R fits: until 2026-12-07 R's session folder (Rtmp*) stayed in $TMPDIR every time.
    The signal goes once R is inside the lasso's fits (some 3 s of glmnet on 2 cores), where R
    neither answers SIGINT before the run kills it nor handles SIGTERM."""
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMLP_VERSIONS_CACHE": str(tmp_path / "envs"), "TMPDIR": str(tmpdir)}
    command = [sys.executable, "-m", "harness.cli", "versions", "--specs", str(ROOT / "specs" / "versions.yaml")]
    command += ["--only", "baseline_fe_lasso_rep5", "--out", str(tmp_path / "out")]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    process = subprocess.Popen(command, env=env, start_new_session=True, **pipes)
    try:
        deadline = time.monotonic() + 180
        while not _r_fitting(tmpdir) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.poll() is None and any(tmpdir.rglob("Rtmp*")), "R was not fitting"
        os.killpg(process.pid, sig)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == code, stderr
    assert "Traceback" not in stderr and not (tmp_path / "out").exists()
    assert "built environments are kept, no report written" in stderr  # not run's "specs kept in the cache"
    time.sleep(1)  # a process of the group still ending would write now
    assert sorted(p.name for p in tmpdir.rglob("*")) == []


def test_a_spec_with_per_fold_parameters_is_not_fitted_as_a_plain_one(tmp_path: Path, generated_csv: Path) -> None:
    """A release's job gives each learner one setting: a spec with fold_params (or a tune block)
    would have been fitted there without them, under its own name. It is named and left out; with
    nothing else to fit, the run is refused before anything is built (exit 2)."""
    spec = tmp_path / "s.yaml"
    spec.write_text(
        f"dataset: {{path: {generated_csv}}}\n"
        "defaults: {n_folds: 2, seed: 1}\n"
        "specs:\n"
        "  - {id: per_fold, model: plr, y: y, d: d, x: [x1, x2], learner: lasso,"
        " fold_params: {ml_l: [[{alpha: 0.1}, {alpha: 0.2}]]}}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMLP_VERSIONS_CACHE": str(tmp_path / "envs")}
    command = [sys.executable, "-m", "harness.cli", "versions", "--specs", str(spec), "--out", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 2, done.stderr
    why = "per_fold: tune or fold_params: versions fits each learner with one setting"
    assert f"no spec can be fitted across releases ({why})" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "envs").exists()
