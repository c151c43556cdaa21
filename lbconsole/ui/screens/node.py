"""One node: its VRRP instances, host load, errors, nginx and IPVS summary, and its last events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.containers import Vertical
from textual.widgets import Static

from lbconsole import safetext
from lbconsole.snapshot import NodeSnapshot, VrrpInstance
from lbconsole.ui import fmt
from lbconsole.ui.model import ClusterView
from lbconsole.ui.screens.detail import DetailScreen
from lbconsole.ui.widgets.directors import STATE_STYLE, prio_text, state_text
from lbconsole.ui.widgets.event_log import EventLog
from lbconsole.ui.widgets.grid import Column, Grid, Row
from lbconsole.upstreams import STATES

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState

VRRP_COLUMNS = (
    Column("Instance", 10, grow=True),
    Column("VRID", 4, align="right"),
    Column("State", 8),
    Column("Prio", 7, align="right"),
    Column("Iface", 8, drop=4),
    Column("VIPs", 14, grow=True),
    Column("Adverts in/out", 14, align="right", drop=3),
    Column("Auth err", 8, align="right", drop=2),
    Column("Since", 8, align="right", drop=1),
)


class NodeScreen(DetailScreen):
    AUTO_FOCUS = "#vrrp"
    kind = "node"

    def __init__(self, cluster: str, node: str):
        super().__init__()
        self.cluster_name = cluster
        self.node_name = node
        self.events_node = node
        self.node: NodeSnapshot | None = None

    def detail_grid(self) -> Grid[str]:
        return Grid(VRRP_COLUMNS, self._vrrp_row, empty="no VRRP instances", id="vrrp")

    def detail_title(self) -> str:
        return "VRRP instances"

    def show_data(self, state: ConsoleState) -> None:
        view = state.view(self.cluster_name)
        node = view.node(self.node_name) if view else None
        summary = self.widget("#node-summary", Static)
        if node is None or summary is None:
            if summary is not None:
                summary.update(f"{self.node_name} is not in cluster {self.cluster_name}")
            return
        self.node = node
        summary.update(node_summary(state, node))
        summary.set_class(not node.reachable, "-unreachable")
        summary.set_class(node.reachable and state.is_stale(node), "-stale")
        # Only what applies to the node's role: no empty VRRP table on an nginx node without keepalived.
        panel = self.widget("#vrrp-panel", Vertical)
        if panel is not None:
            panel.display = bool(node.has_role("director") or node.vrrp)
        grid = self.widget("#vrrp", Grid)
        if grid is not None:
            grid.set_rows([i.instance for i in node.vrrp])
        log = self.widget("#node-events", EventLog)
        if log is not None:
            log.show(state, self.cluster_name)

    def tick(self, state: ConsoleState) -> None:
        super().tick(state)
        summary = self.widget("#node-summary", Static)
        if self.node is not None and summary is not None:
            summary.update(node_summary(state, self.node))

    def _vrrp_row(self, name: str) -> Row:
        node = self.node
        assert node is not None  # rows are set only once the node is shown
        inst = next((i for i in node.vrrp if i.instance == name), None)
        if inst is None:
            return [(name, None)], None
        snapshot = self.app.state.snapshot
        assert snapshot is not None  # rows are set only from a snapshot
        now = snapshot.taken_at  # snapshot time, so replays read right
        since = fmt.age(now - inst.last_transition) if inst.last_transition else "–"
        return [
            (inst.instance, None), (str(inst.vrid), "muted"),
            (state_text(inst.state), STATE_STYLE.get(inst.state, "warn")),
            (prio_text(inst), None), (inst.interface, "muted"), (" ".join(inst.vips), "accent"),
            *self._counters(inst), (since, "muted"),
        ], ("stale" if not node.reachable else None)

    @staticmethod
    def _counters(inst: VrrpInstance) -> list[tuple[str, str | None]]:
        """Adverts and auth failures; only keepalived's JSON dump has them (a 0 from elsewhere is not calm)."""
        if inst.source != "json":
            return [("?", "muted"), ("?", "muted")]
        return [(f"{inst.adverts_rcvd}/{inst.adverts_sent}", "muted"),
                (str(inst.auth_failures), "bad" if inst.auth_failures else "muted")]

    def target(self, kind: str) -> dict[str, Any] | None:
        node = self.node
        if node is None:
            return None
        if kind == "vrrp_instance":
            grid = self.widget("#vrrp", Grid)
            name = grid.cursor_key if grid is not None else None
            return None if name is None else {"kind": "vrrp_instance", "cluster": self.cluster_name,
                                              "instance": name, "node": node.name}
        if kind == "nginx_node" and node.has_role("nginx"):
            return {"kind": "nginx_node", "cluster": self.cluster_name, "node": node.name}
        return None

    def on_grid_highlighted(self) -> None:
        self.app.refresh_bindings()


def node_summary(state: ConsoleState, node: NodeSnapshot) -> str:
    """Who the node is, whether it answers and how old its data is, then what it runs."""
    age = state.node_age(node)
    reach = "reachable" if node.reachable else "UNREACHABLE (showing last known data)"
    lines = [f"{node.name}  {node.host}  roles: {', '.join(node.roles)}  ·  {reach}  ·  "
             f"updated {fmt.age(age)} ago" if age is not None else f"{node.name}: never reached"]
    if node.error:
        lines.append(f"error: {node.error}")
    h = node.host_stats
    if h is not None:
        lines.append(f"load {h.load1:.2f} {h.load5:.2f} {h.load15:.2f}  ·  cpu {h.cpu_percent:.0f}%  ·  "
                     f"mem {h.mem_percent:.0f}%  ·  {h.cpus} cpus  ·  up {fmt.age(h.uptime_s)}")
    if node.ipvs:
        rs = sum(len(s.real_servers) for s in node.ipvs)
        drained = sum(1 for s in node.ipvs for r in s.real_servers if r.drain)
        cps = sum(s.rates.cps for s in node.ipvs)
        lines.append(f"IPVS: {len(node.ipvs)} services, {rs} real servers ({drained} drained), "
                     f"{fmt.num(cps)} conn/s")
    if node.nginx is not None:
        n = node.nginx
        lines.append(f"nginx: {n.active} active · {fmt.num(n.requests_per_s)} req/s · reading {n.reading} "
                     f"writing {n.writing} waiting {n.waiting} · {n.requests} requests since start")
    elif node.has_role("nginx") and node.reachable:
        lines.append("nginx: not answering")
    if node.has_role("nginx"):
        lines.append(upstreams_line(node))
    for record in node.forced:
        lines.append(f"planned: {record.instance} failover forced by {record.by} since "
                     f"{fmt.clock(record.since)}" + (f" ({record.reason})" if record.reason else ""))
    if node.keepalived_running is False and node.has_role("director"):
        lines.append("keepalived: stopped by the forced failover" if node.forced else "keepalived: not running")
    held = ClusterView.held_vips(node)
    if held:
        lines.append(f"holds VIP {' '.join(held)}")
    lines.extend(f"warning: {w}" for w in node.warnings)
    return safetext.clean("\n".join(lines))  # errors and warnings are node text: no escape sequences


def upstreams_line(node: NodeSnapshot) -> str:
    """How many upstreams and servers by state, or that they were not read: never silence."""
    if not node.reachable:
        return "upstreams: unknown (unreachable)"
    if node.upstreams is None:
        return "upstreams: not read"
    servers = [s for u in node.upstreams for s in u.servers]
    counts = {state: sum(1 for s in servers if s.state == state) for state in STATES}
    by_state = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    counted = f" ({by_state})" if by_state else ""
    return f"upstreams: {len(node.upstreams)} upstreams, {len(servers)} servers{counted}"
