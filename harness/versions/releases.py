"""Which releases a `versions` run may use: every check made before any environment is built.

A release is refused (exit 2, one line naming it) when it is not a release of the package, when the
tool does not speak its API, or (Python) when the repository keeps no lock for it. The supported
ranges come from reading the releases' source:

- doubleml 0.8.0 to 0.11.x. 0.7.1 and older still take ``dml_procedure`` and keep their models in a
  flat module layout (``doubleml.double_ml_plr``); from 0.8.0 on, models, ``DoubleMLData``,
  ``DoubleMLClusterData``, ``set_sample_splitting(all_smpls, all_smpls_cluster)``, ``all_coef`` /
  ``all_se`` and ``confint`` are what ``py_fit.py`` calls. 0.12 removes ``DoubleMLClusterData``,
  which the script needs for clustered specs on releases before 0.11.
- DoubleML (R) 0.5.3 to 1.0.x: the tool's ``r_scripts/engine.R`` with ``r_scripts/versions_compat.R``
  (their DoubleMLData has no ``s_col`` before 1.0.2). 0.5.3's R code differs from 1.0.0's only in
  documentation and a renamed helper (``format.perc``); releases older than 0.5.3 were not read,
  and 1.1 is not out.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from functools import lru_cache
from pathlib import Path

from harness.errors import EnvironmentProblem, HarnessError
from harness.versions.environments import SettingRefused

__all__ = [
    "LOCKS",
    "ReleaseRefused",
    "check_python_releases",
    "check_r_releases",
    "lock_path",
    "parse_releases",
    "r_repository",
    "release_key",
]

LOCKS = Path(__file__).resolve().parent / "locks"
PY_SUPPORTED = ((0, 8, 0), (0, 12, 0))  # [low, high)
R_SUPPORTED = ((0, 5, 3), (1, 1, 0))
DEFAULT_R_REPO = "https://cloud.r-project.org"  # the Makefile's default for DMLP_R_REPO
R_REPO_SETTING = "DMLP_R_REPO"
R_REPO_SCHEMES = ("file", "http", "https", "ftp")  # what urllib (and R's download.file) read


class ReleaseRefused(HarnessError):
    """A release the `versions` command cannot run (exit 2)."""


def release_key(release: str) -> tuple[int, ...]:
    return tuple(int(part) for part in release.split("."))


def parse_releases(flag: str, text: str) -> list[str]:
    """``0.9.3,0.10.1`` -> releases sorted oldest first; a malformed or repeated one is refused."""
    releases = [part.strip() for part in text.split(",") if part.strip()]
    for release in releases:
        if not re.fullmatch(r"\d+(\.\d+){1,3}", release):
            raise ReleaseRefused(f"{flag}: {release!r} is not a release number (like 0.10.1)")
    if len(set(releases)) != len(releases):
        raise ReleaseRefused(f"{flag}: a release is named twice ({text})")
    if not releases:  # '' as ',' : leaving the flag out is how to ask for the installed release
        raise ReleaseRefused(f"{flag}: no release given (leave {flag} out for the installed release)")
    return sorted(releases, key=release_key)


def lock_path(release: str) -> Path:
    return LOCKS / f"doubleml-{release}.txt"


def _in_range(release: str, bounds: tuple[tuple[int, ...], tuple[int, ...]]) -> bool:
    key = release_key(release) + (0,) * (3 - len(release_key(release)))
    return bounds[0] <= key < bounds[1]


@lru_cache(maxsize=1)
def pypi_releases() -> tuple[str, ...]:
    """doubleml's releases as pip sees them (the user's pip configuration: index, proxy, mirror)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "index", "versions", "doubleml"], capture_output=True, text=True, timeout=120
    )
    match = re.search(r"Available versions: (.*)", done.stdout)
    if done.returncode != 0 or not match:
        raise EnvironmentProblem("--py-releases: cannot list doubleml's releases with pip (no package index reachable)")
    return tuple(v.strip() for v in match.group(1).split(","))


def check_python_releases(releases: list[str]) -> None:
    """Refuse, before anything is built, a release that is unknown, unsupported or unlocked."""
    known = None
    for release in releases:
        if not lock_path(release).exists():  # a locked release is a known one: no index needed
            known = known or pypi_releases()
            if release not in known:
                raise ReleaseRefused(f"--py-releases: doubleml {release} is not a doubleml release")
        if not _in_range(release, PY_SUPPORTED):
            why = (
                "its models take dml_procedure and live in the pre-0.8 module layout"
                if release_key(release) < (0, 8)
                else ("it removes DoubleMLClusterData, which the fit script uses for clustered specs")
            )
            raise ReleaseRefused(f"--py-releases: doubleml {release} is not supported ({why}); supported: 0.8.0 to 0.11.x")
        if not lock_path(release).exists():
            raise ReleaseRefused(
                f"--py-releases: doubleml {release} has no lock (harness/versions/locks/{lock_path(release).name}); "
                f"locked: {', '.join(locked_releases())}"
            )


def locked_releases() -> list[str]:
    return sorted((p.stem.removeprefix("doubleml-") for p in LOCKS.glob("doubleml-*.txt")), key=release_key)


def r_repository() -> str:
    """The CRAN-style repository `make setup` installs from (``DMLP_R_REPO``); a value that is not
    a URL is refused (exit 2) naming the setting."""
    repo = (os.environ.get(R_REPO_SETTING) or DEFAULT_R_REPO).rstrip("/")
    scheme = urllib.parse.urlsplit(repo).scheme
    if scheme not in R_REPO_SCHEMES:
        hint = f"; a local repository is file://{Path(repo).absolute()}" if not scheme else ""
        raise SettingRefused(f"{R_REPO_SETTING}: {repo!r} is not a repository URL ({', '.join(R_REPO_SCHEMES)}){hint}")
    return repo


def _fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as response:  # file:// and http(s)://
        return response.read().decode("utf-8", "replace")


def _read(url: str) -> str:
    """``url``'s text, or '' where it cannot be read (an optional listing)."""
    try:
        return _fetch(url)
    except OSError:
        return ""


def r_releases(repo: str) -> dict[str, str]:
    """DoubleML's releases in ``repo``: release -> tarball URL (current from PACKAGES, older from
    the Archive folder, as CRAN lays them out)."""
    out = {}
    index = f"{repo}/src/contrib/PACKAGES"
    try:
        packages = _fetch(index)
    except (OSError, ValueError) as err:  # no release can be said absent
        reason = getattr(err, "reason", None) or err.__class__.__name__
        # A local folder that is not there, or a server answering "no such file": the setting is
        # wrong (2). A server not reached (network, proxy): the machine is (3).
        wrong = repo.startswith("file://") or isinstance(err, urllib.error.HTTPError) or isinstance(err, ValueError)
        raise (SettingRefused if wrong else EnvironmentProblem)(
            f"{R_REPO_SETTING}: cannot read {index} ({reason}); set {R_REPO_SETTING} to a CRAN-style repository this "
            "machine reaches (a local one as file:///path)"
        ) from None
    current = re.search(r"^Package: DoubleML\s*\nVersion: (\S+)", packages, re.M)
    if current:
        out[current.group(1)] = f"{repo}/src/contrib/DoubleML_{current.group(1)}.tar.gz"
    archive = f"{repo}/src/contrib/Archive/DoubleML"
    listing = _read(archive + "/")
    if not listing and repo.startswith("file://"):
        folder = Path(archive.removeprefix("file://"))
        listing = " ".join(p.name for p in folder.glob("*.tar.gz")) if folder.is_dir() else ""
    for release in re.findall(r"DoubleML_([\d.]+?)\.tar\.gz", listing):
        out.setdefault(release, f"{archive}/DoubleML_{release}.tar.gz")
    return out


def check_r_releases(releases: list[str]) -> dict[str, str]:
    """Each release's tarball URL; an unknown or unsupported release is refused."""
    repo = r_repository()
    available = r_releases(repo)
    urls = {}
    for release in releases:
        if release not in available:
            held = ", ".join(sorted(available, key=release_key)) or "none"
            raise ReleaseRefused(f"--r-releases: DoubleML {release} is not a DoubleML release in {repo} (it holds: {held})")
        if not _in_range(release, R_SUPPORTED):
            raise ReleaseRefused(
                f"--r-releases: DoubleML {release} is not supported (its source was not read against the tool's "
                "R engine); supported: 0.5.3 to 1.0.x"
            )
        urls[release] = available[release]
    return urls
