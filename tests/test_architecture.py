"""ARCHITECTURE.md and the README's layout section stay true to the tree: every subpackage of
harness/ is named in ARCHITECTURE.md, every one it names exists, every harness/ or bench/ path the
two documents give exists, and no module grows past 500 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.test_imports import import_graph

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "harness"
ROOM = re.compile(r"(?<![\w/.])harness/(\w+)/")
PATH = re.compile(r"(?<![\w/.])((?:harness|bench)/[\w/.-]*\w)")


def subpackages() -> set[str]:
    return {p.parent.relative_to(HARNESS).as_posix() for p in HARNESS.rglob("__init__.py") if p.parent != HARNESS}


def named_rooms(text: str) -> set[str]:
    return set(ROOM.findall(text))


def test_every_subpackage_is_named_and_every_named_one_exists() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    top_level = {p.split("/")[0] for p in subpackages()}
    named = named_rooms(text)
    assert top_level - named == set(), f"subpackages of harness/ that ARCHITECTURE.md does not name: {sorted(top_level - named)}"
    assert named - top_level == set(), f"ARCHITECTURE.md names rooms that do not exist: {sorted(named - top_level)}"


def test_the_paths_the_documents_give_exist() -> None:
    for doc in ("ARCHITECTURE.md", "README.md"):
        text = (ROOT / doc).read_text(encoding="utf-8")
        if doc == "README.md":  # the layout section
            text = text[text.index("## Layout") :]
            text = text[: text.find("\n## ", 1)] if "\n## " in text[1:] else text
        missing = sorted({p for p in PATH.findall(text) if not (ROOT / p).exists()})
        assert not missing, f"{doc} names paths that do not exist: {missing}"


def test_modules_in_the_rooms_named_in_architecture_md_exist() -> None:
    # "`harness/verdict/`: ... `checks.py`": a module named in a room's line is in that room
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        m = re.match(r"- `harness/(\w+)/`", line)
        if m:
            for module in re.findall(r"`(\w+\.py)`", line):
                assert (HARNESS / m[1] / module).exists(), f"ARCHITECTURE.md: harness/{m[1]}/{module} does not exist"


def test_the_top_of_harness_stays_small_and_modules_stay_short() -> None:
    top = sorted(p.name for p in HARNESS.glob("*.py"))
    assert len(top) <= 10, f"{len(top)} modules at the top of harness/ (at most 10; give new ones a room): {top}"
    lengths = {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines()) for p in HARNESS.rglob("*.py")}
    long = {path: n for path, n in lengths.items() if n > 500}
    assert not long, f"modules over 500 lines: {long}"


FUNCTION_LINES = 80


def long_functions(root: Path) -> dict[str, int]:
    """``path:function`` -> lines, for every function (nested ones too) longer than FUNCTION_LINES."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_LINES:
                    out[f"{p.relative_to(root.parent).as_posix()}:{node.name}"] = lines
    return out


def test_no_function_is_over_80_lines() -> None:
    # a long function is several steps without names: split it into named ones
    long = {**long_functions(HARNESS), **long_functions(ROOT / "bench")}
    assert not long, f"functions over {FUNCTION_LINES} lines: {long}"


def test_a_long_function_fails_the_length_check(tmp_path: Path) -> None:
    # the check itself can fail: a def and 80 lines of body is 81 lines, one too many
    for n, expected in ((FUNCTION_LINES - 1, {}), (FUNCTION_LINES, {f"{tmp_path.name}/m.py:f": FUNCTION_LINES + 1})):
        body = "\n".join(f"    x{i} = {i}" for i in range(n))
        (tmp_path / "m.py").write_text(f"def f():\n{body}\n", encoding="utf-8")
        assert long_functions(tmp_path) == expected


# The order imports may go in (ARCHITECTURE.md): a room imports only rooms earlier in this list.
ORDER = ["errors", "output", "language", "design", "synth", "engines", "verdict", "report", "running", "regression"]
ORDER += ["versions", "doctor"]
ORDER.append("cli")
ORDER.append("api")  # the pytest plugin drives the command line
LAZY_BACK_EDGES = {
    ("harness.language.spec", "harness.design.generated"),
    ("harness.language.inference_settings", "harness.verdict.multiplicity"),
}  # checked at call time


def room_of(module: str) -> str:
    return module.split(".")[1] if module.count(".") else module


def test_imports_never_climb_back() -> None:
    graph = import_graph()
    rooms = {room_of(m) for m in graph if m != "harness"}
    assert rooms <= set(ORDER), f"rooms missing from ORDER (and from ARCHITECTURE.md's order): {sorted(rooms - set(ORDER))}"
    edges = [(a, b) for a, targets in graph.items() for b in targets if "harness" not in (a, b) and (a, b) not in LAZY_BACK_EDGES]
    back = sorted(f"{a} -> {b}" for a, b in edges if ORDER.index(room_of(b)) > ORDER.index(room_of(a)))
    assert not back, f"imports that climb back up the flow: {back}"


def test_a_room_that_is_not_a_package_fails_the_check(tmp_path: Path) -> None:
    # the check itself can fail: a named room missing from the tree is reported
    assert named_rooms("`harness/nowhere/` and `harness/design/table.py`") == {"nowhere", "design"}
    assert "nowhere" not in {p.split("/")[0] for p in subpackages()}


def test_every_check_is_built_by_the_constructors_in_checks_py() -> None:
    # at_most/at_least (harness/verdict/checks.py) decide ok and can_fail one way for every layer
    built = sorted(
        f"{p.relative_to(ROOT)}:{n.lineno}"
        for p in HARNESS.rglob("*.py")
        if p.name != "checks.py"
        for n in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == "Check"
    )
    assert not built, f"checks built outside at_most/at_least: {built}"


def test_the_r_scripts_ask_for_the_confidence_level_the_python_side_uses() -> None:
    # CI_LEVEL (harness/engines/result.py) is the level of every interval; R's scripts write it out
    from harness.engines.result import CI_LEVEL

    for script in ("engine.R", "inference.R"):
        levels = re.findall(r"confint\([^)]*level = ([\d.]+)", (ROOT / "r_scripts" / script).read_text(encoding="utf-8"))
        assert levels and all(float(v) == CI_LEVEL for v in levels), f"r_scripts/{script}: {levels}, CI_LEVEL {CI_LEVEL}"
