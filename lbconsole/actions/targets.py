"""What an action acts on: SERVICE and REALSERVER specs, VRRP instances, nginx nodes, upstream servers.

SERVICE is spelled as the snapshot's Service.key: `VIP:PORT` (TCP),
`udp:VIP:PORT`, `sctp:VIP:PORT` or `fwm:MARK` (`fwm:MARK:6` for IPv6); IPv6
addresses in brackets. REALSERVER is `IP:PORT`. Bad specs are UsageErrors
that say what was expected.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lbconsole.errors import UsageError
from lbconsole.snapshot import join_host_port

_HOSTPORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:\[\]]+)):(?P<port>\d{1,5})$")
SERVICE_FORMS = "VIP:PORT, udp:VIP:PORT, sctp:VIP:PORT or fwm:MARK"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    protocol: str  # TCP | UDP | SCTP | FWM
    address: str | None = None
    port: int | None = None
    fwmark: int | None = None
    family: str = "inet"

    @property
    def key(self) -> str:
        if self.protocol == "FWM":
            return f"fwm:{self.fwmark}" + (":6" if self.family == "inet6" else "")
        hp = join_host_port(self.address or "", self.port or 0)
        return hp if self.protocol == "TCP" else f"{self.protocol.lower()}:{hp}"


@dataclass(frozen=True, slots=True)
class RealServerSpec:
    address: str
    port: int

    @property
    def key(self) -> str:
        return join_host_port(self.address, self.port)


def _host_port(text: str, what: str, example: str) -> tuple[str, int, str]:
    m = _HOSTPORT.match(text.strip())
    if not m:
        raise UsageError(f"{what} {text!r}: expected {example}")
    raw = m.group("v6") or m.group("v4")
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        raise UsageError(f"{what} {text!r}: {raw!r} is not an IP address (expected {example})") from None
    if m.group("v6") and ip.version != 6:
        raise UsageError(f"{what} {text!r}: brackets are for IPv6 addresses only")
    if not m.group("v6") and ip.version == 6:
        raise UsageError(f"{what} {text!r}: write IPv6 addresses in brackets, e.g. [2001:db8::1]:80")
    port = int(m.group("port"))
    if port > 65535:
        raise UsageError(f"{what} {text!r}: port {port} is out of range 0-65535")
    return str(ip), port, "inet6" if ip.version == 6 else "inet"


def parse_service(text: str) -> ServiceSpec:
    spec = text.strip()
    lowered = spec.lower()
    if lowered.startswith("fwm:"):
        parts = spec[4:].split(":")
        family = "inet"
        if len(parts) == 2 and parts[1] == "6":
            family = "inet6"
        elif len(parts) != 1:
            raise UsageError(f"service {text!r}: expected fwm:MARK (or fwm:MARK:6 for IPv6)")
        if not parts[0].isdigit() or not 0 < int(parts[0]) < 2**32:
            raise UsageError(f"service {text!r}: the firewall mark must be a number from 1 to {2**32 - 1}")
        return ServiceSpec("FWM", fwmark=int(parts[0]), family=family)
    protocol = "TCP"
    for prefix in ("tcp:", "udp:", "sctp:"):
        if lowered.startswith(prefix):
            protocol, spec = prefix[:-1].upper(), spec[len(prefix):]
            break
    else:
        word = re.match(r"^([A-Za-z]+):", spec)
        if word and not re.fullmatch(r"[0-9A-Fa-f]+", word.group(1)):  # not the start of an IPv6 address
            raise UsageError(f"service {text!r}: unknown protocol {word.group(1)!r} (expected {SERVICE_FORMS})")
    if not spec:
        raise UsageError(f"service {text!r}: expected {SERVICE_FORMS}")
    address, port, family = _host_port(spec, "service", SERVICE_FORMS)
    return ServiceSpec(protocol, address, port, family=family)


def parse_real_server(text: str) -> RealServerSpec:
    address, port, _ = _host_port(text, "real server", "IP:PORT, e.g. 10.0.0.21:80 or [2001:db8::21]:80")
    return RealServerSpec(address, port)


@dataclass(frozen=True, slots=True)
class RealServerTarget:
    cluster: str
    service: ServiceSpec
    real_servers: tuple[RealServerSpec, ...]  # unique, in the order given

    @property
    def label(self) -> str:
        return f"{self.service.key} " + ",".join(rs.key for rs in self.real_servers)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": "real_server", "cluster": self.cluster, "service": self.service.key}
        keys = [rs.key for rs in self.real_servers]
        out["real_server"] = keys[0] if len(keys) == 1 else keys
        return out


@dataclass(frozen=True, slots=True)
class InstanceTarget:
    cluster: str
    instance: str
    node: str | None = None  # the MASTER the caller saw, if any

    @property
    def label(self) -> str:
        return self.instance

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "vrrp_instance", "cluster": self.cluster, "instance": self.instance, "node": self.node}


@dataclass(frozen=True, slots=True)
class NodeTarget:
    cluster: str
    node: str

    @property
    def label(self) -> str:
        return self.node

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "nginx_node", "cluster": self.cluster, "node": self.node}


@dataclass(frozen=True, slots=True)
class UpstreamServerTarget:
    """A server of an nginx upstream, on every nginx node of the cluster: `server` is address:port (or
    unix:/path) or an inventory node name; the action's plan resolves it against what the nodes read."""

    cluster: str
    upstream: str
    server: str

    @property
    def label(self) -> str:
        return f"{self.server} of upstream {self.upstream}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "upstream_server", "cluster": self.cluster, "upstream": self.upstream, "server": self.server}


Target = RealServerTarget | InstanceTarget | NodeTarget | UpstreamServerTarget


def master_of(snapshot: Any, cluster: str, instance: str) -> str | None:
    """The node that is MASTER of the instance in the snapshot: who steps down on a failover from any of its rows.

    None when no node, or more than one (split brain), is MASTER: the failover's preflight then refuses.
    """
    found = snapshot.cluster(cluster) if snapshot is not None else None
    masters = [n.name for n in (found.nodes if found else ()) if n.reachable
               for i in n.vrrp if i.instance == instance and i.state == "MASTER"]
    return masters[0] if len(masters) == 1 else None


def unique_real_servers(specs: Iterable[RealServerSpec]) -> tuple[RealServerSpec, ...]:
    """Each real server once, whatever the input repeats (hatop's "drain all" bug was a repeat)."""
    seen: dict[str, RealServerSpec] = {}
    for spec in specs:
        seen.setdefault(spec.key, spec)
    return tuple(seen.values())


def from_dict(kind: str, data: dict[str, Any] | Target, default_cluster: str | None = None) -> Target:
    """The target of an action of target kind `kind`, from the TUI/CLI dict (or already parsed)."""
    if isinstance(data, (RealServerTarget, InstanceTarget, NodeTarget, UpstreamServerTarget)):
        return data
    cluster = data.get("cluster") or default_cluster
    if not cluster:
        raise UsageError("no cluster given for the action")
    if kind == "real_server":
        if not data.get("service") or not data.get("real_server"):
            raise UsageError("a real-server action needs SERVICE and REALSERVER")
        raw = data["real_server"]
        items = [raw] if isinstance(raw, str) else list(raw)
        return RealServerTarget(cluster, parse_service(str(data["service"])),
                                unique_real_servers(parse_real_server(str(r)) for r in items))
    if kind == "vrrp_instance":
        if not data.get("instance"):
            raise UsageError("a failover needs a VRRP INSTANCE name")
        return InstanceTarget(cluster, str(data["instance"]), data.get("node"))
    if kind == "nginx_node":
        if not data.get("node"):
            raise UsageError("a reload needs a NODE name")
        return NodeTarget(cluster, str(data["node"]))
    if kind == "upstream_server":
        upstream, server = str(data.get("upstream") or "").strip(), str(data.get("server") or "").strip()
        if not upstream or not server:
            raise UsageError("an upstream action needs UPSTREAM and SERVER (address:port or an inventory node name)")
        return UpstreamServerTarget(cluster, upstream, server)
    raise UsageError(f"unknown target kind {kind!r}")
