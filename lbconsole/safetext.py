"""The one place where text from a node or a user becomes safe to show, in the TUI and the CLI.

Daemon output, drain reasons, host names and error messages may hold terminal
escape sequences or Rich markup. `clean` replaces every control character
(C0 but tab and newline, DEL, C1, and the bidirectional overrides that reorder
a line) with U+FFFD; `line` also folds newlines; `text` gives a Rich Text,
which is never parsed as markup.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

REPLACEMENT = "\ufffd"
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_CONTROL_AND_NEWLINES = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(value: object) -> str:
    """Any value as text, control characters replaced; newlines and tabs kept."""
    return _CONTROL.sub(REPLACEMENT, value if isinstance(value, str) else str(value))


def line(value: object) -> str:
    """As clean, on one line: a newline or a carriage return becomes a space."""
    text = value if isinstance(value, str) else str(value)
    return _CONTROL_AND_NEWLINES.sub(lambda m: " " if m.group() in "\n\r\t" else REPLACEMENT, text)


def text(value: object, style: str = "") -> Text:
    """A Rich Text of the cleaned value: shown as it is, never read as markup."""
    from rich.text import Text

    return Text(clean(value), style=style)
