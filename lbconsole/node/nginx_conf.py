"""nginx's configuration as nginx reads it: the `nginx -T` dump, its lexer, includes expanded.

Runs on the node: Python 3.6+, standard library only. The lexer follows
ngx_conf_read_token() (src/core/ngx_conf_file.c): `#` starts a comment only where
a word could start, quotes only at the start of a word, `\\` escapes the next
character, `${` does not open a block, and a word ends at a space, `;` or `{`.
Every directive keeps its file, line and the offset of the `;` or `{` that ends
it, so an edit can touch exactly that directive.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import fnmatch
import gc
import os
import re
from itertools import accumulate, compress, count, repeat
from operator import add, sub
from typing import Dict, Iterator, List, Optional, Tuple  # noqa: F401 (Dict: type comments)

MARK = "# configuration file "
_UNESCAPE = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


class ConfError(ValueError):
    """A config nginx itself would reject, or a dump this parser cannot follow."""

    def __init__(self, message: str, file: str = "", line: int = 0) -> None:
        where = "{}:{}: ".format(file, line) if file else ""
        super().__init__(where + message)
        self.file, self.line = file, line


class gc_paused:  # a `with` statement, lower case as contextlib's
    """No cyclic garbage collection while a dump is read: the reading makes tens of thousands of
    lists and dicts, none in a cycle, and each collection would walk them (~15% of the time)."""

    def __enter__(self) -> None:
        self.was = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was:
            gc.enable()


class Directive:
    """One directive: name, arguments (unquoted, unescaped), where it is, and its block if any."""

    __slots__ = ("_block", "args", "end", "file", "flat", "line", "name", "start")

    def __init__(self, name: str, args: List[str], file: str, line: int, start: int, end: int,
                 block: "Optional[List[Directive]]" = None) -> None:
        self.name, self.args, self.file, self.line = name, args, file, line
        self.start = start  # offset of the directive's first character in its file's text
        self.end = end  # offset of the ';' or '{' that ends it
        self._block = block
        # A flat block (_flat_block) as read: each directive's text (str.split() gives its words) and
        # line, all in this file. Its Directive objects are made only if asked for (upstream_conf
        # reads the texts: one split per server, not a Directive and a list per word).
        self.flat = None  # type: Optional[Tuple[List[str], List[int]]]

    @property
    def block(self) -> "Optional[List[Directive]]":
        if self._block is None and self.flat is not None:
            texts, lines = self.flat
            words = [t.split() for t in texts]
            self._block = [Directive(w[0], w[1:], self.file, n, -1, -1) for w, n in zip(words, lines)]
        return self._block

    @block.setter
    def block(self, block: "Optional[List[Directive]]") -> None:
        self._block = block

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


# Spaces and comments first, then one token: punctuation, a quoted string, or a word (any run of
# characters but space, ";" and "{"; "${" belongs to a word; "\\" escapes the next character).
# `bad` catches what nginx would reject (an unterminated quote, a backslash at the very end).
_TOKEN = re.compile(r"""
    (?:[ \t\r\n]|\#[^\n]*)*
    (?:
        (?P<punct>[;{}])
      | (?P<quoted>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<word>(?:[^ \t\r\n;{\\"'\#$]|\\.|\$\{?)(?:[^ \t\r\n;{\\$]+|\\.|\$\{?)*)
      | (?P<bad>.)
    )?
""", re.DOTALL | re.VERBOSE)


# Most files hold no quote, backslash or "${" (_is_simple): there no token spans a line, a word is
# any run of characters but space, ";" and "{" that does not start with "}" or "#", and most lines
# are one directive, maybe with a comment after it: those are read with str methods (C speed, the
# regex engine is the slow part), any other line token by token with _LINE_TOKEN.
_LINE_TOKEN = re.compile(r"\#[^\n]*|[;{}]|[^ \t\r\n;{}\#][^ \t\r\n;{]*")
_SPACE = " \t\r"  # with "\n", all nginx splits on (str.split() would also split on \x0b, \xa0...)
Token = Tuple[bool, str, int, int]  # (is a word, value, line, offset or -1)


def _is_simple(text: str) -> bool:
    # `in` scans at C speed; a regex alternation here cost a tenth of the parse
    return '"' not in text and "'" not in text and "\\" not in text and "${" not in text


def _words(run: str) -> List[str]:
    """The words of a run that neither starts nor ends with a space."""
    if "  " not in run and "\t" not in run and "\r" not in run:
        return run.split(" ")
    return [w for w in run.replace("\t", " ").replace("\r", " ").split(" ") if w]


def _one_directive(s: str) -> Optional[List[str]]:
    """The words and the ";" or "{" of a stripped line that holds exactly one directive's end
    (and maybe a comment after it), else None."""
    if "#" in s:
        i = s.index("#")
        if s[i - 1] not in " \t\r;":  # "a#b" is a word ("#" at i == 0 is handled before)
            return None
        s = s[:i].rstrip(_SPACE)
    end, body = s[-1], s[:-1].rstrip(_SPACE)
    if end != ";" and end != "{" or not body or ";" in body or "{" in body or "}" in body or "#" in body:
        return None
    words = _words(body)
    words.append(end)
    return words


def _end(stack: "List[List[Directive]]", opened: "List[Directive]", args: List[str], c: str,
         file: str, line: int) -> None:
    d = Directive(args[0], args[1:], file, line, -1, -1)
    stack[-1].append(d)
    if c == "{":
        d.block = []
        stack.append(d.block)
        opened.append(d)


# A flat block: directives without blocks, then "}" alone on its line (an upstream: thousands of
# `server` lines). Read with str methods over the whole body (the regex engine is the slow part):
# comments cut where "#" follows a space, ";" or a line start, then split at ";". Anything else (a "#"
# inside a word, a "{", an empty directive, a space str.split() knows and nginx does not) is left to
# the line-by-line path, which reads it exactly.
# Both patterns start with "#": the regex engine then jumps from "#" to "#" (a lookbehind first is 10x slower).
_COMMENT = re.compile(r"\#[^\n]*")
_HASH_IN_WORD = re.compile(r"\#(?<=[^ \t\r\n;]\#)")
_NOT_NGINX_SPACE = re.compile("[\x0b\x0c\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")


def _splits_as_nginx(text: str) -> bool:
    """True if str.split() splits this text's words as nginx does (no \\v, \\f, NBSP... space)."""
    for c in "\x0b\x0c\x1c\x1d\x1e\x1f":
        if c in text:
            return False
    try:
        text.encode("ascii")  # str.isascii() is 3.7+
        return True
    except UnicodeEncodeError:
        return _NOT_NGINX_SPACE.search(text) is None


def _flat_block(text: str, pos: int, line: int) -> "Optional[Tuple[List[str], List[int], int, int]]":
    """The text and line of each directive of a flat block whose body starts at pos (a line start, on
    line `line`), the offset and line after its "}" line; None if the block is not flat."""
    close = text.find("}", pos)
    if close < 0:
        return None
    start = text.rfind("\n", pos, close) + 1
    if start == 0 or text[start:close].strip(_SPACE):
        return None  # "}" not alone at the start of its line (or the body is on the "{" line)
    eol = text.find("\n", close)
    eol = len(text) if eol < 0 else eol
    rest = text[close + 1:eol].strip(_SPACE)
    if rest and rest[0] != "#":
        return None
    body = "\n" + text[pos:start]
    if "{" in body:
        return None
    if "#" in body:
        if _HASH_IN_WORD.search(body) is not None:
            return None  # "a#b" is a word
        body = _COMMENT.sub("", body)
    parts = body.split(";")
    tail = parts.pop()
    if tail.strip(_SPACE + "\n"):
        return None  # words after the last ";"
    # map() over str methods: the per-directive work stays in C but for Directive() itself
    if not all(map(str.strip, parts)):
        return None  # an empty directive: the line-by-line path raises
    if "include" in body and any(p.split(None, 1)[0] == "include" for p in parts):
        return None
    rows = list(map(str.strip, body.split("\n")))  # row 0: the "\n" put in front, line - 1
    if len(parts) == len(rows) - rows.count("") and all(map(str.endswith, filter(None, rows), repeat(";"))):
        # one directive per line, as a rule: each non-blank line ends with the only ";" on it
        lines = list(compress(count(line - 1), rows))
    else:
        newlines = list(map(str.count, parts, repeat("\n")))
        after_lead = map(str.count, map(str.lstrip, parts), repeat("\n"))
        starts = accumulate([line - 1] + newlines)  # the line each part starts on
        lines = list(map(sub, map(add, starts, newlines), after_lead))  # the line of its first word
    # no block inside and no include: Config has nothing to expand
    return parts, lines, eol + 1, line + body.count("\n")


def _parse_simple(text: str, file: str, plain: Optional[bool] = None) -> List[Directive]:
    """parse() for a file _is_simple: the same blocks and errors, one pass, no offsets."""
    root = []  # type: List[Directive]
    stack = [root]
    opened = []  # type: List[Directive]
    args = []  # type: List[str]
    first_line = 1
    lines = text.split("\n")
    i, pos = 0, 0  # the line (from 0) and its offset
    plain = _splits_as_nginx(text) if plain is None else plain
    while i < len(lines):
        raw = lines[i]
        line, i, pos = i + 1, i + 1, pos + len(raw) + 1
        s = raw.strip(_SPACE)
        if not s or s[0] == "#":
            continue
        words = _one_directive(s)
        if words is not None:
            if args:
                args.extend(words)
            else:
                first_line, args = line, words
            c = args.pop()
            _end(stack, opened, args, c, file, first_line)
            args = []
            if c == "{" and plain:
                flat = _flat_block(text, pos, line + 1)
                if flat is not None:
                    stack.pop()
                    d = opened.pop()
                    d.block, d.flat = None, (flat[0], flat[1])
                    pos, line = flat[2], flat[3]
                    i = line - 1
            continue
        for tok in _LINE_TOKEN.findall(s):
            c = tok[0]
            if c == "#":
                break  # the rest of the line
            if c == "}":
                if args or len(stack) == 1:
                    raise ConfError('unexpected "}"', file, line)
                stack.pop()
                opened.pop()
            elif c == ";" or c == "{":
                if not args:
                    raise ConfError("unexpected {!r}".format(c), file, line)
                _end(stack, opened, args, c, file, first_line)
                args = []
            else:
                if not args:
                    first_line = line
                args.append(tok)
    if args:
        raise ConfError('unexpected end of file, expecting ";" or "}"', file, first_line)
    if opened:
        raise ConfError('unexpected end of file, expecting "}"', file, opened[-1].line)
    return root


def _full_tokens(text: str, file: str) -> Iterator[Token]:
    line, counted, quote_end = 1, 0, -1
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if quote_end >= 0 and quote_end < len(text) and text[quote_end] not in " \t\r\n;{)}":
            # nginx wants a space, ";", "{" or ")" right after a closing quote
            raise ConfError("unexpected {!r} after a quoted string".format(text[quote_end]), file,
                            line + text.count("\n", counted, quote_end))
        if kind is None:
            continue  # spaces or a comment at the end
        pos = m.start(kind)
        line, counted = line + text.count("\n", counted, pos), pos
        value = m.group(kind)
        quote_end = m.end() if kind == "quoted" else -1
        if kind == "bad":
            raise ConfError("unexpected end of file in a quoted string" if value in "\"'" else
                            "unexpected end of file after a backslash" if value == "\\" else
                            "unexpected {!r}".format(value), file, line)
        if kind == "quoted":
            value = value[1:-1]
        if kind != "punct" and "\\" in value:
            value = _unescape(value)
        yield kind != "punct", value, line, pos


def parse(text: str, file: str = "", offsets: bool = True, plain: bool = False) -> List[Directive]:
    """The directives of one file's text, blocks nested; includes are left as directives.

    offsets=False (reading, not editing) may leave Directive.start/end at -1, for speed.
    plain=True: the caller knows the text is _is_simple and _splits_as_nginx (checked once for a dump).
    """
    if not offsets and (plain or _is_simple(text)):
        return _parse_simple(text, file, plain or None)
    root = []  # type: List[Directive]
    stack = [root]
    opened = []  # type: List[Directive]
    args = []  # type: List[str]
    first_line = first_pos = 0
    for is_word, value, line, pos in _full_tokens(text, file):
        if is_word:
            if not args:
                first_line, first_pos = line, pos
            args.append(value)
            continue
        if value == "}":
            if args or len(stack) == 1:
                raise ConfError('unexpected "}"', file, line)
            stack.pop()
            opened.pop()
            continue
        if not args:
            raise ConfError("unexpected {!r}".format(value), file, line)
        d = Directive(args[0], args[1:], file, first_line, first_pos, pos)
        stack[-1].append(d)
        if value == "{":
            d.block = []
            stack.append(d.block)
            opened.append(d)
        args = []
    if args:
        raise ConfError('unexpected end of file, expecting ";" or "}"', file, first_line)
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

    def __init__(self, files: "List[Tuple[str, str]]", fast: bool = True, plain: bool = False) -> None:
        """fast=False reads every file with the full lexer (tests compare both paths); plain=True: every
        file is known to be _is_simple and _splits_as_nginx."""
        if not files:
            raise ConfError("the dump holds no file")
        self.main = files[0][0]
        self.texts = dict(files)  # type: Dict[str, str]
        self.prefix = os.path.dirname(self.main)
        self.fast = fast
        self.plain = plain
        self._parsed = {}  # type: Dict[str, List[Directive]]
        self.warnings = []  # type: List[str]
        self.globs = []  # type: List[str]  # every wildcard include, absolute: a new file there changes the config
        with gc_paused():
            self.tree = self._expand(self._file(self.main), [self.main])

    @classmethod
    def from_dump(cls, dump: str) -> "Config":
        # checked once for the whole dump: then so is every file in it
        return cls(split_dump(dump), plain=_is_simple(dump) and _splits_as_nginx(dump))

    def _file(self, path: str) -> List[Directive]:
        if path not in self._parsed:
            self._parsed[path] = parse(self.texts[path], path, offsets=not self.fast, plain=self.plain and self.fast)
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
            if d.flat is None and d._block is not None:  # (not the property: nothing to make)
                d = Directive(d.name, d.args, d.file, d.line, d.start, d.end, self._expand(d._block, chain))
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
        if full not in self.globs:
            self.globs.append(full)
        parts = full.split("/")
        # the directories before the first wildcard match only themselves: compared as one string
        first = next(i for i, part in enumerate(parts) if any(c in part for c in "*?["))
        head = "/".join(parts[:first]) + "/" if first else ""
        return sorted(p for p in self.texts if p.startswith(head) and _glob_match(p.split("/"), parts, first))


def _glob_match(path: List[str], pattern: List[str], first: int = 0) -> bool:
    # glob(3): a wildcard never crosses "/", and a leading "." must be matched explicitly.
    if len(path) != len(pattern):
        return False
    for name, pat in zip(path[first:], pattern[first:]):
        if name.startswith(".") and not pat.startswith("."):
            return False
        if not fnmatch.fnmatchcase(name, pat):
            return False
    return True


def walk(directives: List[Directive], parents: "Tuple[Directive, ...]" = (), skip: "Tuple[str, ...]" = ()
         ) -> "Iterator[Tuple[Directive, Tuple[Directive, ...]]]":
    """Every directive with the blocks that hold it, outermost first, in file order; the directives
    inside a block named in skip are not walked (the block itself is)."""
    stack = [(iter(directives), parents)]
    while stack:
        it, outer = stack[-1]
        d = next(it, None)
        if d is None:
            stack.pop()
            continue
        yield d, outer
        if d.name not in skip and d.block:
            stack.append((iter(d.block), outer + (d,)))
