"""`lbconsole doctor [--inventory F]`: can lbconsole do its job on every node, and if not, what to add.

Per node: SSH and the host key, root (directly or by sudo, with the exact
sudoers lines), the tools its roles need, keepalived's JSON dump, nginx's
stub_status; per cluster: prepared for keepalived-safe drain and graceful
failover, with the keepalived.conf lines that are missing. Exit 0 when nothing
failed, 1 otherwise. Changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, TextIO

from lbconsole import inventory as inventory_mod
from lbconsole import safetext
from lbconsole.inventory import ClusterConfig, Inventory, NodeConfig

SUDOERS_FILE = "/etc/sudoers.d/lbconsole"
MAX_SNIPPETS = 4

_PROBE = r"""
echo "uid=$(id -u)"
for t in ipvsadm keepalived nginx logger curl wget; do command -v "$t" >/dev/null 2>&1 && echo "have=$t"; done
if [ "$ROLE_DIRECTOR" = 1 ]; then
  _o=$(ipvsadm -Ln 2>&1) && echo ipvs=ok ||
    echo "ipvs=$(printf '%s' "$_o" | grep -m1 'initialize ipvs' || printf '%s' "$_o" | head -n 1)"
  echo "kaver=$(keepalived --version 2>&1 | head -n 1)"
  _p=$(cat /run/keepalived.pid 2>/dev/null) && kill -0 "$_p" 2>/dev/null && echo "ka=running $_p" || echo ka=stopped
  echo '@@CONF'; kconf_cat 2>&1; echo '@@END'
fi
if [ "$ROLE_NGINX" = 1 ]; then
  _o=$(nginx -t 2>&1) && echo ngt=ok || echo "ngt=$(printf '%s' "$_o" | grep -v 'test failed' | head -n 1)"
fi
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lbconsole.cli import add_common

    parser = sub.add_parser("doctor", help="check that lbconsole can do what it needs on every node")
    add_common(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = inventory_mod.load(args.inventory)
    return asyncio.run(doctor(inv, sys.stdout))


def sudoers_lines(user: str) -> list[str]:
    """What a non-root SSH user needs: lbconsole runs each batched script as `sudo -n sh -c SCRIPT`."""
    return [f"# {SUDOERS_FILE} (check with: visudo -cf {SUDOERS_FILE})",
            f"Defaults:{user} !requiretty",
            f"{user} ALL=(root) NOPASSWD: /usr/bin/sh -c *, /bin/sh -c *"]


class Report:
    def __init__(self, out: TextIO) -> None:
        self.out, self.failed = out, False

    def line(self, status: str, text: str) -> None:
        self.failed |= status == "FAIL"
        self.out.write(f"  {status:<5} {safetext.line(text)}\n")

    def block(self, lines: list[str], indent: str = "        ") -> None:
        for ln in lines:
            self.out.write(f"{indent}{safetext.line(ln)}\n")


async def doctor(inv: Inventory, out: TextIO) -> int:
    from lbconsole.actions.context import ActionContext

    ctx = ActionContext(inventory=inv)
    rep = Report(out)
    try:
        for cluster in inv.clusters:
            results = await asyncio.gather(*(_probe(ctx, n) for n in cluster.nodes))
            for node, (probe, snap, error) in zip(cluster.nodes, results):
                out.write(safetext.line(f"{node.name} ({node.host}, {', '.join(node.roles)})") + "\n")
                _report_node(rep, node, probe, snap, error)
            probes = {n.name: r[0] for n, r in zip(cluster.nodes, results)}
            _report_cluster(rep, cluster, probes)
            await _check_track_dirs(ctx, rep, cluster, probes)
    finally:
        await ctx.close()
    out.write("doctor: " + ("problems found (FAIL above)\n" if rep.failed else "everything lbconsole needs is there\n"))
    return 1 if rep.failed else 0


async def _probe(ctx: Any, node: NodeConfig) -> tuple[dict[str, Any] | None, Any, str | None]:
    from lbconsole.actions.prepared import CONF_SH
    from lbconsole.collectors import node as collector
    from lbconsole.transport import HostKeyError, TransportError

    flags = f"ROLE_DIRECTOR={int(node.has_role('director'))} ROLE_NGINX={int(node.has_role('nginx'))}\n"
    try:
        res = await ctx.transport(node).run(flags + CONF_SH + _PROBE, timeout=30)
    except HostKeyError as exc:
        return None, None, f"host key: {exc}"
    except TransportError as exc:
        return None, None, str(exc)
    if res.exit_status != 0 and "sudo" in res.stderr:
        return None, None, f"sudo: {res.stderr.strip().splitlines()[-1]}"
    snap = await collector.collect(node, ctx.transport(node), timeout=30)
    return _parse(res.stdout), snap, None


def _parse(text: str) -> dict[str, Any]:
    probe: dict[str, Any] = {"have": set(), "conf": ""}
    lines = iter(text.splitlines())
    for line in lines:
        if line == "@@CONF":
            conf = []
            for inner in lines:
                if inner == "@@END":
                    break
                conf.append(inner)
            probe["conf"] = "\n".join(conf)
            continue
        key, _, value = line.partition("=")
        if key == "have":
            probe["have"].add(value)
        elif key:
            probe[key] = value
    return probe


def _report_node(rep: Report, node: NodeConfig, probe: Any, snap: Any, error: str | None) -> None:
    user = node.user or "the SSH user"
    if error:
        rep.line("FAIL", error)
        if error.startswith("host key"):
            rep.block([f"verify the key out of band, then add it: ssh-keyscan -p {node.port} {node.host} >> "
                       f"{node.known_hosts or '~/.ssh/known_hosts'}"])
        if error.startswith("sudo"):
            rep.block(sudoers_lines(node.user or "lbconsole"))
        return
    if node.is_local:
        rep.line("ok", "this host, read in-process (no SSH)")
    else:
        rep.line("ok", f"ssh to {node.host}:{node.port}, host key trusted")
    if probe.get("uid") == "0":
        rep.line("ok", "commands run as root" + (" (sudo -n)" if node.sudo else ""))
    else:
        rep.line("FAIL", f"commands run as uid {probe.get('uid')}: actions need root; set sudo = true for "
                         f"{node.name} and add on the node:")
        rep.block(sudoers_lines(node.user or user))
    have = probe["have"]
    wanted = ["logger"] + (["ipvsadm", "keepalived"] if node.has_role("director") else []) + (
        ["nginx"] if node.has_role("nginx") else [])
    for tool in wanted:
        rep.line("ok" if tool in have else ("warn" if tool == "logger" else "FAIL"),
                 f"{tool} {'present' if tool in have else 'missing'}")
    if node.has_role("director"):
        ipvs = probe.get("ipvs", "")
        if "initialize ipvs" in ipvs:
            rep.line("FAIL", f"ip_vs is not loaded on {node.name}: it is not an LVS director (ipvsadm -Ln: {ipvs})")
        else:
            rep.line("ok" if ipvs == "ok" else "FAIL",
                     "IPVS table readable" if ipvs == "ok" else f"ipvsadm -Ln: {ipvs}")
        running = probe.get("ka", "").startswith("running")
        rep.line("ok" if running else "FAIL", f"keepalived {probe.get('ka', '?')} ({probe.get('kaver', '')})")
        sources = {i.source for i in snap.vrrp} if snap else set()
        if "json" in sources:
            rep.line("ok", "keepalived JSON dump works")
        elif running:
            rep.line("FAIL" if not sources else "warn", "keepalived JSON dump does not work"
                     + ("; the data dump is used instead" if sources else f": {snap.error if snap else ''}"))
    if node.has_role("nginx"):
        rep.line("ok" if probe.get("ngt") == "ok" else "FAIL", f"nginx -t: {probe.get('ngt', '?')}")
        if snap and snap.nginx is not None:
            rep.line("ok", f"stub_status reachable at {node.nginx_status_url}")
        else:
            why = next((e for e in (snap.error or "").split("; ") if e.startswith("nginx")), "") if snap else ""
            rep.line("FAIL", f"stub_status not reachable at {node.nginx_status_url} {why}".strip())
            rep.block(["add to a server block listening on 127.0.0.1:", "location = /nginx_status { stub_status; "
                       "allow 127.0.0.1; deny all; }"])


def track_dirs(conf_text: str) -> set[str]:
    """Directories of the track files a prepared config uses."""
    from lbconsole.actions import kconf, prepared

    conf = kconf.parse(conf_text)
    preps = [prepared.drain_prep(conf, svc, key) for vs in conf.top("virtual_server")
             for rs in vs.children("real_server")
             if (svc := kconf.service_key(vs)) and (key := kconf.real_server_key(vs, rs))]
    preps += [prepared.failover_prep(conf, i.args[0]) for i in conf.top("vrrp_instance") if i.args]
    return {p.path.rsplit("/", 1)[0] or "/" for p in preps if p.prepared and p.path}


async def _check_track_dirs(ctx: Any, rep: Report, cluster: ClusterConfig, probes: dict[str, Any]) -> None:
    """keepalived watches a track file's directory: a missing one means the file is silently not watched."""
    from lbconsole.actions.nodescript import q

    for node in cluster.directors:
        dirs = track_dirs(probes[node.name]["conf"]) if probes.get(node.name) else set()
        if not dirs:
            continue
        script = "".join(f"[ -d {q(d)} ] || echo {q(d)}\n" for d in sorted(dirs))
        try:
            missing = (await ctx.transport(node).run(script, timeout=30)).stdout.split()
        except Exception as exc:
            rep.line("warn", f"{node.name}: track file directories not checked: {exc}")
            continue
        for d in missing:
            rep.line("FAIL", f"{node.name}: track file directory {d} is missing: keepalived does not watch its "
                             f"files, so drains and failovers through them do nothing. mkdir -p {d}, then reload "
                             "keepalived")


def _report_cluster(rep: Report, cluster: ClusterConfig, probes: dict[str, Any]) -> None:
    from lbconsole.actions import kconf, prepared

    rep.out.write(f"cluster {cluster.name}: prepared for keepalived-safe drain and graceful failover?\n")
    # The same advice once for every director that needs it; None: no real server at all.
    drains: dict[tuple[tuple[str, str], ...] | None, list[str]] = {}
    failovers: dict[tuple[Any, ...], list[str]] = {}
    for node in cluster.directors:
        probe = probes.get(node.name)
        if not probe or not probe.get("conf") or probe["conf"].startswith("cannot read"):
            rep.line("warn", f"{node.name}: keepalived config not read")
            continue
        conf = kconf.parse(probe["conf"])
        pairs = [(kconf.service_key(vs), kconf.real_server_key(vs, rs)) for vs in conf.top("virtual_server")
                 for rs in vs.children("real_server")]
        missing = tuple((s, r) for s, r in pairs if s and r and not prepared.drain_prep(conf, s, r).prepared)
        drains.setdefault(missing if pairs else None, []).append(node.name)
        names = [i.args[0] for i in conf.top("vrrp_instance") if i.args]
        preps = tuple((n, prepared.failover_prep(conf, n)) for n in names)
        failovers.setdefault(tuple((n, p.prepared, p.name, p.weight) for n, p in preps), []).append(node.name)
    _advise(rep, drains, failovers)


def _advise(rep: Report, drains: dict[Any, list[str]], failovers: dict[Any, list[str]]) -> None:
    from lbconsole.actions import prepare_conf

    for missing, nodes in drains.items():
        where = ", ".join(nodes)
        if missing is None:
            rep.line("warn", f"{where}: keepalived.conf has no virtual_server with a real_server: nothing to drain")
            continue
        if not missing:
            rep.line("ok", f"{where}: every real server is prepared for keepalived-safe drain")
            continue
        rep.line("warn", f"{where}: {len(missing)} real server(s) not prepared: a drain there is set directly and "
                         "a health flap or reload undoes it until a console re-applies it. Add to keepalived.conf:")
        for svc, rs in missing[:MAX_SNIPPETS]:
            rep.block(prepare_conf.drain_snippet(svc, rs).splitlines())
        if len(missing) > MAX_SNIPPETS:
            rep.block([f"... and likewise for the {len(missing) - MAX_SNIPPETS} others (docs/prepared-cluster.md)"])
    for instances, nodes in failovers.items():
        where = ", ".join(nodes)
        for name, ok, track, weight in instances:
            if ok:
                rep.line("ok", f"{where}: {name} prepared for graceful failover ({track}, weight {weight})")
                continue
            rep.line("warn", f"{where}: {name} not prepared for graceful failover (a failover stops keepalived "
                             "on the master). Add to keepalived.conf:")
            rep.block(prepare_conf.failover_snippet(name).splitlines())
