"""The wall display: large status for one cluster at a time, no prompts, no selection needed.

Read-only always. The app cycles clusters; this screen only draws the current one.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Footer, Label, Sparkline

from lbconsole.snapshot import PENDING
from lbconsole.ui import fmt
from lbconsole.ui.model import ClusterView, total
from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.directors import STATE_STYLE, prio_text
from lbconsole.ui.widgets.services import ServicesTable
from lbconsole.ui.widgets.status_bar import StatusBar
from lbconsole.ui.widgets.tiles import TileRow


class NocScreen(ConsoleScreen):
    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield AlertBar(max_lines=4, classes="noc")
        yield Label("VRRP", classes="noc-heading")
        yield TileRow(id="noc-directors")
        yield Label("nginx", classes="noc-heading")
        yield TileRow(id="noc-nginx")
        with Horizontal(id="noc-totals"):
            with Vertical(classes="noc-total"):
                yield Label("conn/s", classes="noc-total-label")
                yield Digits("0", id="noc-cps")
            with Vertical(classes="noc-total"):
                yield Label("active connections", classes="noc-total-label")
                yield Digits("0", id="noc-active")
            with Vertical(classes="noc-total"):
                yield Label("real servers in service", classes="noc-total-label")
                yield Digits("0", id="noc-rs")
        yield Sparkline([0], id="noc-spark")
        services = ServicesTable(id="noc-services")
        services.can_focus = False  # a wall display has nothing to select
        yield services
        yield Footer()

    def show_data(self, state) -> None:
        view = state.view()
        if view is None:
            return
        self.query_one("#noc-directors", TileRow).set_tiles(self._director_tiles(state, view))
        self.query_one("#noc-nginx", TileRow).set_tiles(self._nginx_tiles(state, view))
        cps = sum(s.rates.cps for n in view.directors if n.reachable for s in n.ipvs)
        active = sum(total(list(s.real_servers), "active_conns") for n in view.directors for s in n.ipvs)
        up = total_rs = 0
        for m in view.services.values():
            for rss in m.rs.values():
                total_rs += 1
                up += all(r is not None and r.weight > 0 and r.drain is None for r in rss)
        self.query_one("#noc-cps", Digits).update(fmt.num(cps))
        self.query_one("#noc-active", Digits).update(fmt.num(active))
        self.query_one("#noc-rs", Digits).update(f"{up}/{total_rs}")
        history = state.history.get((view.name, "cps"))
        self.query_one("#noc-spark", Sparkline).data = history if len(history) > 1 else [0, 0]  # one point: no trend
        self.query_one(ServicesTable).show(state, view)

    def tick(self, state) -> None:
        super().tick(state)
        view = state.view()
        if view is not None:  # ages move on and stale nodes must grey out without new data
            self.query_one("#noc-directors", TileRow).set_tiles(self._director_tiles(state, view))
            self.query_one("#noc-nginx", TileRow).set_tiles(self._nginx_tiles(state, view))

    @staticmethod
    def _director_tiles(state, view: ClusterView) -> list:
        tiles = []
        for node in view.directors:
            stale = state.is_stale(node)
            age = fmt.age(state.node_age(node))
            if not node.vrrp:
                if node.error == PENDING:
                    tiles.append((node.name, f"{node.name}\nWAITING\nfirst poll", "stale"))
                    continue
                tiles.append((node.name, f"{node.name}\n{'UNREACHABLE' if not node.reachable else 'NO VRRP'}\n{age}",
                              "bad"))
                continue
            for inst in node.vrrp:
                held = " ".join(ClusterView.held_vips(node, inst)) or "no VIP"
                text = f"{node.name} {inst.instance}\n{inst.state}\nprio {prio_text(inst)} · {held}"
                if not node.reachable:
                    text = f"{node.name} {inst.instance}\nUNREACHABLE\nlast {inst.state}, {age} ago"
                kind = "bad" if not node.reachable else ("stale" if stale else STATE_STYLE.get(inst.state, "warn"))
                tiles.append(((node.name, inst.instance), text, kind))
        return tiles

    @staticmethod
    def _nginx_tiles(state, view: ClusterView) -> list:
        tiles = []
        for node in view.nginx:
            ng = node.nginx
            if node.error == PENDING:
                tiles.append((node.name, f"{node.name}\nWAITING\nfirst poll", "stale"))
            elif not node.reachable:
                tiles.append((node.name, f"{node.name}\nUNREACHABLE\n{fmt.age(state.node_age(node))} ago", "bad"))
            elif ng is None:
                tiles.append((node.name, f"{node.name}\nNGINX DOWN\n", "bad"))
            else:
                kind = "stale" if state.is_stale(node) else "good"
                tiles.append((node.name, f"{node.name}\n{fmt.num(ng.requests_per_s)} req/s\n{ng.active} active", kind))
        return tiles
