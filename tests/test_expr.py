"""A spec is data: ``sample`` is parsed against an allowlist grammar and evaluated without eval or
query; hostile expressions are refused at spec loading (exit 2, one line, nothing executed);
column names that would reach R's formula parser are refused too. What the grammar accepts
selects the rows pandas' query selects."""

from __future__ import annotations

import contextlib
import io
import json
import random
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.language.expr import MAX_DEPTH, ConditionError, evaluate, parse_condition


def marker_payloads(marker: Path) -> list[str]:
    """Expressions that create ``marker`` if anything evaluates them as code."""
    touch = f"'touch {marker}'"
    return [
        f"@pd.io.common.os.system({touch}) == 0",  # the issue's: pandas' @ names reach module scope
        f"x1 > 0 and @pd.io.common.os.system({touch}) == 0",
        f"__import__('os').system({touch}) == 0",
        "x1.__class__.__mro__[-1].__subclasses__() == 0",
        f"(lambda: __import__('os').system({touch}))() == 0",
        f"[__import__('os').system({touch}) for _ in [1]] == 0",
        f"f'{{__import__(\"os\").system({touch})}}' == '0'",
        f"(s := __import__('os').system({touch})) == 0",
    ]


HOSTILE = [
    ("attribute access", "x1.values > 0", "attribute access"),
    ("call", "abs(x1) > 0", "function calls"),
    ("method call", "x1.abs() > 0", "function calls"),
    ("@ name", "x1 > @threshold", "'@' names"),
    ("matrix product", "x1 @ x2 > 0", "'@' names"),
    ("dunder name", "__builtins__ == 0", "the name '__builtins__'"),
    ("dunder column", "__row__ < 10", "the name '__row__'"),
    ("backticked dunder column", "`__row__` < 5", "the name '__row__'"),
    ("backticked dunder with spaces", "x1 > 0 and `__row__ ` < 5", "the name '__row__ '"),
    ("lambda", "(lambda: 1) == 1", "lambdas"),
    ("list comprehension", "[a for a in x1] == 1", "comprehensions"),
    ("generator", "any(a for a in x1)", "function calls"),
    ("subscript", "x1[0] > 0", "subscripts"),
    ("slice", "x1[1:2] > 0", "subscripts"),
    ("f-string", "f'{x1}' == '1'", "f-strings"),
    ("walrus", "(t := x1) > 0", r"assignments \(:=\)"),
    ("starred", "x1 in [*x2]", "a list after in / == holds only literals"),
    ("dict", "{'a': 1} == x1", "dicts"),
    ("set", "x1 in {1, 2}", "in / not in need a list"),
    ("if-else", "x1 if x2 else x3", "if/else expressions"),
    ("is", "x1 is None", "the operator Is"),
    ("bytes", "x1 == b'a'", "bytes literals"),
    ("none", "x1 == None", "NoneType literals"),
    ("xor", "x1 ^ 1 > 0", "the operator BitXor"),
    ("shift", "x1 << 1 > 0", "the operator LShift"),
    ("string repetition", "'a' * 1000000000 == x1", "arithmetic needs numbers"),
    ("assignment", "x1 = 1", "not a valid condition"),
    ("statement", "import os", "not a valid condition"),
    ("two lines", "x1 > 0\nimport os", "one line"),
    ("deep nesting", "(" * 250 + "x1" + ")" * 250 + " > 0", "not a valid condition"),
    ("deep nodes", "(-" * 150 + "x1" + ")" * 150 + " > 0", f"nested more than {MAX_DEPTH} levels"),
    ("deep unary", "not " * 300 + "x1 > 0", f"nested more than {MAX_DEPTH} levels"),
    ("long chain", "+".join(["x1"] * 400) + " > 0", f"nested more than {MAX_DEPTH} levels"),
    ("very long", "x1 > 0 and " * 300 + "x1 > 0", "longer than"),
    ("unary recursion bomb", "-" * 1900 + "x1 > 0", "not a valid condition|nested more than"),
]


@pytest.mark.parametrize(("name", "text", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_conditions_are_refused(name: str, text: str, reason: str) -> None:
    import re

    with pytest.raises(ConditionError) as caught:
        parse_condition(text)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 400
    assert re.search(reason, message), message


def cli(*args) -> tuple[int, str]:
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        code = main([str(a) for a in args])
    return code, stderr.getvalue()


def test_a_spec_file_that_would_run_code_is_refused_before_anything_runs(tmp_path: Path, generated_csv: Path) -> None:
    marker = tmp_path / "pwned"
    for payload in marker_payloads(marker):
        spec = tmp_path / "s.yaml"
        quoted = payload.replace("'", "''")
        spec.write_text(
            f"dataset: {{path: {generated_csv}}}\nspecs:\n"
            f"  - {{id: evil, model: plr, y: y, d: d, x: [x1], learner: ols, sample: '{quoted}'}}\n",
            encoding="utf-8",
        )
        code, stderr = cli("run", "--specs", spec, "--engines", "python", "--out", tmp_path / "out", "--no-cache", "--quiet")
        assert code == 2, payload
        assert len(stderr.strip().splitlines()) == 1 and "spec 'evil' field 'sample'" in stderr, stderr
        assert not marker.exists(), f"executed: {payload}"
        assert not (tmp_path / "out").exists()


@pytest.mark.r
def test_column_names_that_r_would_run_never_reach_r(tmp_path: Path) -> None:
    """mlr3 pastes a target's name into formula text that lm evaluates: a column called
    system("...") would run it. Every field that reaches R (outcome, treatment, controls, two
    instruments, cluster) carries such a name or one R cannot read (spaces, Chinese, a keyword); R
    fits them under names of the tool's, nothing runs, and the results carry the user's names
    (PLIV's ml_m_<instrument> predictions too: R returns them under R's names)."""
    marker = tmp_path / "pwned_by_r"
    evil = f'system("touch {marker}")'
    rng = np.random.default_rng(5)
    n = 400
    frame = pd.DataFrame({"x1": rng.normal(size=n), "z a": rng.normal(size=n), "近2": rng.normal(size=n)})
    frame["TRUE"] = rng.normal(size=n)
    frame["d-1"] = frame["z a"] + 0.5 * frame["近2"] + rng.normal(size=n)
    frame[evil] = 0.5 * frame["d-1"] + frame["x1"] + rng.normal(size=n)
    frame["城市"] = np.arange(n) % 40
    data = tmp_path / "names.csv"
    frame.to_csv(data, index=False)
    spec = tmp_path / "s.yaml"
    quoted = evil.replace("'", "''")
    spec.write_text(
        f"dataset: {{path: {data}}}\nspecs:\n  - {{id: names, model: pliv, y: '{quoted}', d: d-1, x: [x1, 'TRUE'], "
        "z: [z a, 近2], cluster: 城市, learner: ols, n_folds: 3, seed: 2}\n",
        encoding="utf-8",
    )
    code, stderr = cli("run", "--specs", spec, "--out", tmp_path / "out", "--no-cache", "--quiet")
    assert code == 0, stderr
    assert not marker.exists()
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    (row,) = results["specs"]
    assert row["status"] == "agree" and row["y"] == evil and row["d"] == "d-1"
    names = {c["name"] for c in row["checks"]}
    assert not any(".dmlp_c" in name for name in names), sorted(names)


OWN_NAMES = [
    ("y", "model: plr, y: __row__, d: d, x: [x1]"),
    ("d", "model: plr, y: y, d: __d, x: [x1]"),
    ("x", "model: plr, y: y, d: d, x: [x1, __x2]"),
    ("z", "model: pliv, y: y, d: d, x: [x1], z: [__z]"),
    ("cluster", "model: plr, y: y, d: d, x: [x1], cluster: [__row__]"),
]


@pytest.mark.parametrize(("field", "entry"), OWN_NAMES, ids=[n[0] for n in OWN_NAMES])
def test_the_tools_own_names_are_refused_in_every_column_field(tmp_path: Path, field: str, entry: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"dataset: {{path: data.csv}}\nspecs:\n  - {{id: a, {entry}, learner: ols}}\n", encoding="utf-8")
    code, stderr = cli("run", "--specs", spec, "--engines", "python", "--out", tmp_path / "out")
    assert code == 2 and f"spec 'a' field '{field}" in stderr and "are the tool's own columns" in stderr, stderr


# -- what the grammar accepts means what pandas means ------------------------------------------


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 300
    out = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.integers(-3, 4, n),
            "c": rng.uniform(0, 10, n),
            "region": rng.choice(["east", "west", "central"], n),
            "flag": rng.random(n) > 0.5,
            "my col": rng.integers(0, 3, n),
        }
    )
    out.loc[rng.choice(n, 30, replace=False), "a"] = np.nan  # comparisons with missing values
    return out


def generated_conditions(count: int, seed: int = 0) -> list[str]:
    """Random conditions from the grammar: comparisons of arithmetic, membership, chains,
    combined with and/or/not and & | ~."""
    rng = random.Random(seed)

    def number() -> str:
        return rng.choice(["0", "1", "2", "-1", "0.5", "2.5", "-0.25", "3"])

    def arithmetic(depth: int = 0) -> str:
        if depth > 1 or rng.random() < 0.5:
            return rng.choice(["a", "b", "c", "`my col`", number()])
        op = rng.choice(["+", "-", "*", "/", "%", "**"])
        # Powers with small literal exponents: an integer column to a negative power is an
        # error in pandas as here (tested below), not a row condition.
        right = rng.choice(["2", "3"]) if op == "**" else rng.choice(["2", "3", "b", "c"]) if op == "%" else arithmetic(depth + 1)
        return f"({arithmetic(depth + 1)} {op} {right})"

    def atom() -> str:
        kind = rng.randrange(6)
        if kind == 0:
            return f"{arithmetic()} {rng.choice(['<', '<=', '>', '>=', '==', '!='])} {arithmetic()}"
        if kind == 1:
            return f"b {rng.choice(['in', 'not in'])} [{', '.join(rng.sample(['-3', '-1', '0', '1', '2'], 2))}]"
        if kind == 2:
            return f"region {rng.choice(['==', '!='])} '{rng.choice(['east', 'west', 'north'])}'"
        if kind == 3:
            return f"{number()} < c <= {rng.choice(['4', '7', '9.5'])}"
        if kind == 4:
            return "flag" if rng.random() < 0.5 else "~flag"
        return f"-a {rng.choice(['<', '>'])} {number()}"

    def condition(depth: int = 0) -> str:
        if depth > 2 or rng.random() < 0.35:
            return atom()
        kind = rng.randrange(5)
        left, right = condition(depth + 1), condition(depth + 1)
        if kind == 0:
            return f"({left}) and ({right})"
        if kind == 1:
            return f"({left}) or ({right})"
        if kind == 2:
            return f"not ({left})"
        if kind == 3:
            return f"({left}) & ({right})" if rng.random() < 0.5 else f"({left}) | ({right})"
        return f"~({left})"

    return [condition() for _ in range(count)]


def test_accepted_conditions_select_the_rows_pandas_selects(frame: pd.DataFrame) -> None:
    conditions = generated_conditions(400) + [
        "a > 0 & b < 2",  # pandas' precedence: & and | bind like and / or
        "a > 0 | b == 1 & c < 5",
        "b == [1, 2]",
        "b != [1, 2]",
        "region in ('east', 'west')",
        "1 < b < 3",
        "a != a",
        "c / 0 > 1",
    ]
    for text in conditions:
        ours = evaluate(parse_condition(text), frame)
        theirs = frame.eval(text, engine="python")
        assert np.array_equal(ours, theirs.to_numpy(dtype=bool)), text


def test_a_missing_value_compares_as_the_readme_says() -> None:
    """``!=`` keeps a missing value, ``==`` and ``<`` do not, and ``x == x`` drops it (README)."""
    frame = pd.DataFrame({"region": ["south", None, "east"], "a": [1.0, np.nan, 3.0]})
    kept = {text: evaluate(parse_condition(text), frame).tolist() for text in (
        "region != 'south'", "region == 'east'", "a < 2", "a != 1", "region != 'south' and region == region")}  # fmt: skip
    assert kept == {
        "region != 'south'": [False, True, True],
        "region == 'east'": [False, False, True],
        "a < 2": [True, False, False],
        "a != 1": [False, True, True],
        "region != 'south' and region == region": [False, False, True],
    }


def test_conditions_that_are_not_row_conditions(frame: pd.DataFrame) -> None:
    for text, reason in [
        ("a + 1", "not a true/false condition"),
        ("1 < 2", "does not depend on any column"),
        ("a and b > 0", "needs true/false operands"),
        ("region + 1 > 0", "arithmetic needs numbers"),
        ("a > 'x'", "cannot evaluate"),
        ("b ** -1 > 0", "cannot evaluate \\(Integers to negative integer powers"),
        ("nope > 1", "column 'nope' not found"),
    ]:
        with pytest.raises(ConditionError, match=reason):
            evaluate(parse_condition(text), frame)


def test_literal_arithmetic_cannot_hang(frame: pd.DataFrame) -> None:
    done = []
    thread = threading.Thread(target=lambda: done.append(evaluate(parse_condition("c < 9 ** 9 ** 9 ** 9"), frame)), daemon=True)
    thread.start()
    thread.join(10)
    assert done and done[0].all()


def test_sample_in_a_run_names_a_missing_column(tmp_path: Path, generated_csv: Path) -> None:
    spec = tmp_path / "s.yaml"
    entry = "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, sample: 'x11 > 0'}"
    spec.write_text(f"dataset: {{path: {generated_csv}}}\nspecs:\n  - {entry}\n", encoding="utf-8")
    code, stderr = cli("run", "--specs", spec, "--engines", "python", "--out", tmp_path / "out", "--no-cache", "--quiet")
    assert code == 2 and "spec 'a' field 'sample': column 'x11' not found (did you mean 'x1'?)" in stderr, stderr
