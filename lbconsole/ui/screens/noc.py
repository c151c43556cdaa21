"""The wall display: large status for one cluster at a time, no prompts, no selection, no key hints.

Read-only always. The app cycles clusters; this screen only draws the current
one. Tiles take the colour of the alerts about them: a split brain or a
missing MASTER turns every VRRP tile red, a node's own CRITICAL or WARNING
turns its tile red or amber. Everything scales with the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Label, Sparkline

from lbconsole.analyzers.summary import SEVERITY_ORDER
from lbconsole.snapshot import PENDING, Alert
from lbconsole.ui import fmt
from lbconsole.ui.model import ClusterView, total
from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.backends import BackendsTable
from lbconsole.ui.widgets.directors import STATE_STYLE, prio_text, state_text
from lbconsole.ui.widgets.services import ServicesTable
from lbconsole.ui.widgets.status_bar import StatusBar
from lbconsole.ui.widgets.tiles import TileRow, TileSpec

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState


_CLUSTER_WIDE_VRRP = {"split_brain", "no_master"}  # about every VRRP tile of the cluster
_TILE_KIND = {"critical": "bad", "warning": "warn"}


def _alert_kind(alerts: list[Alert]) -> str | None:
    ranked = [a for a in alerts if a.severity in _TILE_KIND]
    if not ranked:
        return None
    return _TILE_KIND[min(ranked, key=lambda a: SEVERITY_ORDER[a.severity]).severity]


class NocScreen(ConsoleScreen):
    def __init__(self, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name, id, classes)
        self.director_tiles = TileRow(id="noc-directors")
        self.nginx_tiles = TileRow(id="noc-nginx")
        self.cps = Digits("0", id="noc-cps")
        self.active = Digits("0", id="noc-active")
        self.rs = Digits("0", id="noc-rs")
        self.spark = Sparkline([0], id="noc-spark")
        self.services = ServicesTable(id="noc-services")
        self.services.can_focus = False  # a wall display has nothing to select
        self.backends = BackendsTable(id="noc-backends")  # the third tier, read-only like the rest
        self.backends.can_focus = False

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield AlertBar(max_lines=4, classes="noc")
        yield Label("VRRP", classes="noc-heading")
        yield self.director_tiles
        yield Label("nginx", classes="noc-heading")
        yield self.nginx_tiles
        with Horizontal(id="noc-totals"):
            with Vertical(classes="noc-total"):
                yield Label("conn/s", classes="noc-total-label")
                yield self.cps
            with Vertical(classes="noc-total"):
                yield Label("active connections", classes="noc-total-label")
                yield self.active
            with Vertical(classes="noc-total"):
                yield Label("real servers in service", classes="noc-total-label")
                yield self.rs
        yield self.spark
        with Horizontal(id="noc-tables"):
            yield self.services
            yield self.backends

    def show_data(self, state: ConsoleState) -> None:
        view = state.view()
        if view is None:
            return
        self._tiles(state, view)
        cps = sum(s.rates.cps for n in view.directors if n.reachable for s in n.ipvs)
        active = sum(total(list(s.real_servers), "active_conns") for n in view.directors for s in n.ipvs)
        up = total_rs = 0
        for m in view.services.values():
            for rss in m.rs.values():
                total_rs += 1
                up += all(r is not None and r.weight > 0 and r.drain is None for r in rss)
        self.cps.update(fmt.num(cps))
        self.active.update(fmt.num(active))
        self.rs.update(f"{up}/{total_rs}")
        history = state.history.get((view.name, "cps"))
        self.spark.data = history if len(history) > 1 else [0, 0]  # one point: no trend
        self.services.show(state, view)
        self.backends.show(state, view)

    def tick_data(self, state: ConsoleState) -> None:
        view = state.view()
        if view is not None:  # ages move on and stale nodes must grey out without new data
            self._tiles(state, view)
            if self.backends.is_attached:
                self.backends.refresh()

    def _tiles(self, state: ConsoleState, view: ClusterView) -> None:
        alerts = [a for a in state.alerts(view.name) if a.cluster == view.name]
        if self.director_tiles.is_attached:
            self.director_tiles.set_tiles(self._director_tiles(state, view, alerts))
        if self.nginx_tiles.is_attached:
            self.nginx_tiles.set_tiles(self._nginx_tiles(state, view, alerts))

    @staticmethod
    def _director_tiles(state: ConsoleState, view: ClusterView, alerts: list[Alert] | None = None) -> list[TileSpec]:
        alerts = alerts or []
        wide = _alert_kind([a for a in alerts if a.kind in _CLUSTER_WIDE_VRRP])
        tiles: list[TileSpec] = []
        for node in view.directors:
            stale = state.is_stale(node)
            age = fmt.age(state.node_age(node))
            mine = _alert_kind([a for a in alerts if a.node == node.name])
            if not node.vrrp:
                if node.error == PENDING:
                    tiles.append((node.name, f"{node.name}\nWAITING\nfirst poll", "stale"))
                    continue
                tiles.append((node.name, f"{node.name}\n{'UNREACHABLE' if not node.reachable else 'NO VRRP'}\n{age}",
                              "bad"))
                continue
            for inst in node.vrrp:
                held = " ".join(ClusterView.held_vips(node, inst)) or "no VIP"
                text = f"{node.name} {inst.instance}\n{state_text(inst.state)}\nprio {prio_text(inst)} · {held}"
                if any(r.instance == inst.instance for r in node.forced):
                    text += "\nplanned: failover forced"
                if not node.reachable:
                    text = f"{node.name} {inst.instance}\nUNREACHABLE\nlast {inst.state}, {age} ago"
                kind = "bad" if not node.reachable else (
                    wide or mine or ("stale" if stale else STATE_STYLE.get(inst.state, "warn")))
                tiles.append(((node.name, inst.instance), text, kind))
        return tiles

    @staticmethod
    def _nginx_tiles(state: ConsoleState, view: ClusterView, alerts: list[Alert] | None = None) -> list[TileSpec]:
        alerts = alerts or []
        tiles: list[TileSpec] = []
        for node in view.nginx:
            ng = node.nginx
            mine = _alert_kind([a for a in alerts if a.node == node.name])
            if node.error == PENDING:
                tiles.append((node.name, f"{node.name}\nWAITING\nfirst poll", "stale"))
            elif not node.reachable:
                tiles.append((node.name, f"{node.name}\nUNREACHABLE\n{fmt.age(state.node_age(node))} ago", "bad"))
            elif ng is None:
                tiles.append((node.name, f"{node.name}\nNGINX DOWN\n", "bad"))
            else:
                kind = mine or ("stale" if state.is_stale(node) else "good")
                tiles.append((node.name, f"{node.name}\n{fmt.num(ng.requests_per_s)} req/s\n{ng.active} active", kind))
        return tiles
