"""Failover preflight: who is MASTER of the instance, and whether its peers can take over.

Reads every director once (a fresh snapshot from each agent: VRRP state, addresses, forced-failover
records) and changes nothing. How the master steps down (its track file where keepalived.conf is
prepared, else stopping keepalived) is decided on the node and said in the result. `plan()` is also
what the CLI shows before it asks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from lbconsole.actions import nodecall
from lbconsole.actions.director_view import directors
from lbconsole.actions.targets import InstanceTarget
from lbconsole.inventory import NodeConfig
from lbconsole.snapshot import NodeSnapshot, VrrpInstance


@dataclass
class Director:
    node: NodeConfig
    snap: NodeSnapshot | None = None
    forced: dict[str, dict[str, Any]] = field(default_factory=dict)  # instance -> record
    error: str | None = None

    def instance(self, name: str) -> VrrpInstance | None:
        if self.snap is None:
            return None
        return next((i for i in self.snap.vrrp if i.instance == name), None)

    def holds(self, vips: Any) -> bool:
        have = {a.address for a in (self.snap.addresses if self.snap else ()) if a.interface != "lo"}
        return bool(vips) and all(v in have for v in vips)


@dataclass
class Plan:
    instance: str
    master: Director | None = None
    peers: list[Director] = field(default_factory=list)
    refusal: str | None = None
    warning: str = ""
    directors: list[Director] = field(default_factory=list)

    @property
    def vips(self) -> tuple[str, ...]:
        inst = self.master.instance(self.instance) if self.master else None
        return inst.vips if inst else ()


async def read_all(ctx: Any, only: set[str] | None = None) -> list[Director]:
    """Every director of the cluster (or those named in `only`), read concurrently."""
    nodes = [n for n in directors(ctx.cluster_config()) if only is None or n.name in only]
    got = await nodecall.snapshots(ctx, nodes)
    out = []
    for node in nodes:
        snap, raw = got[node.name]
        d = Director(node, snap)
        if not snap.reachable:
            d.error = snap.error or f"{node.name} unreachable"
        for rec in raw.get("forced") or ():
            if isinstance(rec, dict) and rec.get("instance"):
                d.forced[str(rec["instance"])] = rec
        out.append(d)
    return out


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
            down = d.snap is not None and d.snap.keepalived_running is False
            parts.append(f"{d.node.name}: no {name}" + (" (keepalived down)" if down else ""))
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
            warn = d.snap.warnings[:1] if d.snap else ()
            problems.append(f"peer {d.node.name}'s keepalived JSON dump does not work ({warn})")
    if not p.peers:
        problems.append(f"{name} has no peer to take over (only {p.master.node.name} runs it)")
    if problems:
        p.refusal = "; ".join(problems)
        return p
    best = max((d.instance(name).effective_priority or d.instance(name).priority) for d in p.peers)  # type: ignore[union-attr]
    p.warning = (f"{p.master.node.name} steps down: through its failover track file where keepalived.conf is "
                 f"prepared (its peer, priority {best}, takes over), else keepalived is STOPPED there (its checkers "
                 "stop and its IPVS table is flushed until `failover --release` starts it again)")
    return p
