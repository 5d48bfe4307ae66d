"""--out: only a folder the tool wrote itself is replaced; every output problem is one line, exit 2,
before anything is read or fitted; real file-blocked, permission-denied, read-only and full places."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.running.runner import stable_view
from tests.faults import ROOT, Run, env, read_results, worker_of, write_specs


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory, generated_csv: Path) -> Path:
    return write_specs(tmp_path_factory.mktemp("outdir"), generated_csv)


@pytest.fixture(scope="module")
def tool_folder(spec_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder a real run wrote, into an empty folder (tests copy it before changing it)."""
    out = tmp_path_factory.mktemp("tool") / "run"
    out.mkdir()
    assert cli("run", "--specs", spec_path, "--engines", "python", "--only", "a_ols", "--out", out, "--no-cache")[0] == 4
    return out


def cli(*args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in [*args, "--quiet"]])
    return code, stderr.getvalue()


def snapshot(folder: Path) -> dict:
    """Every file below ``folder``: bytes, mode and modification time."""
    out = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        out[str(path.relative_to(folder))] = (path.read_bytes() if path.is_file() else None, info.st_mode, info.st_mtime_ns)
    return out


def assert_refused(code: int, stderr: str, pattern: str) -> None:
    import re

    assert code == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert re.search(pattern, lines[0]), lines[0]


# Refused before anything is read: the spec file does not even exist, yet the output problem is
# what the user hears about (a run would otherwise fit everything and fail at the end).
NO_SPEC = Path("/nonexistent/specs.yaml")


def test_a_folder_of_the_users_own_files_is_refused_and_untouched(tmp_path: Path) -> None:
    thesis = tmp_path / "thesis"
    (thesis / "chapters").mkdir(parents=True)
    (thesis / "thesis.tex").write_text("\\documentclass{book}", encoding="utf-8")
    (thesis / "chapters" / "one.tex").write_text("text", encoding="utf-8")
    before = snapshot(thesis)
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", thesis)
    assert_refused(code, stderr, rf"--out {thesis}: not a folder dml-parity wrote \(it holds 'chapters' and 1 more\)")
    assert snapshot(thesis) == before


def test_a_results_json_of_another_tool_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps({"schema": "someone-else/results/1"}), encoding="utf-8")
    before = snapshot(folder)
    assert_refused(*cli("run", "--specs", NO_SPEC, "--out", folder), r"not a folder dml-parity wrote \(it holds 'results.json'\)")
    assert snapshot(folder) == before


def test_a_foreign_file_in_a_tool_folder_is_refused(tool_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    (folder / "notes.txt").write_text("my notes on this run", encoding="utf-8")
    (folder / "figures").mkdir()
    before = snapshot(folder)
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", folder)
    assert_refused(code, stderr, r"holds 'figures' and 1 more, which dml-parity did not write")
    assert snapshot(folder) == before


def test_the_tools_own_folder_is_replaced(tool_folder: Path, spec_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    old = read_results(folder)
    assert old["schema"] == "dml-parity/results/2" and (folder / "arrays.npz").is_file()
    assert sorted(old["output_files"]) == sorted(p.name for p in folder.iterdir() if p.name != "results.json")
    assert cli("run", "--specs", spec_path, "--engines", "python", "--only", "c_irm", "--out", folder, "--no-cache")[0] == 4
    assert [s["id"] for s in read_results(folder)["specs"]] == ["c_irm"] != [s["id"] for s in old["specs"]]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging or old folder left"


def test_a_replaced_folder_keeps_its_mode(tool_folder: Path, spec_path: Path, tmp_path: Path) -> None:
    """The user's choice of who may read the run folder outlives a new run into it (until
    2026-12-07 a replaced folder of mode 750 or 555 came back 755)."""
    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    folder.chmod(0o750)
    assert cli("run", "--specs", spec_path, "--engines", "python", "--only", "c_irm", "--out", folder, "--no-cache")[0] == 4
    assert [s["id"] for s in read_results(folder)["specs"]] == ["c_irm"]
    assert folder.stat().st_mode & 0o777 == 0o750


def test_an_empty_folder_is_used(tool_folder: Path) -> None:
    # tool_folder existed, empty, before its run wrote it.
    assert {p.name for p in tool_folder.iterdir()} >= {"results.json", "report.html", "report.md", "results.csv"}
    mask = os.umask(0)
    os.umask(mask)
    assert tool_folder.stat().st_mode & 0o777 == 0o777 & ~mask, "permissions as mkdir gives them"


def test_out_is_a_file_or_a_link(tmp_path: Path) -> None:
    target = tmp_path / "report.pdf"
    target.write_bytes(b"%PDF")
    assert_refused(*cli("run", "--specs", NO_SPEC, "--out", target), r"exists and is not a folder")
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    assert_refused(*cli("run", "--specs", NO_SPEC, "--out", link), r"is a symbolic link")
    assert target.read_bytes() == b"%PDF"


def test_a_parent_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "reports"
    blocker.write_text("not a folder", encoding="utf-8")
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", blocker / "deeper" / "run")
    assert_refused(code, stderr, rf"'{blocker}' is a file, not a folder")
    assert blocker.read_text(encoding="utf-8") == "not a folder"


def run_process(args: list, prefix: list[str] = ()) -> subprocess.CompletedProcess:
    command = [*prefix, sys.executable, "-m", "harness.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=120)


def test_a_folder_without_write_permission(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    # root ignores permission bits; without CAP_DAC_OVERRIDE it obeys them like anyone else.
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
    try:
        proc = run_process(["run", "--specs", NO_SPEC, "--out", locked / "run"], prefix)
    finally:
        locked.chmod(0o755)
    assert_refused(proc.returncode, proc.stderr, rf"--out {locked}/run: cannot write in {locked} \(permission denied\)")
    assert list(locked.iterdir()) == []


def in_private_mount(mount: str, options: str, args: list) -> subprocess.CompletedProcess:
    """The CLI in its own mount namespace with a tmpfs at ``mount`` (gone when the process ends)."""
    script = f'mount -t tmpfs -o {options} tmpfs "$1" && shift && exec "$@"'
    prefix = ["unshare", "--mount", "--map-root-user", "sh", "-c", script, "sh", mount]
    probe = subprocess.run([*prefix, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a private tmpfs here: {probe.stderr.strip()}")
    return run_process(args, prefix)


def test_a_read_only_file_system(tmp_path: Path) -> None:
    mount = tmp_path / "ro"
    mount.mkdir()
    proc = in_private_mount(str(mount), "ro,size=1m", ["run", "--specs", NO_SPEC, "--out", mount / "run"])
    assert_refused(proc.returncode, proc.stderr, r"cannot write in .*/ro \(read-only file system\)")


def test_no_space_left(tmp_path: Path) -> None:
    mount = tmp_path / "full"
    mount.mkdir()
    proc = in_private_mount(str(mount), "size=64k", ["run", "--specs", NO_SPEC, "--out", mount / "run"])
    assert_refused(proc.returncode, proc.stderr, r"cannot write in .*/full \(no space left on device\)")


def test_a_folder_that_changes_during_the_run_is_still_protected(spec_path: Path, tmp_path: Path, tool_folder: Path) -> None:
    """The rule is checked again before writing: a file the user saved there meanwhile survives."""
    folder = tmp_path / "run"
    folder.mkdir()

    def save_a_file(run: Run, line: str) -> None:
        if worker_of(line, "a_ols") is not None:
            (folder / "draft.docx").write_bytes(b"written while the run fitted")

    common = ["--specs", spec_path, "--engines", "python", "--only", "a_ols"]
    run = Run(["run", *common, "--out", folder, "--cache-dir", tmp_path / "c"], save_a_file)
    assert run.wait() == 2, run.stderr
    assert "draft.docx" in run.stderr.strip().splitlines()[-1]
    assert [p.name for p in folder.iterdir()] == ["draft.docx"]
    assert (folder / "draft.docx").read_bytes() == b"written while the run fitted"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    # The fit was cached: the re-run into a free folder fits nothing and equals a fresh run.
    code, _ = cli("run", *common, "--out", tmp_path / "free", "--cache-dir", tmp_path / "c")
    assert code == 4 and read_results(tmp_path / "free")["specs"][0]["timings"]["cached"] is True
    assert stable_view(read_results(tmp_path / "free")) == stable_view(read_results(tool_folder))


@pytest.mark.parametrize("name", ["my_figure.png", "rows.npz", "parity.png.bak", "notes.md"])
def test_a_users_file_beside_the_tools_is_refused_and_untouched(tool_folder: Path, tmp_path: Path, name: str) -> None:
    """Only the files the last run listed are the tool's: a picture or array of the user's is not."""
    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    (folder / name).write_bytes(b"the user's own")
    before = snapshot(folder)
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", folder)
    assert_refused(code, stderr, rf"holds '{re.escape(name)}', which dml-parity did not write")
    assert snapshot(folder) == before


def test_a_folder_from_before_the_file_list_is_judged_by_the_old_names(tool_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    results = read_results(folder)
    del results["output_files"]
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    (folder / "own.png").write_bytes(b"the user's own")
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", folder)
    assert_refused(code, stderr, r"holds 'own.png', which dml-parity did not write")
    (folder / "own.png").unlink()
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", folder)
    assert code == 2 and "--out" not in stderr and "specs.yaml" in stderr, stderr  # past the folder rule


def test_a_file_list_naming_paths_is_not_the_tools(tool_folder: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    results = read_results(folder)
    results["output_files"] = ["../thesis.tex"]
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", folder)
    assert_refused(code, stderr, r"not a folder dml-parity wrote")


@pytest.mark.parametrize("given", [".", "./", "CWD", "tool folder", "..", "sub/.."])
def test_the_current_folder_or_one_above_it_is_refused_before_fitting(
    spec_path: Path, tool_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    """A run replaces its --out folder whole: the folder the user works in is never that folder.
    Before, `--out .` in an empty folder passed the check before fitting and failed after it."""
    work = tmp_path / "work"
    if given == "tool folder":  # cd into an earlier run's folder, then --out .
        shutil.copytree(tool_folder, work)
    else:
        work.mkdir()
    if given in ("..", "sub/.."):
        (work / "sub").mkdir()
    monkeypatch.chdir(work / "sub" if given == ".." else work)
    out = {"CWD": str(work), "tool folder": "."}.get(given, given)
    before = snapshot(tmp_path)
    code, stderr = cli(
        "run", "--specs", spec_path, "--engines", "python", "--only", "a_ols", "--out", out, "--cache-dir", tmp_path / "c"
    )
    assert_refused(code, stderr, rf"--out {re.escape(str(Path(out)))}: (is|holds) the folder you are working in")
    assert snapshot(tmp_path) == before, "nothing fitted, cached or written"


def test_files_saved_while_the_report_is_written_are_kept(spec_path: Path, tool_folder: Path, tmp_path: Path) -> None:
    """A real race: while the run writes its staging folder and swaps it in, another thread keeps
    saving files into --out. Each file whose save succeeded is in --out afterwards (before, the swap
    moved them into the old folder and deleted it)."""
    import threading
    import time

    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    saved: dict[str, bytes] = {}
    done = threading.Event()

    def save_while_writing() -> None:
        while not done.is_set() and not any(p.name.startswith(".run.") for p in tmp_path.iterdir()):
            time.sleep(0.001)  # the run's staging folder appears when it starts writing
        i = 0
        while not done.is_set():
            name, content = f"draft-{i}.txt", f"saved during the write, number {i}".encode()
            try:
                with open(folder / name, "xb") as handle:
                    handle.write(content)
                saved[name] = content
            except OSError:  # the moment the folder is renamed: the save fails, the user sees it
                pass
            i += 1
            time.sleep(0.002)

    saver = threading.Thread(target=save_while_writing)
    saver.start()
    try:
        code, stderr = cli("run", "--specs", spec_path, "--engines", "python", "--only", "a_ols", "--out", folder, "--no-cache")
    finally:
        done.set()
        saver.join()
    assert code == 4, stderr  # 4: one engine, nothing compared
    assert saved, "no file was saved during the write"
    for name, content in saved.items():
        assert (folder / name).read_bytes() == content, name
    assert read_results(folder)["specs"][0]["id"] == "a_ols"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging or old folder left"


@pytest.mark.parametrize("listed", [["../thesis.tex"], ["/etc/passwd"], [".."], ["."], [""], ["sub/notes.md"]])
def test_a_file_list_naming_anything_but_a_file_in_the_folder_touches_nothing(
    tool_folder: Path, tmp_path: Path, listed: list[str]
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(tool_folder, folder)
    (tmp_path / "thesis.tex").write_text("\\documentclass{book}", encoding="utf-8")
    results = read_results(folder)
    results["output_files"] = [*results["output_files"], *listed]
    (folder / "results.json").write_text(json.dumps(results), encoding="utf-8")
    before = snapshot(tmp_path)
    passwd = Path("/etc/passwd").read_bytes()
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", folder)
    assert_refused(code, stderr, r"not a folder dml-parity wrote")
    assert snapshot(tmp_path) == before and Path("/etc/passwd").read_bytes() == passwd


def test_a_run_folder_that_cannot_be_moved_leaves_nothing_beside_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An immutable folder (`chattr +i`) can be neither written nor renamed: the write fails, as it
    must, and until 2026-12-06 each attempt left an empty `.run.old.*` folder beside it. Here the
    rename of the old run is what fails (chattr needs a file system and a capability CI may lack)."""
    from harness.output import outdir
    from harness.output.outdir import OutputError

    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text("{}", encoding="utf-8")
    real = os.replace

    def immutable(src, dst) -> None:
        if Path(src) == out:
            raise PermissionError(1, "Operation not permitted", str(src))
        real(src, dst)

    monkeypatch.setattr(outdir.os, "replace", immutable)
    monkeypatch.setattr(outdir, "_check_replaceable", lambda folder: frozenset({"results.json"}))
    with pytest.raises(OutputError, match=r"--out .*/run: cannot write the results \(operation not permitted\)"):
        outdir.replace_folder(out, lambda staging: (staging / "results.json").write_text("{}", encoding="utf-8"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert [p.name for p in out.iterdir()] == ["results.json"]


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_a_signal_as_the_report_is_swapped_in_leaves_the_report_and_says_so(
    tool_folder: Path, spec_path: Path, tmp_path: Path, how: str
) -> None:
    """Sent to the run the moment --out is replaced by the new folder (its inode changes). Until
    2026-12-07 the run said "no report written" beside the new report, exit 130, and left the
    previous report in a hidden .run.old.* folder for good (an outside user, 4 of 4); a signal
    between the two renames would have left no --out at all. The swap now holds signals.

    A signal that arrives once the run has finished its work (a loaded machine delays the watcher)
    tests nothing: up to five tries, and at least one must land while the run is still going."""
    import signal
    import threading

    sig = signal.SIGINT if how == "ctrl-c" else signal.SIGTERM
    what = "interrupted" if how == "ctrl-c" else "terminated"
    landed = 0
    for attempt in range(5):
        folder = tmp_path / f"try{attempt}" / "run"
        shutil.copytree(tool_folder, folder)
        before = folder.stat().st_ino

        def watch(run: Run, folder: Path = folder, before: int = before) -> None:
            while run.proc.poll() is None:
                with contextlib.suppress(FileNotFoundError):
                    if folder.stat().st_ino != before:
                        os.killpg(run.pgid, sig)
                        return

        run = Run(["run", "--specs", spec_path, "--engines", "python", "--only", "c_irm", "--out", folder, "--no-cache"])
        watcher = threading.Thread(target=watch, args=(run,), daemon=True)
        watcher.start()
        code = run.wait()
        watcher.join(10)
        # Whenever it landed, the new report is whole and nothing is left hidden beside it.
        assert [s["id"] for s in read_results(folder)["specs"]] == ["c_irm"], run.stderr
        assert not [p.name for p in folder.parent.iterdir() if p.name.startswith(".")], "no staging or old folder left"
        # 4: the run's own end (nothing compared); -sig: killed by it as Python exits (handlers reset)
        if code not in (4, -sig):
            assert code == (130 if how == "ctrl-c" else 143), run.stderr
            assert run.stderr.splitlines()[-1] == f"dml-parity: {what} after the report was written", run.stderr
            landed += 1
            break
    assert landed, "the signal never arrived before the run had ended"


def test_a_second_run_on_a_folder_another_run_is_writing_is_refused(spec_path: Path, tmp_path: Path) -> None:
    """Until 2026-12-07 two runs on one new --out both went ahead: one exited 2 although a report
    was written, and the other's whole report was left in a hidden .old folder (an outside user)."""
    folder = tmp_path / "run"
    second: list[subprocess.CompletedProcess] = []

    def on_line(run: Run, line: str) -> None:
        if not second and "fitting" in line:  # the first run is under way: its --out is claimed
            second.append(run_process(["run", "--specs", spec_path, "--engines", "python", "--out", folder, "--no-cache"]))

    first = Run(["run", "--specs", spec_path, "--engines", "python", "--out", folder, "--no-cache"], on_line=on_line)
    assert first.wait() == 4, first.stderr
    assert second, first.stderr
    assert_refused(second[0].returncode, second[0].stderr, r"another dml-parity run is writing this folder")
    assert sorted(s["id"] for s in read_results(folder)["specs"]) == ["a_ols", "b_slow", "c_irm"]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging or old folder left"
    # Once the first has ended, the folder is free again.
    assert (
        run_process(
            ["run", "--specs", spec_path, "--engines", "python", "--out", folder, "--no-cache", "--only", "a_ols"]
        ).returncode
        == 4
    )


@pytest.mark.parametrize("where", ["inside", "the same"])
def test_a_cache_inside_the_output_folder_is_refused_before_fitting(tmp_path: Path, where: str) -> None:
    """Until 2026-12-07 every spec was fitted first, then the run ended in exit 2 at the report
    ("not a folder dml-parity wrote (it holds 'cache')") (an outside user)."""
    out = tmp_path / "run"
    cache = out / "cache" if where == "inside" else out
    code, stderr = cli("run", "--specs", NO_SPEC, "--out", out, "--cache-dir", cache)
    said = rf"--cache-dir {re.escape(str(cache))}: inside --out {re.escape(str(out))}, which a run replaces whole"
    assert_refused(code, stderr, said)
    assert not out.exists()


def test_a_folder_is_free_again_once_a_process_has_written_it(spec_path: Path, tmp_path: Path) -> None:
    """The claim lasts the run, not the process: a notebook (or a test session) that ran or saved
    once must not keep other processes from the folder while it lives on."""
    folder = tmp_path / "run"
    assert cli("run", "--specs", spec_path, "--engines", "python", "--only", "a_ols", "--out", folder, "--no-cache")[0] == 4
    # This process lives on; another one may write the folder now.
    other = run_process(["run", "--specs", spec_path, "--engines", "python", "--only", "a_ols", "--out", folder, "--no-cache"])
    assert other.returncode == 4, other.stderr
