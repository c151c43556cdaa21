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
import os
import re
from typing import Dict, Iterator, List, Optional, Tuple  # noqa: F401 (Dict: type comments)

from lbconsole.node.gcpause import gc_paused
from lbconsole.node.nginx_directive import ConfError, Directive
from lbconsole.node.nginx_simple import is_simple, parse_simple, splits_as_nginx

__all__ = ["MARK", "ConfError", "Config", "Directive", "parse", "split_dump", "walk"]

MARK = "# configuration file "
_UNESCAPE = {'"': '"', "'": "'", "\\": "\\", "t": "\t", "r": "\r", "n": "\n"}


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


Token = Tuple[bool, str, int, int]  # (is a word, value, line, offset or -1)


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
    plain=True: the caller knows the text is is_simple and splits_as_nginx (checked once for a dump).
    """
    if not offsets and (plain or is_simple(text)):
        return parse_simple(text, file, plain or None)
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
        file is known to be is_simple and splits_as_nginx."""
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
        return cls(split_dump(dump), plain=is_simple(dump) and splits_as_nginx(dump))

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
