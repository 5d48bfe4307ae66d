"""Every project file the README names exists: its Dask example ran `specs/seed.yaml`, a file the
project never had (found by an outside run on 2026-12-06)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Outputs the README shows a run or a test making, not files of the project.
MADE_BY_A_RUN = {"reports/irm_forest_tails/results.json", "tests/test_estimates/test_estimates_unchanged.dml.json"}


def test_every_file_the_readme_names_exists() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    folders = "specs|data|bench|tests|r_scripts|harness|reports"
    named = set(re.findall(rf"(?<![\w/.-])((?:{folders})/[\w./-]+\.(?:yaml|json|py|R|csv|md|png))", text))
    assert len(named) > 100  # the pattern still finds the README's paths
    missing = sorted(p for p in named - MADE_BY_A_RUN if not (ROOT / p).exists())
    assert not missing, missing
