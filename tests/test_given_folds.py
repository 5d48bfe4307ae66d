"""``folds:`` in a spec: data columns holding each repetition's test fold of every row (what
``harness.compare``'s ``to_spec`` writes for a model's own splits). Through the command line: the
run fits on exactly those folds; bad columns are one line naming the spec field and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.test_spec_errors import run_cli, spec_with

ENTRY = "{id: given, model: plr, y: y, d: d, x: [x1, x2], learner: ols, n_folds: 3, n_rep: 2, folds: [f1, f2]}"


def data(tmp_path: Path, **changes) -> Path:
    rng = np.random.default_rng(11)
    n = 90
    frame = pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "d": rng.normal(size=n),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "firm": np.repeat(np.arange(18), 5),
            "f1": np.arange(n) % 3,
            "f2": rng.permutation(np.arange(n) % 3),
        }
    )
    frame = frame.assign(**changes)
    path = tmp_path / "given.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_run_fits_on_the_folds_the_columns_give(tmp_path: Path) -> None:
    path = data(tmp_path)
    proc = run_cli(tmp_path, spec_with(ENTRY), path)
    assert proc.returncode == 4, proc.stderr  # --engines python: nothing compared, exit 4
    with np.load(tmp_path / "out" / "arrays.npz") as arrays:
        folds = arrays["folds_0"]
    given = pd.read_csv(path)[["f1", "f2"]].to_numpy().T
    assert np.array_equal(folds, given)


@pytest.mark.parametrize(
    ("entry", "changes", "message"),
    [
        (ENTRY.replace("[f1, f2]", "[f1, f3]"), {}, "field 'folds': no column 'f3' in the data"),
        (ENTRY, {"f2": np.r_[0.5, np.arange(89) % 3]}, "field 'folds': column 'f2' holds a value that is not a fold number"),
        (ENTRY, {"f1": np.arange(90) % 2}, "field 'folds': column 'f1' must number each of 3 folds 0..2"),
        (ENTRY.replace("n_rep: 2", "n_rep: 1"), {}, "spec 'given': folds: one column per repetition: 2 columns, n_rep 1"),
        (
            ENTRY.replace("learner: ols", "learner: ols, cluster: firm"),
            {},
            "field 'folds': column 'f1' puts rows of one 'firm' cluster in different folds",
        ),
    ],
)
def test_bad_fold_columns_are_one_line(tmp_path: Path, entry: str, changes: dict, message: str) -> None:
    proc = run_cli(tmp_path, spec_with(entry), data(tmp_path, **changes))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
