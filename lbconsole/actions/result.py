"""What an action ends with: an exit code, one message, and what was seen before and after.

The CLI turns it into an exit code and lines on stderr; the TUI into a
notification; the audit log stores it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DONE = 0  # done and verified
FAILED = 1  # failed, or not verified
USAGE = 2
REFUSED = 3  # read-only or a safety check

_RESULT_WORD = {DONE: "done", FAILED: "failed", USAGE: "usage", REFUSED: "refused"}


@dataclass
class ActionResult:
    exit_code: int
    message: str
    before: dict[str, Any] = field(default_factory=dict)
    after: dict[str, Any] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)  # extra lines: warnings, what was seen
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # e.g. verified_s: confirm to read-back

    @property
    def ok(self) -> bool:
        return self.exit_code == DONE

    @property
    def word(self) -> str:
        return _RESULT_WORD.get(self.exit_code, "failed")

    @property
    def summary(self) -> str:
        return self.message

    def __str__(self) -> str:
        return self.message


def done(message: str, **kw: Any) -> ActionResult:
    return ActionResult(DONE, message, **kw)


def failed(message: str, **kw: Any) -> ActionResult:
    return ActionResult(FAILED, message, **kw)


def refused(message: str, **kw: Any) -> ActionResult:
    return ActionResult(REFUSED, message, **kw)
