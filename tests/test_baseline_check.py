"""`dml-parity check --baseline` the way a user runs it: save a baseline from a run, change a spec
field or the data, and read what changed beside what moved, every figure with its unit."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.regression.baseline import content_sha256, quantity_change

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 11}
specs:
  - {id: ols_twin, model: plr, y: y, d: d, x: [x1, x2, x3, skew], learner: ols}
  - {id: ols_stat, model: plr, y: y, d: d, x: [x1, x2], learner: ols, tier: statistical, coef_tolerance_se: 0.05}
"""


def _write_specs(folder: Path, data: Path, text: str = SPECS) -> Path:
    path = folder / "s.yaml"
    path.write_text(text.replace("DATA", str(data)), encoding="utf-8")
    return path


def _run(spec_path: Path, out: Path, *extra: str) -> None:
    # 0, or 4 where a Python-only run counts as "nothing compared" (EXIT_CODES.md).
    args = ["run", "--specs", str(spec_path), "--engines", "python", "--out", str(out), "--quiet", *extra]
    assert main(args) in (0, 4)


@pytest.fixture()
def saved(tmp_path: Path, generated_csv: Path) -> tuple[Path, Path, Path]:
    """(spec file, run folder, baseline) of a Python-only run."""
    spec_path = _write_specs(tmp_path, generated_csv)
    run, baseline = tmp_path / "run", tmp_path / "baseline.json"
    _run(spec_path, run)
    assert main(["baseline", "save", str(run), "--to", str(baseline)]) == 0
    return spec_path, run, baseline


def _sign(path: Path, data: dict) -> None:
    """Write an edited baseline with its digest re-computed: the test edits it on purpose, to test
    what the check does with such numbers (an edit without re-signing is refused, tested below)."""
    path.write_text(json.dumps({**data, "sha256": content_sha256(data)}), encoding="utf-8")


def _check(capsys, baseline: Path, *extra: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["check", "--baseline", str(baseline), "--engines", "python", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_baseline_records_digests_versions_and_the_real_tolerances(saved) -> None:
    _, _, baseline = saved
    data = json.loads(baseline.read_text(encoding="utf-8"))
    assert data["schema"] == "dml-parity/baseline/3"
    assert data["sha256"] == content_sha256(data) and data["created"].endswith("Z")
    assert data["specs"]["ols_twin"]["fields"]["seed"] == 11 and len(data["specs"]["ols_twin"]["sha256"]) == 64
    assert data["data"]["path"].endswith("generated.csv")
    assert data["data"]["override"] is False and len(data["data"]["sha256"]) == 64
    assert data["estimates"]["ols_twin"]["tolerance"] == {"limit": 1e-10, "unit": "relative"}
    # Statistical tier: the spec's coef_tolerance_se, not the 0.0 results record for it.
    assert data["estimates"]["ols_stat"]["tolerance"] == {"limit": 0.05, "unit": "se"}
    python = data["estimates"]["ols_twin"]["python"]
    assert set(python) == {"coef", "se", "p", "ci", "coef_reps", "se_reps"}
    assert len(data["estimates"]["ols_twin"]["rows_folds_sha256"]) == 64
    assert data["versions"]["python"]["doubleml"]


def test_unchanged_inputs_check_clean_with_progress_and_a_report(saved, tmp_path: Path, capsys) -> None:
    _, _, baseline = saved
    out = tmp_path / "check"
    code, printed, err = _check(capsys, baseline, "--out", str(out))
    assert code == 0, printed
    assert "data: the same as the baseline's" in printed and "spec fields: the same as the baseline's" in printed
    assert "no drift: 2 estimate row(s)" in printed and "check: nothing moved (exit 0)" in printed
    assert "from the cache" in err or "fitting" in err  # the run's progress, as `run` shows it
    # This baseline was saved from a run of Python alone: its check says first that it judged no parity.
    check_md = (out / "check.md").read_text(encoding="utf-8")
    assert check_md.startswith("R not in the baseline:") and "\n## What changed since the baseline\n" in check_md
    summary = json.loads((out / "check.json").read_text(encoding="utf-8"))
    assert summary["exit_code"] == 0 and summary["moved"] == [] and summary["engines_compared"] == ["python"]
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert {"check.md", "check.json", "report.html"} <= set(results["output_files"])
    # The same folder may be written again (it is one this tool wrote).
    assert _check(capsys, baseline, "--out", str(out), "--quiet")[0] == 0


def test_a_check_whose_folder_cannot_be_written_prints_no_verdict_of_its_own(
    saved, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until 2026-12-06 the check printed "check: nothing moved (exit 0)" and then failed to write
    its folder, exit 2: two exit codes on one screen. Now the folder is written first."""
    from harness.output import outdir

    _, _, baseline = saved

    def cannot(out, write):
        raise outdir.OutputError(f"--out {out}: cannot write the results (operation not permitted)")

    monkeypatch.setattr(outdir, "replace_folder", cannot)
    code, printed, err = _check(capsys, baseline, "--out", str(tmp_path / "check"), "--quiet")
    assert code == 2 and "cannot write the results (operation not permitted)" in err
    assert "(exit 0)" not in printed and "no drift" not in printed, printed


def test_a_changed_seed_is_named_beside_what_moved_with_units(saved, generated_csv: Path, capsys) -> None:
    spec_path, _, baseline = saved
    spec_path.write_text(SPECS.replace("DATA", str(generated_csv)).replace("seed: 11", "seed: 12"), encoding="utf-8")
    out = spec_path.parent / "check"
    code, printed, _ = _check(capsys, baseline, "--out", str(out), "--quiet")
    assert code == 1
    field_rows = [cells for cells in map(_cells, printed.splitlines()) if cells[1:2] == ["seed"]]
    assert field_rows == [["ols_stat", "seed", "11", "12"], ["ols_twin", "seed", "11", "12"]]
    assert "rows and folds: differ for ols_stat, ols_twin" in printed
    moved = {(cells[0], cells[2]): cells for cells in map(_cells, printed.splitlines()) if len(cells) == 8}
    twin = moved[("ols_twin", "coef")]
    assert twin[5].endswith(" relative") and twin[6] == "1e-10 relative" and twin[7] == "seed; rows/folds"
    for (spec, number), cells in moved.items():
        unit = "relative" if spec == "ols_twin" else "se"
        if number != "p":
            assert cells[5].endswith(unit) and cells[6].endswith(unit), cells
    summary = json.loads((out / "check.json").read_text(encoding="utf-8"))
    assert summary["changes"]["specs"]["ols_twin"]["fields"] == [{"field": "seed", "baseline": 11, "now": 12, "finding": True}]
    assert {m["unit"] for m in summary["moved"] if m["id"] == "ols_stat" and m["what"] != "p"} == {"se"}


def _cells(line: str) -> list[str]:
    """A body row of a printed table (not its header or rule)."""
    if not line.startswith("|") or line.startswith("|-") or line.startswith("| spec "):
        return []
    return [c.strip() for c in line.split("|")[1:-1]]


def test_a_title_change_is_shown_but_is_no_finding(saved, generated_csv: Path, capsys) -> None:
    spec_path, _, baseline = saved
    text = SPECS.replace("learner: ols}", "learner: ols, title: Renamed}", 1)
    spec_path.write_text(text.replace("DATA", str(generated_csv)), encoding="utf-8")
    code, printed, _ = _check(capsys, baseline, "--quiet")
    assert code == 0, printed
    assert "title (descriptive)" in printed


def test_a_setting_written_otherwise_is_no_change_but_another_setting_is(saved, generated_csv: Path, capsys) -> None:
    """``learner: {name: ols}`` is ``learner: ols``, and a default spelt out is the default. Until
    2026-12-07 both were changed fields and exit 1 (an outside team's check)."""
    spec_path, _, baseline = saved
    text = SPECS.replace("learner: ols}", "learner: {name: ols}}", 1).replace("seed: 11}", "seed: 11, score: partialling out}")
    spec_path.write_text(text.replace("DATA", str(generated_csv)), encoding="utf-8")
    code, printed, _ = _check(capsys, baseline, "--quiet")
    assert code == 0, printed
    assert "spec fields: the same as the baseline's" in printed
    spec_path.write_text(text.replace("DATA", str(generated_csv)).replace("partialling out", "IV-type"), encoding="utf-8")
    code, printed, _ = _check(capsys, baseline, "--quiet")
    assert code == 1 and "score" in printed.split("## What moved")[0], printed


def test_a_baseline_of_some_specs_is_checked_on_those(tmp_path: Path, generated_csv: Path, capsys) -> None:
    """Saved from a run with --only, a baseline holds those specs, and its check fits those. Until
    2026-12-07 the check fitted every spec and failed on the others as new (exit 1 with the spec
    file unchanged), unless the user knew to give --only again."""
    spec_path = _write_specs(tmp_path, generated_csv)
    _run(spec_path, tmp_path / "run", "--only", "ols_twin")
    assert main(["baseline", "save", str(tmp_path / "run"), "--to", str(tmp_path / "b.json")]) == 0
    code, printed, _ = _check(capsys, tmp_path / "b.json", "--quiet", "--out", str(tmp_path / "c1"))
    assert code == 0, printed
    assert "specs: the baseline's run chose ols_twin (--only); checked those" in printed
    assert "no drift: 1 estimate row(s)" in printed
    both = ("--only", "ols_twin,ols_stat", "--out", str(tmp_path / "c2"))
    code, printed, _ = _check(capsys, tmp_path / "b.json", "--quiet", *both)
    assert code == 1 and "| ols_stat | (new: not in the baseline)" in printed, printed  # asked for: still said


def test_other_data_is_a_finding_and_the_baseline_s_data_is_the_default(saved, tmp_path: Path, generated_csv, capsys) -> None:
    spec_path, _, baseline = saved
    other = tmp_path / "other.csv"
    frame = pd.read_csv(generated_csv)
    frame.iloc[: len(frame) // 2].to_csv(other, index=False)
    code, printed, _ = _check(capsys, baseline, "--data", str(other), "--quiet", "--out", str(tmp_path / "c"))
    assert code == 1
    assert "data: DIFFER from the baseline's:" in printed and "other.csv" in printed
    assert {cells[7] for cells in map(_cells, printed.splitlines()) if len(cells) == 8} == {"data; rows/folds"}

    # A baseline saved from a run on --data: its re-run reads that file again, not the spec file's.
    _run(spec_path, tmp_path / "run_other", "--data", str(other))
    assert main(["baseline", "save", str(tmp_path / "run_other"), "--to", str(tmp_path / "b_other.json")]) == 0
    assert json.loads((tmp_path / "b_other.json").read_text(encoding="utf-8"))["data"]["override"] is True
    code, printed, _ = _check(capsys, tmp_path / "b_other.json", "--quiet", "--out", str(tmp_path / "c2"))
    assert code == 0, printed


def test_a_baseline_se_of_zero_does_not_divide(saved, capsys) -> None:
    _, run, baseline = saved
    data = json.loads(baseline.read_text(encoding="utf-8"))
    data["estimates"]["ols_stat"]["python"].update(se=0.0, se_reps=[0.0])
    _sign(baseline, data)
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 1
    printed = capsys.readouterr().out
    rows = {cells[2]: cells for cells in map(_cells, printed.splitlines()) if len(cells) == 8 and cells[0] == "ols_stat"}
    # se 0 -> 0.04: one se of the run's (the larger se), not a division by 0.
    assert rows["se"][5] == "1 se" and rows["se"][6] == "0.05 se"


def test_quantity_change_units() -> None:
    assert quantity_change("coef", 1.0, 1.1, 0.5, 0.5, "statistical") == pytest.approx((0.2, "se"))
    change, unit = quantity_change("coef", 0.0, 1e-12, 0.1, 0.1, "exact")
    assert unit == "relative" and change == pytest.approx(1e-11)  # scaled by the se, not by |coef| near 0
    assert quantity_change("coef", 1.0, 2.0, 0.0, 0.0, "statistical") == (0.5, "relative")
    assert quantity_change("se", 0.0, 0.0, 0.0, 0.0, "statistical") == (0.0, "absolute")
    assert quantity_change("p", 0.01, 0.04, 0.1, 0.1, "statistical") == pytest.approx((0.03, "absolute"))
    assert quantity_change("coef", math.nan, 1.0, 0.1, 0.1, "exact") == (math.inf, "absolute")


def test_only_jobs_and_no_cache_are_accepted(saved, tmp_path: Path, capsys) -> None:
    _, _, baseline = saved
    code, printed, err = _check(capsys, baseline, "--only", "ols_twin", "--jobs", "2", "--no-cache", "--out", str(tmp_path / "c"))
    assert code == 0, printed + err
    assert "no drift: 1 estimate row(s)" in printed
    assert "fitting ols_twin" in err and "ols_stat" not in err
    results = json.loads((tmp_path / "c" / "results.json").read_text(encoding="utf-8"))
    assert [s["id"] for s in results["specs"]] == ["ols_twin"]


@pytest.mark.parametrize(
    ("extra", "named"),
    [(["--data", "x.csv"], "--data"), (["--jobs", "2"], "--jobs"), (["--no-cache"], "--no-cache"), (["--out", "o"], "--out")],
)
def test_re_run_options_with_run_are_refused(saved, capsys, extra: list[str], named: str) -> None:
    _, run, baseline = saved
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"dml-parity: error: {named}: applies to a re-run") and err.count("\n") == 1


def test_an_old_baseline_is_refused_with_how_to_re_save_it(tmp_path: Path, capsys) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"schema": "dml-parity/baseline/1", "estimates": {}}), encoding="utf-8")
    capsys.readouterr()
    assert main(["check", "--baseline", str(old), "--run", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "older format" in err and f"dml-parity baseline save RUN_DIR --to {old}" in err and err.count("\n") == 1


@pytest.mark.parametrize("edit", ["number", "reformatted"])
def test_a_hand_edited_baseline_is_refused_naming_the_file(saved, capsys, edit: str) -> None:
    _, run, baseline = saved
    data = json.loads(baseline.read_text(encoding="utf-8"))
    if edit == "number":
        data["estimates"]["ols_twin"]["python"]["coef"] += 1e-9
        baseline.write_text(json.dumps(data, indent=2), encoding="utf-8")
    else:  # the same content laid out otherwise is no edit: the digest is of the content
        baseline.write_text(json.dumps(data), encoding="utf-8")
    capsys.readouterr()
    code = main(["check", "--baseline", str(baseline), "--run", str(run)])
    err = capsys.readouterr().err
    if edit == "reformatted":
        assert code == 0, err
        return
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"dml-parity: error: {baseline}: its content does not match its sha256")


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        ("a coefficient as text", r"estimates\.ols_twin\.python\.coef"),
        ("no specs", "specs"),
        ("an unknown tier", r"estimates\.ols_twin\.tier"),
        ("an engine block that is a list", r"estimates\.ols_twin\.r"),
        # Until 2026-12-07 a coef taken out was never compared, and the check passed (an outside team).
        ("a coefficient taken out", r"estimates\.ols_twin\.python"),
    ],
)
def test_a_baseline_signed_again_after_an_edit_is_refused_by_field(saved, capsys, edit: str, field: str) -> None:
    """Edited and signed again (by hand, or by another tool): until 2026-12-06 such a file ended in
    'the tool failed: TypeError' (exit 3) or KeyError, naming nothing."""
    _, run, baseline = saved
    data = {k: v for k, v in json.loads(baseline.read_text(encoding="utf-8")).items() if k != "sha256"}
    if edit == "a coefficient as text":
        data["estimates"]["ols_twin"]["python"]["coef"] = "0.5"
    elif edit == "no specs":
        del data["specs"]
    elif edit == "an unknown tier":
        data["estimates"]["ols_twin"]["tier"] = "loose"
    elif edit == "a coefficient taken out":
        del data["estimates"]["ols_twin"]["python"]["coef"]
    else:
        data["estimates"]["ols_twin"]["r"] = [1.0]
    _sign(baseline, data)
    capsys.readouterr()
    code = main(["check", "--baseline", str(baseline), "--run", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert re.match(rf"dml-parity: error: {re.escape(str(baseline))}: field '{field}': ", err), err


def test_a_baseline_that_is_not_text_is_one_line(saved, capsys) -> None:
    """Until 2026-12-07: "the tool failed: UnicodeDecodeError" (exit 3), naming no file."""
    _, run, baseline = saved
    baseline.write_bytes(b"\xff\xfe\x00binary")
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 2
    assert capsys.readouterr().err == f"dml-parity: error: {baseline}: cannot read baseline: not UTF-8 text (byte 0)\n"


@pytest.mark.parametrize(("cut", "said"), [(3000, "cut short"), (0, "empty")])
def test_a_truncated_baseline_says_so_and_what_to_do(saved, capsys, cut: int, said: str) -> None:
    """Until 2026-12-07 (an outside user): "cannot read baseline (JSONDecodeError)", no advice."""
    _, run, baseline = saved
    baseline.write_bytes(baseline.read_bytes()[:cut])
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"dml-parity: error: {baseline}: cannot read baseline: the file is {said} (line "), err
    assert err.endswith("; restore it (from version control), or save it again (dml-parity baseline save RUN --to FILE)\n")


def test_a_baseline_2_file_is_still_read(saved, capsys) -> None:
    _, run, baseline = saved
    data = json.loads(baseline.read_text(encoding="utf-8"))
    for key in ("sha256", "created"):
        data.pop(key)
    for entry in data["estimates"].values():
        entry.pop("learner_free")
    baseline.write_text(json.dumps({**data, "schema": "dml-parity/baseline/2"}), encoding="utf-8")
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 0
    assert "no drift: 2 estimate row(s)" in capsys.readouterr().out


def test_no_engine_in_common_is_nothing_compared(saved, capsys) -> None:
    _, run, baseline = saved
    data = json.loads(baseline.read_text(encoding="utf-8"))
    data["engines"] = ["r"]
    _sign(baseline, data)
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 4
    assert "not compared: r (in the baseline, not fitted now)" in capsys.readouterr().out


@pytest.mark.r
def test_both_engines_check_clean(tmp_path: Path, generated_csv: Path, capsys) -> None:
    spec_path = _write_specs(tmp_path, generated_csv, SPECS.split("  - {id: ols_stat")[0])
    run = tmp_path / "run"
    assert main(["run", "--specs", str(spec_path), "--out", str(run), "--quiet"]) == 0
    assert main(["baseline", "save", str(run), "--to", str(tmp_path / "b.json")]) == 0
    capsys.readouterr()
    assert main(["check", "--baseline", str(tmp_path / "b.json"), "--quiet", "--out", str(tmp_path / "c")]) == 0
    assert "no drift: 1 estimate row(s) within their tier's tolerance (python, r)" in capsys.readouterr().out


def test_a_run_whose_spec_file_is_gone_is_still_checked(saved, capsys) -> None:
    spec_path, run, baseline = saved
    spec_path.unlink()
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 0
    said = "spec fields: the same as the baseline's (told by each spec's content hash: the run's spec file changed or is gone"
    assert said in capsys.readouterr().out


def test_a_run_of_changed_specs_whose_spec_file_was_restored_is_no_pass(saved, tmp_path: Path, capsys) -> None:
    """Until 2026-12-07 (an outside user): specs changed, run, the spec file restored; `check --run`
    on that run said "spec fields: not compared", "nothing moved" and exit 0, though the run fitted
    other specs than the baseline's (reordered controls move no OLS number)."""
    spec_path, _, baseline = saved
    original = spec_path.read_bytes()
    reordered = spec_path.read_text(encoding="utf-8").replace("x: [x1, x2, x3, skew]", "x: [skew, x3, x2, x1]")
    spec_path.write_text(reordered, encoding="utf-8")
    changed_run = tmp_path / "changed_run"
    _run(spec_path, changed_run)
    spec_path.write_bytes(original)
    capsys.readouterr()
    code = main(["check", "--baseline", str(baseline), "--run", str(changed_run)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "spec fields: 1 spec(s) differ from the baseline's (told by each spec's content hash" in out
    assert "ols_twin | (differs: its content hash is not the baseline's; its fields are not known)" in out
    assert "no drift" in out and "check: something moved or changed (exit 1)" in out


JOINT_SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 11}
specs:
  - {id: adj, model: plr, y: y, d: [d, zc], x: [x1, x2, x3], learner: ols, p_adjust: holm,
     bootstrap: {method: normal, n_rep_boot: 200}, joint: true}
"""


def test_adjusted_p_values_and_joint_intervals_are_kept_and_their_moves_named(tmp_path: Path, generated_csv: Path, capsys) -> None:  # noqa: E501
    """A baseline of a spec with joint inference keeps each row's adjusted p-value and joint
    interval; a move in them alone is a finding, named with its unit. Before, they were not kept,
    so a changed adjustment checked clean."""
    spec_path = _write_specs(tmp_path, generated_csv, JOINT_SPECS)
    run, baseline = tmp_path / "run", tmp_path / "baseline.json"
    _run(spec_path, run)
    assert main(["baseline", "save", str(run), "--to", str(baseline)]) == 0
    data = json.loads(baseline.read_text(encoding="utf-8"))
    row = data["estimates"]["adj[d]"]["python"]
    assert isinstance(row["p_adjusted"], float) and len(row["joint_ci"]) == 2
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 0
    row["p_adjusted"] += 0.01
    row["joint_ci"][1] += 0.5 * row["se"]
    _sign(baseline, data)
    capsys.readouterr()
    assert main(["check", "--baseline", str(baseline), "--run", str(run)]) == 1
    printed = capsys.readouterr().out
    moved = {cells[2]: cells for cells in map(_cells, printed.splitlines()) if len(cells) == 8 and cells[0] == "adj[d]"}
    assert set(moved) == {"p_adjusted", "joint ci upper"}, printed
    assert moved["p_adjusted"][5] == "0.01 absolute" and moved["joint ci upper"][5].endswith(" relative"), moved


def test_baseline_save_replaces_a_baseline_but_not_a_users_file(saved, tmp_path: Path, capsys) -> None:
    """Until 2026-12-06 `baseline save --to notes.json` wrote over the user's notes, exit 0."""
    _, run, baseline = saved
    notes = tmp_path / "notes.json"
    notes.write_text("my notes", encoding="utf-8")
    capsys.readouterr()
    assert main(["baseline", "save", str(run), "--to", str(notes)]) == 2
    said = capsys.readouterr().err.strip()
    refused = "exists and is not a dml-parity baseline; baseline save does not overwrite it"
    assert said == f"dml-parity: error: --to {notes}: {refused}"
    assert notes.read_text(encoding="utf-8") == "my notes"
    assert main(["baseline", "save", str(run), "--to", str(baseline)]) == 0  # an update of the baseline itself
    assert json.loads(baseline.read_text(encoding="utf-8"))["schema"] == "dml-parity/baseline/3"
    # Through a link to it, the baseline is updated and the link stays a link (until 2026-12-07 the
    # link became a file of its own and the baseline stayed as it was: an outside user).
    link = tmp_path / "current.json"
    link.symlink_to(baseline)
    baseline.write_text(json.dumps({**json.loads(baseline.read_text(encoding="utf-8")), "created": "then"}), encoding="utf-8")
    assert main(["baseline", "save", str(run), "--to", str(link)]) == 0
    assert link.is_symlink() and json.loads(baseline.read_text(encoding="utf-8"))["created"] != "then"


FOLD_SPECS = """
dataset: {path: DATA}
specs:
  - {id: given, model: plr, y: y, d: d, x: [x1, x2], learner: ols, n_folds: 3, folds: [split]}
"""


def test_new_folds_in_a_fold_column_are_not_new_data(tmp_path: Path, generated_csv: Path, capsys) -> None:
    """A data file that carries its folds (as harness.compare's to_spec writes a model's): other
    folds in that column are named as folds, and the data as unchanged; other data still DIFFER."""
    frame = pd.read_csv(generated_csv)
    data = tmp_path / "data.csv"
    frame.assign(split=[i % 3 for i in range(len(frame))]).to_csv(data, index=False)
    spec_path = _write_specs(tmp_path, data, FOLD_SPECS)
    _run(spec_path, tmp_path / "run")
    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "save", str(tmp_path / "run"), "--to", str(baseline)]) == 0

    frame.assign(split=[(i + 1) % 3 for i in range(len(frame))]).to_csv(data, index=False)
    code, printed, _ = _check(capsys, baseline, "--quiet", "--out", str(tmp_path / "c1"))
    assert code == 1  # other folds are still a finding: the baseline tested these numbers on others
    assert "data: the same as the baseline's apart from its fold columns (split), which hold other folds" in printed
    assert "rows and folds: differ for given" in printed and "DIFFER" not in printed

    frame.assign(y=frame["y"] + 1e-9, split=[(i + 1) % 3 for i in range(len(frame))]).to_csv(data, index=False)
    code, printed, _ = _check(capsys, baseline, "--quiet", "--out", str(tmp_path / "c2"))
    assert code == 1
    assert "data: DIFFER from the baseline's:" in printed


def test_a_spec_gone_from_the_run_is_counted_as_gone_not_as_moved(saved, tmp_path: Path, generated_csv: Path, capsys) -> None:
    """Until 2026-12-07 a baseline estimate the run no longer had read 'present now (missing)' and was
    counted among the numbers that 'moved beyond their tier's tolerance'."""
    (tmp_path / "fewer").mkdir()
    spec_path = _write_specs(tmp_path / "fewer", generated_csv, SPECS.replace("  - {id: ols_stat", "  # - {id: ols_stat"))
    _run(spec_path, tmp_path / "run_fewer")
    capsys.readouterr()
    code = main(["check", "--baseline", str(saved[2]), "--run", str(tmp_path / "run_fewer")])
    printed = capsys.readouterr().out
    assert code == 1, printed
    rows = [cells for cells in map(_cells, printed.splitlines()) if len(cells) == 8]  # the moved table
    assert [(cells[0], cells[6]) for cells in rows] == [("ols_stat", "not in this run")], printed
    assert "1 estimate(s) of the baseline not in this run" in printed and "moved beyond" not in printed


def test_a_check_that_ends_non_zero_says_why_on_the_last_line_of_stderr(saved, tmp_path: Path, capsys) -> None:
    """As a run does (README, exit codes); until 2026-12-07 a check's reason was on stdout only."""
    spec_path, _, baseline = saved
    spec_path.write_text(spec_path.read_text(encoding="utf-8").replace("seed: 11", "seed: 12"), encoding="utf-8")
    code, _, err = _check(capsys, baseline, "--out", str(tmp_path / "c"))
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "dml-parity: exit 1: check: something moved or changed since the baseline (the lines above say which)"
    )
    code, _, err = _check(capsys, baseline, "--out", str(tmp_path / "c"), "--quiet")
    # --quiet hides the progress, not a finding (until 2026-12-07 a check that ended 1 said nothing on stderr).
    assert code == 1 and err.strip().splitlines()[-1].startswith("dml-parity: exit 1: check: something moved")


def test_saving_from_another_folder_than_the_run_names_why_its_spec_file_is_not_found(
    tmp_path: Path, generated_csv: Path, monkeypatch, capsys
) -> None:
    """A run records its spec file as given (relative: clones record alike). Until 2026-12-07 a save
    from another folder said only "s.yaml: spec file not found" (an outside user)."""
    spec_path = _write_specs(tmp_path, generated_csv)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--specs", "s.yaml", "--engines", "python", "--out", "run", "--quiet"]) == 4
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    capsys.readouterr()
    assert main(["baseline", "save", "../run", "--to", "b.json"]) == 2
    err = capsys.readouterr().err
    assert f"s.yaml: spec file not found from {tmp_path / 'elsewhere'}; the run recorded it relative to the folder" in err
    assert not (tmp_path / "elsewhere" / "b.json").exists()
    monkeypatch.chdir(tmp_path)
    assert main(["baseline", "save", "run", "--to", "b.json"]) == 0 and spec_path.is_file()


def test_a_data_file_saved_again_with_other_line_endings_is_the_same_data(tmp_path: Path, generated_csv: Path, capsys) -> None:
    """Until 2026-12-07 (an outside user's CI after git's autocrlf) a CRLF copy of the data read
    "data: DIFFER" and exit 1, though the fits read the very same values. An edited value still
    differs."""
    data = tmp_path / "data.csv"
    data.write_bytes(generated_csv.read_bytes())
    spec_path = _write_specs(tmp_path, data, SPECS.split("  - {id: ols_stat")[0])
    _run(spec_path, tmp_path / "run")
    baseline = tmp_path / "b.json"
    assert main(["baseline", "save", str(tmp_path / "run"), "--to", str(baseline)]) == 0
    data.write_bytes(data.read_bytes().replace(b"\n", b"\r\n"))
    code, out, _ = _check(capsys, baseline, "--out", str(tmp_path / "c1"))
    assert code == 0, out
    assert "data: the same values as the baseline's; the file's bytes differ (line endings, quoting" in out
    assert "check: nothing moved (exit 0)" in out
    lines = data.read_text(encoding="utf-8").splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    first[header.index("x1")] = str(float(first[header.index("x1")]) + 1.0)
    data.write_text("\n".join([lines[0], ",".join(first), *lines[2:]]) + "\n", encoding="utf-8")
    code, out, _ = _check(capsys, baseline, "--out", str(tmp_path / "c2"))
    assert code == 1 and "data: DIFFER from the baseline's" in out, out
