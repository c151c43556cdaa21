"""Collect one node: run its poll script in one round trip and parse each section.

Nothing a node sends can raise out of here: transport failures make the node
unreachable (keeping its last data), and garbage in a section becomes that
node's error while the other sections still count.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

from lbconsole.collectors import host_parse, ipvs_text, nginx_parse, script, vrrp_parse
from lbconsole.collectors.errors import ParseError
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import Address, Drain, Forced, HostStats, NginxStatus, NodeSnapshot, Service, VrrpInstance
from lbconsole.transport.base import Transport, TransportError

COMMAND_TIMEOUT = 8.0


def empty(node: NodeConfig) -> NodeSnapshot:
    return NodeSnapshot(name=node.name, host=node.host, roles=node.roles)


def unreachable(node: NodeConfig, previous: NodeSnapshot | None, error: str, now: float) -> NodeSnapshot:
    """Keep the last data, marked as such."""
    base = previous or empty(node)
    age = now - base.updated_at if base.updated_at else 0.0
    return replace(base, reachable=False, error=error, age_s=round(age, 3))


async def collect(node: NodeConfig, transport: Transport, previous: NodeSnapshot | None = None,
                  timeout: float = COMMAND_TIMEOUT) -> NodeSnapshot:
    local_ipvs = node.is_local and node.has_role("director")
    try:
        result = await transport.run(script.build(node, with_ipvs=not local_ipvs), timeout=timeout)
    except TransportError as exc:
        return unreachable(node, previous, str(exc), time.time())
    now = time.time()
    sections = script.split(result.stdout)
    if not sections:
        why = (result.stderr.strip() or result.stdout.strip() or f"exit status {result.exit_status}")[:300]
        return unreachable(node, previous, f"poll script failed: {why}", now)
    errors: list[str] = []
    # 10,000 real servers take tens of ms to parse: off the event loop, so the console stays live.
    parsed = await asyncio.to_thread(_parse_sections, node, sections, errors)
    if local_ipvs:
        parsed["ipvs"] = await _local_ipvs(errors)
    snap = NodeSnapshot(
        name=node.name, host=node.host, roles=node.roles, reachable=True,
        error="; ".join(errors) or None, updated_at=now, age_s=0.0, sampled_at=now,
        ipvs=_with_drains(parsed.get("ipvs", ()), parsed.get("drains", {})),
        vrrp=parsed.get("vrrp", ()), nginx=parsed.get("nginx"), host_stats=parsed.get("host"),
        addresses=parsed.get("addr", ()), warnings=tuple(parsed.get("warnings", ())),
        keepalived_running=parsed.get("keepalived_running"), forced=parsed.get("forced", ()))
    return with_rates(snap, previous)


def _parse_sections(node: NodeConfig, sections: dict[str, script.Section], errors: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"warnings": []}  # parsed values by section name, of several types
    for name, parse in _PARSERS.items():
        section = sections.get(name)
        if section is None:
            continue
        try:
            value = parse(section, out["warnings"])
        except ParseError as exc:
            errors.append(f"{name}: {exc}")
            continue
        except _SectionFailed as exc:
            if name == "vrrp" and exc.status == 3:
                out["keepalived_running"] = False
                if not node.has_role("director"):
                    continue  # no keepalived on this tier is normal
            errors.append(f"{name}: {exc}")
            continue
        out[name] = value
        if name == "vrrp":
            out["keepalived_running"] = True
    return out


class _SectionFailed(Exception):
    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def _require_ok(section: script.Section) -> None:
    if section.status == -1:
        raise _SectionFailed(f"output cut off ({section.first_line()})", -1)
    if not section.ok:
        raise _SectionFailed(section.first_line(), section.status)


def _parse_host(section: script.Section, warnings: list[str]) -> HostStats:
    _require_ok(section)
    return host_parse.parse_host_section(section.text)


def _parse_addr(section: script.Section, warnings: list[str]) -> tuple[Address, ...]:
    _require_ok(section)
    return vrrp_parse.parse_ip_addr(section.text)


def _parse_ipvs(section: script.Section, warnings: list[str]) -> tuple[Service, ...]:
    _require_ok(section)
    parts = section.parts()
    if "proc" in parts:
        warnings.append("ipvsadm missing: weights and connections from /proc/net/ip_vs, no counters")
        return ipvs_text.parse_proc_ip_vs(parts["proc"])
    return ipvs_text.parse_ipvsadm(parts[""], parts.get("stats"), parts.get("rate"))


def _parse_vrrp(section: script.Section, warnings: list[str]) -> tuple[VrrpInstance, ...]:
    _require_ok(section)
    parts = section.parts()
    if "data" in parts:
        warnings.append(f"keepalived JSON dump unavailable ({parts[''].strip()[:80]}); used the data dump")
        return vrrp_parse.parse_keepalived_data(parts["data"])
    return vrrp_parse.parse_keepalived_json(parts[""])


def _parse_nginx(section: script.Section, warnings: list[str]) -> NginxStatus:
    _require_ok(section)
    return nginx_parse.parse_stub_status(section.text)


def _parse_drains(section: script.Section, warnings: list[str]) -> dict[tuple[str, str], Drain]:
    _require_ok(section)
    drains = {}
    for line in section.text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            drains[(rec["service"], rec["real_server"])] = Drain(
                reason=str(rec["reason"]), by=str(rec["by"]), since=float(rec["since"]),
                weight=int(rec["weight"]) if rec.get("weight") is not None else None)
        except (ValueError, KeyError, TypeError):
            raise ParseError(f"drain record is not valid: {line[:60]!r}") from None
    return drains


def _parse_forced(section: script.Section, warnings: list[str]) -> tuple[Forced, ...]:
    _require_ok(section)
    out = []
    for line in section.text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            reason = rec.get("reason")
            out.append(Forced(instance=str(rec["instance"]), by=str(rec["by"]), since=float(rec["since"]),
                              reason=None if reason is None else str(reason),
                              mode=None if rec.get("mode") is None else str(rec["mode"])))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ParseError(f"forced-failover record is not valid: {line[:60]!r}") from None
    return tuple(out)


_PARSERS = {"host": _parse_host, "addr": _parse_addr, "ipvs": _parse_ipvs, "drains": _parse_drains,
            "forced": _parse_forced, "vrrp": _parse_vrrp, "nginx": _parse_nginx}


def _with_drains(services: tuple[Service, ...], drains: dict[tuple[str, str], Drain]) -> tuple[Service, ...]:
    if not drains:
        return services
    return tuple(replace(svc, real_servers=tuple(
        replace(rs, drain=drains.get((svc.key, rs.key))) for rs in svc.real_servers)) for svc in services)


async def _local_ipvs(errors: list[str]) -> tuple[Service, ...]:
    from lbconsole.collectors import ipvs_netlink

    try:
        return await asyncio.to_thread(ipvs_netlink.collect)
    except ipvs_netlink.IPVSUnavailable as exc:
        errors.append(f"ipvs: {exc}")
        return ()


def with_rates(snap: NodeSnapshot, previous: NodeSnapshot | None) -> NodeSnapshot:
    """Rates from counter deltas against the previous good sample of the same node."""
    if previous is None or previous.sampled_at is None or snap.sampled_at is None:
        return snap
    dt = snap.sampled_at - previous.sampled_at
    if dt <= 0:
        return snap
    nginx, host = snap.nginx, snap.host_stats
    if nginx is not None and previous.nginx is not None:
        nginx = replace(nginx, requests_per_s=_rate(nginx.requests, previous.nginx.requests, dt),
                        conns_per_s=_rate(nginx.accepts, previous.nginx.accepts, dt))
    if host is not None and previous.host_stats is not None:
        host = replace(host, cpu_percent=host_parse.cpu_percent(
            (previous.host_stats.cpu_busy, previous.host_stats.cpu_total), (host.cpu_busy, host.cpu_total)))
    return replace(snap, nginx=nginx, host_stats=host)


def _rate(cur: int, prev: int, dt: float) -> float:
    # A counter that went down means a restart: no rate for this interval.
    return round((cur - prev) / dt, 2) if cur >= prev else 0.0
