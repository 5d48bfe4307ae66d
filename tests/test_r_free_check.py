"""`dml-parity check --baseline FILE --engines python`: without R, Python now is compared with
Python as stored and judged against R as stored (the same tiers), and the output says so in one
line. The baseline is examples/ci's, saved from a run with both engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness.cli import main
from harness.regression.baseline import content_sha256, load_baseline

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ci"
LINE = "R not run: compared with DoubleML 1.0.2 results stored on "


def _copy(tmp_path: Path, change=None, schema_2: bool = False) -> Path:
    """The example's baseline beside the test, its paths made absolute; ``change`` edits it and the
    digest is computed again (a test edits it on purpose; an unsigned edit is refused)."""
    data = json.loads((EXAMPLE / "estimates.baseline.json").read_text(encoding="utf-8"))
    data["spec_file"] = str(EXAMPLE / data["spec_file"])
    data["data"]["path"] = str((EXAMPLE / data["data"]["path"]).resolve())
    if change is not None:
        change(data)
    if schema_2:
        for key in ("sha256", "created"):
            data.pop(key)
        for entry in data["estimates"].values():
            entry.pop("learner_free")
        data["schema"] = "dml-parity/baseline/2"
    else:
        data["sha256"] = content_sha256(data)
    path = tmp_path / "b.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _check(capsys, baseline: Path, out: Path, *only: str) -> tuple[int, str]:
    capsys.readouterr()
    args = ["check", "--baseline", str(baseline), "--engines", "python", "--out", str(out), "--quiet"]
    code = main(args + (["--only", ",".join(only)] if only else []))
    return code, capsys.readouterr().out


def _rows(printed: str) -> dict[str, list[str]]:
    section = printed.split("## Python now against R as stored")[1]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("| effect")]
    return {row[0]: row for row in cells}


def test_python_now_agrees_with_both_as_stored_and_says_r_was_not_run(tmp_path: Path, capsys) -> None:
    code, printed = _check(capsys, _copy(tmp_path), tmp_path / "c", "effect_ols", "effect_ols_2reps")
    assert code == 0, printed
    assert printed.startswith(LINE)
    rows = _rows(printed)
    assert rows["effect_ols"][1:4] == ["exact", "agree", "agree"] and int(rows["effect_ols"][4]) > 10
    assert rows["effect_ols_2reps"][2] == "explained"  # n_rep 2: each package's own aggregation rule
    assert "no drift: 2 estimate row(s) within their tier's tolerance (python)" in printed
    summary = json.loads((tmp_path / "c" / "check.json").read_text(encoding="utf-8"))
    assert summary["stored_r"]["rows"]["effect_ols"]["status"] == "agree"
    assert summary["stored_r"]["line"].startswith(LINE)


def _move(data: dict, engine: str) -> None:
    """One engine's stored estimate moved by 1e-6 of itself, its interval with it and its p-value
    left to be computed again, so its own numbers stay consistent (the rule checks hold)."""
    numbers = data["estimates"]["effect_ols"][engine]
    shift = 1e-6 * numbers["coef"]
    numbers["coef"] += shift
    numbers["coef_reps"] = [v + shift for v in numbers["coef_reps"]]
    numbers["ci"] = [v + shift for v in numbers["ci"]]
    numbers.pop("p", None)


def test_stored_r_that_python_now_does_not_reproduce_is_a_disagree(tmp_path: Path, capsys) -> None:
    """Stored Python and R agreed (both moved alike here); Python now disagrees with that R."""
    code, printed = _check(capsys, _copy(tmp_path, lambda d: (_move(d, "r"), _move(d, "python"))), tmp_path / "c", "effect_ols")
    assert code == 1, printed
    row = _rows(printed)["effect_ols"]
    assert row[2:4] == ["disagree", "agree"] and "end_to_end.coef" in row[5], row


def test_a_baseline_that_disagreed_when_saved_is_no_new_finding(tmp_path: Path, capsys) -> None:
    """A baseline saved from a run whose Python and R disagreed (stored R moved here): Python now,
    unmoved, disagrees with R as stored as the baseline did. With R run the check compares numbers
    and passes; until 2026-12-07 without R it failed, and the advice (regenerate) could not mend it."""
    code, printed = _check(capsys, _copy(tmp_path, lambda d: _move(d, "r")), tmp_path / "c", "effect_ols")
    assert code == 0, printed
    row = _rows(printed)["effect_ols"]
    assert row[2:4] == ["disagree", "disagree"], row
    assert "no drift: 1 estimate row(s)" in printed


def test_a_baseline_2_file_compares_python_and_says_what_it_cannot_judge(tmp_path: Path, capsys) -> None:
    code, printed = _check(capsys, _copy(tmp_path, schema_2=True), tmp_path / "c", "effect_ols")
    assert code == 0, printed
    assert printed.startswith("R not run: compared with DoubleML 1.0.2 results stored on an unrecorded date")
    assert _rows(printed)["effect_ols"][2] == "not judged" and "re-save it" in printed


def test_a_check_that_compared_nothing_exits_4(tmp_path: Path, capsys) -> None:
    def python_gone(data: dict) -> None:
        data["engines"] = ["r"]
        for entry in data["estimates"].values():
            entry["python"] = None
            entry["learner_free"] = None

    code, printed = _check(capsys, _copy(tmp_path, python_gone), tmp_path / "c", "effect_ols")
    assert code == 4, printed
    assert "check: nothing compared (exit 4)" in printed


def test_the_shipped_example_baseline_is_signed() -> None:
    data = json.loads((EXAMPLE / "estimates.baseline.json").read_text(encoding="utf-8"))
    assert data["sha256"] == content_sha256(data) and data["engines"] == ["python", "r"]
    assert all(entry["learner_free"] for entry in data["estimates"].values())


def test_the_seed_suite_s_baseline_is_signed_and_keeps_what_the_r_free_check_reads() -> None:
    path = Path(__file__).resolve().parents[1] / "specs" / "paper_baseline.json"
    baseline = load_baseline(path)  # refused if its content and its sha256 differ
    assert baseline["schema"] == "dml-parity/baseline/3" and len(baseline["estimates"]) == 34
    assert all(entry["learner_free"] and entry["r"] for entry in baseline["estimates"].values())


def test_without_r_a_check_of_both_engines_says_how_to_check_without_it(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no R on PATH, no R_HOME
    env.pop("R_HOME", None)
    baseline = _copy(tmp_path)
    args = [sys.executable, "-m", "harness.cli", "check", "--baseline", str(baseline), "--out", str(tmp_path / "c"), "--quiet"]
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stdout + done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("dml-parity: error: rpy2 or R is not usable")
    hint = f"without R: dml-parity check --baseline {baseline} --engines python compares Python now with Python and R as stored"
    assert line.endswith(hint)


def test_a_baseline_without_r_says_that_no_parity_was_judged(tmp_path: Path, capsys) -> None:
    """Saved from a run of Python alone (``--engines python``, exit 4), a baseline holds no R numbers,
    so a check of it is Python's regression only. Until 2026-12-07 the check said "nothing moved"
    (exit 0) with no word of that, and the save gave no note (an outside team's CI went green)."""
    data = tmp_path / "d.csv"
    data.write_text("y,d,x\n" + "\n".join(f"{i % 7 + 0.5 * i},{i % 3},{(i * 13) % 11}" for i in range(60)), encoding="utf-8")
    spec = tmp_path / "s.yaml"
    spec.write_text("dataset: {path: d.csv}\nspecs:\n  - {id: a, model: plr, y: y, d: d, x: [x], learner: ols}\n", "utf-8")
    assert main(["run", "--specs", str(spec), "--engines", "python", "--out", str(tmp_path / "run"), "--quiet"]) == 4
    capsys.readouterr()
    assert main(["baseline", "save", str(tmp_path / "run"), "--to", str(tmp_path / "b.json")]) == 0
    assert "the baseline holds no R numbers, so a check of it judges no parity" in capsys.readouterr().err
    code, printed = _check(capsys, tmp_path / "b.json", tmp_path / "c")
    assert code == 0, printed  # Python's numbers did not move: as a regression check, it passes
    assert printed.startswith("R not in the baseline: it holds Python's numbers only, so this check judged no parity")
    assert json.loads((tmp_path / "c" / "check.json").read_text(encoding="utf-8"))["r_in_baseline"] is False
