"""doctor's cluster check: is keepalived.conf prepared for keepalived-safe drain and graceful failover?

It reads the running keepalived's config (its -f, includes expanded, the VRRP password removed on the node)
with one shell probe as root: a privileged, one-off look like `node install`, never a poll or an action.
A node reached by a non-root account is not read (the agent decides per action, and says how in the result).
"""

from __future__ import annotations

from typing import Any

from lbconsole.inventory import ClusterConfig, NodeConfig
from lbconsole.transport.base import shell_quote

MAX_SNIPPETS = 4

# The running keepalived's config (its -f, else Debian's default) with `include`s expanded and
# the VRRP password removed on the node. One awk and no other process: each costs ~0.1 s on a slow VM.
CONF_SH = r"""
kconf_cat() {
  read _p < /run/keepalived.pid 2>/dev/null || _p=none
  awk -v cmdline="/proc/$_p/cmdline" -v fallback=/etc/keepalived/keepalived.conf '
    function emit(line) { sub(/auth_pass[[:space:]]+[^[:space:]}]+/, "auth_pass <redacted>", line); print line }
    function expand(file, depth,    line, dir, pat, cmd, f, n) {
      dir = file; sub(/\/[^\/]*$/, "", dir)
      while ((getline line < file) > 0) {
        if (depth < 3 && line ~ /^[[:space:]]*include[[:space:]]/) {
          n = split(line, w, /[[:space:]]+/); pat = (w[1] == "" ? w[3] : w[2])
          if (pat !~ /^\//) pat = dir "/" pat
          cmd = "for f in " pat "; do [ -f \"$f\" ] && echo \"$f\"; done"
          while ((cmd | getline f) > 0) expand(f, depth + 1)
          close(cmd)
          continue
        }
        emit(line)
      }
      close(file)
    }
    BEGIN {
      RS = "\0"; conf = ""
      while ((getline arg < cmdline) > 0) {
        if (take) { conf = arg; break }
        if (arg == "-f" || arg == "--use-file") take = 1
        else if (arg ~ /^--use-file=/) { conf = substr(arg, 12); break }
        else if (arg ~ /^-f./) { conf = substr(arg, 3); break }
      }
      close(cmdline); RS = "\n"
      if (conf == "") conf = fallback
      if ((getline probe < conf) < 0) { print "cannot read keepalived config " conf; exit 2 }
      close(conf)
      expand(conf, 0); exit
    }'
}
"""


async def read_config(node: NodeConfig) -> str | None:
    """keepalived's config text, None when not readable this way (not root, unreachable)."""
    from lbconsole.transport import TransportError, transport_for

    if not node.is_local and node.user not in (None, "root"):
        return None
    transport = transport_for(node)
    try:
        res = await transport.run(CONF_SH + "kconf_cat", timeout=node.connect_timeout + node.command_timeout)
    except TransportError:
        return None
    finally:
        await transport.close()
    return res.stdout if res.exit_status == 0 else None


async def missing_track_dirs(node: NodeConfig, dirs: set[str]) -> list[str]:
    from lbconsole.transport import transport_for

    transport = transport_for(node)
    try:
        script = "".join(f"[ -d {shell_quote(d)} ] || echo {shell_quote(d)}\n" for d in sorted(dirs))
        return (await transport.run(script, timeout=node.connect_timeout + node.command_timeout)).stdout.split()
    finally:
        await transport.close()



def track_dirs(conf_text: str) -> set[str]:
    """Directories of the track files a prepared config uses."""
    from lbconsole.actions import kconf, prepared

    conf = kconf.parse(conf_text)
    pairs = [(kconf.service_key(vs), kconf.real_server_key(vs, rs))
             for vs in conf.top("virtual_server") for rs in vs.children("real_server")]
    preps = [prepared.drain_prep(conf, svc, rs) for svc, rs in pairs if svc and rs]
    preps += [prepared.failover_prep(conf, i.args[0]) for i in conf.top("vrrp_instance") if i.args]
    return {p.path.rsplit("/", 1)[0] or "/" for p in preps if p.prepared and p.path}


async def check_track_dirs(rep: Any, cluster: ClusterConfig, confs: dict[str, str | None]) -> None:
    """keepalived watches a track file's directory: a missing one means the file is silently not watched."""
    for node in cluster.directors:
        dirs = track_dirs(confs[node.name] or "") if confs.get(node.name) else set()
        if not dirs:
            continue
        try:
            missing = await missing_track_dirs(node, dirs)
        except Exception as exc:  # noqa: BLE001 - a look that fails is said, not raised
            rep.line("warn", f"{node.name}: track file directories not checked: {exc}")
            continue
        for d in missing:
            rep.line("FAIL", f"{node.name}: track file directory {d} is missing: keepalived does not watch its "
                             f"files, so drains and failovers through them do nothing. mkdir -p {d}, then reload "
                             "keepalived")


def report_cluster(rep: Any, cluster: ClusterConfig, confs: dict[str, str | None]) -> None:
    from lbconsole.actions import kconf, prepared

    rep.out.write(f"cluster {cluster.name}: prepared for keepalived-safe drain and graceful failover?\n")
    drains: dict[tuple[Any, ...] | None, list[str]] = {}  # the same advice once for every director that needs it
    failovers: dict[tuple[Any, ...], list[str]] = {}
    for node in cluster.directors:
        text = confs.get(node.name)
        if not text or text.startswith("cannot read"):
            why = "" if node.user in (None, "root") else f" (reached as {node.user}: only root reads it)"
            rep.line("warn", f"{node.name}: keepalived config not read{why}")
            continue
        conf = kconf.parse(text)
        pairs = [(kconf.service_key(vs), kconf.real_server_key(vs, rs)) for vs in conf.top("virtual_server")
                 for rs in vs.children("real_server")]
        missing = tuple((s, r) for s, r in pairs if s and r and not prepared.drain_prep(conf, s, r).prepared)
        drains.setdefault(missing if pairs else None, []).append(node.name)  # None: nothing to drain there
        names = [i.args[0] for i in conf.top("vrrp_instance") if i.args]
        preps = tuple((n, prepared.failover_prep(conf, n)) for n in names)
        failovers.setdefault(tuple((n, p.prepared, p.name, p.weight) for n, p in preps), []).append(node.name)
    _advise(rep, drains, failovers)


def _advise(rep: Any, drains: dict[Any, list[str]], failovers: dict[Any, list[str]]) -> None:
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
