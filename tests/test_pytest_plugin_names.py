"""The names of the pytest plugin's baseline files, the way a user meets them: two classes of one
module with a test of the same name, and parametrize ids that sanitising makes one (``a.b``,
``a_b``). Until 2026-12-07 each pair shared one file: one test of each failed, and under
``--dml-parity-regen`` they wrote over each other on every run. A name nothing collided with keeps
its file, and a baseline saved under a test's earlier name is still read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.conftest import make_tables
from tests.test_pytest_plugin import PLUGIN, _run, warm  # noqa: F401 (a fixture, used by name)

pytest_plugins = ["pytester"]

SPEC = """
dataset: {path: data.csv}
defaults: {model: plr, y: y, d: d, x: [x1, x2, x3], n_folds: 3, seed: SEED}
specs:
  - {id: effect_ols, learner: ols}
"""
COLLIDING_TESTS = """
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def test_plain(dml_parity):
    dml_parity.assert_unchanged(HERE / "mine.yaml")


class TestMine:
    def test_est(self, dml_parity):
        dml_parity.assert_unchanged(HERE / "mine.yaml")


class TestWage:
    def test_est(self, dml_parity):
        dml_parity.assert_unchanged(HERE / "wage.yaml")


@pytest.mark.parametrize("spec", ["mine.yaml", "wage.yaml", "mine.yaml"], ids=["a.b", "a_b", "../../.."])
def test_p(dml_parity, spec):
    dml_parity.assert_unchanged(HERE / spec)
"""


def _digest(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]


# Relative to the test module's folder test_collide/. A name sanitising keeps is kept as it was;
# one it changed gets "-" and 8 hex digits of its sha256; a test in a class, its class's folder.
EXPECTED = {
    "test_plain.dml.json": "mine.yaml",
    "TestMine/test_est.dml.json": "mine.yaml",
    "TestWage/test_est.dml.json": "wage.yaml",
    f"test_p_a_b_-{_digest('test_p[a.b]')}.dml.json": "mine.yaml",
    f"test_p_a_b_-{_digest('test_p[a_b]')}.dml.json": "wage.yaml",
    f"test_p__________-{_digest('test_p[../../..]')}.dml.json": "mine.yaml",
}


def _project(pytester: pytest.Pytester) -> pytest.Pytester:
    """Two spec files with other numbers (other folds), their data, and the colliding tests."""
    make_tables(seed=5, n=300).to_csv(pytester.path / "data.csv", index=False)
    (pytester.path / "mine.yaml").write_text(SPEC.replace("SEED", "1"), encoding="utf-8")
    (pytester.path / "wage.yaml").write_text(SPEC.replace("SEED", "2"), encoding="utf-8")
    pytester.makepyfile(test_collide=COLLIDING_TESTS)
    return pytester


def _baselines(root: Path) -> dict[str, bytes]:
    """Every baseline file under the project (one put outside it would be missing here)."""
    return {path.relative_to(root / "test_collide").as_posix(): path.read_bytes() for path in root.rglob("*.dml.json")}


def _spec_of(baseline: bytes) -> str:
    return Path(json.loads(baseline)["spec_file"]).name


@pytest.mark.r
@pytest.mark.usefixtures("warm")
def test_colliding_test_ids_get_a_baseline_each_and_regen_settles(pytester: pytest.Pytester) -> None:
    _project(pytester)
    # -rN: no short summary, which repeats each message in full where CI is set (pytest's own rule).
    first = _run(pytester, "--dml-parity-regen", "-rN")
    first.assert_outcomes(failed=6)  # each wrote its own baseline, and fails naming it
    assert first.stdout.str().count("dml-parity baseline not found, created:") == 6
    written = _baselines(pytester.path)
    assert {name: _spec_of(content) for name, content in written.items()} == EXPECTED
    _run(pytester).assert_outcomes(passed=6)
    _run(pytester, "--dml-parity-regen").assert_outcomes(passed=6)  # settled: nothing differs, nothing written
    assert _baselines(pytester.path) == written


def _save_as_until_2026_12_07(pytester: pytest.Pytester, spec: str, name: str) -> None:
    """A baseline saved the way the fixture did before, under the name it gave then."""
    from harness.api.parity_fixture import _cli

    run = pytester.path / f"run-{name.split('.')[0]}"
    assert _cli("run", "--specs", str(pytester.path / spec), "--out", str(run), "--quiet")[0] == 0
    assert _cli("baseline", "save", str(run), "--to", str(pytester.path / "test_collide" / name))[0] == 0


@pytest.mark.r
@pytest.mark.usefixtures("warm")
def test_a_baseline_under_its_earlier_name_is_still_read_but_not_another_tests(pytester: pytest.Pytester) -> None:
    """An existing user's files: TestMine::test_est and test_p[a.b] saved theirs (from mine.yaml)
    under the shared names; they still pass on them, while TestWage::test_est and test_p[a_b], whose
    spec file is another, do not take those for theirs."""
    _project(pytester)
    _save_as_until_2026_12_07(pytester, "mine.yaml", "test_est.dml.json")
    _save_as_until_2026_12_07(pytester, "mine.yaml", "test_p_a_b_.dml.json")
    earlier = _baselines(pytester.path)
    first = _run(pytester, "-k", "Mine or Wage or a.b or a_b")
    first.assert_outcomes(passed=2, failed=2)
    first.stdout.fnmatch_lines_random(
        ["*FAILED test_collide.py::TestWage::test_est*", "*FAILED test_collide.py::test_p?a_b?*"]
    )
    now = _baselines(pytester.path)
    assert {name: now[name] for name in earlier} == earlier  # left as they were
    assert sorted(set(now) - set(earlier)) == sorted(
        ["TestWage/test_est.dml.json", f"test_p_a_b_-{_digest('test_p[a_b]')}.dml.json"]
    )
    _run(pytester, "-k", "Mine or Wage or a.b or a_b").assert_outcomes(passed=4)


NAMES_TEST = """
import hashlib

import pytest


def _inside(path, request):
    folder = request.path.parent / request.path.stem
    assert path.resolve().is_relative_to(folder.resolve()), path
    return path.relative_to(folder).as_posix()


class TestMine:
    def test_est(self, dml_parity, request):
        assert _inside(dml_parity.baseline_path(), request) == "TestMine/test_est.dml.json"
        assert _inside(dml_parity.baseline_path("mine"), request) == "mine.dml.json"  # a basename as given


def test_est(dml_parity, request):
    assert _inside(dml_parity.baseline_path(), request) == "test_est.dml.json"


@pytest.mark.parametrize("x", [1, 2, 3, 4], ids=["a.b", "a_b", "../../..", "a/b"])
def test_p(dml_parity, request, x):
    digest = hashlib.sha256(request.node.name.encode()).hexdigest()[:8]
    name = _inside(dml_parity.baseline_path(), request)
    assert name.endswith(f"-{digest}.dml.json") and "/" not in name
"""


def test_baseline_names_without_r(pytester: pytest.Pytester) -> None:
    """The rule itself, where no R is needed: in a class its folder, a sanitised name its digest,
    every one inside the module's folder."""
    pytester.makepyfile(test_names=NAMES_TEST)
    pytester.runpytest_subprocess(*PLUGIN).assert_outcomes(passed=6)
