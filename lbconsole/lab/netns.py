"""The lab's network: a switch namespace with bridge br0, one namespace per node
wired to it by a veth pair, and tap devices for the VM's NICs."""

from __future__ import annotations

from lbconsole.lab.proc import sh
from lbconsole.lab.topology import BRIDGE, PREFIX, PREFIXLEN, SWITCH_NS, Node


def existing() -> list[str]:
    """Names of the lab's namespaces that exist now (lbc-*)."""
    res = sh(["ip", "netns", "list"], check=False)
    names = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    return [n for n in names if n.startswith(PREFIX)]


def create_switch(taps: list[str]) -> None:
    """lbc-sw with bridge br0 and the VM's taps (qemu opens them by name from inside lbc-sw)."""
    sh(["ip", "netns", "add", SWITCH_NS])
    ip = ["ip", "-n", SWITCH_NS]
    sh(ip + ["link", "set", "lo", "up"])
    # No STP delay and no multicast snooping: VRRP adverts (224.0.0.18) must reach every port at once.
    sh(ip + ["link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0",
             "mcast_snooping", "0"])
    sh(ip + ["link", "set", BRIDGE, "up"])
    for tap in taps:
        sh(ip + ["tuntap", "add", "dev", tap, "mode", "tap"])
        sh(ip + ["link", "set", tap, "master", BRIDGE, "up"])


def create_node(node: Node, extra_addrs: tuple[str, ...] = ()) -> None:
    """A namespace lbc-NAME whose eth0 is plugged into br0 and carries the node's address."""
    ns = node.netns
    sh(["ip", "netns", "add", ns])
    port = "v-" + node.name
    sh(["ip", "-n", SWITCH_NS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns])
    sh(["ip", "-n", SWITCH_NS, "link", "set", port, "master", BRIDGE, "up"])
    ip = ["ip", "-n", ns]
    sh(ip + ["link", "set", "lo", "up"])
    sh(ip + ["link", "set", "eth0", "address", node.mac])
    sh(ip + ["addr", "add", f"{node.ip}/{PREFIXLEN}", "dev", "eth0"])
    for addr in extra_addrs:
        sh(ip + ["addr", "add", addr, "dev", "eth0"])
    sh(ip + ["link", "set", "eth0", "up"])


def make_real_server(node: Node, vip: str) -> None:
    """DR real server: VIP on lo, and never answer or announce ARP for it."""
    for key in ("all", "eth0"):
        sh(["sysctl", "-q", "-w", f"net.ipv4.conf.{key}.arp_ignore=1",
            f"net.ipv4.conf.{key}.arp_announce=2"], ns=node.netns)
    sh(["ip", "-n", node.netns, "addr", "add", f"{vip}/32", "dev", "lo"])


def isolate(ports: list[str], on: bool) -> None:
    """Bridge port isolation: isolated ports cannot reach each other but reach every other port.
    With both directors' taps isolated, VRRP between them is cut (split brain) and all else works."""
    for port in ports:
        sh(["bridge", "-n", SWITCH_NS, "link", "set", "dev", port, "isolated", "on" if on else "off"])


def is_isolated(port: str) -> bool:
    res = sh(["bridge", "-n", SWITCH_NS, "-d", "link", "show", "dev", port], check=False)
    return "isolated on" in res.stdout


def delete(ns: str) -> None:
    """Remove a namespace by name (its veths and taps go with it)."""
    sh(["ip", "netns", "del", ns], check=False)


def delete_taps(taps: list[str]) -> None:
    for tap in taps:
        sh(["ip", "-n", SWITCH_NS, "link", "del", tap], check=False)
        sh(["ip", "link", "del", tap], check=False)  # never expected in the root namespace; be sure


def root_taps(taps: list[str]) -> list[str]:
    """Which of the lab's tap names exist in the root namespace (there should be none)."""
    res = sh(["ip", "-o", "link", "show"], check=False)
    return [t for t in taps if f" {t}:" in res.stdout or f" {t}@" in res.stdout]


# Lab addresses must never leave this machine: from the host's own namespace they would follow
# the default route. While the lab is up, an unreachable route makes such a mistake fail at once.
GUARD_ROUTE = "10.99.0.0/23"


def guard_host_routes(on: bool) -> None:
    if on:
        sh(["ip", "route", "replace", "unreachable", GUARD_ROUTE])
    else:
        sh(["ip", "route", "del", "unreachable", GUARD_ROUTE], check=False)


def host_routes_guarded() -> bool:
    res = sh(["ip", "route", "show", "type", "unreachable", GUARD_ROUTE], check=False)
    return GUARD_ROUTE in res.stdout
