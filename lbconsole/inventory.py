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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from lbconsole import paths
from lbconsole import upstreams as upstreams_mod
from lbconsole.errors import InventoryError
from lbconsole.tomlcheck import Path_, TomlError, decode, line_of

ROLES = ("director", "nginx", "backend")
DEFAULT_STATUS_URL = "http://127.0.0.1/nginx_status"
DEFAULT_POLL_INTERVAL = 2.0
# A node whose SSH session takes 10 s to open (PAM, a heavy shell start-up, an emulated CPU) is slow,
# not unreachable: these leave room for that.
DEFAULT_CONNECT_TIMEOUT = 30.0
DEFAULT_COMMAND_TIMEOUT = 20.0
DEFAULT_PORT = 22
DEFAULT_FORCED_WARN_AFTER = 1800.0  # seconds a forced failover may stay before it is "still forced"
LOCAL_HOST = "local"  # a node with this host is read in-process, not over SSH
SSH_CONFIG = "~/.ssh/config"

# The schema: the contract of the inventory file. Seconds are finite (checked in tomlcheck) and above 0.
Seconds = Annotated[float, msgspec.Meta(gt=0, le=86400)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Name = Annotated[str, msgspec.Meta(min_length=1)]


class _Access(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    user: Name | None = None
    port: Port | None = None
    identity: Name | None = None
    known_hosts: Name | None = None
    sudo: bool | None = None
    connect_timeout: Seconds | None = None
    command_timeout: Seconds | None = None


class _Defaults(_Access, forbid_unknown_fields=True):
    poll_interval: Seconds = DEFAULT_POLL_INTERVAL
    forced_warn_after: Seconds = DEFAULT_FORCED_WARN_AFTER


class _Node(_Access, forbid_unknown_fields=True):
    name: Name = ""
    host: Name = ""
    roles: Annotated[list[Literal["director", "nginx", "backend"]], msgspec.Meta(min_length=1)] = []
    nginx_status_url: Name = DEFAULT_STATUS_URL


class _Upstream(msgspec.Struct, forbid_unknown_fields=True):
    name: Name = ""
    health_path: str | None = None


class _Cluster(msgspec.Struct, forbid_unknown_fields=True):
    name: Name = ""
    read_only: bool = False
    color: Name | None = None
    node: list[_Node] = []
    upstream: list[_Upstream] = []


class _File(msgspec.Struct, forbid_unknown_fields=True):
    defaults: _Defaults = msgspec.field(default_factory=_Defaults)
    cluster: list[_Cluster] = []


@dataclass(frozen=True, slots=True)
class NodeConfig:
    name: str
    host: str
    roles: tuple[str, ...]
    cluster: str
    user: str | None = None
    port: int = DEFAULT_PORT
    identity: str | None = None
    known_hosts: str | None = None
    sudo: bool = False
    nginx_status_url: str = DEFAULT_STATUS_URL
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT  # opening the node's agent session
    command_timeout: float = DEFAULT_COMMAND_TIMEOUT  # one request on an open session
    # The cluster's [[cluster.upstream]] health paths, sent to an nginx node's agent: (upstream, path).
    upstream_health: tuple[tuple[str, str], ...] = ()
    # host -> node name of every node of the cluster: the names its upstream servers are shown by.
    peer_names: tuple[tuple[str, str], ...] = ()

    @property
    def is_local(self) -> bool:
        return self.host == LOCAL_HOST

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """A `[[cluster.upstream]]`: an nginx upstream, probed with an HTTP GET of health_path (else TCP)."""

    name: str
    health_path: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str
    nodes: tuple[NodeConfig, ...]
    read_only: bool = False
    color: str | None = None
    upstreams: tuple[UpstreamConfig, ...] = ()

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
    forced_warn_after: float = DEFAULT_FORCED_WARN_AFTER

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


def _describe(path: Path_) -> str:
    """How a message names the key at path: "node #2 of cluster #1: 'port'"."""
    if path in (("cluster",), ("cluster", 0)) or (len(path) == 2 and path[0] == "cluster"):
        return "each [[cluster]]" if len(path) == 2 else "'cluster'"
    if len(path) in (3, 4) and path[2] in ("node", "upstream"):
        return f"each [[cluster.{path[2]}]]" if len(path) == 4 else f"{path[2]!r}"
    where = ""
    if path[:1] == ("defaults",):
        where = "[defaults] "
    elif len(path) >= 4 and path[2] in ("node", "upstream") and isinstance(path[3], int):
        where = f"{path[2]} #{path[3] + 1} of cluster #{int(path[1]) + 1}: "
    elif len(path) >= 2 and path[0] == "cluster" and isinstance(path[1], int):
        where = f"cluster #{path[1] + 1}: "
    if path[-1:] and isinstance(path[-1], int) and "roles" in path:
        return f"{where}role"
    names = [p for p in path if isinstance(p, str)]
    return f"{where}{names[-1]!r}" if names else where.rstrip(": ")


_HINT = (" (write a [[cluster]] table per cluster, a [[cluster.node]] table per node and a [[cluster.upstream]]"
         " table per nginx upstream)")
# What nginx takes as an upstream name (one word), and a path for `GET PATH HTTP/1.0`.
_UPSTREAM_NAME = re.compile(r"[^\s;{}#'\"\\$]+")
_HEALTH_PATH = re.compile(r"/[\x21-\x7e]*")


def parse(text: str, path: str = "<inventory>") -> Inventory:
    try:
        raw, lines = decode(text, _File, _describe)
    except TomlError as exc:
        msg = exc.message
        if msg.startswith(("each [[", "'cluster' must", "'node' must", "'upstream' must")):
            msg += _HINT
        if "role: unknown value" in msg:
            msg = msg.replace("role: unknown value", "unknown role") + f" (roles: {', '.join(ROLES)})"
        raise InventoryError(path, msg, exc.line) from None
    return _Build(raw, lines, path).inventory()


class _Build:
    """The typed file made into an Inventory: names unique, colours and files real, ssh config applied."""

    def __init__(self, raw: _File, lines: dict[Path_, int], path: str):
        self.raw, self.lines, self.path = raw, lines, path

    def fail(self, msg: str, *at: str | int) -> InventoryError:
        return InventoryError(self.path, msg, line_of(self.lines, at) if at else None)

    def inventory(self) -> Inventory:
        if not self.raw.cluster:
            raise self.fail("no [[cluster]] defined")
        clusters = []
        seen_clusters: set[str] = set()
        seen_nodes: set[str] = set()
        for ci, c in enumerate(self.raw.cluster):
            if not c.name:
                raise self.fail(f"cluster #{ci + 1} has no 'name'", "cluster", ci)
            if c.name in seen_clusters:
                raise self.fail(f"cluster {c.name!r} is defined twice", "cluster", ci, "name")
            seen_clusters.add(c.name)
            if c.color is not None and not valid_colour(c.color):
                raise self.fail(f"cluster {c.name!r}: color {c.color!r} is not a colour "
                                "(e.g. \"#bf616a\", \"red\" or \"rgb(191,97,106)\")", "cluster", ci, "color")
            if not c.node:
                raise self.fail(f"cluster {c.name!r} has no [[cluster.node]]", "cluster", ci)
            nodes = tuple(self.node(c.name, ci, ni, n, seen_nodes) for ni, n in enumerate(c.node))
            upstreams = self.upstreams(c.name, ci, c.upstream)
            health = tuple((u.name, u.health_path) for u in upstreams if u.health_path)
            names = tuple(upstreams_mod.inventory_names(nodes).items())
            nodes = tuple(replace(n, upstream_health=health, peer_names=names) for n in nodes)
            clusters.append(ClusterConfig(name=c.name, nodes=nodes, read_only=c.read_only, color=c.color,
                                          upstreams=upstreams))
        return Inventory(path=self.path, clusters=tuple(clusters), poll_interval=self.raw.defaults.poll_interval,
                         forced_warn_after=self.raw.defaults.forced_warn_after)

    def upstreams(self, cluster: str, ci: int, raw: list[_Upstream]) -> tuple[UpstreamConfig, ...]:
        out: list[UpstreamConfig] = []
        for ui, u in enumerate(raw):
            at = ("cluster", ci, "upstream", ui)
            if not u.name:
                raise self.fail(f"upstream #{ui + 1} in cluster {cluster!r} has no 'name' (the nginx upstream's "
                                "name, as in `upstream backend {`)", *at)
            if not _UPSTREAM_NAME.fullmatch(u.name):
                raise self.fail(f"cluster {cluster!r}: upstream name {u.name!r} is not an nginx upstream name "
                                "(one word, no spaces, quotes, ';', '{', '}', '#' or '$')", *at, "name")
            if any(o.name == u.name for o in out):
                raise self.fail(f"cluster {cluster!r}: upstream {u.name!r} is defined twice", *at, "name")
            if u.health_path is not None and not _HEALTH_PATH.fullmatch(u.health_path):
                raise self.fail(f"cluster {cluster!r}: upstream {u.name!r}: health_path {u.health_path!r} must be "
                                "a URL path starting with / without spaces (e.g. \"/health\")", *at, "health_path")
            out.append(UpstreamConfig(name=u.name, health_path=u.health_path))
        return tuple(out)

    def node(self, cluster: str, ci: int, ni: int, n: _Node, seen: set[str]) -> NodeConfig:
        at = ("cluster", ci, "node", ni)
        for key in ("name", "host"):
            if not getattr(n, key):
                raise self.fail(f"node #{ni + 1} in cluster {cluster!r} has no {key!r}", *at)
        if not n.roles:
            raise self.fail(f"node {n.name!r} has no 'roles' (any of {', '.join(ROLES)})", *at)
        if n.name in seen:
            raise self.fail(f"node {n.name!r} is defined twice (node names are unique across clusters)",
                            *at, "name")
        seen.add(n.name)
        d = self.raw.defaults
        merged: dict[str, Any] = {}
        for key in ("user", "port", "identity", "known_hosts", "sudo", "connect_timeout", "command_timeout"):
            value = getattr(n, key)
            where: tuple[str | int, ...] = (*at, key)
            if value is None:
                value, where = getattr(d, key), ("defaults", key)
            if value is not None:
                merged[key] = value
            if key in ("identity", "known_hosts") and value is not None and n.host != LOCAL_HOST:
                merged[key] = self.file(str(value), key, n.name, where)
        if n.host != LOCAL_HOST:
            _from_ssh_config(n.host, merged)
        return NodeConfig(name=n.name, host=n.host, roles=tuple(n.roles), cluster=cluster,
                          nginx_status_url=n.nginx_status_url, **merged)

    def file(self, value: str, key: str, node: str, where: tuple[str | int, ...]) -> str:
        """An identity or known_hosts path, made absolute; it must be a readable file now, not at connect."""
        full = Path(os.path.expanduser(value)).absolute()  # relative: to where lbconsole runs, as before
        if not full.is_file():
            why = "is not a file" if full.exists() else "does not exist"
            raise self.fail(f"node {node!r}: {key} file {str(full)} {why}", *where)
        if not os.access(full, os.R_OK):
            raise self.fail(f"node {node!r}: {key} file {str(full)} is not readable", *where)
        return str(full)


def valid_colour(value: str) -> bool:
    """A colour the console can draw (rich's parser: names, #rgb, rgb(), color(N))."""
    from rich.color import Color, ColorParseError

    try:
        Color.parse(value)
    except ColorParseError:
        return False
    return True


def _from_ssh_config(host: str, merged: dict[str, Any]) -> None:
    """User and port from ~/.ssh/config when the inventory does not set them (identity: asyncssh reads it)."""
    if "user" in merged and "port" in merged:
        return
    config = Path(os.path.expanduser(SSH_CONFIG))
    if not config.is_file():
        return
    from asyncssh.config import SSHClientConfig

    try:
        cfg = SSHClientConfig.load(None, str(config), False, False, False, os.environ.get("USER", ""), (), host, ())
    except Exception as exc:  # asyncssh's ConfigParseError and friends: name the file
        raise InventoryError(str(config), f"cannot read the ssh config: {exc}") from None
    if "user" not in merged and cfg.get("User"):
        merged["user"] = str(cfg.get("User"))
    if "port" not in merged and cfg.get("Port"):
        merged["port"] = int(str(cfg.get("Port")))
