"""The test session never touches the user's own result cache."""

from __future__ import annotations

import os
from pathlib import Path

from harness.running.runner import default_cache_dir


def test_the_session_caches_in_a_temporary_folder() -> None:
    cache = default_cache_dir().resolve()
    users = Path(os.path.expanduser("~/.cache")).resolve()
    assert users not in cache.parents and cache != users
    assert cache.name.startswith("dmlp-test-cache-")


def test_a_required_r_that_is_missing_fails_the_run_with_one_clear_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "DMLP_REQUIRE_R": "1", "DMLP_RLIB": str(tmp_path / "no-library"), "PYTHONPATH": str(root)}
    target = str(root / "tests" / "test_mutation_r.py")
    for workers in ([], ["-n", "2", "--dist", "loadscope"]):
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *workers, target],
            capture_output=True, text=True, env=env, cwd=root, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 1, proc.stdout[-2000:]
        assert "R is required (DMLP_REQUIRE_R=1) but not usable: R package(s) missing: DoubleML" in proc.stdout
        assert " passed" not in proc.stdout and " skipped" not in proc.stdout
