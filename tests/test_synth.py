"""The synthetic city panel: deterministic, shaped as the codebook says, and in step with the
paper's spec file and the committed data files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import synth
from harness.language.spec import load_spec_file
from harness.synth.layout import city_layout
from harness.synth.panel import panel_frame
from harness.synth.process import simulate

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs" / "paper.yaml"
DATA = ROOT / "data" / "city_panel.csv"
TRUTH = ROOT / "data" / "city_panel_truth.json"
INDICES = ["rcd", "dig_int", "digital", "intel", "innov", "ind_struct"]


@pytest.fixture(scope="module")
def panel() -> tuple[pd.DataFrame, dict]:
    return synth.generate_city_panel()


def test_same_seed_gives_the_same_panel_and_truth(panel):
    frame, truth = panel
    again, truth_again = synth.generate_city_panel(synth.DEFAULT_SEED)
    pd.testing.assert_frame_equal(frame, again)
    assert truth == truth_again


def test_another_seed_gives_other_data_on_the_same_map():
    layout = city_layout()
    a = panel_frame(layout, simulate(np.random.default_rng(1), layout, synth.DGP()))
    b = panel_frame(layout, simulate(np.random.default_rng(2), layout, synth.DGP()))
    assert a[["city_id", "city", "province", "region", "core"]].equals(b[["city_id", "city", "province", "region", "core"]])
    assert not np.allclose(a["rcd"], b["rcd"])


def test_shape_ids_and_order(panel):
    frame, _ = panel
    assert frame.shape[0] == 3627
    assert frame["city_id"].nunique() == 279
    assert sorted(frame["city_id"].unique()) == list(range(1, 280))
    assert sorted(frame["year"].unique()) == list(range(2011, 2024))
    assert frame.groupby("city_id")["year"].count().eq(13).all()
    assert frame[["city_id", "year"]].equals(frame[["city_id", "year"]].sort_values(["city_id", "year"]).reset_index(drop=True))


def test_map_regions_provinces_and_core_cities(panel):
    frame, _ = panel
    cities = frame.drop_duplicates("city_id")
    assert cities["region"].value_counts().to_dict() == {"east": 100, "central": 100, "west": 79}
    assert cities["province"].nunique() == 30
    assert cities["city"].is_unique and cities["city"].map(str.isascii).all()
    municipalities = cities[cities["municipality"] == 1]
    assert len(municipalities) == 4 and (municipalities["core"] == 1).all()
    assert (municipalities["province"] == municipalities["city"]).all()
    assert cities.groupby("province")["province"].count()[municipalities["province"]].eq(1).all()
    assert cities["core"].sum() == 35


def test_indices_lie_in_the_unit_interval_and_nothing_is_missing_but_gap_core_of_core_cities(panel):
    frame, _ = panel
    for col in INDICES:
        assert frame[col].between(0, 1).all(), col
    numeric = frame.select_dtypes("number").drop(columns="gap_core")
    assert np.isfinite(numeric.to_numpy()).all()
    assert frame["gap_core"].isna().equals(frame["core"] == 1)


def test_spec_file_validates_and_its_truth_keys_exist(panel):
    _, truth = panel
    spec_file = load_spec_file(SPECS)
    assert 24 <= len(spec_file.specs) <= 32
    keys = {spec.truth for spec in spec_file.specs if spec.truth}
    assert keys <= set(truth["effects"])
    assert all(np.isfinite(truth["effects"][key]) for key in keys)


def test_spec_file_splits_development_at_the_truth_files_cut(panel):
    _, truth = panel
    spec_file = load_spec_file(SPECS)
    assert spec_file.spec("het_low_dev").sample == f"lngdppc_2011 < {truth['dev_cut']}"
    assert spec_file.spec("het_high_dev").sample == f"lngdppc_2011 >= {truth['dev_cut']}"


def test_truth_encodes_the_abstracts_findings(panel):
    _, truth = panel
    effects = truth["effects"]
    assert effects["theta_all"] > 0
    assert effects["theta_all"] > max(effects["theta_digital_only"], effects["theta_intel_only"])
    assert effects["innov_effect"] > 0 and effects["ind_struct_effect"] > 0
    assert effects["gov_interaction"] > 0
    assert min(effects["theta_east"], effects["theta_west"]) > effects["theta_central"]
    assert effects["theta_low_dev"] > effects["theta_high_dev"]
    assert effects["growth_effect"] > 0 and effects["gap_core_effect"] < 0


def test_committed_data_files_are_what_the_generator_writes(tmp_path: Path):
    out = tmp_path / "city_panel.csv"
    synth.write_city_panel(synth.DEFAULT_SEED, out)
    assert out.read_bytes() == DATA.read_bytes()
    assert (tmp_path / "city_panel_truth.json").read_bytes() == TRUTH.read_bytes()
    assert json.loads(TRUTH.read_text(encoding="utf-8"))["seed"] == synth.DEFAULT_SEED
