"""The result cache serves only what it can trust: engine outputs of completed fits, stored under
their own key. Errors are never stored; a truncated, foreign or old-format entry is refitted and
overwritten; a cache that cannot be written costs the cache, not the run. (That a served entry is
judged again, and a tampered one refitted: tests/test_cache_verdict.py.)"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main
from harness.running import cache_codec
from harness.running.cache import ResultCache
from harness.running.runner import stable_view
from tests.faults import read_results, write_specs


def cli(*args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in [*args, "--quiet"]])
    return code, stderr.getvalue()


def members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as entry:
        return {name: entry[name] for name in entry.files}


def entries(cache: Path) -> dict[str, Path]:
    """Spec id -> its cache entry file."""
    return {json.loads(str(members(path)["meta"]))["id"]: path for path in cache.rglob("*.npz")}


def cached(results: dict) -> dict[str, bool]:
    return {s["id"]: s["timings"]["cached"] for s in results["specs"]}


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory, generated_csv: Path) -> Path:
    path = write_specs(tmp_path_factory.mktemp("cache"), generated_csv)
    # b_slow's forest is not needed here.
    path.write_text(path.read_text(encoding="utf-8").replace("n_estimators: 100", "n_estimators: 10"), encoding="utf-8")
    return path


def test_damaged_and_foreign_entries_are_refitted_never_served(spec_path: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    common = ("--specs", spec_path, "--engines", "python", "--cache-dir", cache)
    assert cli("run", *common, "--out", tmp_path / "clean")[0] == 4
    clean = stable_view(read_results(tmp_path / "clean"))
    files = entries(cache)
    assert set(files) == {"a_ols", "b_slow", "c_irm"}

    # a_ols: truncated JSON. b_slow: c_irm's entry copied over it (stored key and id are c_irm's).
    files["a_ols"].write_bytes(files["a_ols"].read_bytes()[:100])
    shutil.copyfile(files["c_irm"], files["b_slow"])
    code, stderr = cli("run", *common, "--out", tmp_path / "again")
    assert code == 4 and stderr == ""
    again = read_results(tmp_path / "again")
    assert cached(again) == {"a_ols": False, "b_slow": False, "c_irm": True}
    assert stable_view(again) == clean
    # Both entries were rewritten whole and are served next time.
    assert cli("run", *common, "--out", tmp_path / "third")[0] == 4
    assert all(cached(read_results(tmp_path / "third")).values())

    # An entry whose meta was edited to claim another key, its digest made to match the edit.
    stored = members(files["c_irm"])
    meta = json.loads(str(stored.pop("meta")))
    meta["key"] = "0" * 64
    text = json.dumps(meta)
    stored.pop("digest")
    with files["c_irm"].open("wb") as handle:
        np.savez(handle, meta=np.array(text), digest=np.array(cache_codec.digest(text, stored)), **stored)
    # ... and, in the place of a_ols's entry, one in the format that stored verdicts (cache/1).
    old_format = files["a_ols"].with_suffix(".json")
    old_format.write_text(
        json.dumps({"schema": "dml-parity/cache/1", "key": files["a_ols"].stem, "result": {}}), encoding="utf-8"
    )
    files["a_ols"].unlink()
    assert cli("run", *common, "--out", tmp_path / "fourth")[0] == 4
    fourth = read_results(tmp_path / "fourth")
    assert cached(fourth) == {"a_ols": False, "b_slow": True, "c_irm": False}
    assert {s["id"]: s["cache"] for s in fourth["specs"]} == {"a_ols": "fitted", "b_slow": "served", "c_irm": "refitted"}
    assert stable_view(fourth) == clean
    assert not old_format.exists()  # replaced by the new entry


def test_an_error_result_is_not_stored_even_if_asked(tmp_path: Path) -> None:
    # In whole runs: a spec whose worker died (tests/test_workers.py) and an R error
    # (tests/test_runner.py) are fitted again by the next run.
    cache = ResultCache(tmp_path)
    cache.store("ab" * 32, {"id": "x", "status": "error", "error": "R: failed", "timings": {}}, {"python": None, "r": None})
    assert not list(tmp_path.rglob("*.npz"))


def test_a_cache_that_cannot_be_written_costs_the_cache_not_the_run(spec_path: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    common = ("--specs", spec_path, "--engines", "python", "--only", "a_ols,c_irm")
    code, stderr = cli("run", *common, "--cache-dir", blocked, "--out", tmp_path / "out")
    assert code == 4
    assert stderr.count("warning: result cache") == 1, stderr
    assert len(read_results(tmp_path / "out")["specs"]) == 2


def test_the_engine_code_digest_reads_the_code_that_fits() -> None:
    # After harness/ moved into rooms, a path one level off made the digest read no file at all, so
    # a change to an engine would have been served the old engine's outputs.
    from harness.running.cache import engine_code_files

    files = engine_code_files()
    names = {path.name for path in files}
    assert {"python_engine.py", "r_engine.py", "splits.py", "engine.R", "inference.R"} <= names, names
    assert all(path.is_file() and path.stat().st_size > 0 for path in files), [p for p in files if not p.is_file()]
