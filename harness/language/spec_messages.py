"""Spec-file mistakes in the tool's own words: a suggestion for a near miss (case, a letter
dropped), the validation library's and the YAML parser's jargon replaced by what is wrong where."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from typing import Any, Optional

__all__ = [
    "UNSUPPORTED",
    "as_written",
    "not_utf8",
    "did_you_mean",
    "error_field",
    "id_problem",
    "validation_message",
    "yaml_message",
]

# Options of one package only, or that the tool does not compare: named, with the reason, instead of
# "unknown key".
UNSUPPORTED = {
    "dml_procedure": "only dml2 is shared (DoubleML for R still has dml1, doubleml 0.11.4 removed it); the tool fits dml2",
    "apply_cross_fitting": "R only (doubleml 0.11.4 always cross-fits)",
    "draw_sample_splitting": "the tool draws the folds itself and gives both packages the same ones",
    "sensitivity": "doubleml only (DoubleML for R 1.0.2 has no sensitivity analysis)",
}

# doubleml's models without an R twin in DoubleML 1.0.2 (named as a spec would write them).
PYTHON_ONLY_MODELS = {"did", "did_cs", "didcs", "did_multi", "qte", "lpq", "pq", "cvar", "apo", "apos", "rdd", "plpr", "lplr"}


def error_field(loc: tuple, keep_indices: bool, forms: Iterable[str] = ()) -> str:
    """The spec field of a validation error, dotted: ``fold_params.ml_l.d1``. A list's indices are
    kept only where ``keep_indices`` (a spec's own position says nothing to its author); ``forms``,
    the names of a tagged union's forms (the value of a field's key: third place), are dropped."""
    names = set(forms)
    kept = [p for i, p in enumerate(loc) if (keep_indices or not isinstance(p, int)) and not (i == 2 and p in names)]
    return ".".join(str(p) for p in kept)


# pydantic error type -> what the value should have been (its own words name its types).
EXPECTED = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_from_string": "a number",
    "float_type": "a number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
}


EXCEL_UTF8 = "Excel: 'CSV UTF-8'; "


def not_utf8(err: UnicodeDecodeError, head: bytes, excel: bool = False) -> str:
    """Why a file is not read, and what to do: its text is not UTF-8 (``head``: its first bytes).
    Until 2026-12-07 only the codec's words, or "UnicodeDecodeError" (an outside user's GBK files)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 text; save it as UTF-8"
    return (
        f"not UTF-8 text (byte 0x{err.object[err.start]:02x} at position {err.start}); save it as UTF-8 "
        f"({EXCEL_UTF8 if excel else ''}files from Chinese Windows are often GBK)"
    )


def as_written(value: object) -> str:
    """A value as the spec file wrote it: YAML's true and false, other values as Python shows them."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a choice that differs only in case or is close, else ``""``."""
    if not isinstance(word, str):
        return ""
    choices = [str(c) for c in choices]
    same_but_case = [c for c in choices if c.lower() == word.lower()]
    # A Chinese keyboard's full-width letters and digits ('ｘ１') are other characters to difflib.
    same_but_width = [c for c in choices if _folded(c) == _folded(word)]
    if same_but_width and not same_but_case and word != unicodedata.normalize("NFKC", word):
        return f" (did you mean '{same_but_width[0]}'? '{word}' is written in full-width characters)"
    close = (
        same_but_case
        or difflib.get_close_matches(word, choices, n=1)
        or difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1)
    )
    if not close:
        return ""
    match = next((c for c in choices if c.lower() == close[0].lower()), close[0])
    return f" (did you mean '{match}'?)"


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


# pydantic's name for a union's form at the end of an error's location: its type, or its literal.
_UNION_FORM = re.compile(r"^(?:float|int|str|bool|list\[.*\]|dict\[.*\]|literal\[.*\])$")


def union_error(errors: list[dict[str, Any]]) -> Optional[tuple[tuple, str]]:
    """The field and message for a value that fits none of a union's forms (``binarize: {x:
    mean}``): pydantic reports each form as its own error, located at the form's name
    (``binarize.x.literal['median']``); said once, at the field, with what each form takes."""
    first = errors[0]
    loc = first["loc"]
    if not (loc and isinstance(loc[-1], str) and _UNION_FORM.match(loc[-1])):
        return None
    forms = [e for e in errors if e["loc"][:-1] == loc[:-1] and isinstance(e["loc"][-1], str) and _UNION_FORM.match(e["loc"][-1])]
    wanted = []
    for error in forms:
        if error["type"] == "literal_error":
            wanted += re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        elif error["type"] in EXPECTED:
            wanted.append(EXPECTED[error["type"]])
        else:
            return None
    return loc[:-1], f"{as_written(first.get('input'))} is not {' or '.join(dict.fromkeys(wanted))}"


def validation_message(error: dict[str, Any], known_keys: Iterable[str]) -> Optional[str]:
    """The message for one pydantic error, or None to keep pydantic's own (a rule's ValueError)."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        return "unknown key" + did_you_mean(str(error["loc"][-1]), known_keys)
    if kind == "literal_error" and error["loc"][-1:] == ("model",) and str(value).lower() in PYTHON_ONLY_MODELS:
        # Until 2026-12-07 only "is not one of ...": a user took it for a missing feature of the tool (an outside user).
        return f"{value!r} is a doubleml model DoubleML for R 1.0.2 does not have, so there is nothing to compare it with"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", error.get("ctx", {}).get("expected", ""))
        return f"{value!r} is not one of {', '.join(choices)}{did_you_mean(value, choices)}"
    if kind == "missing":
        return "required, and not given"
    if kind == "string_type" and isinstance(value, (bool, int, float)):
        # YAML reads an unquoted on/off/yes/no/true/false as a boolean and 1990 as a number: a
        # column of that name reaches the spec as True or 1990.
        return f"{value!r} is not text: YAML reads an unquoted yes/no/on/off/true/false or number so; quote the name ('...')"
    if kind in EXPECTED and error["loc"][-1:] == ("replicates",) and isinstance(value, int) and not isinstance(value, bool):
        return f"{value!r} is not a mapping; write replicates: {{n: {value}}}"  # an outside user wrote the count alone
    if kind in EXPECTED:
        return f"{as_written(value)} is not {EXPECTED[kind]}"
    return None


def yaml_message(problem: str, line: int, text: str) -> str:
    """``line N: ...`` for a YAML error at 0-based ``line``: a key out of line is named as such."""
    lines = text.splitlines()
    here = lines[line] if line < len(lines) else ""
    key = re.match(r"^(\s*(?:-\s+)?)([^\s:#'\"{\[][^:#]*?)\s*:(\s|$)", here)
    out_of_line = problem.startswith("expected <block end>") or problem in (
        "mapping values are not allowed here",
        "could not find expected ':'",
    )
    above = next((lines[i] for i in range(line - 1, -1, -1) if lines[i].strip() and not lines[i].lstrip().startswith("#")), "")
    above_key = re.match(r"^(\s*(?:-\s+)?)\S", above)
    column, above_column = (len(key.group(1)) if key else None), (len(above_key.group(1)) if above_key else None)
    # Lined up with the key above, the problem is elsewhere (a value holding ': ', say).
    if key is None or not out_of_line or above_column is None or column == above_column:
        return f"line {line + 1}: YAML error: {problem}{_full_width(lines, line)}"
    return (
        f"line {line + 1}: key '{key.group(2)}' is out of line (indented {column} spaces, the key above it "
        f"{above_column}); keys of one mapping start in the same column"
    )


# Punctuation a Chinese input method types, which YAML does not read as its own (2026-12-07: an
# outside user's '：' was "mapping values are not allowed here", one line too late).
FULL_WIDTH = {"：": ":", "，": ",", "\u3000": "a space", "；": ";", "［": "[", "］": "]", "｛": "{", "｝": "}"}


def _full_width(lines: list[str], at: int) -> str:
    """A hint naming full-width punctuation on the error's line or the one above (YAML finds the
    problem a line late); elsewhere such marks may be text (a title_zh)."""
    for number in (at, at + 1):  # 1-based: the line above the error's, then its own
        line = lines[number - 1] if 0 < number <= len(lines) else ""
        for mark, ascii_mark in FULL_WIDTH.items():
            if mark in line.split("#")[0]:
                shown = "U+3000" if mark == "\u3000" else f"'{mark}'"
                needed = ascii_mark if len(ascii_mark) > 1 else repr(ascii_mark)
                return f" (line {number} holds a full-width {shown}; YAML needs {needed})"
    return ""


def id_problem(spec_id: str) -> Optional[str]:
    """Why a spec id cannot serve, or None. An id is typed back by users (``--only a,b``), names the
    replicates (``id#2``) and a treatment's row (``id[d]``), and heads a progress line."""
    if not spec_id.strip():
        return "is empty"
    if spec_id != spec_id.strip():
        return "begins or ends with a space"
    bad = next((c for c in spec_id if c in ",#[]" or not c.isprintable()), None)
    if bad is not None:
        return f"holds {bad!r}, which --only, replicates or treatment rows give a meaning of their own"
    return None
