"""One backend: its age and reachability, and every upstream on every nginx node that sends to it.

Opened from a server row of the backends tier, or from a backend node's row.
A backend in the inventory is matched by its host and addresses (and the name
nginx's servers were given from the inventory); a server that is no inventory
node is shown by its address. Each row is one nginx node's view of one
upstream server: its state, probe, failures since the last poll and drain
record. nginx nodes whose upstreams are not known now say so on their own row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.widgets import Static

from lbconsole import safetext
from lbconsole.snapshot import NodeSnapshot
from lbconsole.ui import upstream_view as uv
from lbconsole.ui.model import ClusterView
from lbconsole.ui.screens.detail import DetailScreen
from lbconsole.ui.screens.node import node_summary
from lbconsole.ui.widgets.event_log import EventLog
from lbconsole.ui.widgets.grid import Column, Grid, Row
from lbconsole.upstreams import probe_text

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState

#: One nginx node's view of one upstream server (upstream, server key, nginx node), or a note ("", "", node).
RefKey = tuple[str, str, str]

COLUMNS = (
    Column("Upstream", 10, grow=True),
    Column("Server", 16),
    Column("nginx", 8),
    Column("State", 12),
    Column("Probe", 10, align="right"),
    Column("Fails", 5, align="right"),
    Column("Weight", 6, align="right", drop=3),
    Column("max_fails/timeout", 17, align="right", drop=4),
    Column("Drain", 20, grow=True, drop=2),
)


class BackendScreen(DetailScreen):
    AUTO_FOCUS = "#refs"
    kind = "backend"

    def __init__(self, cluster: str, node: str | None, address: str | None = None):
        super().__init__()
        self.cluster_name = cluster
        self.node_name = node  # the inventory node, or None for an address no node has
        self.events_node = node or ""
        self.address = address
        self.view: ClusterView | None = None
        self.refs: dict[RefKey, uv.Reference] = {}
        self.node: NodeSnapshot | None = None

    @property
    def title_text(self) -> str:
        return safetext.line(self.node_name or self.address or "?")

    def detail_grid(self) -> Grid[RefKey]:
        return Grid(COLUMNS, self._row, empty="no nginx upstream sends to it", id="refs")

    def detail_title(self) -> str:
        return f"nginx upstreams that send to {self.title_text}"

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#backend-events-panel").display = self.node_name is not None

    def show_data(self, state: ConsoleState) -> None:
        view = state.view(self.cluster_name)
        if view is None:
            return
        self.view = view
        self.node = view.node(self.node_name) if self.node_name else None
        refs = uv.references(view, self.node_name, None if self.node_name else self.address)
        self.refs = {(r.upstream, r.server, r.node.name): r for r in refs}
        notes = [("", "", n.name) for n in view.nginx if uv.unread(n) is not None]
        grid = self.widget("#refs", Grid)
        if grid is not None:
            grid.set_rows(notes + list(self.refs))
        self._summary(state)
        log = self.widget("#backend-events", EventLog)
        if log is not None and self.node_name is not None:
            log.show(state, self.cluster_name)

    def tick_data(self, state: ConsoleState) -> None:
        self._summary(state)
        grid = self.widget("#refs", Grid)
        if grid is not None:
            grid.refresh()  # a node turning stale greys out without new data

    def _summary(self, state: ConsoleState) -> None:
        summary = self.widget("#backend-summary", Static)
        view = self.view
        if summary is None or view is None:
            return
        node = self.node
        if node is not None:
            head = node_summary(state, node)
        elif self.node_name is not None:
            head = f"{self.node_name} is not in cluster {self.cluster_name}"
        else:
            names = sorted({r.slot.name for r in self.refs.values() if r.slot.name})
            named = f" (named {', '.join(names)} in nginx's config)" if names else ""
            head = f"{self.address}{named}: not a node in the inventory, so only nginx's view of it is known"
        upstreams = sorted({r.upstream for r in self.refs.values()})
        nodes = sorted({r.node.name for r in self.refs.values()})
        uses = (f"backend of {len(upstreams)} upstream(s) ({', '.join(upstreams)}) on {len(nodes)} nginx node(s)"
                if upstreams else "no nginx upstream that answered sends to it")
        summary.update(safetext.clean(f"{head}\n{uses}"))
        summary.set_class(node is not None and not node.reachable, "-unreachable")
        summary.set_class(node is not None and node.reachable and state.is_stale(node), "-stale")

    def _row(self, key: RefKey) -> Row:
        view = self.view
        state = self.app.state
        assert view is not None and state.snapshot is not None  # rows are set only from a snapshot
        if not key[0]:
            node = view.node(key[2])
            short, detail = uv.unread_note(node) if node is not None else (key[2], "")
            return [("", None), ("", None), (safetext.line(key[2]), None), ("? unknown", "warn"), ("", None),
                    ("", None), ("", None), ("", None), (f"{short}: {detail}", "warn")], "stale"
        ref = self.refs[key]
        s, node = ref.slot, ref.node
        state_cell = uv.server_cell(node, state, s)
        known = uv.unread(node) is None
        cells = [
            (safetext.line(ref.upstream), "accent"), (safetext.line(s.key), None),
            (safetext.line(node.name), None), state_cell,
            (probe_text(s) if known else "", "bad" if known and s.probe_ok is False else "muted"),
            (str(s.failures) if known else "", "bad" if known and s.failures else "muted"),
            (str(s.weight) + (" backup" if s.backup else ""), "muted"),
            (f"{s.max_fails}/{s.fail_timeout}s", "muted"),
            (uv.drain_text(s, state.snapshot.taken_at), "drain"),
        ]
        return cells, ("stale" if not known else None)

    def target(self, kind: str) -> dict[str, Any] | None:
        """The selected upstream server (drained on every nginx node, whichever row is selected)."""
        if kind != "upstream_server":
            return None
        grid = self.widget("#refs", Grid)
        key = grid.cursor_key if grid is not None else None
        if key is None or not key[0]:
            return None
        return {"kind": "upstream_server", "cluster": self.cluster_name, "upstream": key[0], "server": key[1]}

    def on_grid_highlighted(self) -> None:
        self.app.refresh_bindings()
