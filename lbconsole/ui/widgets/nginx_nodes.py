"""The nginx tier: per node active connections, req/s, and reading / writing / waiting.

Backend nodes are listed below it with what applies to them (age, load, CPU),
so every node's freshness and health is on screen; nginx columns stay empty
for them rather than reading as a fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lbconsole.snapshot import PENDING, NodeSnapshot
from lbconsole.ui import fmt
from lbconsole.ui.model import ClusterView
from lbconsole.ui.widgets.directors import age_cell, node_cell
from lbconsole.ui.widgets.grid import Cell, Column, Grid, Row

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState

COLUMNS = (
    Column("Node", 8, grow=True),
    Column("Age", 4, align="right"),
    Column("Active", 7, align="right"),
    Column("Req/s", 6, align="right"),
    Column("Conn/s", 6, align="right", drop=4),
    Column("Read", 4, align="right", drop=3),
    Column("Write", 5, align="right", drop=2),
    Column("Wait", 5, align="right", drop=1),
    Column("Load", 5, align="right", drop=5),
    Column("CPU", 4, align="right", drop=6),
)


def host_cells(node: NodeSnapshot) -> list[Cell]:
    h = node.host_stats
    if h is None:
        return [("", None), ("", None)]
    return [(f"{h.load1:.2f}", "muted"), (f"{h.cpu_percent:.0f}%", "muted")]


class NginxTable(Grid[str]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(COLUMNS, self._row, empty="no nginx nodes in this cluster", **kwargs)
        self.state: ConsoleState | None = None
        self.view: ClusterView | None = None

    def show(self, state: ConsoleState, view: ClusterView) -> None:
        self.state, self.view = state, view
        self.set_rows([n.name for n in view.nginx + view.others])

    def _row(self, name: str) -> Row:
        assert self.view is not None and self.state is not None  # set by show() before any row is asked for
        node = self.view.node(name)
        assert node is not None  # the keys are this view's nodes
        state = self.state
        row_style = "stale" if state.is_stale(node) else None
        ng = node.nginx
        head = [node_cell(node, state), age_cell(node, state)]
        if not node.has_role("nginx"):
            return [*head, (", ".join(node.roles), "muted"), *[("", None)] * 5, *host_cells(node)], row_style
        if ng is None:
            if node.error == PENDING:
                return head + [("…", "muted")], row_style
            return head + [("down", "bad")], row_style  # why: on the node screen
        return head + [
            (fmt.num(ng.active), None),
            (fmt.num(ng.requests_per_s), "accent"),
            (fmt.num(ng.conns_per_s), None),
            (fmt.num(ng.reading), "muted"),
            (fmt.num(ng.writing), "muted"),
            (fmt.num(ng.waiting), "muted"),
            *host_cells(node),
        ], row_style

    def target(self) -> dict[str, Any] | None:
        name = self.cursor_key
        node = self.view.node(name) if name is not None and self.view is not None else None
        if node is None or not node.has_role("nginx") or self.view is None:
            return None
        return {"kind": "nginx_node", "cluster": self.view.name, "node": name}
