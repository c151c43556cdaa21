"""`lab status`: what of the lab is up, node by node."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lbconsole.lab import access, netns, nodes, vm
from lbconsole.lab import topology as t
from lbconsole.lab.topology import Node


@dataclass
class NodeStatus:
    node: Node
    namespace: bool
    sshd: bool | None = None  # None: the node runs no such daemon
    nginx: bool | None = None
    keepalived: bool | None = None
    vip: bool = False

    @property
    def ok(self) -> bool:
        return self.namespace and all(v is not False for v in (self.sshd, self.nginx, self.keepalived))


@dataclass
class LabStatus:
    vm_pid: int | None
    switch: bool
    nodes: list[NodeStatus]

    @property
    def ok(self) -> bool:
        return bool(self.vm_pid) and self.switch and all(n.ok for n in self.nodes)

    @property
    def vip_holders(self) -> list[str]:
        return [n.node.name for n in self.nodes if n.vip]


def _node_status(node: Node, namespaces: set[str], vm_pid: int | None) -> NodeStatus:
    if node.in_vm:
        present = vm_pid is not None and nodes.holder(node) is not None
    else:
        present = node.netns in namespaces
    st = NodeStatus(node, present)
    if not node.ssh:
        return st
    states = nodes.daemon_states(node) if present else {}
    # sshd counts as up only if it answers from lbc-ops, as lbconsole would reach it.
    st.sshd = present and access.sshd_answers(node)
    if node.runs_nginx:
        st.nginx = states.get("nginx", False)
    if node.is_director:
        st.keepalived = states.get("keepalived", False)
        st.vip = states.get("vip", False)
    return st


def lab_status() -> LabStatus:
    namespaces = set(netns.existing())
    vm_pid = vm.pid()
    every = t.NODES + t.LOCAL_NODES
    with ThreadPoolExecutor(len(every)) as pool:
        rows = list(pool.map(lambda n: _node_status(n, namespaces, vm_pid), every))
    return LabStatus(vm_pid, t.SWITCH_NS in namespaces, rows)


def render(st: LabStatus) -> str:
    def word(v: bool | None) -> str:
        return "-" if v is None else ("up" if v else "DOWN")

    lines = [f"VM (qemu, directors lb1 lb2): {'pid ' + str(st.vm_pid) if st.vm_pid else 'NOT RUNNING'}",
             f"switch {t.SWITCH_NS} (bridge {t.BRIDGE}): {'up' if st.switch else 'MISSING'}",
             f"{'node':8} {'address':12} {'namespace':10} {'sshd':5} {'nginx':5} {'keepalived':10}"]
    for n in st.nodes:
        where = f"vm:{n.node.netns}" if n.node.in_vm else n.node.netns
        ns = word(n.namespace) if n.namespace else "MISSING"
        lines.append(f"{n.node.name:8} {n.node.ip:12} {ns:10} {word(n.sshd):5} {word(n.nginx):5} "
                     f"{word(n.keepalived):10} {where}")
    holders = st.vip_holders
    lines.append(f"VIP {t.VIP} held by: {', '.join(holders) if holders else 'nobody'}"
                 + ("  (SPLIT BRAIN)" if len(holders) > 1 else ""))
    lines.append("lab is up" if st.ok else "lab is NOT fully up")
    return "\n".join(lines)
