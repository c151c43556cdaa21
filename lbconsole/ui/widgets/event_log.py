"""The event log: newest first, drawn from the state's bounded deque (no growing widget)."""

from __future__ import annotations

from lbconsole.analyzers.transitions import Event
from lbconsole.ui import fmt
from lbconsole.ui.widgets.grid import Column, Grid, Row

_SEVERITY_STYLE = {"critical": "bad", "warning": "warn", "info": None}

COLUMNS = (
    Column("Time", 8),
    Column("Node", 7, drop=1),
    Column("Event", 20, grow=True),
)


class EventLog(Grid):
    def __init__(self, node: str | None = None, limit: int = 200, **kwargs):
        super().__init__(COLUMNS, self._row, empty="no events yet", **kwargs)
        self.node = node
        self.limit = limit
        self.events: list[Event] = []

    def show(self, state, cluster: str | None = None) -> None:
        self.events = list(reversed(state.events_for(self.node, cluster, self.limit)))
        # Keys are the events themselves: the cursor stays put as new ones arrive on top.
        self.set_rows([id(e) for e in self.events])
        self._by_id = {id(e): e for e in self.events}

    def _row(self, key) -> Row:
        e = self._by_id[key]
        return [(fmt.clock(e.at), "muted"), (e.node or "", None),
                (e.message, _SEVERITY_STYLE.get(e.severity))], None
