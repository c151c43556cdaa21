"""nginx_conf.parse() for the files most configs are made of: no quote, backslash or "${".

There no token spans a line, so most lines are read with str methods, and a block of one-line
directives (an upstream: thousands of `server` lines) in one pass over its text; the regex engine,
char by char, is the slow part. tests/unit/test_node_upstream_fastpath.py: the same tree as the
full lexer, on every fixture and on generated configs.

Runs on the node: Python 3.6+, standard library only.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import re
from itertools import accumulate, compress, count, repeat
from operator import add, sub
from typing import List, Optional, Tuple

from lbconsole.node.nginx_directive import ConfError, Directive

# Most files hold no quote, backslash or "${" (is_simple): there no token spans a line, a word is
# any run of characters but space, ";" and "{" that does not start with "}" or "#", and most lines
# are one directive, maybe with a comment after it: those are read with str methods (C speed, the
# regex engine is the slow part), any other line token by token with _LINE_TOKEN.
_LINE_TOKEN = re.compile(r"\#[^\n]*|[;{}]|[^ \t\r\n;{}\#][^ \t\r\n;{]*")
_SPACE = " \t\r"  # with "\n", all nginx splits on (str.split() would also split on \x0b, \xa0...)


def is_simple(text: str) -> bool:
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


def splits_as_nginx(text: str) -> bool:
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


def parse_simple(text: str, file: str, plain: Optional[bool] = None) -> List[Directive]:
    """parse() for a file is_simple: the same blocks and errors, one pass, no offsets."""
    root = []  # type: List[Directive]
    stack = [root]
    opened = []  # type: List[Directive]
    args = []  # type: List[str]
    first_line = 1
    lines = text.split("\n")
    i, pos = 0, 0  # the line (from 0) and its offset
    plain = splits_as_nginx(text) if plain is None else plain
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
