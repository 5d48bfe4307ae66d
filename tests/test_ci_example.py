"""examples/ci/dml-parity.yml cannot rot: its run: lines (all but the install) run here, as the
workflow runs them, from a copy of the files they read, with this environment's dml-parity and no
R on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / "examples" / "ci" / "dml-parity.yml"
INSTALL = "pip install "


def _steps() -> tuple[list[str], list[str]]:
    """(the run: lines to run, the names of the steps left out: actions and the install)."""
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["estimates"]["steps"]
    commands, skipped = [], []
    for step in steps:
        command = step.get("run")
        if command is None or command.startswith(INSTALL):
            skipped.append(step.get("name") or step["uses"])
        else:
            commands.append(command)
    return commands, skipped


def test_only_the_checkout_setup_install_and_upload_are_left_out() -> None:
    commands, skipped = _steps()
    assert skipped == ["actions/checkout@v4", "actions/setup-python@v5", "Install dml-parity (no R)", "Keep the check's report"]
    assert commands and all("dml-parity" in c for c in commands)


def test_the_workflow_s_steps_pass_without_r(tmp_path: Path) -> None:
    for part in ("examples/ci/estimates.yaml", "examples/ci/estimates.baseline.json", "data/city_panel.csv"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, tmp_path / part)
    # The runner's PATH holds Python's scripts, and no R (rpy2 then cannot find one).
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    env.pop("R_HOME", None)
    if "PYTHONPATH" in env:  # a source tree: its harness/, wherever the copy runs
        env["PYTHONPATH"] = str(ROOT)
    outputs = []
    for command in _steps()[0]:
        done = subprocess.run(["/bin/bash", "-ec", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout)
    printed = "\n".join(outputs)
    assert printed.startswith("R not run: compared with DoubleML 1.0.2 results stored on ")
    assert "no drift: 3 estimate row(s) within their tier's tolerance (python)" in printed
    assert (tmp_path / "dml-parity-check" / "check.md").is_file()
