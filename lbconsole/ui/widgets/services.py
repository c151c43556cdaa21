"""IPVS services and their real servers, merged across directors.

Numbers are summed over the directors (after a failover the old master still
counts its connections down); the weight shows each director's value when
they disagree. Drained real servers show the reason and the drain's progress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from lbconsole.snapshot import RealServer
from lbconsole.ui import fmt
from lbconsole.ui.model import ClusterView, MergedService, RsKey, rate_total, rs_label, total
from lbconsole.ui.widgets.grid import Column, Grid, Row

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState

#: A service row ("s", service) or one of its real servers ("r", service, real server).
ServiceRowKey = tuple[Literal["s"], str] | tuple[Literal["r"], str, RsKey]

COLUMNS = (
    Column("Service / real server", 28),
    Column("Sch/Fwd", 7, drop=6),
    Column("Weight", 6, align="right"),
    Column("Active", 6, align="right"),
    Column("Inact", 6, align="right", drop=4),
    Column("CPS", 6, align="right"),
    Column("PPS", 6, align="right", drop=3),
    Column("bit/s", 6, align="right", drop=2),
    Column("Drain", 20, grow=True, drop=5),
)


def drain_cell(rss: list[RealServer | None], now_epoch: float, done_at: float | None) -> tuple[str, str | None]:
    """The drain's reason and progress: connections left, or how long they took to reach 0."""
    drain = next((r.drain for r in rss if r is not None and r.drain is not None), None)
    if drain is None:
        if all(r is None or r.weight == 0 for r in rss):
            return ("weight 0 (no drain record)", "muted")
        return ("", None)
    active = total(rss, "active_conns")
    why = f"{drain.reason} ({drain.by})"
    if active:
        return (f"DRAINING {active} active, {fmt.age(now_epoch - drain.since)} · {why}", "drain")
    if done_at is not None and drain.since:
        return (f"DRAINED, 0 conns after {fmt.age(max(0.0, done_at - drain.since))} · {why}", "drain")
    return (f"DRAINED · {why}", "drain")


class ServicesTable(Grid[ServiceRowKey]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(COLUMNS, self._row, empty="no IPVS services", **kwargs)
        self.state: ConsoleState | None = None
        self.view: ClusterView | None = None
        self.filter = ""

    def show(self, state: ConsoleState, view: ClusterView) -> None:
        self.state, self.view = state, view
        self.set_rows(self._keys())

    def set_filter(self, text: str) -> None:
        self.filter = text.strip().lower()
        if self.view is not None:
            self.set_rows(self._keys())

    def _keys(self) -> list[ServiceRowKey]:
        keys: list[ServiceRowKey] = []
        f = self.filter
        view = self.view
        assert view is not None  # set by show() before any row is asked for
        for svc_key, m in view.services.items():
            if not f:
                keys.append(("s", svc_key))
                keys.extend([("r", svc_key, rk) for rk in m.rs_keys])
                continue
            svc_hit = f in svc_key.lower() or f in m.any.scheduler
            rs_hits = [rk for rk in m.rs_keys
                       if svc_hit or f in view.rs_title(rk).lower() or _drain_hit(m, rk, f)]
            if svc_hit or rs_hits:
                keys.append(("s", svc_key))
                keys.extend([("r", svc_key, rk) for rk in rs_hits])
        return keys

    def _row(self, key: ServiceRowKey) -> Row:
        assert self.view is not None  # set by show() before any row is asked for
        m = self.view.services[key[1]]
        if key[0] == "s":
            return self._service_row(m)
        return self._rs_row(m, m.rs[key[2]], key[2])

    def _service_row(self, m: MergedService) -> Row:
        svcs = [s for s in m.per_director if s is not None]
        svc = svcs[0]
        rss_all = [r for s in svcs for r in s.real_servers]
        drained = sum(1 for k in m.rs_keys if any(r is not None and r.drain for r in m.rs[k]))
        label = svc.key + (" persistent" if svc.persistent else "")
        return [
            (label, "accent"),
            (svc.scheduler, "muted"),
            (f"{len(m.rs_keys)} rs", "muted"),
            (fmt.num(total(rss_all, "active_conns")), None),
            (fmt.num(total(rss_all, "inactive_conns")), "muted"),
            (fmt.num(sum(s.rates.cps for s in svcs)), None),
            (fmt.num(sum(s.rates.inpps + s.rates.outpps for s in svcs)), "muted"),
            (fmt.bits(sum(s.rates.inbps + s.rates.outbps for s in svcs)), "muted"),
            (f"{drained} drained" if drained else "", "drain" if drained else None),
        ], "group"

    def _rs_row(self, m: MergedService, rss: list[RealServer | None], rk: RsKey) -> Row:
        view, state = self.view, self.state
        assert view is not None and state is not None  # set by show() before any row is asked for
        # A director with no IPVS data at all (not polled yet) is unknown, not a disagreement.
        weights = [r.weight if r is not None else None for r, d in zip(rss, view.directors) if d.ipvs]
        drift = state.drifts(view.name, m.key, rs_label(rk))  # the analyzers' verdict: it lasted
        now = self.state.snapshot.taken_at if self.state and self.state.snapshot else 0
        present = [r for r in rss if r is not None]
        return [
            ("  " + view.rs_title(rk), None),
            (present[0].forward if present else "", "muted"),
            (fmt.weights(weights), "bad" if drift else ("warn" if len(set(weights)) > 1 or all(w == 0 for w in weights)
                                                     else None)),
            (fmt.num(total(rss, "active_conns")), None),
            (fmt.num(total(rss, "inactive_conns")), "muted"),
            (fmt.num(rate_total(rss, "cps")), None),
            (fmt.num(rate_total(rss, "inpps") + rate_total(rss, "outpps")), "muted"),
            (fmt.bits(rate_total(rss, "inbps") + rate_total(rss, "outbps")), "muted"),
            drain_cell(rss, now, state.drained_at.get((view.name, m.key, rs_label(rk)))),
        ], None

    def target(self) -> dict[str, Any] | None:
        key = self.cursor_key
        if key is None or key[0] != "r" or self.view is None:
            return None
        return {"kind": "real_server", "cluster": self.view.name, "service": key[1], "real_server": rs_label(key[2])}

    def selected_service(self) -> str | None:
        key = self.cursor_key
        return None if key is None else key[1]


def _drain_hit(m: MergedService, rk: RsKey, f: str) -> bool:
    return any(r is not None and r.drain is not None and f in r.drain.reason.lower() for r in m.rs[rk])
