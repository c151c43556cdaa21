"""The one exception the text parsers raise on input they cannot read."""

from __future__ import annotations


class ParseError(ValueError):
    """Unreadable input. The message names the source, the line and a cut-down quote."""

    def __init__(self, source: str, message: str | None = None, line: int | None = None):
        # ParseError("whole message") is accepted too, for callers without a source name.
        where = f"{source}: line {line}" if line is not None else source
        super().__init__(f"{where}: {message}" if message is not None else where)
        self.source = source
        self.line = line


def quote(text: str, limit: int = 60) -> str:
    """`text` as a short repr for a message: garbage can be megabytes long or binary."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return repr(text)
