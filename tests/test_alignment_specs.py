"""The DoubleML project's alignment suite (DoubleML/doubleml-py-vs-r, tests/), one spec file per case
in specs/alignment/, through both packages: every spec agrees, or is explained, at the exact tier.

The files with 1,000 rows carry the ``slow`` marker (CI runs them with ``DMLP_FULL=1``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.design.generated import generate
from harness.language.spec import load_spec_file
from harness.running.runner import RunOptions, run

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted((ROOT / "specs" / "alignment").glob("*.yaml"))
SLOW = {f for f in FILES if "_1000x" in f.name}


def _param(path: Path):
    marks = [pytest.mark.r] + ([pytest.mark.slow] if path in SLOW else [])
    return pytest.param(path, id=path.stem, marks=marks)


def test_every_case_of_the_suite_has_a_spec_file() -> None:
    stems = {f.stem for f in FILES}
    # PLR and IRM at the suite's three sizes, PLIV at three, its partial X/Z/XZ cases, IIVM,
    # two-way clusters at three and one-way at two sizes.
    expected = {f"{m}_{n}" for m in ("plr", "pliv", "irm") for n in ("500x10", "1000x20", "1000x100")}
    expected |= {"pliv_partial_x", "pliv_partial_z", "pliv_partial_xz", "iivm_500x11"}
    expected |= {f"pliv_twoway_{n}" for n in ("10x10", "15x25", "35x7")} | {f"pliv_oneway_{n}" for n in ("10x10", "15x25")}
    assert stems == expected
    plr = load_spec_file(ROOT / "specs" / "alignment" / "plr_500x10.yaml")
    assert {(s.score_name, s.n_rep) for s in plr.specs} == {(a, b) for a in ("IV-type", "partialling out") for b in (1, 3)}


def test_generated_data_is_the_suites() -> None:
    from doubleml.plm.datasets import make_plr_turrell2018

    before = np.random.get_state()[1].copy()
    np.random.seed(1111)
    expected = make_plr_turrell2018(500, 10, 0.5, return_type="DataFrame")
    np.random.set_state(("MT19937", before, 624, 0, 0.0))
    state = np.random.get_state()[1].copy()
    drawn = generate({"name": "make_plr_turrell2018", "n_obs": 500, "dim_x": 10, "theta": 0.5}, 1111)
    assert drawn.equals(expected)
    # The tool puts numpy's global stream back where it was.
    assert np.array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("path", [_param(f) for f in FILES])
def test_alignment_file_agrees_at_the_exact_tier(path: Path, tmp_path: Path) -> None:
    results = run(RunOptions(specs=path, use_cache=False, cache_dir=tmp_path))
    for spec in results["specs"]:
        failed = [(c["name"], c["value"]) for c in spec["checks"] if not c["ok"]]
        assert spec["status"] in ("agree", "explained"), (spec["id"], spec["status"], spec.get("error"), failed)
        assert spec["tier"] == "exact" and spec["checks"]
        # The generator's own effect is the truth the report sets beside both estimates.
        assert spec["truth"] in (0.5, 1.0)
    assert results["provenance"]["data"]["generator"]["name"]
