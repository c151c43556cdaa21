"""The backends tier as the console shows it: each upstream merged across the nginx nodes.

Every nginx node reads its own upstreams (`NodeSnapshot.upstreams`); the tier
shows one row per upstream and per server, with one column per nginx node.
What a column can say about a node it has no fresh word from (first poll
running, unreachable, upstreams not read) is said as such, never as a state:
an unreachable node's column is "? unknown", never "up".

No rule is computed here: the analyzers' alerts (kinds `upstream_*`) are
attached to the upstream or server row they name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lbconsole import safetext
from lbconsole.analyzers.summary import GLYPH
from lbconsole.snapshot import PENDING, Alert, NodeSnapshot
from lbconsole.ui import fmt
from lbconsole.upstreams import Upstream, UpstreamServer, probe_ms

if TYPE_CHECKING:
    from lbconsole.ui.model import ClusterView
    from lbconsole.ui.state import ConsoleState

Cell = tuple[str, str | None]

# A glyph as well as a word and a colour: 8-colour terminals and colour-blind eyes tell them apart.
STATE_GLYPH = {"up": "✓", "failing": "✗", "down": "■", "drained": "◌"}
STATE_STYLE = {"up": "good", "failing": "bad", "down": "warn", "drained": "drain"}
ALERT_STYLE = {"critical": "bad", "warning": "warn", "info": "info"}
ALERT_WORDS = {"upstream_no_live": "no live server", "upstream_failing": "failing on every nginx node",
               "upstream_drift": "down on some nginx nodes only"}


@dataclass(slots=True)
class MergedUpstream:
    name: str
    per_node: list[Upstream | None]  # aligned with ClusterView.nginx; None: not there (or not read)
    server_keys: list[str] = field(default_factory=list)  # in first-seen order
    servers: dict[str, list[UpstreamServer | None]] = field(default_factory=dict)

    def any_server(self, key: str) -> UpstreamServer:
        return next(s for s in self.servers[key] if s is not None)

    def title(self, key: str) -> str:
        """`app1 (10.99.0.31:8080)`: named from the inventory by whichever node named it."""
        named = next((s for s in self.servers[key] if s is not None and s.name), None)
        return safetext.line((named or self.any_server(key)).label)


def merge(nginx: Sequence[NodeSnapshot]) -> dict[str, MergedUpstream]:
    """Upstreams by name across the nginx nodes (those not read add nothing, their columns say why)."""
    merged: dict[str, MergedUpstream] = {}
    n = len(nginx)
    for i, node in enumerate(nginx):
        for up in node.upstreams or ():
            m = merged.get(up.name)
            if m is None:
                m = merged[up.name] = MergedUpstream(up.name, [None] * n)
            m.per_node[i] = up
            for s in up.servers:
                slots = m.servers.get(s.key)
                if slots is None:
                    slots = m.servers[s.key] = [None] * n
                    m.server_keys.append(s.key)
                slots[i] = s
    return merged


def unread(node: NodeSnapshot) -> str | None:
    """Why this node's column says nothing about its upstreams now; None when it read them."""
    if node.error == PENDING:
        return "pending"
    if not node.reachable:
        return "unreachable"
    if node.upstreams is None:
        return "not read"
    return None


def unread_cell(why: str) -> Cell:
    if why == "pending":
        return ("…", "muted")
    if why == "unreachable":
        return ("? unknown", "stale")
    return ("? not read", "warn")


def unread_note(node: NodeSnapshot) -> tuple[str, str]:
    """(short, detail) for a node whose upstreams are not known now: never read as healthy."""
    why = unread(node)
    name = safetext.line(node.name)
    if why == "pending":
        return f"{name}: first poll running", "its upstreams are not known yet"
    if why == "unreachable":
        err = f" ({safetext.line(node.error)})" if node.error else ""
        return f"{name}: unreachable", f"the state of its upstreams is unknown{err}"
    detail = next((w for w in node.warnings if "upstream" in w.lower()), None)
    return f"{name}: upstreams not read", safetext.line(detail) if detail else "nginx's upstreams were not read"


def server_text(s: UpstreamServer) -> str:
    """`✓ up 3ms`, `✗ failing ×4`, `■ down`, `◌ drained`: the state, its probe and its failures."""
    state = s.state
    text = f"{STATE_GLYPH[state]} {state}"
    if s.failures:
        text += f" ×{s.failures}"
    elif state in ("up", "failing") and s.probe_ms is not None and s.probe_ok:
        text += f" {probe_ms(s.probe_ms)}"
    return text


def server_cell(node: NodeSnapshot, state: ConsoleState, s: UpstreamServer | None) -> Cell:
    why = unread(node)
    if why is not None:
        return unread_cell(why)
    if s is None:
        return ("– absent", "muted")  # this node's config has no such server
    return (server_text(s), "stale" if state.is_stale(node) else STATE_STYLE[s.state])


def drain_text(s: UpstreamServer, now: float) -> str:
    d = s.drain
    if d is None:
        return "down by hand (no lbconsole record)" if s.down else ""
    since = fmt.since(d.since, now) if d.since else "–"
    return safetext.line(f"drained: {d.reason} (by {d.by}, {since})")


def _names(alert: Alert, upstream: str) -> bool:
    return re.search(rf"(^|\W)upstream {re.escape(upstream)}(:|\s|$)", alert.message) is not None


def upstream_alerts(alerts: Iterable[Alert], upstream: str) -> list[Alert]:
    """The analyzers' alerts about this upstream (kinds upstream_*; they name it in their message)."""
    return [a for a in alerts if a.kind.startswith("upstream") and _names(a, upstream)]


def _labels(m: MergedUpstream, key: str) -> set[str]:
    return {s.label for s in m.servers[key] if s is not None}


def about_server(alert: Alert, m: MergedUpstream) -> str | None:
    """The one server an alert names (its row shows it); None when it names none or several (the upstream's)."""
    named = [k for k in m.server_keys if any(label in alert.message for label in _labels(m, k))]
    return named[0] if len(named) == 1 else None


def server_alerts(alerts: Iterable[Alert], m: MergedUpstream, key: str) -> list[Alert]:
    return [a for a in alerts if about_server(a, m) == key]


def alert_cell(alerts: Sequence[Alert]) -> Cell:
    if not alerts:
        return ("", None)
    from lbconsole.analyzers.summary import SEVERITY_ORDER

    worst = min(alerts, key=lambda a: SEVERITY_ORDER.get(a.severity, 9))
    words = sorted({f"{GLYPH.get(a.severity, '?')} {ALERT_WORDS.get(a.kind, a.kind.replace('_', ' '))}"
                    + (f" ({safetext.line(a.node)})" if a.node else "") for a in alerts})
    return ("; ".join(words), ALERT_STYLE.get(worst.severity))


def backend_of(view: ClusterView, s: UpstreamServer) -> str | None:
    """The inventory node behind an upstream server: by its address, else by the name it was given."""
    name = view.name_of(s.address)
    if name is None and s.name and view.node(s.name) is not None:
        name = s.name
    return name


@dataclass(frozen=True, slots=True)
class Reference:
    """One nginx node's view of one upstream server that points at a backend."""

    upstream: str
    server: str  # UpstreamServer.key
    node: NodeSnapshot  # the nginx node
    slot: UpstreamServer


def references(view: ClusterView, node: str | None = None, address: str | None = None) -> list[Reference]:
    """Every (upstream, server, nginx node) that sends to a backend: the inventory node, or an address."""
    out = []
    for m in view.upstreams.values():
        for key in m.server_keys:
            for n, s in zip(view.nginx, m.servers[key]):
                if s is None:
                    continue
                if (backend_of(view, s) == node) if node is not None else (s.address == address):
                    out.append(Reference(m.name, key, n, s))
    return out
