"""The lab's Python API, for tests and tools:

    from lbconsole.lab import api
    api.up()                                   # -> inventory path; no-op if the lab is up
    api.run("lb1", "ipvsadm -Ln", check=True)  # ssh from lbc-ops (netns exec for ops/client)
    with api.in_ops_netns(): ...               # open sockets from lbc-ops in-process
    api.stop_daemon("web2", "nginx"); api.start_daemon("web2", "nginx")
    api.block_vrrp(True)                       # split brain: both directors become MASTER
    api.down()

Everything needs root.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from lbconsole.lab import extra, lifecycle, netns, nodes
from lbconsole.lab import topology as t
from lbconsole.lab.access import in_netns, in_ops_netns, run
from lbconsole.lab.configs import inventory_toml
from lbconsole.lab.errors import LabError, LabNeedsRoot, LabNotUp
from lbconsole.lab.status import LabStatus, lab_status
from lbconsole.lab.topology import LAB_DIR, NODES, VIP, VRRP_PASSWORD

__all__ = [
    "up", "down", "is_up", "status", "run", "inventory_path", "in_ops_netns", "in_netns",
    "stop_daemon", "start_daemon", "daemon_running", "keepalived_dump", "block_vrrp", "vrrp_blocked",
    "add_extra_ssh_nodes", "remove_extra_ssh_nodes", "extra_ssh_nodes",
    "LAB_DIR", "NODES", "VIP", "VRRP_PASSWORD", "LabError", "LabNeedsRoot", "LabNotUp", "LabStatus",
]

is_up = lifecycle.is_up
add_extra_ssh_nodes = extra.add
remove_extra_ssh_nodes = extra.remove
extra_ssh_nodes = extra.present


def up(progress: Callable[[str], None] | None = None) -> Path:
    """Bring the lab up (no-op if it is up) and return the inventory path."""
    lifecycle.up(progress or (lambda msg: None))
    return inventory_path()


def down(progress: Callable[[str], None] | None = None) -> None:
    """Remove every namespace, process, tap and VM of the lab (extra SSH nodes too). Idempotent."""
    lifecycle.down(progress or (lambda msg: None))


def status() -> LabStatus:
    return lab_status()


def inventory_path() -> Path:
    """The inventory file (rewritten if missing: its content does not depend on the run)."""
    if not t.INVENTORY.exists():
        t.LAB_DIR.mkdir(parents=True, exist_ok=True)
        t.INVENTORY.write_text(inventory_toml())
    return t.INVENTORY


def _node(name: str) -> t.Node:
    try:
        node = t.node(name)
    except KeyError:
        raise LabError(f"no lab node {name!r}") from None
    if not node.ssh:
        raise LabError(f"{name} runs no daemons")
    return node


def stop_daemon(node: str, daemon: str) -> None:
    """Stop "sshd", "nginx" or "keepalived" on node, out of band (works when its sshd is down)."""
    nodes.stop_daemon(_node(node), daemon)


def start_daemon(node: str, daemon: str) -> None:
    """Start it again with the node's own config; no-op if it runs."""
    nodes.start_daemon(_node(node), daemon)


def daemon_running(node: str, daemon: str) -> bool:
    return nodes.daemon_states(_node(node))[daemon]


_DUMP_FILES = {kind: f"/tmp/keepalived.{kind}" for kind in ("json", "data", "stats")}


def keepalived_dump(node: str, kind: str = "json", timeout: float = 20) -> str:
    """Signal keepalived on node for its JSON, DATA or STATS dump and return the file's text.

    The write is asynchronous and not atomic before 2.4: wait for the file, give the writer a
    moment, and for JSON retry until it parses."""
    path = _DUMP_FILES[kind]
    # Shell builtins only in the loop: every fork is slow in the VM.
    script = (f"rm -f {path}; "
              f"kill -s $(keepalived --signum={kind.upper()}) $(cat /run/keepalived.pid) || exit 1; "
              f"i=0; while [ ! -s {path} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; "
              f"sleep 0.2; cat {path}")
    for _ in range(3):
        text = run(node, script, check=True, timeout=timeout).stdout
        if kind != "json":
            return text
        try:
            json.loads(text)
            return text
        except ValueError:
            continue
    raise LabError(f"{node}: keepalived wrote no complete JSON dump to {path}")


def block_vrrp(on: bool = True) -> None:
    """Cut (or restore) the link between lb1 and lb2 on the bridge, so their VRRP adverts no
    longer meet: both become MASTER (split brain). Both still reach every other node. The block is
    on the switch, so it survives keepalived restarts; `down` removes it with the switch."""
    if t.SWITCH_NS not in netns.existing():
        raise LabNotUp()
    netns.isolate([n.tap for n in t.DIRECTORS], on)


def vrrp_blocked() -> bool:
    return all(netns.is_isolated(n.tap) for n in t.DIRECTORS)
