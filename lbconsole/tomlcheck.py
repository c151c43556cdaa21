"""TOML files checked against a msgspec schema, every error said as `file:line: what`.

tomllib gives values without positions, so `key_lines` maps each key path
(("cluster", 0, "node", 1, "port")) back to the line it was written on, and
`decode` turns msgspec's ValidationError ("Expected `int`, got `str` - at
`$.defaults.port`") into plain English at that line.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")
Path_ = tuple[str | int, ...]

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?")
_KEY = re.compile(r"""^\s*((?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(?:\s*\.\s*(?:"[^"]*"|'[^']*'|[A-Za-z0-9_-]+))*)\s*=""")
_PART = re.compile(r"""\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)\s*""")
_KINDS = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
          "array": "a list", "object": "a table", "null": "empty"}
_GOT = {"int": "an integer", "float": "a number", "str": "a string", "bool": "a boolean",
        "array": "a list", "object": "a table"}


class TomlError(Exception):
    """One problem in a TOML file: its line (None when unknown) and the message."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def _parts(dotted: str) -> list[str]:
    return [p.strip().strip("\"'") for p in _PART.findall(dotted)]


def key_lines(text: str) -> dict[Path_, int]:
    """Each table and key path, with its array-of-tables indices, -> the line (1-based) that wrote it."""
    lines: dict[Path_, int] = {}
    arrays: dict[Path_, int] = {}  # concrete path of an array of tables -> its last index
    table: Path_ = ()
    depth = 0  # inside a multi-line array or inline table: no keys start there

    def resolve(names: list[str]) -> Path_:
        path: Path_ = ()
        for name in names:
            path += (name,)
            if path in arrays:
                path += (arrays[path],)
        return path

    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.split("#", 1)[0] if '"' not in line and "'" not in line else line
        if depth == 0 and (m := _HEADER.match(stripped)):
            names = _parts(m.group(2))
            if m.group(1) == "[[":
                parent = resolve(names[:-1]) + (names[-1],)
                arrays[parent] = arrays.get(parent, -1) + 1
                table = parent + (arrays[parent],)
                lines.setdefault(parent, number)
            else:
                table = resolve(names)
            lines[table] = number
            continue
        if depth == 0 and (m := _KEY.match(stripped)):
            path = table + tuple(_parts(m.group(1)))
            lines.setdefault(path, number)
        depth = max(0, depth + stripped.count("[") + stripped.count("{")
                    - stripped.count("]") - stripped.count("}"))
    return lines


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of path, else of its nearest parent that has one."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _path(text: str) -> Path_:
    out: list[str | int] = []
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", text):
        out.append(int(index) if index else name)
    return tuple(out)


def _english(raw: str, key: str) -> str:
    """msgspec's message in plain words; `key` names what it is about."""
    if m := re.match(r"Object missing required field `(.+)`", raw):
        return f"missing {m.group(1)!r}"
    if m := re.match(r"Object contains unknown field `(.+)`", raw):
        return f"unknown key {m.group(1)!r}"
    if m := re.match(r"Expected `(\w+)(?: \| \w+)*`, got `(\w+)`", raw):
        want, got = m.group(1), m.group(2)
        return f"{key} must be {_KINDS.get(want, want)}, not {_GOT.get(got, got)}"
    if m := re.match(r"Expected `(\w+)(?: \| \w+)*` (>=|>|<=|<) (\S+)", raw):
        words = {">=": "at least", ">": "above", "<=": "at most", "<": "below"}[m.group(2)]
        return f"{key} must be {words} {m.group(3).removesuffix('.0')}"
    if m := re.match(r"Expected `(\w+)(?: \| \w+)*` of length >= (\d+)", raw):
        return f"{key} must not be empty" if m.group(2) == "1" else f"{key} needs at least {m.group(2)} items"
    if m := re.match(r"Invalid enum value (.+)", raw):
        return f"{key}: unknown value {m.group(1)}"
    return f"{key}: {raw}" if key else raw


def decode(text: str, schema: type[T], describe: Callable[[Path_], str] | None = None) -> tuple[T, dict[Path_, int]]:
    """(the typed value, the key lines), or TomlError at the line of the first problem."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = int(m.group(1)) if m else None
        if line is None and "end of document" in msg:
            line = max(1, len(text.rstrip("\n").splitlines()))
        msg = re.sub(r"\s*\(at (line|end of document).*\)", "", msg)
        raise TomlError("invalid TOML: " + msg, line) from None
    lines = key_lines(text)
    for path, value in _walk(data):
        if isinstance(value, float) and not math.isfinite(value):
            raise TomlError(f"{_name(path, describe)} must be a finite number, not {value}", line_of(lines, path))
    try:
        return msgspec.convert(data, schema, strict=True), lines
    except msgspec.ValidationError as exc:
        raw, _, where = str(exc).partition(" - at `$")
        path = _path(where.rstrip("`"))
        extra = re.match(r"Object contains unknown field `(.+)`", raw)
        full = path + (extra.group(1),) if extra else path
        key = _name(path, describe)
        raise TomlError(_english(raw, key) if key or not raw.startswith("Expected") else raw,
                        line_of(lines, full)) from None


def _walk(value: Any, path: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, path + (i,))
    else:
        yield path, value


def _name(path: Path_, describe: Callable[[Path_], str] | None) -> str:
    if describe is not None:
        return describe(path)
    names = [p for p in path if isinstance(p, str)]
    return repr(names[-1]) if names else ""
