"""Names, addresses and constants of the lab cluster.

Other code and tests address the lab by these names, so they are fixed here
and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# Persistent, not under /tmp: every node mounts a private tmpfs on /tmp.
LAB_DIR = Path("/var/lib/lbconsole-lab")
NODES_DIR = LAB_DIR / "nodes"
OPS_DIR = LAB_DIR / "ops"
PIDS_DIR = LAB_DIR / "pids"
VM_DIR = LAB_DIR / "vm"
CACHE_DIR = LAB_DIR / "cache"
BIN_DIR = LAB_DIR / "bin"
INVENTORY = LAB_DIR / "inventory.toml"
EXTRA_INVENTORY = LAB_DIR / "inventory-ssh.toml"  # the extra sshN nodes, when there are any
IDENTITY = OPS_DIR / "id_ed25519"
KNOWN_HOSTS = OPS_DIR / "known_hosts"
LOCK = LAB_DIR / "lock"

PREFIX = "lbc-"
SWITCH_NS = "lbc-sw"
BRIDGE = "br0"
SUBNET = "10.99.0.0/24"
PREFIXLEN = 24
VIP = "10.99.0.100"
OPS_NS = "lbc-ops"
CLIENT_NS = "lbc-client"

# VRRP. PASS auth takes at most 8 characters; tests check it never leaks.
VRRP_INSTANCE = "VI_1"
VRRP_ROUTER_ID = 51
VRRP_PASSWORD = "Lb7vRrpX"

# Virtual services: (port, persistence timeout or None). Real servers use the same port.
SERVICES = ((80, None), (8080, 300))
# The web tier's nginx upstream: every backend on this port, as issue 11 describes it.
UPSTREAM = "backend"
BACKEND_PORT = 8080
BACKEND_HEALTH = "/health"  # the inventory's health_path for it
CLUSTER_NAME = "lab"
CLUSTER_COLOR = "#d08770"

# The qemu VM holding the directors.
VM_MEMORY_MB = 1536
VM_CPUS = 2


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    ip: str
    roles: tuple[str, ...]
    in_vm: bool = False
    ssh: bool = True

    @property
    def netns(self) -> str:
        """The host namespace (lbc-NAME); for VM nodes, the namespace name inside the VM (NAME)."""
        return self.name if self.in_vm else PREFIX + self.name

    @property
    def mac(self) -> str:
        """A fixed MAC from the last two octets (unique in the lab), so the VM can tell its NICs apart."""
        third, fourth = (int(x) for x in self.ip.split(".")[2:])
        return f"52:54:00:99:{third:02x}:{fourth:02x}"

    @property
    def tap(self) -> str:
        return "tap-" + self.name

    @property
    def dir(self) -> Path:
        return NODES_DIR / self.name

    @property
    def is_director(self) -> bool:
        return "director" in self.roles

    @property
    def runs_nginx(self) -> bool:
        return "nginx" in self.roles or "backend" in self.roles


NODES: tuple[Node, ...] = (
    Node("lb1", "10.99.0.11", ("director",), in_vm=True),
    Node("lb2", "10.99.0.12", ("director",), in_vm=True),
    Node("web1", "10.99.0.21", ("nginx",)),
    Node("web2", "10.99.0.22", ("nginx",)),
    Node("web3", "10.99.0.23", ("nginx",)),
    Node("app1", "10.99.0.31", ("backend",)),
    Node("app2", "10.99.0.32", ("backend",)),
)
# Plain namespaces without sshd: reached with `ip netns exec`.
CLIENT = Node("client", "10.99.0.50", (), ssh=False)
OPS = Node("ops", "10.99.0.5", (), ssh=False)
LOCAL_NODES = (OPS, CLIENT)

DIRECTORS = tuple(n for n in NODES if n.is_director)
WEB_NODES = tuple(n for n in NODES if "nginx" in n.roles)
BACKENDS = tuple(n for n in NODES if "backend" in n.roles)
HOST_NODES = tuple(n for n in NODES if not n.in_vm)
MASTER, BACKUP = DIRECTORS
PRIORITY = {"lb1": 150, "lb2": 100}

# Reached as real hosts are: one node's shell start-up is slow on purpose, and one director is
# reached by a non-root account that has only the documented sudoers drop-in.
SLOW_NODE = "web2"
SLOW_START_S = 2.0
SUDO_USER = "lbcops"
SUDO_NODES = ("lb2",)

# Extra sshd-only nodes for SSH benchmarks live in their own /24 on the same bridge.
EXTRA_PREFIX = "10.99.1."
EXTRA_PREFIXLEN = 24
EXTRA_MAX = 200


def extra_node(i: int) -> Node:
    """The i-th (1-based) extra sshd-only node: ssh1 at 10.99.1.1 ..."""
    if not 1 <= i <= EXTRA_MAX:
        raise ValueError(f"extra node index {i} out of 1..{EXTRA_MAX}")
    return Node(f"ssh{i}", f"{EXTRA_PREFIX}{i}", ())


def node(name: str) -> Node:
    """The node called name (including ops, client and extra sshN nodes)."""
    for n in NODES + LOCAL_NODES:
        if n.name == name:
            return n
    if name.startswith("ssh") and name[3:].isdigit():
        return extra_node(int(name[3:]))
    raise KeyError(name)
