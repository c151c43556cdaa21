"""Failover preflight: who is MASTER of the instance, who takes over, and how the step-down is done.

Reads every director once (its poll for VRRP state and addresses, and the
failover inspect script), changes nothing. `plan()` is also what the CLI
shows before it asks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from lbconsole.actions import failover_script, kconf, nodescript, prepared
from lbconsole.actions.context import ActionContext
from lbconsole.actions.director_view import directors
from lbconsole.actions.targets import InstanceTarget
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import NodeSnapshot, VrrpInstance


@dataclass
class Director:
    node: NodeConfig
    snap: NodeSnapshot | None = None
    conf: kconf.Config | None = None
    forced: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance -> record
    systemd: bool = False
    argv: list[str] = field(default_factory=list)
    error: str | None = None

    def instance(self, name: str) -> VrrpInstance | None:
        if self.snap is None:
            return None
        return next((i for i in self.snap.vrrp if i.instance == name), None)

    def holds(self, vips: Collection[str]) -> bool:
        have = {a.address for a in (self.snap.addresses if self.snap else ()) if a.interface != "lo"}
        return bool(vips) and all(v in have for v in vips)


@dataclass
class Plan:
    instance: str
    master: Director | None = None
    peers: list[Director] = field(default_factory=list)
    mode: str = "stop"  # track_file | stop
    track: prepared.Prep | None = None
    refusal: str | None = None
    warning: str = ""
    directors: list[Director] = field(default_factory=list)

    @property
    def vips(self) -> tuple[str, ...]:
        inst = self.master.instance(self.instance) if self.master else None
        return inst.vips if inst else ()


async def read_director(ctx: ActionContext, node: NodeConfig) -> Director:
    from lbconsole.collectors import node as node_collector

    snap, reply = await asyncio.gather(node_collector.collect(node, ctx.transport(node), timeout=20.0),
                                       nodescript.run(ctx, node, failover_script.inspect()))
    d = Director(node, snap)
    if not snap.reachable:
        d.error = snap.error or f"{node.name} unreachable"
    if reply.error:
        d.error = d.error or reply.error
        return d
    conf = reply.get("conf")
    if conf is not None and conf.ok:
        d.conf = kconf.parse(conf.text)
    for line in (forced.text.splitlines() if (forced := reply.get("forced")) else ()):
        try:
            rec = json.loads(line)
            d.forced[str(rec["instance"])] = rec
        except (ValueError, KeyError, TypeError):
            continue
    how = reply.get("how")
    for line in (how.text.splitlines() if how else ()):
        if line == "systemd=yes":
            d.systemd = True
        elif line.startswith("arg="):
            d.argv.append(line[4:])
    return d


async def read_all(ctx: ActionContext, only: set[str] | None = None) -> list[Director]:
    """Every director of the cluster (or those named in `only`), read concurrently."""
    nodes = [n for n in directors(ctx.cluster_config()) if only is None or n.name in only]
    return list(await asyncio.gather(*(read_director(ctx, n) for n in nodes)))


def _forced(record: dict[str, Any]) -> str:
    since = record.get("since")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(since))) if since else "?"
    return f"{record.get('mode', '?')} by {record.get('by', '?')} since {when}"


def _states(ds: list[Director], name: str) -> str:
    parts = []
    for d in ds:
        inst = d.instance(name)
        if d.error:
            parts.append(f"{d.node.name} unreachable")
        elif inst is None:
            assert d.snap is not None  # read, or d.error
            parts.append(f"{d.node.name}: no {name}" + ("" if d.snap.keepalived_running else " (keepalived down)"))
        else:
            parts.append(f"{d.node.name} {inst.state} prio {inst.effective_priority or inst.priority}")
    return ", ".join(parts)


def plan(target: InstanceTarget, ds: list[Director]) -> Plan:
    p = Plan(target.instance, directors=ds)
    name = target.instance
    masters = [d for d in ds if (i := d.instance(name)) and i.state == "MASTER"]
    seen = _states(ds, name)
    if not masters:
        p.refusal = f"no director is MASTER of {name} ({seen})"
        return p
    if len(masters) > 1:
        p.refusal = f"split brain: {', '.join(d.node.name for d in masters)} are all MASTER of {name}; fix that first"
        return p
    p.master = masters[0]
    if target.node and target.node != p.master.node.name:
        p.refusal = f"the MASTER of {name} is now {p.master.node.name}, not {target.node} ({seen})"
        return p
    if name in p.master.forced:
        p.refusal = (f"{p.master.node.name} is already forced to step down from {name} "
                     f"({_forced(p.master.forced[name])}); --release first")
        return p
    p.peers = [d for d in ds if d is not p.master and (d.error or d.instance(name) or d.forced.get(name))]
    problems = []
    for d in p.peers:
        inst = d.instance(name)
        if d.error:
            problems.append(f"peer {d.node.name} is unreachable: {d.error}")
        elif name in d.forced:
            problems.append(f"peer {d.node.name} is itself forced down ({_forced(d.forced[name])}); release it "
                            f"first: lbconsole failover {name} --release")
        elif inst is None:
            problems.append(f"peer {d.node.name} has no {name}: is its keepalived running?")
        elif inst.state != "BACKUP":
            problems.append(f"peer {d.node.name} is {inst.state}, not BACKUP")
        elif inst.source != "json":
            assert d.snap is not None  # it has the instance
            problems.append(f"peer {d.node.name}'s keepalived JSON dump does not work ({d.snap.warnings[:1]})")
    if not p.peers:
        problems.append(f"{name} has no peer to take over (only {p.master.node.name} runs it)")
    if problems:
        p.refusal = "; ".join(problems)
        return p
    _choose_mode(p, name)
    return p


def _choose_mode(p: Plan, name: str) -> None:
    assert p.master is not None  # plan() set it
    master = p.master.instance(name)
    assert master is not None  # it is the MASTER of name
    best_peer = max((i.effective_priority or i.priority) for d in p.peers if (i := d.instance(name)) is not None)
    prep = prepared.failover_prep(p.master.conf, name) if p.master.conf else prepared.Prep(False, why="no config")
    if prep.prepared:
        lowered = (master.priority or 0) + (prep.weight or 0)
        if lowered >= best_peer:
            p.refusal = (f"track_file {prep.name} weight {prep.weight} leaves {p.master.node.name} at priority "
                         f"{lowered}, not below its peer's {best_peer}: make the weight more negative")
            return
        p.mode, p.track = "track_file", prep
        p.warning = (f"{p.master.node.name} lowers its priority to {lowered} (track_file {prep.name}); "
                     f"its peer (priority {best_peer}) takes over the VIP")
        return
    p.mode = "stop"
    p.warning = (f"the cluster is not prepared for graceful failover ({prep.why}), so keepalived will be STOPPED "
                 f"on {p.master.node.name}: its health checkers stop and its IPVS table is flushed until "
                 "`failover --release` starts it again")
