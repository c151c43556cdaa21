"""The event log: newest first, drawn from the state's bounded deque (no growing widget).

Rows are keyed by what they say (time, kind, node, message), so the same event
keeps its row across redraws. A new event always lands in view: the log goes
back to the top when one arrives, whatever was scrolled to.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from lbconsole.analyzers.summary import GLYPH
from lbconsole.analyzers.transitions import Event
from lbconsole.ui import fmt
from lbconsole.ui.widgets.grid import Column, Grid, Row

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState

_SEVERITY_STYLE = {"critical": "bad", "warning": "warn", "info": None}

COLUMNS = (
    Column("Time", 8),
    Column("Node", 7, drop=1),
    Column("Event", 20, grow=True),
)


def event_key(e: Event) -> Hashable:
    return (e.at, e.kind, e.cluster, e.node, e.message)


class EventLog(Grid[Hashable]):
    def __init__(self, node: str | None = None, limit: int = 200, **kwargs: Any) -> None:
        super().__init__(COLUMNS, self._row, empty="no events yet", **kwargs)
        self.node = node
        self.limit = limit
        self._by_key: dict[Hashable, Event] = {}

    def show(self, state: ConsoleState, cluster: str | None = None) -> None:
        events = list(reversed(state.events_for(self.node, cluster, self.limit)))
        keys = [event_key(e) for e in events]
        newest = keys[0] if keys else None
        had_newest = self.keys[0] if self.keys else None
        self._by_key = dict(zip(keys, events))
        self.set_rows(keys)
        if newest is not None and newest != had_newest:
            self.cursor = 0  # never hide a new event below a scrolled view
            self.scroll_to(y=0, animate=False, immediate=True)

    def _row(self, key: Hashable) -> Row:
        e = self._by_key[key]
        mark = GLYPH.get(e.severity, "") if e.severity != "info" else ""
        text = f"{mark} {e.message}" if mark else e.message
        return [(fmt.clock(e.at), "muted"), (e.node or "", None), (text, _SEVERITY_STYLE.get(e.severity))], None
