"""Shared fixtures. R tests carry the ``r`` marker: skipped when R is unusable on a developer's
machine, but a failure of the whole run when ``DMLP_REQUIRE_R=1`` (CI sets it)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_R = os.environ.get("DMLP_REQUIRE_R") == "1"


def _r_problem() -> str | None:
    try:
        from harness.engines.r_engine import r_session

        r_session()
    except Exception as err:  # any reason R cannot start is reported the same way
        return " ".join(str(err).split())
    return None


_SESSION_CACHE: list[str] = []


def pytest_configure(config: pytest.Config) -> None:
    # Runs store what they fit even with --no-cache: never into the user's own cache.
    if "DMLP_CACHE_DIR" not in os.environ:
        import tempfile

        _SESSION_CACHE.append(tempfile.mkdtemp(prefix="dmlp-test-cache-"))
        os.environ["DMLP_CACHE_DIR"] = _SESSION_CACHE[0]


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    for folder in _SESSION_CACHE:
        shutil.rmtree(folder, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    r_items = [item for item in items if item.get_closest_marker("r")]
    if not r_items:
        return
    problem = _r_problem()
    if problem is None:
        return
    if REQUIRE_R:
        pytest.exit(f"R is required (DMLP_REQUIRE_R=1) but not usable: {problem}", returncode=1)
    skip = pytest.mark.skip(reason=f"R not usable: {problem}")
    for item in r_items:
        item.add_marker(skip)


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
