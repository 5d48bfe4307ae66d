"""Shared fixtures. R tests carry the ``r`` marker: skipped when R is unusable on a developer's
machine, but a failure of the whole run when ``DMLP_REQUIRE_R=1`` (CI sets it). Tests of what
``make setup`` installs from Debian work the same way: ``browser`` (Chromium) with
``DMLP_REQUIRE_BROWSER=1`` and ``cjk_font`` (a CJK font) with ``DMLP_REQUIRE_CJK_FONT=1``. Tests
marked ``slow`` run only with ``DMLP_FULL=1`` (CI sets it too); otherwise they are deselected, and
the summary line says how many. No test writes into the user's result cache: the whole session uses
a temporary one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_R = os.environ.get("DMLP_REQUIRE_R") == "1"
FULL = os.environ.get("DMLP_FULL") == "1"
_SESSION_CACHE = tempfile.mkdtemp(prefix="dmlp-test-cache-")


def pytest_configure(config: pytest.Config) -> None:
    # Set before any test runs, so in-process runs and CLI subprocesses alike use it.
    os.environ["DMLP_CACHE_DIR"] = _SESSION_CACHE
    # The session's fork server outlives its runs: workers forked from it start with doubleml
    # imported (CLI subprocesses, like users' runs, import it in the worker after R's fit).
    from harness.running.parallel import preload_engine

    preload_engine()


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


def _r_problem() -> str | None:
    try:
        from harness.engines.r_engine import r_session

        r_session()
    except Exception as err:  # any reason R cannot start is reported the same way
        return " ".join(str(err).split())
    return None


def chromium() -> str | None:
    """The Chromium binary: ``DMLP_CHROMIUM``, else Debian's ``chromium`` on the PATH."""
    return os.environ.get("DMLP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _browser_problem() -> str | None:
    return None if chromium() else "no chromium on the PATH (make setup installs Debian's chromium)"


def _cjk_font_problem() -> str | None:
    from harness.report.fonts import font_families

    return None if len(font_families()) > 1 else "no CJK font found (make setup installs Debian's fonts-noto-cjk)"


# marker -> (what it needs, the variable that makes its absence a failure, the check)
NEEDS: dict[str, tuple[str, str, Callable[[], str | None]]] = {
    "r": ("R", "DMLP_REQUIRE_R", _r_problem),
    "browser": ("Chromium", "DMLP_REQUIRE_BROWSER", _browser_problem),
    "cjk_font": ("a CJK font", "DMLP_REQUIRE_CJK_FONT", _cjk_font_problem),
}


def pytest_sessionstart(session: pytest.Session) -> None:
    """Where a requirement is set, check it before anything runs, in the main process: a pytest-xdist
    worker that stops on it would only report an internal error."""
    if hasattr(session.config, "workerinput"):
        return
    for what, variable, check in NEEDS.values():
        if os.environ.get(variable) == "1":
            problem = check()
            if problem is not None:
                pytest.exit(f"{what} is required ({variable}=1) but not usable: {problem}", returncode=1)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from tests.shards import parametrize_from_class

    parametrize_from_class(metafunc)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FULL:
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]
    for marker, (what, variable, check) in NEEDS.items():
        marked = [item for item in items if item.get_closest_marker(marker)]
        if not marked:
            continue
        problem = check()
        if problem is None:
            continue
        if os.environ.get(variable) == "1":
            pytest.exit(f"{what} is required ({variable}=1) but not usable: {problem}", returncode=1)
        skip = pytest.mark.skip(reason=f"{what} not usable: {problem}")
        for item in marked:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    """Chromium for the layout tests (the ``browser`` marker has made sure there is one)."""
    binary = chromium()
    assert binary, _browser_problem()
    return binary


def make_tables(seed: int = 0, n: int = 800) -> pd.DataFrame:
    """Generated data for every model: continuous and binary treatments and instruments, clusters,
    and skewed, nearly collinear columns like real composite indices."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    skew = np.exp(rng.normal(size=n))  # right-skewed, like an index or a level
    near = x[:, 0] + 0.05 * rng.normal(size=n)  # nearly collinear with x1
    d = x[:, 0] + 0.3 * skew + rng.normal(size=n)
    zc = x[:, 1] + d * 0.5 + rng.normal(size=n)
    z = (x[:, 1] + rng.normal(size=n) > 0).astype(int)
    db = ((x[:, 0] + 0.8 * z + rng.normal(size=n)) > 0.4).astype(int)
    y = 0.5 * d + 0.7 * db + x @ np.array([1.0, 0.5, -0.3]) + 0.2 * skew + rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": y,
            "d": d,
            "db": db,
            "db_onesided": db * z,  # no always-takers: treated only when the instrument is on
            "z": z,
            "zc": zc,
            "x1": x[:, 0],
            "x2": x[:, 1],
            "x3": x[:, 2],
            "skew": skew,
            "near": near,
            "g": rng.integers(0, 40, n),
            "h": rng.integers(0, 30, n),
        }
    )


@pytest.fixture(scope="session")
def generated_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "generated.csv"
    make_tables().to_csv(path, index=False)
    return path


def run_spec_text(tmp_path: Path, spec_text: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """`dml-parity run` on ``spec_text`` written to ``tmp_path/spec.yaml``, as a user runs it (a subprocess)."""
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--specs", str(path), "--out", str(tmp_path / "out"), "--quiet", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )
