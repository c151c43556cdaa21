"""nginx's configuration as nginx reads it: the `nginx -T` dump, its lexer, includes expanded.

Runs on the node: Python 3.6+, standard library only. The lexer follows
ngx_conf_read_token() (src/core/ngx_conf_file.c): `#` starts a comment only where
a word could start, quotes only at the start of a word, `\\` escapes the next
character, `${` does not open a block, and a word ends at a space, `;` or `{`.
Every directive keeps its file, line and the offset of the `;` or `{` that ends
it, so an edit can touch exactly that directive.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP006, UP035, UP045, UP032, FURB188

import fnmatch
import os
from typing import Dict, Iterator, List, Optional, Tuple  # noqa: F401 (Dict: type comments)

MARK = "# configuration file "
_SPACE = " \t\r\n"
_UNESCAPE = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


class ConfError(ValueError):
    """A config nginx itself would reject, or a dump this parser cannot follow."""

    def __init__(self, message: str, file: str = "", line: int = 0) -> None:
        where = "{}:{}: ".format(file, line) if file else ""
        super().__init__(where + message)
        self.file, self.line = file, line


class Directive:
    """One directive: name, arguments (unquoted, unescaped), where it is, and its block if any."""

    __slots__ = ("args", "block", "end", "file", "line", "name", "start")

    def __init__(self, name: str, args: List[str], file: str, line: int, start: int, end: int,
                 block: "Optional[List[Directive]]" = None) -> None:
        self.name, self.args, self.file, self.line = name, args, file, line
        self.start = start  # offset of the directive's first character in its file's text
        self.end = end  # offset of the ';' or '{' that ends it
        self.block = block

    def __repr__(self) -> str:
        return "Directive({!r}, {!r}, {}:{})".format(self.name, self.args, self.file, self.line)


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\" and i + 1 < len(raw) and raw[i + 1] in _UNESCAPE:
            out.append(_UNESCAPE[raw[i + 1]])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def tokens(text: str, file: str = "") -> Iterator[Tuple[str, str, int, int]]:
    """(kind, value, line, offset): kind is "word", ";", "{" or "}"."""
    i, n, line = 0, len(text), 1
    while i < n:
        ch = text[i]
        if ch in _SPACE:
            line += ch == "\n"
            i += 1
        elif ch == "#":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif ch in ";{}":
            yield ch, ch, line, i
            i += 1
        elif ch in "\"'":
            start, start_line, j = i, line, i + 1
            while j < n and text[j] != ch:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    line += 1
                j += 1
            if j >= n:
                raise ConfError("unexpected end of file in a quoted string", file, start_line)
            yield "word", _unescape(text[start + 1:j]), start_line, start
            i = j + 1
            if i < n and text[i] not in _SPACE + ";{)":
                raise ConfError("unexpected {!r} after a quoted string".format(text[i]), file, line)
        else:
            start, start_line, j, variable = i, line, i, False
            while j < n:
                c = text[j]
                if c == "{" and variable:
                    j += 1
                    continue
                variable = c == "$"
                if c == "\\":
                    if j + 1 < n and text[j + 1] == "\n":
                        line += 1
                    j += 2
                    continue
                if c in _SPACE or c == ";" or c == "{":
                    break
                j += 1
            yield "word", _unescape(text[start:j]), start_line, start
            i = j


def parse(text: str, file: str = "") -> List[Directive]:
    """The directives of one file's text, blocks nested; includes are left as directives."""
    root = []  # type: List[Directive]
    stack = [root]
    opened = []  # type: List[Directive]
    args = []  # type: List[str]
    first = (0, 0)
    for kind, value, line, offset in tokens(text, file):
        if kind == "word":
            if not args:
                first = (line, offset)
            args.append(value)
            continue
        if kind == "}":
            if args:
                raise ConfError('unexpected "}"', file, line)
            if len(stack) == 1:
                raise ConfError('unexpected "}"', file, line)
            stack.pop()
            opened.pop()
            continue
        if not args:
            raise ConfError("unexpected {!r}".format(kind), file, line)
        d = Directive(args[0], args[1:], file, first[0], first[1], offset)
        stack[-1].append(d)
        if kind == "{":
            d.block = []
            stack.append(d.block)
            opened.append(d)
        args = []
    if args:
        raise ConfError('unexpected end of file, expecting ";" or "}"', file, first[0])
    if opened:
        raise ConfError('unexpected end of file, expecting "}"', file, opened[-1].line)
    return root


def split_dump(dump: str) -> "List[Tuple[str, str]]":
    """(path, text) per file of `nginx -T`'s stdout, in the order nginx read them.

    nginx writes MARK + path + ":\\n", the file's bytes, then "\\n".
    """
    files = []  # type: List[Tuple[str, str]]
    pos = 0
    if not dump.startswith(MARK):
        raise ConfError("not `nginx -T` output: it does not start with {!r}".format(MARK))
    while pos < len(dump):
        eol = dump.find("\n", pos)
        header = dump[pos:eol if eol >= 0 else len(dump)]
        if not header.startswith(MARK) or not header.endswith(":"):
            raise ConfError("bad dump header {!r}".format(header[:200]))
        path = header[len(MARK):-1]
        body_start = len(dump) if eol < 0 else eol + 1
        nxt = dump.find("\n" + MARK, body_start - 1)
        while nxt >= 0 and not _header_at(dump, nxt + 1):
            nxt = dump.find("\n" + MARK, nxt + 1)
        body_end = len(dump) if nxt < 0 else nxt + 1
        body = dump[body_start:body_end]
        files.append((path, body[:-1] if body.endswith("\n") else body))
        pos = body_end
    return files


def _header_at(dump: str, pos: int) -> bool:
    eol = dump.find("\n", pos)
    header = dump[pos:eol if eol >= 0 else len(dump)]
    return header.endswith(":") and header[len(MARK):].startswith("/")


class Config:
    """The effective config: the main file's directives with every include expanded in place."""

    def __init__(self, files: "List[Tuple[str, str]]") -> None:
        if not files:
            raise ConfError("the dump holds no file")
        self.main = files[0][0]
        self.texts = dict(files)  # type: Dict[str, str]
        self.prefix = os.path.dirname(self.main)
        self._parsed = {}  # type: Dict[str, List[Directive]]
        self.warnings = []  # type: List[str]
        self.tree = self._expand(self._file(self.main), [self.main])

    @classmethod
    def from_dump(cls, dump: str) -> "Config":
        return cls(split_dump(dump))

    def _file(self, path: str) -> List[Directive]:
        if path not in self._parsed:
            self._parsed[path] = parse(self.texts[path], path)
        return self._parsed[path]

    def _expand(self, directives: List[Directive], chain: List[str]) -> List[Directive]:
        out = []  # type: List[Directive]
        for d in directives:
            if d.name == "include" and len(d.args) == 1:
                for path in self.include_paths(d.args[0]):
                    if path in chain:
                        raise ConfError("include loop through {}".format(path), d.file, d.line)
                    out.extend(self._expand(self._file(path), chain + [path]))
                continue
            if d.block is not None:
                d = Directive(d.name, d.args, d.file, d.line, d.start, d.end, self._expand(d.block, chain))
            out.append(d)
        return out

    def include_paths(self, pattern: str) -> List[str]:
        """The dumped files an include names, sorted as glob(3) returns them."""
        full = pattern if pattern.startswith("/") else os.path.join(self.prefix, pattern)
        if not any(c in full for c in "*?["):
            if full not in self.texts:
                self.warnings.append("include {} is not in the dump".format(full))
                return []
            return [full]
        parts = full.split("/")
        return sorted(p for p in self.texts if _glob_match(p.split("/"), parts))


def _glob_match(path: List[str], pattern: List[str]) -> bool:
    # glob(3): a wildcard never crosses "/", and a leading "." must be matched explicitly.
    if len(path) != len(pattern):
        return False
    for name, pat in zip(path, pattern):
        if name.startswith(".") and not pat.startswith("."):
            return False
        if not fnmatch.fnmatchcase(name, pat):
            return False
    return True


def walk(directives: List[Directive], parents: "Tuple[Directive, ...]" = ()
         ) -> "Iterator[Tuple[Directive, Tuple[Directive, ...]]]":
    """Every directive with the blocks that hold it, outermost first."""
    for d in directives:
        yield d, parents
        if d.block is not None:
            yield from walk(d.block, parents + (d,))
