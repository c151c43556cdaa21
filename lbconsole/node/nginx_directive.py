"""A directive of nginx's configuration, and the error for a config nginx would reject.

Runs on the node: Python 3.6+, standard library only.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

from typing import List, Optional, Tuple  # noqa: F401 (Tuple: type comments)


class ConfError(ValueError):
    """A config nginx itself would reject, or a dump this parser cannot follow."""

    def __init__(self, message: str, file: str = "", line: int = 0) -> None:
        where = "{}:{}: ".format(file, line) if file else ""
        super().__init__(where + message)
        self.file, self.line = file, line


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
