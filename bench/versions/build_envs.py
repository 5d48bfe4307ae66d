"""How long `dml-parity versions` takes to build each release environment, and to find it again.

Run:  PYTHONPATH=$PWD DMLP_R_REPO=file:///abs/cran .venv/bin/python bench/versions/build_envs.py \
          [--py 0.9.3,0.10.1,0.11.4] [--r 1.0.1,1.0.2] [--cold]

Builds every environment one after the other into a fresh cache folder (a temporary one; the user's
cache is not touched), through the same code as the command (``harness.versions.environments``),
then asks for each again (a cache hit). ``--cold`` also turns pip's download cache off
(PIP_NO_CACHE_DIR), as on a fresh machine. Prints one line per environment: seconds, the 1-minute
load average before and after, and the size on disk.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from harness.engines.r_engine import r_library  # noqa: E402
from harness.versions import environments, releases  # noqa: E402


def _size(path: Path) -> str:
    return subprocess.run(["du", "-sh", str(path)], capture_output=True, text=True).stdout.split()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--py", default="0.9.3,0.10.1,0.11.4")
    parser.add_argument("--r", default="1.0.1,1.0.2")
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    py = releases.parse_releases("--py", args.py)
    releases.check_python_releases(py)
    r_urls = releases.check_r_releases(releases.parse_releases("--r", args.r))
    if args.cold:
        os.environ["PIP_NO_CACHE_DIR"] = "1"
    with tempfile.TemporaryDirectory(prefix="dmlp-bench-versions-") as tmp:
        os.environ["DMLP_VERSIONS_CACHE"] = tmp
        builds = [
            (f"doubleml {rel}", lambda rel=rel: environments.python_env(rel, releases.lock_path(rel), lambda _: None))
            for rel in py
        ]
        builds += [
            (f"DoubleML {rel}", lambda rel=rel, url=url: environments.r_env(rel, url, r_library(), lambda _: None))
            for rel, url in r_urls.items()
        ]
        for name, build in builds:
            env = build()
            record = env.record
            print(
                f"{name}: built in {record['seconds']} s (load {record['load_1min_before']} -> "
                f"{record['load_1min_after']}), {_size(env.path)}",
                flush=True,
            )
        for name, build in builds:
            start = time.perf_counter()
            env = build()
            assert not env.built_now
            print(f"{name}: found in the cache in {time.perf_counter() - start:.3f} s", flush=True)


if __name__ == "__main__":
    main()
