"""Collect one node: the agent's `snapshot` verb (typed JSON) mapped to lbconsole.snapshot dataclasses.

Nothing a node sends can raise out of here: a session that cannot answer makes
the node unreachable (keeping its last data), and a part the agent could not
read is null with its message, which becomes that node's error while the
other parts still count.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import fields, replace
from typing import Any

from lbconsole import upstreams
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import (
    Address,
    Counters,
    Drain,
    Forced,
    HostStats,
    NginxStatus,
    NodeSnapshot,
    Rates,
    RealServer,
    Service,
    VrrpInstance,
)
from lbconsole.transport.base import AgentError, TransportError
from lbconsole.transport.session import AgentSession

DUMP_MAX_AGE_S = 2.0  # a keepalived dump younger than this (any console's) is fresh enough


class BadSnapshot(ValueError):
    """The agent's answer does not have the documented shape."""


def empty(node: NodeConfig) -> NodeSnapshot:
    return NodeSnapshot(name=node.name, host=node.host, roles=node.roles)


def unreachable(node: NodeConfig, previous: NodeSnapshot | None, error: str, now: float) -> NodeSnapshot:
    """Keep the last data, marked as such."""
    base = previous or empty(node)
    age = now - base.updated_at if base.updated_at else 0.0
    return replace(base, reachable=False, error=error, age_s=round(age, 3))


def snapshot_args(node: NodeConfig, dump_max_age: float = DUMP_MAX_AGE_S,
                  cadence: dict[str, float] | None = None) -> dict[str, Any]:
    """`cadence`: prepared-sample args (lbconsole/source/cadence.py), else the agent samples now."""
    args: dict[str, Any] = {"roles": list(node.roles), "nginx_status_url": node.nginx_status_url,
                            "dump_max_age": dump_max_age}
    if node.has_role("nginx"):
        args["upstream_health"] = dict(node.upstream_health)  # the others are probed with a TCP connect
    return {**args, **cadence} if cadence else args


async def collect(node: NodeConfig, session: AgentSession, previous: NodeSnapshot | None = None,
                  timeout: float | None = None, dump_max_age: float = DUMP_MAX_AGE_S,
                  cadence: dict[str, float] | None = None) -> NodeSnapshot:
    asked = time.time()
    try:
        result = await session.request("snapshot", snapshot_args(node, dump_max_age, cadence), timeout=timeout)
    except TransportError as exc:
        return unreachable(node, previous, str(exc), time.time())
    except AgentError as exc:
        return unreachable(node, previous, f"the agent could not take a snapshot: {exc}", time.time())
    now = time.time()
    age = result.get("sample_age")
    if isinstance(age, (int, float)) and not isinstance(age, bool) and age >= 0:
        now = min(now, asked - age)  # a prepared sample is as old as the node says, and a round trip more
    try:
        # 10,000 real servers take tens of ms to map: off the event loop, so the console stays live; a small
        # node is mapped here (a thread hop would cost more than the mapping).
        snap = (from_result(node, result, now) if _small(result) else
                await asyncio.to_thread(from_result, node, result, now))
    except BadSnapshot as exc:
        return unreachable(node, previous, f"the agent's snapshot is not valid: {exc}", now)
    warning = session.version_problem
    if warning:
        snap = replace(snap, warnings=(*snap.warnings, warning))
    return with_rates(snap, previous)


SMALL_ROWS = 200  # real servers and upstream servers a node's result may have to be mapped on the event loop


def _rows(items: Any, key: str) -> int:
    """How many rows under `key` in a list of objects (0 for anything else: the mapping says what is wrong)."""
    if not isinstance(items, list):
        return len(items) if isinstance(items, (str, dict)) else 0
    return len(items) + sum(len(i[key]) for i in items if isinstance(i, dict) and isinstance(i.get(key), list))


def _small(result: dict[str, Any]) -> bool:
    ups = result.get("upstreams")
    read = ups.get("read") if isinstance(ups, dict) else None
    listed = read.get("upstreams") if isinstance(read, dict) else None
    return _rows(result.get("ipvs"), "real_servers") + _rows(listed, "servers") <= SMALL_ROWS


def from_result(node: NodeConfig, result: dict[str, Any], now: float) -> NodeSnapshot:
    """The NodeSnapshot of one `snapshot` result (docs/node-agent.md); BadSnapshot on a wrong shape."""
    try:
        errors = {str(k): str(v) for k, v in (result.get("errors") or {}).items()}
        running = result.get("keepalived_running")
        if running is False and not node.has_role("director"):
            errors.pop("vrrp", None)  # no keepalived on this tier is normal
        drains = {(str(d["service"]), str(d["real_server"])): _drain(d) for d in result.get("drains") or ()}
        services = tuple(_service(s, drains) for s in result.get("ipvs") or ())
        sampled = result.get("sampled_at")
        rows = _upstreams(node, result.get("upstreams"), errors)
        return NodeSnapshot(
            name=node.name, host=node.host, roles=node.roles, reachable=True,
            error="; ".join(f"{k}: {v}" for k, v in sorted(errors.items())) or None,
            updated_at=now, age_s=0.0, sampled_at=float(sampled) if sampled is not None else now,
            ipvs=services, vrrp=tuple(_vrrp(v) for v in result.get("vrrp") or ()),
            nginx=_plain(NginxStatus, result["nginx"]) if result.get("nginx") else None,
            host_stats=_plain(HostStats, result["host_stats"]) if result.get("host_stats") else None,
            addresses=tuple(_plain(Address, a) for a in result.get("addresses") or ()),
            warnings=tuple(str(w) for w in result.get("warnings") or ()),
            keepalived_running=running if isinstance(running, bool) else None,
            forced=tuple(_forced(f) for f in result.get("forced") or ()),
            upstreams=rows)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadSnapshot(f"{type(exc).__name__}: {str(exc)[:120]}") from None


def _upstreams(node: NodeConfig, part: Any, errors: dict[str, str]) -> tuple[upstreams.Upstream, ...] | None:
    """The nginx node's upstreams part; None when not read (the agent's error is in errors["upstreams"]).
    A part of the wrong shape is that part's error: the node's other parts still count."""
    if part is None or not node.has_role("nginx"):
        return None
    try:
        if not isinstance(part, dict) or not isinstance(part.get("read"), dict):
            raise TypeError("not an object with a read object")
        rows = upstreams.from_node(part["read"], part["failures"], part["probes"], part["drains"],
                                   dict(node.peer_names))
        for up in rows:
            _check_upstream(up)
        return rows
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        errors["upstreams"] = f"the agent's upstreams part is not valid: {type(exc).__name__}: {str(exc)[:120]}"
        return None


_NUMBER = (int, float)
_SERVER_TYPES: dict[str, tuple[type, ...]] = {
    "address": (str,), "port": (int, type(None)), "name": (str, type(None)), "weight": (int,),
    "max_fails": (int,), "fail_timeout": (int,), "backup": (bool,), "down": (bool,), "failures": (int,),
    "probe_ok": (bool, type(None)), "probe_ms": (*_NUMBER, type(None))}


def _check_upstream(up: upstreams.Upstream) -> None:
    """The rows from_node built hold the types the analyzers and screens compare (a node is not trusted)."""
    if not isinstance(up.name, str) or not isinstance(up.no_live, int) or \
            not isinstance(up.keepalive, (int, type(None))):
        raise TypeError("an upstream needs a name (string), keepalive and no_live (integers)")
    for use in up.used_by:
        if not all(isinstance(x, str) for x in (*use.server_name, *use.listen)) or \
                not isinstance(use.location, (str, type(None))):
            raise TypeError(f"upstream {up.name[:40]!r}: used_by must hold strings")
    for srv in up.servers:
        for name, kinds in _SERVER_TYPES.items():
            value = getattr(srv, name)
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise TypeError(f"upstream {up.name[:40]!r}: server {name} is a {type(value).__name__}")
        if srv.drain is not None and not (isinstance(srv.drain.since, float) and isinstance(srv.drain.by, str)):
            raise TypeError(f"upstream {up.name[:40]!r}: a drain needs since and by")


def _plain(cls: type, data: Any) -> Any:
    """A flat dataclass from a dict: known fields only, each checked against its default's type."""
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} must be an object, not {type(data).__name__}")
    kwargs = {}
    for f in fields(cls):
        if f.name in data:
            kwargs[f.name] = _typed(f.name, data[f.name], f.type)
    return cls(**kwargs)


def _typed(name: str, value: Any, kind: Any) -> Any:
    kind = str(kind)
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a string")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an integer")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} must be a number")
        return value  # an int stays exact (a byte rate can pass 2**53)
    if kind == "bool":
        return bool(value)
    return value


def _counted(cls: type, data: Any) -> Any:
    return _plain(cls, data) if data else cls()


def _service(data: dict[str, Any], drains: dict[tuple[str, str], Drain]) -> Service:
    base = {k: v for k, v in data.items() if k not in ("stats", "rates", "real_servers")}
    if base["protocol"] not in ("TCP", "UDP", "SCTP", "FWM"):
        raise ValueError(f"unknown protocol {str(base['protocol'])[:20]!r}")
    if base["protocol"] == "FWM" and not isinstance(base.get("fwmark"), int):
        raise TypeError("a FWM service needs an integer fwmark")
    if base["protocol"] != "FWM" and not (isinstance(base.get("address"), str) and isinstance(base.get("port"), int)):
        raise TypeError("a service needs an address (string) and a port (integer)")
    svc = Service(protocol=str(base["protocol"]), address=base.get("address"), port=base.get("port"),
                  fwmark=base.get("fwmark"), scheduler=str(base["scheduler"]),
                  persistent=bool(base.get("persistent", False)),
                  persistence_timeout=base.get("persistence_timeout"), family=str(base.get("family", "inet")),
                  stats=_counted(Counters, data.get("stats")), rates=_counted(Rates, data.get("rates")))
    real = []
    for rs in data.get("real_servers") or ():
        server = RealServer(address=str(rs["address"]), port=int(rs["port"]), forward=str(rs["forward"]),
                            weight=int(rs["weight"]), active_conns=int(rs.get("active_conns", 0)),
                            inactive_conns=int(rs.get("inactive_conns", 0)),
                            persist_conns=int(rs.get("persist_conns", 0)),
                            stats=_counted(Counters, rs.get("stats")), rates=_counted(Rates, rs.get("rates")))
        mark = _drain(rs["drain"]) if rs.get("drain") else drains.get((svc.key, server.key))
        real.append(replace(server, drain=mark))
    return replace(svc, real_servers=tuple(real))


def _vrrp(data: dict[str, Any]) -> VrrpInstance:
    fields_ = {k: v for k, v in data.items() if k != "vips"}
    inst: VrrpInstance = _plain(VrrpInstance, fields_)
    return replace(inst, vips=tuple(str(v) for v in data.get("vips") or ()))


def _drain(data: dict[str, Any]) -> Drain:
    weight = data.get("weight")
    return Drain(reason=str(data["reason"]), by=str(data["by"]), since=float(data["since"]),
                 weight=int(weight) if weight is not None else None)


def _forced(data: dict[str, Any]) -> Forced:
    reason, mode = data.get("reason"), data.get("mode")
    return Forced(instance=str(data["instance"]), by=str(data["by"]), since=float(data["since"]),
                  reason=None if reason is None else str(reason), mode=None if mode is None else str(mode))


def with_rates(snap: NodeSnapshot, previous: NodeSnapshot | None) -> NodeSnapshot:
    """Rates from counter deltas against the previous good sample of the same node."""
    if previous is None or previous.sampled_at is None or snap.sampled_at is None:
        return snap
    dt = snap.sampled_at - previous.sampled_at
    if dt == 0:  # the agent's prepared sample again: the same rates
        return replace(snap, nginx=previous.nginx if snap.nginx else None,
                       host_stats=previous.host_stats if snap.host_stats else None)
    if dt < 0:
        return snap
    nginx, host = snap.nginx, snap.host_stats
    if nginx is not None and previous.nginx is not None:
        nginx = replace(nginx, requests_per_s=_rate(nginx.requests, previous.nginx.requests, dt),
                        conns_per_s=_rate(nginx.accepts, previous.nginx.accepts, dt))
    if host is not None and previous.host_stats is not None and host.cpu_total and previous.host_stats.cpu_total:
        host = replace(host, cpu_percent=cpu_percent(
            (previous.host_stats.cpu_busy, previous.host_stats.cpu_total), (host.cpu_busy, host.cpu_total)))
    return replace(snap, nginx=nginx, host_stats=host)


def cpu_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    busy, total = after[0] - before[0], after[1] - before[1]
    return round(min(100.0, 100.0 * busy / total), 1) if total > 0 and busy >= 0 else 0.0


def _rate(cur: int, prev: int, dt: float) -> float:
    # A counter that went down means a restart: no rate for this interval.
    return round((cur - prev) / dt, 2) if cur >= prev else 0.0
