"""`lbconsole doctor [--inventory F]`: can lbconsole do its job on every node, and if not, what to do.

Per node: how its agent runs (installed / bootstrap / in-process, version match, read-only), or one
message that names the fix (agent missing, wrong version, no python3, sudo refused, host key); then what
the agent reads for the node's roles (IPVS, keepalived and its JSON dump, stub_status). Per cluster:
prepared for keepalived-safe drain and graceful failover, with the keepalived.conf lines that are missing.
Exit 0 when nothing failed, 1 otherwise. Changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from lbconsole import inventory as inventory_mod
from lbconsole import safetext
from lbconsole.commands import doctor_prepared
from lbconsole.commands.node_install import SUDOERS_FILE, sudoers_lines
from lbconsole.inventory import Inventory, NodeConfig

__all__ = ["SUDOERS_FILE", "doctor", "register", "sudoers_lines"]


def register(sub: argparse._SubParsersAction[Any]) -> None:
    from lbconsole.cli import add_common

    parser = sub.add_parser("doctor", help="check that lbconsole can do what it needs on every node")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = inventory_mod.load(args.inventory)
    return asyncio.run(doctor(inv, sys.stdout, read_only=bool(args.read_only)))


class Report:
    def __init__(self, out: TextIO):
        self.out, self.failed = out, False

    def line(self, status: str, text: str) -> None:
        self.failed |= status == "FAIL"
        self.out.write(f"  {status:<5} {safetext.line(text)}\n")

    def block(self, lines: list[str], indent: str = "        ") -> None:
        for ln in lines:
            self.out.write(f"{indent}{safetext.line(ln)}\n")


async def doctor(inv: Inventory, out: TextIO, read_only: bool = False) -> int:
    from lbconsole.source.poller import node_read_only
    from lbconsole.transport import session_for

    rep = Report(out)
    for cluster in inv.clusters:
        sessions = {n.name: session_for(n, node_read_only(inv, n, read_only)) for n in cluster.nodes}
        try:
            probes = await asyncio.gather(*(_probe(n, sessions[n.name]) for n in cluster.nodes),
                                          *(doctor_prepared.read_config(n) for n in cluster.directors))
        finally:
            await asyncio.gather(*(s.close() for s in sessions.values()))
        for node, probe in zip(cluster.nodes, probes[:len(cluster.nodes)], strict=True):
            out.write(safetext.line(f"{node.name} ({node.host}, {', '.join(node.roles)})") + "\n")
            _report_node(rep, node, sessions[node.name], *probe)
        confs = dict(zip((n.name for n in cluster.directors), probes[len(cluster.nodes):], strict=True))
        doctor_prepared.report_cluster(rep, cluster, confs)
        await doctor_prepared.check_track_dirs(rep, cluster, confs)
    out.write("doctor: " + ("problems found (FAIL above)\n" if rep.failed else "everything lbconsole needs is there\n"))
    return 1 if rep.failed else 0


async def _probe(node: NodeConfig, session: Any) -> tuple[Any, str | None]:
    from lbconsole.collectors import node as collector

    snap = await collector.collect(node, session, dump_max_age=0.0)
    if snap.reachable:
        from lbconsole.transport import AgentError, TransportError

        try:
            await session.greeting()  # held since the snapshot's answer, unless the session was lost since
        except (AgentError, TransportError) as exc:
            return snap, str(exc)
    return snap, (None if snap.reachable else snap.error)


def _report_node(rep: Report, node: NodeConfig, session: Any, snap: Any, error: str | None) -> None:
    if error:
        rep.line("FAIL", error)
        if "host key" in error:
            rep.block([(f"verify the key out of band, then add it: ssh-keyscan -p {node.port} {node.host} >> "
                        f"{node.known_hosts or '~/.ssh/known_hosts'}")])
        if "sudo refused" in error:
            rep.block(sudoers_lines(node.user or "lbconsole"))
        return
    hello = session.hello or {}
    mode = {"installed": "installed", "bootstrap": "bootstrap (sent over the session, nothing written)",
            "local": "in-process"}.get(str(hello.get("mode")), str(hello.get("mode")))
    ro = ", read-only" if hello.get("read_only") else ""
    who = f" as {node.user} via sudo" if node.sudo and node.user not in (None, "root") else ""
    rep.line("ok", f"agent {mode}{who}{ro}: lbconsole-node {hello.get('version')} "
                   f"({str(hello.get('code_sha256'))[:12]}, Python {hello.get('python')})")
    if session.version_problem:
        rep.line("FAIL", f"version mismatch: {session.version_problem} (actions on {node.name} are refused)")
    elif hello.get("mode") == "bootstrap":
        rep.line("warn", f"not installed: every session sends the program; `lbconsole node install {node.name}` "
                         "installs it (and lets a non-root account run it)")
    errors = dict(part.split(": ", 1) for part in (snap.error or "").split("; ") if ": " in part)
    if node.has_role("director"):
        rep.line("FAIL" if "ipvs" in errors else "ok", f"IPVS: {errors['ipvs']}" if "ipvs" in errors
                 else f"IPVS table readable ({len(snap.ipvs)} services)")
        if snap.keepalived_running is False:
            rep.line("FAIL", f"keepalived: {errors.get('vrrp', 'not running')}")
        elif "vrrp" in errors:
            rep.line("FAIL", f"keepalived dump: {errors['vrrp']}")
        elif {i.source for i in snap.vrrp} == {"json"}:
            rep.line("ok", f"keepalived JSON dump works ({len(snap.vrrp)} VRRP instances)")
        else:
            rep.line("warn", "keepalived JSON dump does not work; the data dump is used instead")
    if node.has_role("nginx"):
        if snap.nginx is not None:
            rep.line("ok", f"stub_status reachable at {node.nginx_status_url}")
        else:
            rep.line("FAIL", f"stub_status not reachable at {node.nginx_status_url}: {errors.get('nginx', '')}")
            rep.block(["add to a server block listening on 127.0.0.1:",
                       "location = /nginx_status { stub_status; allow 127.0.0.1; deny all; }"])
    for warning in snap.warnings:
        rep.line("warn", warning)
