"""Rows and folds live in arrays.npz beside results.json: deterministic bytes, checked by sha256,
absent from results.json and from cache entries, and enough to re-run a fit outside the tool."""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.errors import DataError
from harness.language.spec import load_spec_file
from harness.output.arrays import SIDE_FILE, attach_arrays, pair_digest, read_arrays, side_file_bytes, write_arrays
from harness.regression.baseline import save_baseline
from harness.running.runner import SCHEMA, prepare

SPECS = """
dataset: {path: DATA}
defaults: {n_folds: 3, seed: 5}
specs:
  - {id: plain, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols, sample: "x1 > -1"}
  - {id: two_way, model: plr, y: y, d: d, x: [x1, x2, x3], learner: ols, cluster: [g, h], n_rep: 2}
"""


@pytest.fixture()
def spec_path(tmp_path: Path, generated_csv: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SPECS.replace("DATA", str(generated_csv)), encoding="utf-8")
    return path


def run_python(spec_path: Path, out: Path, *extra) -> dict:
    assert main(["run", "--specs", str(spec_path), "--engines", "python", "--out", str(out), "--quiet", *map(str, extra)]) == 4
    return json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_side_file_is_deterministic_referenced_and_matches_the_design(spec_path: Path, tmp_path: Path) -> None:
    one = run_python(spec_path, tmp_path / "one", "--no-cache")
    run_python(spec_path, tmp_path / "two", "--no-cache")
    data = (tmp_path / "one" / SIDE_FILE).read_bytes()
    assert data == (tmp_path / "two" / SIDE_FILE).read_bytes()
    assert one["schema"] == SCHEMA == "dml-parity/results/2"
    assert one["arrays"] == {"path": SIDE_FILE, "sha256": hashlib.sha256(data).hexdigest()}
    text = (tmp_path / "one" / "results.json").read_text(encoding="utf-8")
    assert all("rows" not in s and "folds" not in s for s in one["specs"])
    prepared = {p.spec.id: p for p in prepare(load_spec_file(spec_path), Path(one["provenance"]["data"]["path"]))}
    arrays = read_arrays(tmp_path / "one", one)
    for spec_id, (rows, folds) in arrays.items():
        assert np.array_equal(rows, prepared[spec_id].design.rows)
        assert np.array_equal(folds, prepared[spec_id].folds.labels)
    assert arrays["plain"][0].size < 800 and arrays["two_way"][1].shape == (2, 800)
    assert len(text) < 20_000  # numbers only: the lists would be ~30 kB here and ~30 MB at a million rows


def test_side_file_bytes_depend_on_the_arrays_only() -> None:
    members = {"rows_0": np.arange(10), "folds_0": np.array([[0, 1, 2] * 3 + [0]])}
    first = side_file_bytes(members)
    # Other integer types with the same values store the same compact bytes.
    assert side_file_bytes({"rows_0": np.arange(10, dtype=np.int32), "folds_0": members["folds_0"].astype(np.uint8)}) == first
    assert side_file_bytes({**members, "rows_0": np.arange(1, 11)}) != first
    with np.load(io.BytesIO(first)) as archive:
        assert archive["rows_0"].dtype == np.dtype("<i1") and archive["rows_0"].tolist() == list(range(10))


def test_rows_on_the_same_rows_and_folds_share_one_stored_pair(tmp_path: Path) -> None:
    """The treatments of one spec (and specs on one panel and seed) store their arrays once."""
    rows, folds = np.arange(6), np.array([[0, 1, 2, 0, 1, 2]])
    other = np.array([[2, 1, 0, 2, 1, 0]])
    results = {
        "schema": SCHEMA,
        "specs": [
            {"id": "s[d1]", "rows": rows, "folds": folds},
            {"id": "s[d2]", "rows": rows.copy(), "folds": folds.copy()},
            {"id": "t", "rows": rows, "folds": other},
        ],
    }
    written = write_arrays(results, tmp_path)
    refs = [spec["arrays"] for spec in written["specs"]]
    assert refs[0] == refs[1] and (refs[0]["rows"], refs[0]["folds"]) == ("rows_0", "folds_0")
    assert (refs[2]["rows"], refs[2]["folds"]) == ("rows_2", "folds_2")
    with np.load(tmp_path / SIDE_FILE) as archive:
        assert sorted(archive.files) == ["folds_0", "folds_2", "rows_0", "rows_2"]
    back = read_arrays(tmp_path, written)
    assert np.array_equal(back["s[d2]"][1], folds) and np.array_equal(back["t"][1], other)


def test_changed_side_file_is_refused(spec_path: Path, tmp_path: Path) -> None:
    results = run_python(spec_path, tmp_path / "run", "--no-cache")
    path = tmp_path / "run" / SIDE_FILE
    good = path.read_bytes()
    path.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    with pytest.raises(DataError, match="sha256 differs"):
        read_arrays(tmp_path / "run", results)
    path.write_bytes(good)
    forged = json.loads(json.dumps(results))
    forged["specs"][0]["arrays"]["folds"] = forged["specs"][1]["arrays"]["folds"]
    with pytest.raises(DataError, match="spec 'plain'"):
        read_arrays(tmp_path / "run", forged)
    path.unlink()
    with pytest.raises(DataError, match="cannot read"):
        read_arrays(tmp_path / "run", results)


def test_cache_entries_carry_a_checksum_not_the_lists(spec_path: Path, tmp_path: Path) -> None:
    from harness.running import cache_codec

    cache = tmp_path / "cache"
    first = run_python(spec_path, tmp_path / "first", "--cache-dir", cache)
    paths = sorted(cache.rglob("*.npz"))
    # An entry is the engines' outputs with a meta member (harness/running/cache.py): it names the rows and
    # folds the tool drew by their checksum (the folds each package used are engine output).
    stored = []
    for path in paths:
        with np.load(path, allow_pickle=False) as entry:
            stored.append({name: entry[name] for name in entry.files})
    metas = [json.loads(str(members["meta"])) for members in stored]
    assert len(metas) == 2
    for meta in metas:
        assert "rows" not in meta and "folds" not in meta and "status" not in meta and "checks" not in meta
    by_id = {s["id"]: s for s in first["specs"]}
    assert {m["arrays_sha256"] for m in metas} == {s["arrays"]["sha256"] for s in by_id.values()}
    second = run_python(spec_path, tmp_path / "second", "--cache-dir", cache)
    assert all(s["timings"]["cached"] for s in second["specs"])
    assert (tmp_path / "second" / SIDE_FILE).read_bytes() == (tmp_path / "first" / SIDE_FILE).read_bytes()
    # An entry stored for other rows and folds under the right key (its digest made to match) is
    # not served: refitted.
    meta, members = metas[0], stored[0]
    served_id = meta["id"]
    meta["arrays_sha256"] = "0" * 64
    text = json.dumps(meta)
    arrays = {k: v for k, v in members.items() if k not in ("meta", "digest")}
    with paths[0].open("wb") as handle:
        np.savez(handle, meta=np.array(text), digest=np.array(cache_codec.digest(text, arrays)), **arrays)
    third = run_python(spec_path, tmp_path / "third", "--cache-dir", cache)
    assert {s["id"]: s["timings"]["cached"] for s in third["specs"]} == {i: i != served_id for i in by_id}


def test_a_fit_reruns_outside_the_tool_from_the_side_file(spec_path: Path, tmp_path: Path, generated_csv: Path) -> None:
    """The README's layout, followed by hand with plain doubleml, cluster cells included."""
    import doubleml as dml
    from sklearn.linear_model import LinearRegression

    results = attach_arrays(tmp_path / "run", run_python(spec_path, tmp_path / "run", "--no-cache"))
    spec = {s["id"]: s for s in results["specs"]}["two_way"]
    raw = pd.read_csv(generated_csv).iloc[spec["rows"]].reset_index(drop=True)
    codes = np.column_stack([pd.factorize(raw[c], sort=True)[0] for c in ("g", "h")])
    K = 3
    smpls, smpls_cluster = [], []
    for labels in spec["folds"]:
        per_var = [(labels // K**v) % K for v in range(2)]  # each cluster variable's fold per row
        reps, reps_cluster = [], []
        for k in range(K**2):
            cell = [(k // K**v) % K for v in range(2)]
            train = np.flatnonzero(np.logical_and.reduce([per_var[v] != cell[v] for v in range(2)]))
            reps.append((train, np.flatnonzero(labels == k)))
            reps_cluster.append(
                tuple(
                    [np.unique(codes[per_var[v] != cell[v], v]).astype(float) for v in range(2)]
                    if side == 0
                    else [np.unique(codes[per_var[v] == cell[v], v]).astype(float) for v in range(2)]
                    for side in (0, 1)
                )
            )
        smpls.append(reps)
        smpls_cluster.append(reps_cluster)
    data = dml.DoubleMLClusterData(raw.assign(g=codes[:, 0], h=codes[:, 1]), "y", "d", ["g", "h"], ["x1", "x2", "x3"])
    model = dml.DoubleMLPLR(data, LinearRegression(), LinearRegression(), n_folds=K, n_rep=2, draw_sample_splitting=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_sample_splitting(smpls, smpls_cluster).fit()
    assert abs(model.coef[0] - spec["python"]["coef"]) <= 1e-12 * abs(model.coef[0])
    assert abs(model.se[0] - spec["python"]["se"]) <= 1e-12 * model.se[0]
    assert pair_digest(spec["rows"], spec["folds"]) == spec["arrays"]["sha256"]


def test_baseline_reads_both_schemas_and_refuses_others(spec_path: Path, tmp_path: Path) -> None:
    results = run_python(spec_path, tmp_path / "run", "--no-cache")
    save_baseline(tmp_path / "run", tmp_path / "b2.json")
    old = {**results, "schema": "dml-parity/results/1"}
    (tmp_path / "old.json").write_text(json.dumps(old), encoding="utf-8")
    save_baseline(tmp_path / "old.json", tmp_path / "b1.json")
    b1, b2 = (json.loads((tmp_path / n).read_text()) for n in ("b1.json", "b2.json"))
    assert b1["estimates"] == b2["estimates"]
    (tmp_path / "other.json").write_text(json.dumps({**results, "schema": "something/else"}), encoding="utf-8")
    with pytest.raises(DataError, match="schema 'something/else'"):
        save_baseline(tmp_path / "other.json", tmp_path / "b3.json")
