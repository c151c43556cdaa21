"""The snapshot: an immutable picture of every cluster at one moment.

Collectors build the per-node parts, the poller assembles them, analyzers add
alerts, and the UI, `status --json`, record and replay only ever read it.
`to_dict()` is the JSON contract; `from_dict()` reads it back for replay.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lbconsole.upstreams import Upstream

COUNTER_FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATE_FIELDS = ("cps", "inpps", "outpps", "inbps", "outbps")
VRRP_STATES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")
PENDING = "not polled yet"  # the error of a node whose first poll has not finished


@dataclass(frozen=True, slots=True)
class Counters:
    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0


@dataclass(frozen=True, slots=True)
class Rates:
    cps: float = 0
    inpps: float = 0
    outpps: float = 0
    inbps: float = 0
    outbps: float = 0


@dataclass(frozen=True, slots=True)
class Drain:
    reason: str
    by: str
    since: float
    weight: int | None = None  # the weight to restore on undrain


@dataclass(frozen=True, slots=True)
class Forced:
    """A forced failover recorded on the node it was forced on (the old MASTER)."""

    instance: str
    by: str
    since: float
    reason: str | None = None
    mode: str | None = None  # track_file | stop: how the failover was forced


@dataclass(frozen=True, slots=True)
class RealServer:
    address: str
    port: int
    forward: str  # route | masq | tunnel | local
    weight: int
    active_conns: int = 0
    inactive_conns: int = 0
    persist_conns: int = 0
    stats: Counters = Counters()
    rates: Rates = Rates()
    drain: Drain | None = None

    @property
    def key(self) -> str:
        return join_host_port(self.address, self.port)


@dataclass(frozen=True, slots=True)
class Service:
    protocol: str  # TCP | UDP | SCTP | FWM
    address: str | None
    port: int | None
    fwmark: int | None
    scheduler: str
    persistent: bool = False
    persistence_timeout: int | None = None
    family: str = "inet"  # inet | inet6
    stats: Counters = Counters()
    rates: Rates = Rates()
    real_servers: tuple[RealServer, ...] = ()

    @property
    def key(self) -> str:
        """The CLI's SERVICE spelling: VIP:PORT, udp:VIP:PORT, sctp:VIP:PORT, fwm:MARK."""
        if self.protocol == "FWM":
            base = f"fwm:{self.fwmark}"
            return base + ":6" if self.family == "inet6" else base
        hp = join_host_port(self.address or "", self.port or 0)
        return hp if self.protocol == "TCP" else f"{self.protocol.lower()}:{hp}"

    def real_server(self, key: str) -> RealServer | None:
        return next((rs for rs in self.real_servers if rs.key == key), None)


@dataclass(frozen=True, slots=True)
class VrrpInstance:
    instance: str
    vrid: int
    state: str  # MASTER | BACKUP | FAULT | INIT | STOP
    priority: int = 0
    effective_priority: int = 0
    interface: str = ""
    vips: tuple[str, ...] = ()
    last_transition: float = 0
    adverts_rcvd: int = 0
    adverts_sent: int = 0
    auth_failures: int = 0
    become_master: int = 0
    source: str = "json"  # json | data | addr: how this was learnt


@dataclass(frozen=True, slots=True)
class NginxStatus:
    active: int
    accepts: int
    handled: int
    requests: int
    reading: int
    writing: int
    waiting: int
    requests_per_s: float = 0
    conns_per_s: float = 0


@dataclass(frozen=True, slots=True)
class HostStats:
    load1: float = 0
    load5: float = 0
    load15: float = 0
    cpu_percent: float = 0
    mem_percent: float = 0
    mem_total: int = 0
    cpus: int = 0
    uptime_s: float = 0
    cpu_busy: int = 0  # raw jiffies, for cpu_percent between two polls
    cpu_total: int = 0


@dataclass(frozen=True, slots=True)
class Address:
    interface: str
    address: str  # without prefix length
    family: str  # inet | inet6


@dataclass(frozen=True, slots=True)
class NodeSnapshot:
    name: str
    host: str
    roles: tuple[str, ...]
    reachable: bool = False
    error: str | None = None
    updated_at: float | None = None  # when data was last collected successfully
    age_s: float = 0.0
    ipvs: tuple[Service, ...] = ()
    vrrp: tuple[VrrpInstance, ...] = ()
    nginx: NginxStatus | None = None
    host_stats: HostStats | None = None
    addresses: tuple[Address, ...] = ()
    # Raw per-counter totals and the time they were read, for delta rates.
    sampled_at: float | None = None
    warnings: tuple[str, ...] = ()
    keepalived_running: bool | None = None  # None: not known (not polled, or not asked)
    forced: tuple[Forced, ...] = ()  # forced-failover records on this node (directors)
    upstreams: tuple[Upstream, ...] | None = None  # nginx nodes: None when not read (see lbconsole.upstreams)
    # Not answered yet: how long its first answer may take (connect_timeout + command_timeout). In the snapshot,
    # so that a remote viewer or a replay, which has no inventory, waits as long as the console did.
    first_answer_s: float | None = None

    def service(self, key: str) -> Service | None:
        return next((s for s in self.ipvs if s.key == key), None)

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True, slots=True)
class Alert:
    severity: str  # critical | warning | info (planned work, not an incident)
    kind: str
    message: str
    cluster: str | None = None
    node: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    name: str
    nodes: tuple[NodeSnapshot, ...] = ()
    read_only: bool = False
    color: str | None = None

    def node(self, name: str) -> NodeSnapshot | None:
        return next((n for n in self.nodes if n.name == name), None)

    @property
    def directors(self) -> tuple[NodeSnapshot, ...]:
        return tuple(n for n in self.nodes if n.has_role("director"))


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: float
    clusters: tuple[ClusterSnapshot, ...] = ()
    alerts: tuple[Alert, ...] = ()

    def cluster(self, name: str) -> ClusterSnapshot | None:
        return next((c for c in self.clusters if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _to_plain(self)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        out: Snapshot = _from_plain(cls, data)
        return out

    def with_alerts(self, alerts: tuple[Alert, ...]) -> Snapshot:
        return replace(self, alerts=alerts)


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_NESTED: dict[tuple[type, str], type] = {
    (Snapshot, "clusters"): ClusterSnapshot,
    (Snapshot, "alerts"): Alert,
    (ClusterSnapshot, "nodes"): NodeSnapshot,
    (NodeSnapshot, "ipvs"): Service,
    (NodeSnapshot, "vrrp"): VrrpInstance,
    (NodeSnapshot, "nginx"): NginxStatus,
    (NodeSnapshot, "host_stats"): HostStats,
    (NodeSnapshot, "addresses"): Address,
    (NodeSnapshot, "forced"): Forced,
    (Service, "stats"): Counters,
    (Service, "rates"): Rates,
    (Service, "real_servers"): RealServer,
    (RealServer, "stats"): Counters,
    (RealServer, "rates"): Rates,
    (RealServer, "drain"): Drain,
}


def _to_plain(obj: Any) -> Any:
    if hasattr(obj, "__dataclass_fields__"):
        out = {f.name: _to_plain(getattr(obj, f.name)) for f in fields(obj)}
        if isinstance(obj, NodeSnapshot) and obj.updated_at is None:
            out["age_s"] = None  # never reached: data of no age, not fresh data
        return out
    if isinstance(obj, (tuple, list)):
        return [_to_plain(v) for v in obj]
    return obj


def _from_plain(cls: type, data: dict[str, Any]) -> Any:
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        inner = _NESTED.get((cls, f.name))
        if value is None and cls is NodeSnapshot and f.name == "age_s":
            continue  # never reached (see _to_plain)
        if value is None:
            kwargs[f.name] = None
        elif cls is NodeSnapshot and f.name == "upstreams":
            from lbconsole import upstreams  # it imports this module

            kwargs[f.name] = upstreams.from_plain(value)
        elif inner is not None and isinstance(value, list):
            kwargs[f.name] = tuple(_from_plain(inner, v) for v in value)
        elif inner is not None:
            kwargs[f.name] = _from_plain(inner, value)
        elif isinstance(value, list):
            kwargs[f.name] = tuple(value)
        else:
            kwargs[f.name] = value
    return cls(**kwargs)


__all__ = [
    "Address", "Alert", "ClusterSnapshot", "Counters", "Drain", "Forced", "HostStats", "NginxStatus",
    "NodeSnapshot", "RealServer", "Rates", "Service", "Snapshot", "VrrpInstance", "join_host_port",
]
