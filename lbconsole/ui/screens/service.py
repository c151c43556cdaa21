"""One IPVS service: its real servers on every director side by side, with sparklines."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Label, Sparkline

from lbconsole.ui import fmt
from lbconsole.ui.model import ClusterView, MergedService, RsKey, rs_label, total
from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.widgets.alert_bar import AlertBar
from lbconsole.ui.widgets.filter_bar import FilterBar
from lbconsole.ui.widgets.grid import Cell, Column, Grid, Row
from lbconsole.ui.widgets.services import drain_cell
from lbconsole.ui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState


class ServiceScreen(ConsoleScreen):
    filterable = True
    AUTO_FOCUS = "#real-servers"

    def __init__(self, cluster: str, service: str, real_server: RsKey | None = None):
        super().__init__()
        self.cluster_name = cluster
        self.service_key = service
        self.initial_rs = real_server
        self.directors: tuple[str, ...] = ()
        self.merged: MergedService | None = None
        self.filter = ""
        self.view: ClusterView | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar()
        yield AlertBar()
        yield Label("", id="service-title", markup=False)
        yield Horizontal(id="sparks")
        with Vertical(id="rs-panel", classes="panel"):
            yield Grid([Column("Real server", 16, grow=True)], self._row, empty="no real servers",
                       id="real-servers")
        yield FilterBar(id="filter")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#rs-panel").border_title = "Real servers on every director"

    def show_data(self, state: ConsoleState) -> None:
        view = state.view(self.cluster_name)
        m = view.services.get(self.service_key) if view else None
        title = self.query_one("#service-title", Label)
        if m is None or view is None:  # no view: no service either
            title.update(f"Service {self.service_key} is not on any director of {self.cluster_name} now")
            return
        self.merged = m
        svc = m.any
        extra = f" · persistent {svc.persistence_timeout}s" if svc.persistent else ""
        roles = "  ".join(f"{n.name}:{i.state}" for n in view.directors for i in n.vrrp[:1])
        title.update(f"{svc.key} · {svc.protocol} · {svc.scheduler}{extra} · cluster {view.name}   {roles}")
        names = tuple(n.name for n in view.directors)
        if names != self.directors:
            self.directors = names
            self._build(names)
            self.call_after_refresh(self._sparks, state, m)  # once the new sparklines are mounted
        else:
            self._sparks(state, m)
        grid = self.query_one("#real-servers", Grid)
        f = self.filter
        grid.set_rows([k for k in m.rs_keys if not f or f in view.rs_title(k).lower()])
        self.view = view
        if self.initial_rs is not None and grid.move_to(self.initial_rs):
            self.initial_rs = None

    def _build(self, names: tuple[str, ...]) -> None:
        cols = [Column("Real server", 16, grow=True)]
        for i, name in enumerate(names):
            cols += [Column(f"{name} w", max(5, len(name) + 2), align="right"),
                     Column(f"{name} act", max(6, len(name) + 4), align="right"),
                     Column(f"{name} inact", max(6, len(name) + 6), align="right", drop=2 + i),
                     Column(f"{name} cps", max(6, len(name) + 4), align="right", drop=4 + i)]
        cols.append(Column("Drain", 12, grow=True, drop=9))
        self.query_one("#real-servers", Grid).set_columns(cols)
        sparks = self.query_one("#sparks", Horizontal)
        sparks.remove_children()
        for name in names:
            sparks.mount(Vertical(Label("", classes="spark-label", id=f"cps-label-{_id(name)}", markup=False),
                                  Sparkline([], id=f"cps-{_id(name)}"),
                                  Label("", classes="spark-label", id=f"act-label-{_id(name)}", markup=False),
                                  Sparkline([], id=f"act-{_id(name)}", classes="active"),
                                  classes="spark-box"))

    def _sparks(self, state: ConsoleState, m: MergedService) -> None:
        if not self.directors or not self.query(f"#act-label-{_id(self.directors[-1])}"):
            return  # not mounted yet: the call after the mount draws them
        for i, name in enumerate(self.directors):
            svc = m.per_director[i] if i < len(m.per_director) else None
            cps = state.history.get((self.cluster_name, name, self.service_key, "cps"))
            act = state.history.get((self.cluster_name, name, self.service_key, "active"))
            self.query_one(f"#cps-{_id(name)}", Sparkline).data = cps if len(cps) > 1 else [0, 0]
            self.query_one(f"#act-{_id(name)}", Sparkline).data = act if len(act) > 1 else [0, 0]
            now_cps = fmt.num(svc.rates.cps) if svc else "–"
            now_act = fmt.num(total(list(svc.real_servers), "active_conns")) if svc else "–"
            self.query_one(f"#cps-label-{_id(name)}", Label).update(f"{name} conn/s {now_cps}")
            self.query_one(f"#act-label-{_id(name)}", Label).update(f"{name} active {now_act}")

    def _row(self, rk: RsKey) -> Row:
        assert self.merged is not None  # rows are set only once a service is shown
        rss = self.merged.rs.get(rk) or []
        cells: list[Cell] = [(self.view.rs_title(rk) if self.view else rs_label(rk), None)]
        weights = {r.weight for r in rss if r is not None}
        state = self.app.state
        drift = state.drifts(self.cluster_name, self.service_key, rs_label(rk))
        for r in rss:
            if r is None:
                cells += [("absent", "bad"), ("", None), ("", None), ("", None)]
                continue
            cells += [(str(r.weight), "bad" if drift else ("warn" if len(weights) > 1 or r.weight == 0 else None)),
                      (fmt.num(r.active_conns), None), (fmt.num(r.inactive_conns), "muted"),
                      (fmt.num(r.rates.cps), None)]
        now = state.snapshot.taken_at if state.snapshot else 0
        cells.append(drain_cell(rss, now, state.drained_at.get((self.cluster_name, self.service_key, rs_label(rk)))))
        return cells, None

    def target(self, kind: str) -> dict[str, Any] | None:
        key = self.query_one("#real-servers", Grid).cursor_key
        if kind == "real_server" and key is not None:
            return {"kind": "real_server", "cluster": self.cluster_name, "service": self.service_key,
                    "real_server": rs_label(key)}
        if kind == "vrrp_instance":
            from lbconsole.ui.screens.main import single_instance

            return single_instance(self.app.state)
        return None

    def apply_filter(self, text: str) -> None:
        self.filter = text.strip().lower()
        panel = self.widget("#rs-panel", Vertical)
        if panel is not None:  # the filter is the user's text: a Text, never markup
            panel.border_title = Text("Real servers on every director"
                                      + (f" · filter “{self.filter}” (Esc clears)" if self.filter else ""))
        self.show(self.app.state)

    @property
    def has_filter(self) -> bool:
        return bool(self.filter)

    def clear_filter(self) -> bool:
        if not self.filter:
            return False
        bar = self.widget(FilterBar)
        if bar is not None:
            bar.action_clear()
        else:
            self.apply_filter("")
        return True

    def on_filter_bar_applied(self, message: FilterBar.Applied) -> None:
        self.apply_filter(message.text)

    def open_filter(self) -> None:
        self.query_one(FilterBar).open()

    def on_grid_highlighted(self) -> None:
        self.app.refresh_bindings()


def _id(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)
