"""The backends tier in the snapshot: each nginx node's upstreams and the state of every server in them.

`status --json` gives each nginx node
`"upstreams": [{"name", "servers": [{"address", "port", "name", "weight", "max_fails", "fail_timeout",
"backup", "down", "drain", "failures", "probe_ok", "probe_ms"}], "keepalive", "no_live", "used_by"}]`.
One server row per peer nginx balances over: a `server` line given by a host name that resolves to two
addresses is two rows. `from_node` builds them from what lbconsole-node sends (lbconsole/node:
upstream_conf.read, upstream_log counts, upstream_probe results, upstream_edit records).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from lbconsole.snapshot import join_host_port

STATES = ("up", "failing", "down", "drained")


@dataclass(frozen=True, slots=True)
class UpstreamDrain:
    reason: str
    by: str
    since: float


@dataclass(frozen=True, slots=True)
class UpstreamServer:
    address: str  # an IP address, or "unix:/path"
    port: int | None  # None for a unix socket
    name: str | None = None  # the inventory node at that address, else the config's host name, if any
    weight: int = 1
    max_fails: int = 1
    fail_timeout: int = 10  # seconds
    backup: bool = False
    down: bool = False  # marked down in the config (by lbconsole's drain or by hand)
    drain: UpstreamDrain | None = None  # lbconsole's record, when the drain put the `down` there
    failures: int = 0  # connect failed / timed out / temporarily disabled, since the last poll
    probe_ok: bool | None = None  # None: not probed
    probe_ms: float | None = None

    @property
    def key(self) -> str:
        return self.address if self.port is None else join_host_port(self.address, self.port)

    @property
    def failing(self) -> bool:
        """The probe failed; without a probe, the error log counted failures."""
        return self.probe_ok is False or (self.probe_ok is None and self.failures > 0)

    @property
    def state(self) -> str:
        if self.down:
            return "drained" if self.drain is not None else "down"
        return "failing" if self.failing else "up"

    @property
    def live(self) -> bool:
        return self.state == "up"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.key})" if self.name else self.key


def probe_ms(ms: float | None) -> str:
    """A probe's round trip, short: `0.9ms`, `12ms`."""
    if ms is None:
        return "–"
    return f"{ms:.1f}ms" if ms < 10 else f"{ms:.0f}ms"


def probe_text(s: UpstreamServer, labelled: bool = False) -> str:
    """What the node's health probe of `s` said: `ok 1.2ms`, `failed` or `not probed` under a Probe column;
    labelled, among a line's other fields (`status`): `probe ok 1.25 ms`, `probe FAILED`, `not probed`."""
    if s.probe_ok is None:
        return "not probed"
    if labelled:
        return f"probe ok {s.probe_ms or 0:g} ms" if s.probe_ok else "probe FAILED"
    return f"ok {probe_ms(s.probe_ms)}" if s.probe_ok else "failed"


@dataclass(frozen=True, slots=True)
class UpstreamUse:
    """A server/location block that proxies to the upstream."""

    server_name: tuple[str, ...] = ()
    listen: tuple[str, ...] = ()
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Upstream:
    name: str
    servers: tuple[UpstreamServer, ...] = ()
    keepalive: int | None = None
    no_live: int = 0  # "no live upstreams" errors since the last poll
    used_by: tuple[UpstreamUse, ...] = ()

    def server(self, key: str) -> UpstreamServer | None:
        return next((s for s in self.servers if s.key == key), None)

    @property
    def has_live_server(self) -> bool:
        return any(s.live for s in self.servers)

    def listen_ports(self) -> set[int]:
        """The ports of the listens that reach this upstream (80 for a server block without listen)."""
        ports = set()
        for use in self.used_by:
            for spec in use.listen or ("80",):
                port = listen_port(spec)
                if port is not None:
                    ports.add(port)
        return ports


def listen_port(spec: str) -> int | None:
    """The port of a `listen`: "80", "10.0.0.1:80", "[::]:443", "*:8080"; 80 when it names none; unix: None."""
    if spec.startswith("unix:"):
        return None
    if spec.startswith("["):
        rest = spec.partition("]")[2]
        return int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 80
    if spec.isdigit():
        return int(spec)
    _, sep, port = spec.rpartition(":")
    return int(port) if sep and port.isdigit() else 80


def to_plain(upstreams: Iterable[Upstream]) -> list[dict[str, Any]]:
    return [_plain(u) for u in upstreams]


def _plain(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [_plain(v) for v in obj]
    return obj


def from_plain(data: Sequence[Mapping[str, Any]]) -> tuple[Upstream, ...]:
    """Back from JSON (replay, recordings); unknown keys are ignored, missing ones take defaults."""
    out = []
    for u in data:
        servers = tuple(
            UpstreamServer(**{k: v for k, v in s.items() if k in _SERVER_FIELDS and k != "drain"},
                           drain=UpstreamDrain(**s["drain"]) if s.get("drain") else None)
            for s in u.get("servers", ()))
        uses = tuple(UpstreamUse(tuple(x.get("server_name", ())), tuple(x.get("listen", ())), x.get("location"))
                     for x in u.get("used_by", ()))
        out.append(Upstream(u["name"], servers, u.get("keepalive"), u.get("no_live", 0), uses))
    return tuple(out)


_SERVER_FIELDS = {f.name for f in fields(UpstreamServer)}


def inventory_names(nodes: Iterable[Any]) -> dict[str, str]:
    """host -> node name, from inventory NodeConfig objects (or anything with .host and .name)."""
    return {n.host: n.name for n in nodes}


def from_node(read: Mapping[str, Any], failures: Mapping[str, Any] | None = None,
              probes: Sequence[Mapping[str, Any]] = (), records: Sequence[Mapping[str, Any]] = (),
              names: Mapping[str, str] | None = None) -> tuple[Upstream, ...]:
    """Snapshot rows from the node's parts: upstream_conf.read(), upstream_log counts, probe results, records."""
    names = names or {}
    per_peer = (failures or {}).get("servers", {})
    no_live = (failures or {}).get("upstreams", {})
    probe_by_peer = {p["peer"]: p for p in probes}
    drains = {(r.get("upstream"), r.get("server")): r for r in records}
    out = []
    for u in read.get("upstreams", ()):
        rows = []
        for s in u["servers"]:
            rec = drains.get((u["name"], s["spec"]))
            drain = UpstreamDrain(str(rec.get("reason", "")), str(rec.get("by", "")), float(rec.get("since", 0)))\
                if rec and s["down"] else None
            addresses = s["addresses"] or [s["host"]]  # unresolved: still shown, by its name
            for addr in addresses:
                peer = addr if s["port"] is None else join_host_port(addr, s["port"])
                probe = probe_by_peer.get(peer)
                host_name = None if s["port"] is None or s["host"] == addr else s["host"]
                rows.append(UpstreamServer(
                    address=addr, port=s["port"], name=names.get(addr) or names.get(s["host"]) or host_name,
                    weight=s["weight"], max_fails=s["max_fails"], fail_timeout=s["fail_timeout"],
                    backup=s["backup"], down=s["down"], drain=drain,
                    failures=sum(per_peer.get(peer, {}).get(k, 0) for k in ("connect", "timeout", "disabled")),
                    probe_ok=probe["ok"] if probe else None, probe_ms=probe["ms"] if probe else None))
        uses = tuple(UpstreamUse(tuple(x["server_name"]), tuple(x["listen"]), x["location"]) for x in u["used_by"])
        out.append(Upstream(u["name"], tuple(rows), u.get("keepalive"), int(no_live.get(u["name"], 0)), uses))
    return tuple(out)
