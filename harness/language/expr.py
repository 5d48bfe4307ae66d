"""Row conditions (a spec's ``sample``) and column names: spec text that is data, never code.

A condition is parsed with Python's ``ast`` and checked against an allowlist before any data is
read: column names, number/string/boolean literals, comparisons (chained too), ``in`` / ``not in``
a list of literals, ``and``/``or``/``not`` (and ``&``/``|``/``~`` as pandas users write them,
with the same precedence as pandas gives them), unary minus and ``+ - * / % **``, parentheses and
backtick-quoted column names. Everything else (attributes, calls, subscripts, ``@`` names,
lambdas, comprehensions, f-strings, ...) is refused. Accepted conditions are evaluated here on the
frame's columns with pandas operations; nothing reaches ``eval``, ``query`` or ``exec``.

Column names a spec hands to R (y, d, x, z, s, cluster) reach mlr3, which pastes them into formula
text that R evaluates: a column called ``system("...")`` would run. They must be plain names.
"""

from __future__ import annotations

import ast
import io
import operator
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import pandas as pd

__all__ = ["Condition", "ConditionError", "check_column_name", "check_plain_name", "evaluate", "parse_condition"]

MAX_LENGTH = 2000
MAX_DEPTH = 100
ALLOWED = "column names, numbers, strings, True/False, comparisons, in [...], and/or/not (& | ~), + - * / % **"

_ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_MEMBERSHIP = (ast.In, ast.NotIn)
# What a refused construct is called in the one-line message.
# Said where a column name with spaces or brackets may have been read as something else.
BACKTICKS = "a column name with spaces, brackets or other signs goes in backticks"
_NAMES = {
    ast.Attribute: "attribute access",
    ast.Call: "function calls",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.JoinedStr: "f-strings",
    ast.FormattedValue: "f-strings",
    ast.NamedExpr: "assignments (:=)",
    ast.Starred: "starred expressions",
    ast.IfExp: "if/else expressions",
    ast.Dict: "dicts",
    ast.Set: "sets",
    ast.Slice: "slices",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}


# A letter, then letters, digits, underscores and dots; no R keyword.
PLAIN_NAME = re.compile(r"[^\W\d_][\w.]*")
R_RESERVED = frozenset(
    "if else repeat while function for in next break TRUE FALSE NULL Inf NaN NA NA_integer_ NA_real_ "
    "NA_character_ NA_complex_".split()
)


def check_plain_name(name: str) -> None:
    """Raise ``ValueError`` unless ``name`` is a column name R reads as a name, never as code."""
    if not PLAIN_NAME.fullmatch(name) or name in R_RESERVED:
        raise ValueError(
            f"{name!r} is not a plain column name (a letter, then letters, digits, _ or .); "
            "give the column another name in dataset.columns"
        )


def check_column_name(name: str) -> None:
    """Raise ``ValueError`` for a name no data column of the user's may have in a spec: empty, or
    one of the tool's own (``__row__``). Any other name is fine; R sees a name of the tool's
    instead where it would not read the user's as a plain name (harness.engines.r_arguments)."""
    if not name.strip():
        raise ValueError("an empty column name")
    if name.startswith("__"):
        raise ValueError(
            f"{name!r}: names starting with '__' are the tool's own columns; give the column another name in dataset.columns"
        )


class ConditionError(ValueError):
    """A condition that is refused or cannot be evaluated; the message is one line."""


@dataclass(frozen=True)
class Condition:
    """A checked condition: ``tree`` holds only allowed nodes, ``columns`` every name it reads."""

    text: str
    tree: ast.Expression
    columns: tuple[str, ...]
    # Placeholder identifier -> the backtick-quoted column name it stands for.
    quoted: tuple[tuple[str, str], ...]


def parse_condition(text: str) -> Condition:
    """Parse and check ``text``; raises ``ConditionError`` naming what is not allowed."""
    if not isinstance(text, str):
        raise ConditionError("must be a string")
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"longer than {MAX_LENGTH} characters")
    if any(ord(c) < 32 and c != "\t" or c == "\x7f" for c in text):
        raise ConditionError("must be one line without control characters")
    if not text.strip():
        raise ConditionError("is empty")
    source, quoted = _replace_backticks(text)
    source = _pandas_precedence(source)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        hint = "" if "`" in text else f"; {BACKTICKS}, like `gdp per capita` > 0"
        raise ConditionError(f"{_show(text)} is not a valid condition (allowed: {ALLOWED}){hint}") from None
    names = _check(tree, text)
    mapping = dict(quoted)
    columns = tuple(dict.fromkeys(mapping.get(n, n) for n in names))
    return Condition(text=text, tree=tree, columns=columns, quoted=quoted)


def _replace_backticks(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """`` `a column` `` -> an identifier, outside string literals; ``@`` names are refused here."""
    prefix = "_bq"
    while prefix in text:
        prefix += "_"
    out, quoted = [], []
    i, quote = 0, None
    while i < len(text):
        c = text[i]
        if quote:
            out.append(c)
            if c == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c in "'\"":
            quote = c
            out.append(c)
        elif c == "@":
            raise ConditionError(f"{_show(text)}: '@' names are not allowed (allowed: {ALLOWED})")
        elif c == "`":
            end = text.find("`", i + 1)
            if end <= i + 1:
                raise ConditionError(f"{_show(text)}: unmatched or empty backtick quote")
            column = text[i + 1 : end]
            if column.startswith("__"):  # the tool's own columns (``__row__``), quoted or not
                raise ConditionError(f"{_show(text)}: the name {column!r} is not allowed")
            name = f"{prefix}{len(quoted)}"
            quoted.append((name, column))
            out.append(f" {name} ")
            i = end
        else:
            out.append(c)
        i += 1
    return "".join(out), tuple(quoted)


def _pandas_precedence(source: str) -> str:
    """``&`` and ``|`` become ``and`` and ``or``, so ``a > 1 & b < 2`` means what pandas makes of it."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return source  # ast.parse reports it
    out = []
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in ("&", "|"):
            out.append((tokenize.NAME, "and" if tok.string == "&" else "or"))
        else:
            out.append((tok.type, tok.string))
    return tokenize.untokenize(out)


def _refuse(node: ast.AST, text: str) -> ConditionError:
    what = _NAMES.get(type(node))
    if what is None and isinstance(node, (ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare)):
        ops = getattr(node, "ops", None) or [node.op]
        what = f"the operator {type(ops[0]).__name__}"
    if what is None and isinstance(node, ast.Constant):
        what = f"{type(node.value).__name__} literals"
    hint = ""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):  # perhaps a column such as 收入(万元)
        hint = f"; {BACKTICKS}: if {ast.unparse(node)!r} is a column, write `{ast.unparse(node)}`"
    return ConditionError(f"{_show(text)}: {what or type(node).__name__} not allowed (allowed: {ALLOWED}){hint}")


def _check(tree: ast.Expression, text: str) -> list[str]:
    """Walk the tree without recursion: every node allowed, depth bounded; returns the names read."""
    names: list[str] = []
    stack: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConditionError(f"{_show(text)}: nested more than {MAX_DEPTH} levels deep")
        children: list[ast.AST] = []
        if isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise ConditionError(f"{_show(text)}: the name {node.id!r} is not allowed")
            names.append(node.id)
        elif isinstance(node, ast.Constant):
            if type(node.value) not in (int, float, str, bool):
                raise _refuse(node, text)
        elif isinstance(node, ast.BoolOp) and isinstance(node.op, (ast.And, ast.Or)):
            children = list(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.Invert, ast.USub, ast.UAdd)):
            children = [node.operand]
        elif isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            for operand in (node.left, node.right):
                if isinstance(operand, ast.Constant) and type(operand.value) not in (int, float):
                    raise ConditionError(f"{_show(text)}: arithmetic needs numbers, not {type(operand.value).__name__} literals")
            children = [node.left, node.right]
        elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE or isinstance(op, _MEMBERSHIP) for op in node.ops):
            children = [node.left]
            last = len(node.ops) - 1
            for position, (op, right) in enumerate(zip(node.ops, node.comparators, strict=True)):
                if isinstance(right, (ast.List, ast.Tuple)):
                    if not isinstance(op, (*_MEMBERSHIP, ast.Eq, ast.NotEq)) or position != last:
                        raise ConditionError(f"{_show(text)}: a list can only follow in, not in, == or != (at the end)")
                    _check_literal_list(right, text)
                elif isinstance(op, _MEMBERSHIP):
                    raise ConditionError(f"{_show(text)}: in / not in need a list of literals, like x in [1, 2]")
                else:
                    children.append(right)
            if isinstance(node.left, (ast.List, ast.Tuple)):
                raise ConditionError(f"{_show(text)}: a list can only follow in, not in, == or !=")
        elif isinstance(node, (ast.List, ast.Tuple)):
            raise ConditionError(f"{_show(text)}: a list can only follow in, not in, == or !=")
        else:
            raise _refuse(node, text)
        stack.extend((child, depth + 1) for child in children)
    return names


def _check_literal_list(node: Union[ast.List, ast.Tuple], text: str) -> None:
    for element in node.elts:
        value = element.operand if isinstance(element, ast.UnaryOp) and isinstance(element.op, (ast.USub, ast.UAdd)) else element
        if not isinstance(value, ast.Constant) or type(value.value) not in (int, float, str, bool):
            raise ConditionError(f"{_show(text)}: a list after in / == holds only literals")
        if value is not element and type(value.value) not in (int, float):
            raise ConditionError(f"{_show(text)}: a sign applies only to numbers")


def evaluate(condition: Condition, frame: pd.DataFrame) -> np.ndarray:
    """The rows of ``frame`` that satisfy ``condition``, as a boolean array.

    Raises ``ConditionError`` for a missing column (message ``column 'x' not found``) or a
    condition that is not true/false per row.
    """
    columns = dict(condition.quoted)
    missing = [c for c in condition.columns if c not in frame.columns]
    if missing:
        raise ConditionError(f"column '{missing[0]}' not found")
    with np.errstate(all="ignore"):
        try:
            value = _Evaluator(frame, columns, condition.text).visit(condition.tree.body)
        except ConditionError:
            raise
        except (TypeError, ValueError, ArithmeticError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else err.__class__.__name__
            raise ConditionError(f"{_show(condition.text)}: cannot evaluate ({first})") from None
    if not isinstance(value, pd.Series):
        raise ConditionError(f"{_show(condition.text)} does not depend on any column")
    if not pd.api.types.is_bool_dtype(value) or value.isna().any():
        raise ConditionError(f"{_show(condition.text)} is not a true/false condition")
    return value.to_numpy(dtype=bool)


Value = Union[pd.Series, int, float, str, bool]


class _Evaluator:
    """Evaluates a checked tree; each method handles one allowed node type."""

    def __init__(self, frame: pd.DataFrame, quoted: dict[str, str], text: str) -> None:
        self.frame = frame
        self.quoted = quoted
        self.text = text

    def visit(self, node: ast.AST) -> Value:
        return getattr(self, f"_{type(node).__name__}")(node)

    def _Name(self, node: ast.Name) -> pd.Series:
        return self.frame[self.quoted.get(node.id, node.id)]

    def _Constant(self, node: ast.Constant) -> Value:
        value = node.value
        # Integers beyond 64 bits would make pandas fall back to Python objects.
        if type(value) is int and not -(2**63) <= value < 2**63:
            return float(value)
        return value

    def _BoolOp(self, node: ast.BoolOp) -> Value:
        values = [self._boolean(self.visit(v), "and/or") for v in node.values]
        combine = operator.and_ if isinstance(node.op, ast.And) else operator.or_
        out = values[0]
        for value in values[1:]:
            out = combine(out, value)
        return out

    def _UnaryOp(self, node: ast.UnaryOp) -> Value:
        operand = self.visit(node.operand)
        if isinstance(node.op, (ast.Not, ast.Invert)):
            value = self._boolean(operand, "not / ~")
            return ~value if isinstance(value, pd.Series) else not value
        number = self._number(operand)
        return -number if isinstance(node.op, ast.USub) else +number

    def _BinOp(self, node: ast.BinOp) -> Value:
        left, right = self._number(self.visit(node.left)), self._number(self.visit(node.right))
        if not isinstance(left, pd.Series) and not isinstance(right, pd.Series):
            # Literal arithmetic in float64: 9 ** 9 ** 9 is inf, not an hour of big-integer work.
            left, right = np.float64(left), np.float64(right)
        return _ARITHMETIC[type(node.op)](left, right)

    def _Compare(self, node: ast.Compare) -> Value:
        result: Value = True
        left = self.visit(node.left)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(right_node, (ast.List, ast.Tuple)):
                step = self._membership(left, _literals(right_node), negate=isinstance(op, (ast.NotIn, ast.NotEq)))
                right = None
            else:
                right = self.visit(right_node)
                step = _COMPARE[type(op)](left, right)
            result = step if result is True else operator.and_(result, step)
            left = right
        return result

    def _membership(self, left: Value, values: list, negate: bool) -> Value:
        if not isinstance(left, pd.Series):
            raise ConditionError(f"{_show(self.text)}: in / not in need a column on the left")
        inside = left.isin(values)
        return ~inside if negate else inside

    def _boolean(self, value: Value, what: str) -> Value:
        if isinstance(value, pd.Series) and pd.api.types.is_bool_dtype(value):
            return value
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise ConditionError(f"{_show(self.text)}: {what} needs true/false operands (comparisons), not numbers or text")

    def _number(self, value: Value) -> Value:
        if isinstance(value, pd.Series):
            if pd.api.types.is_numeric_dtype(value) and not pd.api.types.is_bool_dtype(value):
                return value
        elif isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
            return value
        raise ConditionError(f"{_show(self.text)}: arithmetic needs numbers, not text or true/false values")


def _show(text: str) -> str:
    """The condition as quoted in a message, shortened: hostile ones can be long."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _literals(node: Union[ast.List, ast.Tuple]) -> list:
    out = []
    for element in node.elts:
        if isinstance(element, ast.UnaryOp):
            value = element.operand.value  # type: ignore[attr-defined]
            out.append(-value if isinstance(element.op, ast.USub) else value)
        else:
            out.append(element.value)  # type: ignore[attr-defined]
    return out
