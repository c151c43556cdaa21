"""The inventory: which clusters and nodes to watch and how to reach them.

Read from --inventory, else $LBCONSOLE_INVENTORY, else
$XDG_CONFIG_HOME/lbconsole/inventory.toml. With none of those, the local host.
Every problem becomes one InventoryError naming the file and, where it can,
the line.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lbconsole import paths
from lbconsole.errors import InventoryError

ROLES = ("director", "nginx", "backend")
DEFAULT_STATUS_URL = "http://127.0.0.1/nginx_status"
DEFAULT_POLL_INTERVAL = 2.0
# A node whose SSH session takes 10 s to open (PAM, a heavy shell start-up, an emulated CPU) is slow,
# not unreachable: these leave room for that.
DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_COMMAND_TIMEOUT = 20.0
LOCAL_HOST = "local"  # a node with this host is read in-process, not over SSH

_TIMEOUT_KEYS = ("connect_timeout", "command_timeout")
_DEFAULT_KEYS = {"user": str, "port": int, "identity": str, "known_hosts": str, "sudo": bool,
                 "poll_interval": (int, float), "connect_timeout": (int, float), "command_timeout": (int, float)}
_CLUSTER_KEYS = {"name": str, "read_only": bool, "color": str, "node": list}
_NODE_KEYS = {"name": str, "host": str, "roles": list, "user": str, "port": int, "identity": str,
              "known_hosts": str, "sudo": bool, "nginx_status_url": str, "connect_timeout": (int, float),
              "command_timeout": (int, float)}


@dataclass(frozen=True, slots=True)
class NodeConfig:
    name: str
    host: str
    roles: tuple[str, ...]
    cluster: str
    user: str | None = None
    port: int = 22
    identity: str | None = None
    known_hosts: str | None = None
    sudo: bool = False
    nginx_status_url: str = DEFAULT_STATUS_URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT  # opening the node's agent session
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT  # one request on an open session

    @property
    def is_local(self) -> bool:
        return self.host == LOCAL_HOST

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str
    nodes: tuple[NodeConfig, ...]
    read_only: bool = False
    color: str | None = None

    def node(self, name: str) -> NodeConfig | None:
        return next((n for n in self.nodes if n.name == name), None)

    @property
    def directors(self) -> tuple[NodeConfig, ...]:
        return tuple(n for n in self.nodes if n.has_role("director"))


@dataclass(frozen=True, slots=True)
class Inventory:
    path: str | None
    clusters: tuple[ClusterConfig, ...]
    poll_interval: float = DEFAULT_POLL_INTERVAL

    @property
    def nodes(self) -> tuple[NodeConfig, ...]:
        return tuple(n for c in self.clusters for n in c.nodes)

    def cluster(self, name: str) -> ClusterConfig | None:
        return next((c for c in self.clusters if c.name == name), None)

    def find_node(self, name: str) -> NodeConfig | None:
        return next((n for n in self.nodes if n.name == name), None)


def local_inventory() -> Inventory:
    """What lbconsole watches with no inventory at all: this host."""
    node = NodeConfig(name=socket.gethostname() or "localhost", host=LOCAL_HOST,
                      roles=("director", "nginx"), cluster="local")
    return Inventory(path=None, clusters=(ClusterConfig(name="local", nodes=(node,)),))


def resolve_path(explicit: str | None) -> Path | None:
    """The inventory file to read, or None to watch the local host."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("LBCONSOLE_INVENTORY")
    if env:
        return Path(env)
    default = paths.default_inventory()
    return default if default.exists() else None


def load(explicit: str | None = None) -> Inventory:
    path = resolve_path(explicit)
    if path is None:
        return local_inventory()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(str(path), "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(str(path), f"cannot read: {exc}") from None
    return parse(text, str(path))


def parse(text: str, path: str = "<inventory>") -> Inventory:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", msg)
        line = int(m.group(1)) if m else None
        if line is None and "end of document" in msg:
            line = max(1, len(text.rstrip("\n").splitlines()))
        msg = re.sub(r"\s*\(at (line|end of document).*\)", "", msg)
        raise InventoryError(path, "invalid TOML: " + msg, line) from None
    return _Validator(text, path).inventory(data)


class _Validator:
    """Checks parsed TOML; finds line numbers by locating table headers in the text."""

    def __init__(self, text: str, path: str):
        self.path = path
        self.lines = text.splitlines()
        self.headers = [(i + 1, m.group(1).strip()) for i, line in enumerate(self.lines)
                        if (m := re.match(r"\s*\[+\s*([^\]]+?)\s*\]+", line))]

    def _header_line(self, table: str, index: int = 0) -> int | None:
        hits = [ln for ln, name in self.headers if name == table]
        return hits[index] if index < len(hits) else None

    def _key_line(self, key: str, table: str, index: int = 0) -> int | None:
        start = self._header_line(table, index) if table else 0
        if start is None:
            return None
        end = next((ln for ln, _ in self.headers if ln > start), len(self.lines) + 1)
        for ln in range(start + 1 if table else 1, end):
            if re.match(rf"\s*{re.escape(key)}\s*=", self.lines[ln - 1]):
                return ln
        return start or None

    def fail(self, msg: str, key: str | None = None, table: str = "", index: int = 0):
        line = self._key_line(key, table, index) if key else self._header_line(table, index)
        raise InventoryError(self.path, msg, line)

    def check_keys(self, obj: dict, allowed: dict, where: str, table: str, index: int = 0) -> None:
        for key, value in obj.items():
            if key not in allowed:
                self.fail(f"unknown key {key!r} in {where} (known: {', '.join(sorted(allowed))})",
                          key, table, index)
            want = allowed[key]
            ok = isinstance(value, want) and not (want is int and isinstance(value, bool))
            if not ok:
                kind = want.__name__ if isinstance(want, type) else "number"
                self.fail(f"{where}: {key!r} must be a {kind}, not {type(value).__name__}", key, table, index)

    def inventory(self, data: dict[str, Any]) -> Inventory:
        unknown = set(data) - {"defaults", "cluster"}
        if unknown:
            key = sorted(unknown)[0]
            self.fail(f"unknown top-level key {key!r} (expected [defaults] and [[cluster]])", key)
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            self.fail("'defaults' must be a table", "defaults")
        self.check_keys(defaults, _DEFAULT_KEYS, "[defaults]", "defaults")
        poll = float(defaults.get("poll_interval", DEFAULT_POLL_INTERVAL))
        if poll <= 0:
            self.fail("[defaults]: 'poll_interval' must be above 0", "poll_interval", "defaults")
        clusters_raw = data.get("cluster")
        if not clusters_raw:
            self.fail("no [[cluster]] defined")
        if not isinstance(clusters_raw, list):
            self.fail("'cluster' must be an array of tables: write [[cluster]]", "cluster")
        clusters = []
        node_index = 0
        seen_clusters: set[str] = set()
        seen_nodes: set[str] = set()
        for ci, raw in enumerate(clusters_raw):
            self.check_keys(raw, _CLUSTER_KEYS, f"cluster #{ci + 1}", "cluster", ci)
            name = raw.get("name")
            if not name:
                self.fail(f"cluster #{ci + 1} has no 'name'", None, "cluster", ci)
            if name in seen_clusters:
                self.fail(f"cluster {name!r} is defined twice", "name", "cluster", ci)
            seen_clusters.add(name)
            nodes = []
            for raw_node in raw.get("node", []):
                nodes.append(self.node(raw_node, defaults, name, node_index, seen_nodes))
                node_index += 1
            if not nodes:
                self.fail(f"cluster {name!r} has no [[cluster.node]]", None, "cluster", ci)
            clusters.append(ClusterConfig(name=name, nodes=tuple(nodes), read_only=raw.get("read_only", False),
                                          color=raw.get("color")))
        return Inventory(path=self.path, clusters=tuple(clusters), poll_interval=poll)

    def node(self, raw: dict, defaults: dict, cluster: str, index: int, seen: set[str]) -> NodeConfig:
        table = "cluster.node"
        if not isinstance(raw, dict):
            self.fail(f"cluster {cluster!r}: each node must be a table", None, table, index)
        self.check_keys(raw, _NODE_KEYS, f"node #{index + 1}", table, index)
        for key in ("name", "host", "roles"):
            if key not in raw:
                self.fail(f"node #{index + 1} in cluster {cluster!r} has no {key!r}", None, table, index)
        name = raw["name"]
        if name in seen:
            self.fail(f"node {name!r} is defined twice (node names are unique across clusters)", "name",
                      table, index)
        seen.add(name)
        roles = raw["roles"]
        bad = [r for r in roles if r not in ROLES]
        if not roles or bad:
            self.fail(f"node {name!r}: roles must be a non-empty list of {', '.join(ROLES)}"
                      + (f"; unknown {bad[0]!r}" if bad else ""), "roles", table, index)
        merged = {k: defaults[k] for k in ("user", "port", "identity", "known_hosts", "sudo") + _TIMEOUT_KEYS
                  if k in defaults}
        merged.update({k: v for k, v in raw.items() if k not in ("name", "host", "roles")})
        port = merged.get("port", 22)
        if not 0 < port < 65536:
            self.fail(f"node {name!r}: port {port} is out of range", "port", table, index)
        for key in _TIMEOUT_KEYS:
            if key in merged:
                if merged[key] <= 0:
                    self.fail(f"node {name!r}: {key!r} must be above 0", key, table, index)
                merged[key] = float(merged[key])
        for key in ("identity", "known_hosts"):
            if merged.get(key):
                merged[key] = os.path.expanduser(merged[key])
        return NodeConfig(name=name, host=raw["host"], roles=tuple(roles), cluster=cluster, **merged)
