"""The result cache serves only what it can trust: successes, stored under their own key.
Errors are never stored; a truncated, foreign or old-format entry is refitted and overwritten;
a cache that cannot be written costs the cache, not the run."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from harness.cache import ResultCache
from harness.cli import main
from harness.runner import stable_view
from tests.faults import read_results, write_specs


def cli(*args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in [*args, "--quiet"]])
    return code, stderr.getvalue()


def entries(cache: Path) -> dict[str, Path]:
    """Spec id -> its cache entry file."""
    out = {}
    for path in cache.rglob("*.json"):
        out[json.loads(path.read_text(encoding="utf-8"))["result"]["id"]] = path
    return out


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

    # An entry for the right key whose stored result was edited to claim another key.
    entry = json.loads(files["c_irm"].read_text(encoding="utf-8"))
    entry["key"] = "0" * 64
    entry["result"]["python"]["coef"] = 123.0
    files["c_irm"].write_text(json.dumps(entry), encoding="utf-8")
    # ... and one in the format before keys were stored (the bare result).
    files["a_ols"].write_text(json.dumps(json.loads(files["a_ols"].read_text(encoding="utf-8"))["result"]), encoding="utf-8")
    assert cli("run", *common, "--out", tmp_path / "fourth")[0] == 4
    fourth = read_results(tmp_path / "fourth")
    assert cached(fourth) == {"a_ols": False, "b_slow": True, "c_irm": False}
    assert stable_view(fourth) == clean


def test_an_error_result_is_not_stored_even_if_asked(tmp_path: Path) -> None:
    # In whole runs: a spec whose worker died (tests/test_workers.py) and an R error
    # (tests/test_runner.py) are fitted again by the next run.
    cache = ResultCache(tmp_path)
    cache.store("ab" * 32, {"id": "x", "status": "error", "error": "R: failed", "timings": {}})
    assert not list(tmp_path.rglob("*.json"))


def test_a_cache_that_cannot_be_written_costs_the_cache_not_the_run(spec_path: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be", encoding="utf-8")
    common = ("--specs", spec_path, "--engines", "python", "--only", "a_ols,c_irm")
    code, stderr = cli("run", *common, "--cache-dir", blocked, "--out", tmp_path / "out")
    assert code == 4
    assert stderr.count("warning: result cache") == 1, stderr
    assert len(read_results(tmp_path / "out")["specs"]) == 2
