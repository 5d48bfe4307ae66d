"""Spec mistakes a new user makes, answered in one line with what was meant (issue 25 item 4):
a near miss in a learner, model, score, option or key gets "did you mean", the validation
library's own words do not reach the user, and a mis-indented key is named with its line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.test_spec_errors import run_spec_file

ENTRY = "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: ols"
NEAR_MISSES = [
    ("learner case", f"dataset: {{path: DATA}}\nspecs:\n  - {ENTRY[:-12]}learners: {{ml_l: ols, ml_m: OLS}}}}\n",
     r"spec 'a': learners\.ml_m: unknown learner 'OLS' \(did you mean 'ols'\?\)$"),
    ("learner close", f"dataset: {{path: DATA}}\nspecs:\n  - {ENTRY[:-12]}learner: lasso_CV}}\n",
     r"unknown learner 'lasso_CV' \(did you mean 'lasso_cv'\?\)$"),
    ("model case", "dataset: {path: DATA}\nspecs:\n  - {id: a, model: PLR, y: y, d: d, x: [x1], learner: ols}\n",
     r"spec 'a' field 'model': 'PLR' is not one of plr, pliv, irm, iivm, ssm \(did you mean 'plr'\?\)$"),
    ("option case", f"dataset: {{path: DATA}}\nspecs:\n  - {ENTRY}, fixed_effects: Twoway}}\n",
     r"field 'fixed_effects': 'Twoway' is not one of none, twoway, unit, time, dummies \(did you mean 'twoway'\?\)$"),
    ("score case", f"dataset: {{path: DATA}}\nspecs:\n  - {ENTRY}, score: iv-type}}\n",
     r"'iv-type' is not a plr score .*\(did you mean 'IV-type'\?\)$"),
    ("key typo", f"dataset: {{path: DATA}}\nspecs:\n  - {ENTRY}, n_fold: 3}}\n",
     r"spec 'a' field 'n_fold': unknown key \(did you mean 'n_folds'\?\)$"),
    ("key typo in defaults", f"dataset: {{path: DATA}}\ndefaults: {{n_fold: 3}}\nspecs:\n  - {ENTRY}}}\n",
     r"field 'n_fold': unknown key \(did you mean 'n_folds'\?\)$"),
    ("dataset key typo", f"dataset: {{path: DATA, colums: {{a: b}}}}\nspecs:\n  - {ENTRY}}}\n",
     r"dataset field 'colums': unknown key \(did you mean 'columns'\?\)$"),
    ("top-level key typo", f"dataset: {{path: DATA}}\nspec:\n  - {ENTRY}}}\n",
     r"unknown top-level key 'spec' \(did you mean 'specs'\?\)$"),
    ("not a number", f"dataset: {{path: DATA}}\nspecs:\n  - {ENTRY}, n_folds: three}}\n",
     r"field 'n_folds': 'three' is not a whole number$"),
    ("required", "dataset: {path: DATA}\nspecs:\n  - {id: a, model: plr, y: y, x: [x1], learner: ols}\n",
     r"field 'd': required, and not given$"),
]  # fmt: skip
BLOCK = "dataset:\n  path: DATA\nspecs:\n  - id: a\n    model: plr\n    y: y\n{d}    x: [x1, x2]\n    learner: ols\n"
MIS_INDENTED = [
    ("less indented", BLOCK.format(d="   d: d\n"), r"line 7: key 'd' is out of line \(indented 3 spaces, the key above it 4\)"),
    (
        "more indented",
        BLOCK.format(d="      d: d\n"),
        r"line 7: key 'd' is out of line \(indented 6 spaces, the key above it 4\)",
    ),
    (
        "dataset key",
        "dataset:\n    path: DATA\n  seed: 3\nspecs:\n  - {id: a}\n",
        r"line 3: key 'seed' is out of line \(indented 2 spaces, the key above it 4\)",
    ),
]


def assert_one_line(proc, pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    for jargon in ("Input should be", "Field required", "<block end>", "<block mapping start>", "valid integer"):
        assert jargon not in lines[0]


@pytest.mark.parametrize(("name", "text", "pattern"), NEAR_MISSES + MIS_INDENTED, ids=[c[0] for c in NEAR_MISSES + MIS_INDENTED])
def test_a_mistake_gets_one_line_that_says_what_was_meant(
    tmp_path: Path, generated_csv: Path, name: str, text: str, pattern: str
) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(text.replace("DATA", str(generated_csv)), encoding="utf-8")
    assert_one_line(run_spec_file(spec, tmp_path / "out"), pattern)
    assert not (tmp_path / "out").exists()


def test_as_a_user_runs_it(tmp_path: Path, generated_csv: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(BLOCK.format(d="   d: d\n").replace("DATA", str(generated_csv)), encoding="utf-8")
    proc = run_spec_file(spec, tmp_path / "out", env=dict(os.environ))
    assert_one_line(proc, r"s\.yaml: line 7: key 'd' is out of line")


def test_a_value_holding_a_colon_is_not_called_out_of_line(tmp_path: Path, generated_csv: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"dataset: {{path: {generated_csv}}}\nspecs:\n  - id: a\n    sample: x1: 3\n", encoding="utf-8")
    proc = run_spec_file(spec, tmp_path / "out")
    assert proc.returncode == 2 and "out of line" not in proc.stderr and "line 4" in proc.stderr, proc.stderr
