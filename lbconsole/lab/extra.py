"""Extra sshd-only nodes (ssh1.. at 10.99.1.1..) on the lab's bridge, for SSH benchmarks with
many hosts. Each is a host like the others: own namespaces, sshd and host key."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from lbconsole.lab import access, lifecycle, netns, nodes
from lbconsole.lab import topology as t
from lbconsole.lab.errors import LabError, LabNotUp
from lbconsole.lab.proc import forget_pid, kill_pids, netns_pids

INVENTORY = t.EXTRA_INVENTORY


def present() -> list[str]:
    """Names of the extra nodes that exist, in order."""
    found = [ns.removeprefix(t.PREFIX) for ns in netns.existing() if ns.startswith(t.PREFIX + "ssh")]
    return sorted(found, key=lambda name: int(name[3:]))


def _set_known_hosts(lines: Mapping[str, str | None]) -> None:
    """Replace, add (value) or drop (None) the known_hosts lines of the given addresses."""
    kept = [ln for ln in t.KNOWN_HOSTS.read_text().splitlines(keepends=True)
            if ln.split(" ", 1)[0] not in lines]
    t.KNOWN_HOSTS.write_text("".join(kept) + "".join(v for v in lines.values() if v))


def _write_inventory(names: list[str]) -> None:
    head = t.INVENTORY.read_text().split("[[cluster]]")[0]
    body = ['[[cluster]]\nname = "ssh-bench"\nread_only = true\n']
    for name in names:
        node = t.node(name)
        body.append(f'[[cluster.node]]\nname = "{name}"\nhost = "{node.ip}"\nroles = ["backend"]\n')
    INVENTORY.write_text(head + "\n".join(body))


def add(count: int, timeout: float = 120) -> list[str]:
    """Make sure ssh1..ssh<count> run; return their names. Writes inventory-ssh.toml for them."""
    if not lifecycle.is_up():
        raise LabNotUp()
    have = set(present())
    new = [t.extra_node(i) for i in range(1, count + 1) if f"ssh{i}" not in have]
    with lifecycle.locked():
        ops_pub = nodes.prepare_ops()
        known = {}
        for node in new:
            known[node.ip] = nodes.prepare_node(node, ops_pub)
            netns.create_node(node)
            nodes.start_host_node(node)
        _set_known_hosts(known)
    deadline = time.monotonic() + timeout
    waiting = list(new)
    with ThreadPoolExecutor(16) as pool:  # a fresh port may take a while to answer ARP: ask in parallel
        while waiting:
            answered = list(pool.map(lambda n: access.sshd_answers(n, timeout=2), waiting))
            waiting = [n for n, ok in zip(waiting, answered) if not ok]
            if waiting and time.monotonic() > deadline:
                raise LabError(f"sshd did not answer on {', '.join(n.name for n in waiting)}")
            time.sleep(0.2 if waiting else 0)
    names = [f"ssh{i}" for i in range(1, count + 1)]
    _write_inventory(names)
    return names


def remove() -> None:
    """Remove every extra node (processes, namespaces, known_hosts lines)."""
    names = present()
    with lifecycle.locked():
        pids = [pid for name in names for pid in netns_pids(t.PREFIX + name)]
        kill_pids(pids)
        for name in names:
            netns.delete(t.PREFIX + name)
            forget_pid(f"holder-{name}")
        if t.KNOWN_HOSTS.exists():
            _set_known_hosts({t.node(name).ip: None for name in names})
    INVENTORY.unlink(missing_ok=True)
