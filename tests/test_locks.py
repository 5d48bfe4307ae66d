"""The pinned environment: pylock.toml and r-packages.lock record what is installed, and the R
installer installs exactly a recorded version or stops with a message that names it."""

from __future__ import annotations

import hashlib
import re
import subprocess
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYLOCK = ROOT / "pylock.toml"
RLOCK = ROOT / "r-packages.lock"
INSTALLER = ROOT / "r_scripts" / "install_packages.R"


def python_pins() -> dict[str, dict]:
    return {canonicalize_name(p["name"]): p for p in tomllib.loads(PYLOCK.read_text(encoding="utf-8"))["packages"]}


def r_pins(path: Path = RLOCK) -> list[dict[str, str]]:
    """The DCF records of an R lock file (comment lines skipped)."""
    text = "\n".join(line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return [dict(line.split(": ", 1) for line in block.splitlines()) for block in text.strip().split("\n\n")]


def test_python_lock_pins_every_requirement_of_pyproject_within_its_range():
    pins = python_pins()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values() for r in extra)]
    for text in wanted:
        requirement = Requirement(text)
        pin = pins.get(canonicalize_name(requirement.name))
        assert pin, f"{requirement.name} is not in pylock.toml"
        assert requirement.specifier.contains(pin["version"], prereleases=True), (text, pin["version"])


def test_python_lock_is_portable_and_hashed():
    for name, pin in python_pins().items():
        files = [*pin.get("wheels", []), *([pin["sdist"]] if "sdist" in pin else [])]
        assert files, name
        for file in files:
            assert file["url"].startswith("https://"), (name, file["url"])  # no machine-local mirror
            assert re.fullmatch(r"[0-9a-f]{64}", file["hashes"]["sha256"]), name


def test_python_environment_is_the_locked_one():
    # make setup installs from the lock; a package moved by hand since shows here (then: make lock).
    moved = {}
    for name, pin in python_pins().items():
        try:
            have = version(name)
        except PackageNotFoundError:
            have = None
        if have != pin["version"]:
            moved[name] = (pin["version"], have)
    assert not moved, f"installed versions differ from pylock.toml (locked, installed): {moved}"


@pytest.mark.r
def test_r_lock_is_what_the_lock_writer_records_from_the_library(tmp_path: Path):
    written = tmp_path / "r.lock"
    writer = ROOT / "r_scripts" / "lock_packages.R"
    # A readable repository that holds none of the locked packages (the writer refuses an unreadable one).
    contrib = tmp_path / "repo" / "src" / "contrib"
    contrib.mkdir(parents=True)
    (contrib / "PACKAGES").write_text("Package: dmlpother\nVersion: 1.0\n\n", encoding="utf-8")
    done = subprocess.run(
        ["Rscript", str(writer), str(ROOT / ".rlib"), (tmp_path / "repo").as_uri(), str(written), "lightgbm"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # MD5 sums come from the repository's index, which here holds none of them.
    strip = [{k: v for k, v in pin.items() if k != "MD5sum"} for pin in r_pins(written)]
    assert strip == [{k: v for k, v in pin.items() if k != "MD5sum"} for pin in r_pins()]
    for pin in r_pins():
        if pin["Source"] == "repository":
            description = (ROOT / ".rlib" / pin["Package"] / "DESCRIPTION").read_text(encoding="utf-8")
            assert re.search(rf"^Version: {re.escape(pin['Version'])}$", description, flags=re.M), pin
            assert re.fullmatch(r"[0-9a-f]{32}", pin.get("MD5sum", "")), pin


@pytest.fixture(scope="module")
def archive_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A CRAN-style repository whose index has moved on to dmlpdemo 0.2.0 while 0.1.0, the version
    a lock recorded, sits in its archive (as CRAN keeps old versions)."""
    base = tmp_path_factory.mktemp("repo")
    package = base / "build" / "dmlpdemo"
    (package / "R").mkdir(parents=True)
    (package / "DESCRIPTION").write_text(
        "Package: dmlpdemo\nVersion: 0.1.0\nTitle: Test Package\nDescription: A package for a test.\n"
        "Authors@R: person('A', 'B', role = c('aut', 'cre'), email = 'a@b.c')\nLicense: MIT\n",
        encoding="utf-8",
    )
    (package / "NAMESPACE").write_text("export(answer)\n", encoding="utf-8")
    (package / "R" / "answer.R").write_text("answer <- function() 42\n", encoding="utf-8")
    subprocess.run(["R", "CMD", "build", "--no-manual", str(package)], cwd=package.parent, check=True, capture_output=True)
    tarball = package.parent / "dmlpdemo_0.1.0.tar.gz"
    contrib = base / "cran" / "src" / "contrib"
    (contrib / "Archive" / "dmlpdemo").mkdir(parents=True)
    tarball.rename(contrib / "Archive" / "dmlpdemo" / tarball.name)
    (contrib / "PACKAGES").write_text("Package: dmlpdemo\nVersion: 0.2.0\nNeedsCompilation: no\n", encoding="utf-8")
    md5 = hashlib.md5((contrib / "Archive" / "dmlpdemo" / tarball.name).read_bytes()).hexdigest()
    return base / "cran", md5


def install(lock_text: str, repo: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    lock = tmp_path / "test.lock"
    lock.write_text(lock_text, encoding="utf-8")
    command = ["Rscript", str(INSTALLER), str(tmp_path / "lib"), repo.as_uri(), str(tmp_path / "cache"), str(lock)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.mark.r
def test_r_installer_installs_the_locked_version_from_the_archive_and_links_from_its_cache(archive_repo, tmp_path):
    repo, md5 = archive_repo
    lock = f"# a comment\n\nPackage: dmlpdemo\nVersion: 0.1.0\nSource: repository\nMD5sum: {md5}\n"
    done = install(lock, repo, tmp_path)
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "lib" / "dmlpdemo"
    assert installed.is_symlink() and installed.resolve().parent == (tmp_path / "cache" / "dmlpdemo_0.1.0").resolve()
    assert "Version: 0.1.0" in (installed / "DESCRIPTION").read_text(encoding="utf-8")
    again = install(lock, repo, tmp_path)
    assert again.returncode == 0 and "(0 compiled, 0 linked" in again.stderr  # already there: nothing to do


@pytest.mark.r
@pytest.mark.parametrize(
    ("pin", "message"),
    [
        ("Version: 0.3.0", r"test\.lock pins dmlpdemo 0\.3\.0, but the repository file://\S+ has 0\.2\.0 \(nor in its archive\)"),
        ("Version: 0.1.0\nMD5sum: " + "0" * 32, r"the archive's dmlpdemo 0\.1\.0 is not the tarball the lock recorded"),
    ],
)
def test_r_installer_stops_with_one_clear_line_when_the_repository_lacks_the_locked_version(archive_repo, tmp_path, pin, message):
    repo, _ = archive_repo
    done = install(f"Package: dmlpdemo\n{pin}\nSource: repository\n", repo, tmp_path)
    assert done.returncode == 1
    assert re.search(message, done.stderr), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "lib" / "dmlpdemo").exists()


@pytest.mark.r
def test_r_lock_writer_refuses_an_unreadable_repository(tmp_path: Path):
    writer = ROOT / "r_scripts" / "lock_packages.R"
    done = subprocess.run(
        ["Rscript", str(writer), str(ROOT / ".rlib"), "file:///nonexistent", str(tmp_path / "r.lock"), "lightgbm"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "cannot read the package index of file:///nonexistent" in done.stderr
    assert not (tmp_path / "r.lock").exists()
