"""The backends tier: per upstream, each server's state on every nginx node, side by side.

Rows: a note per nginx node whose upstreams are not known now (first poll,
unreachable, not read), then each upstream and its servers. One column per
nginx node: `✓ up 3ms`, `✗ failing ×4`, `■ down` (by hand), `◌ drained` (by
lbconsole), `? unknown` (the node did not answer), `? not read`, `– absent`.
The last column holds the drain record and the analyzers' alerts about the row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from lbconsole import safetext
from lbconsole.snapshot import Alert, NodeSnapshot
from lbconsole.ui import upstream_view as uv
from lbconsole.ui.model import ClusterView
from lbconsole.ui.widgets.grid import Cell, Column, Grid, Row
from lbconsole.upstreams import Upstream

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState

#: A note about an nginx node ("n", node), an upstream ("u", upstream) or one of its servers ("s", upstream, key).
BackendRowKey = tuple[Literal["n"], str] | tuple[Literal["u"], str] | tuple[Literal["s"], str, str]

NODE_WIDTH = 12


def columns(nginx: tuple[str, ...]) -> list[Column]:
    cols = [Column("Upstream / server", 22, grow=True)]
    cols += [Column(safetext.line(name), max(NODE_WIDTH, len(name))) for name in nginx]
    cols.append(Column("Drain · alerts", 18, grow=True, drop=1))
    return cols


class BackendsTable(Grid[BackendRowKey]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(columns(()), self._row, empty="no nginx upstreams in this cluster", **kwargs)
        self.state: ConsoleState | None = None
        self.view: ClusterView | None = None
        self.nginx: tuple[str, ...] | None = None
        self.filter = ""

    def show(self, state: ConsoleState, view: ClusterView) -> None:
        self.state, self.view = state, view
        names = tuple(n.name for n in view.nginx)
        if names != self.nginx:
            self.nginx = names
            self.set_columns(columns(names))
        self.set_rows(self._keys(view))

    def set_filter(self, text: str) -> None:
        """`/`: upstreams by name, servers by name or address, drain reasons; the nodes' notes always stay."""
        self.filter = text.strip().lower()
        if self.view is not None:
            self.set_rows(self._keys(self.view))

    def _keys(self, view: ClusterView) -> list[BackendRowKey]:
        f = self.filter
        keys: list[BackendRowKey] = [("n", n.name) for n in view.nginx if uv.unread(n) is not None]
        for name, m in view.upstreams.items():
            hit = not f or f in name.lower()
            servers = [k for k in m.server_keys if hit or f in m.title(k).lower() or any(
                s is not None and s.drain is not None and f in s.drain.reason.lower() for s in m.servers[k])]
            if hit or servers:
                keys.append(("u", name))
                keys.extend(("s", name, k) for k in servers)
        return keys

    def _row(self, key: BackendRowKey) -> Row:
        view, state = self.view, self.state
        assert view is not None and state is not None  # set by show() before any row is asked for
        if key[0] == "n":
            node = view.node(key[1])
            short, detail = uv.unread_note(node) if node is not None else (key[1], "")
            style = "muted" if node is None or uv.unread(node) == "pending" else "warn"
            return [(short, style), *[("", None)] * len(view.nginx), (detail, style)], None
        m = view.upstreams[key[1]]
        alerts = uv.upstream_alerts(state.alerts(view.name), m.name)
        if key[0] == "u":
            mine = [a for a in alerts if uv.about_server(a, m) is None]
            cells: list[Cell] = [(safetext.line(m.name), "accent")]
            for node, up in zip(view.nginx, m.per_node):
                cells.append(_upstream_cell(node, up))
            return [*cells, uv.alert_cell(mine)], "group"
        server_key = key[2]
        slots = m.servers[server_key]
        cells = [("  " + m.title(server_key), None)]
        cells += [uv.server_cell(node, state, s) for node, s in zip(view.nginx, slots)]
        cells.append(self._note(m, server_key, uv.server_alerts(alerts, m, server_key)))
        return cells, None

    def _note(self, m: uv.MergedUpstream, key: str, alerts: list[Alert]) -> Cell:
        state = self.state
        assert state is not None and state.snapshot is not None  # rows come from a snapshot
        alert = uv.alert_cell(alerts)
        drained = next((s for s in m.servers[key] if s is not None and s.drain is not None), None)
        drain = uv.drain_text(drained, state.snapshot.taken_at) if drained is not None else ""
        if alert[0] and drain:
            return (f"{alert[0]} · {drain}", alert[1])
        return alert if alert[0] else (drain, "drain" if drain else None)

    def target(self) -> dict[str, Any] | None:
        """The selected upstream server, as the upstream drain/undrain actions take it."""
        key = self.cursor_key
        if key is None or key[0] != "s" or self.view is None:
            return None
        return {"kind": "upstream_server", "cluster": self.view.name, "upstream": key[1], "server": key[2]}

    def selected_backend(self) -> tuple[str | None, str | None] | None:
        """(inventory node, address) behind the selected server row."""
        key = self.cursor_key
        if key is None or key[0] != "s" or self.view is None:
            return None
        s = self.view.upstreams[key[1]].any_server(key[2])
        return uv.backend_of(self.view, s), s.address


def _upstream_cell(node: NodeSnapshot, up: Upstream | None) -> Cell:
    why = uv.unread(node)
    if why is not None:
        return uv.unread_cell(why)
    if up is None:
        return ("– absent", "muted")
    live = sum(1 for s in up.servers if s.live)
    text = f"{live}/{len(up.servers)} up"
    if up.no_live:
        text += f" nolive×{up.no_live}"  # nginx's own "no live upstreams" errors since the last poll
    return (text, "muted")
