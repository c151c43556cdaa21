"""`lbconsole status [--json]`: one snapshot of every node, for scripts and quick looks.

Exit 0 when every node answered, 1 when any did not (the output is still
printed), 2 for usage and inventory errors. Never imports Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from lbconsole import inventory as inventory_mod
from lbconsole import safetext
from lbconsole.snapshot import Snapshot
from lbconsole.upstreams import Upstream, probe_text


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lbconsole.cli import add_common

    parser = sub.add_parser("status", help="poll every node once and print the snapshot")
    add_common(parser)
    parser.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    parser.set_defaults(func=run)


async def take(inv: inventory_mod.Inventory) -> Snapshot:
    from lbconsole.source.poller import Poller  # asyncssh is slow to import: only when polling

    poller = Poller(inv, read_only=True)  # a look changes nothing: the agents start --read-only
    try:
        return await poller.poll_once()
    finally:
        await poller.close()


def run(args: argparse.Namespace) -> int:
    inv = inventory_mod.load(args.inventory)
    snapshot = asyncio.run(take(inv))
    if args.json:
        json.dump(snapshot.to_dict(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(snapshot))
    every_node = [n for c in snapshot.clusters for n in c.nodes]
    return 0 if all(n.reachable for n in every_node) else 1


def render_text(snapshot: Snapshot) -> str:
    lines = []
    for alert in snapshot.alerts:
        lines.append(f"{alert.severity.upper():8} {alert.kind}: {alert.message}")
    for cluster in snapshot.clusters:
        lines.append(f"cluster {cluster.name}" + (" [read-only]" if cluster.read_only else ""))
        for node in cluster.nodes:
            state = "up" if node.reachable else "UNREACHABLE"
            lines.append(f"  {node.name:12} {node.host:18} {','.join(node.roles):16} {state}"
                         + (f"  error: {node.error}" if node.error else ""))
            for inst in node.vrrp:
                lines.append(f"    vrrp {inst.instance} vrid {inst.vrid} {inst.state} prio "
                             f"{inst.effective_priority}/{inst.priority} vips {' '.join(inst.vips)}")
            for svc in node.ipvs:
                lines.append(f"    {svc.key} {svc.scheduler}" + (" persistent" if svc.persistent else "")
                             + f" cps {svc.rates.cps:g}")
                for rs in svc.real_servers:
                    mark = f"  DRAINED ({rs.drain.reason})" if rs.drain else ""
                    lines.append(f"      -> {rs.key:22} {rs.forward:6} w {rs.weight:<4} act {rs.active_conns:<5} "
                                 f"inact {rs.inactive_conns:<5}{mark}")
            if node.nginx:
                ng = node.nginx
                lines.append(f"    nginx active {ng.active} requests {ng.requests} reading {ng.reading} "
                             f"writing {ng.writing} waiting {ng.waiting}")
            lines.extend(upstream_lines(node.upstreams or ()))
    # Node and user text (reasons, errors, names) may hold escape sequences: each line is made safe here.
    return "\n".join(safetext.line(line) for line in lines) + "\n"


def upstream_lines(upstreams: tuple[Upstream, ...] | list[Upstream]) -> list[str]:
    """An nginx node's upstreams: one line each, then a line per server with its state on this node."""
    lines = []
    for up in upstreams:
        extra = f" keepalive {up.keepalive}" if up.keepalive is not None else ""
        if up.no_live:
            extra += f"  NO LIVE UPSTREAMS x{up.no_live} since the last poll"
        lines.append(f"    upstream {up.name}{extra}")
        for s in up.servers:
            state = s.state.upper() if s.state != "up" else "up"
            if s.drain is not None:
                state += f" ({s.drain.reason}, by {s.drain.by})"
            probe = probe_text(s, labelled=True)
            flags = (" backup" if s.backup else "")
            lines.append(f"      -> {s.label:30} {state:8} w {s.weight:<3} max_fails {s.max_fails} "
                         f"fail_timeout {s.fail_timeout}s{flags}  {probe}  failures {s.failures}")
    return lines
