"""The upstreams of an effective nginx config: servers and their parameters, and who proxies to them.

Runs on the node: Python 3.6+, standard library only. A server given by name
is resolved here, on the node, as nginx resolved it at start (every address
becomes a peer); the resolver is a parameter so tests need no DNS.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import re
import socket
from typing import Any, Callable, Dict, List, Optional, Tuple

from lbconsole.node.nginx_conf import Config, Directive, walk

Resolver = Callable[[str, int], List[str]]
DEFAULT_ERROR_LOG = "/var/log/nginx/error.log"
DEFAULT_PID_FILE = "/run/nginx.pid"
# The directives that hand a request to an upstream, and the schemes their value may start with.
PASS_DIRECTIVES = ("proxy_pass", "fastcgi_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_TIME_UNITS = {"y": 31536000, "M": 2592000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def system_resolver(host: str, port: int) -> List[str]:
    out = []  # type: List[str]
    for _fam, _t, _p, _c, sockaddr in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM):
        if sockaddr[0] not in out:
            out.append(str(sockaddr[0]))
    return out


def parse_seconds(value: str) -> int:
    """nginx's time syntax in seconds ("10", "10s", "1m30s"); ValueError if nginx would reject it."""
    if value.isdigit():
        return int(value)
    if value[:-1].isdigit() and value[-1:] == "s":
        return int(value[:-1])
    total, num = 0, ""
    for ch in value:
        if ch.isdigit():
            num += ch
        elif ch in _TIME_UNITS and num:
            total, num = total + int(num) * _TIME_UNITS[ch], ""
        elif ch != " ":
            raise ValueError("invalid time {!r}".format(value))
    if not value.strip():
        raise ValueError("empty time")
    return total + int(num or 0)


def _count(value: str, default: int) -> int:
    return int(value) if value.isdigit() else default


def split_address(spec: str, default_port: Optional[int] = 80) -> Tuple[str, Optional[int]]:
    """("host", port) of "host:port", "[v6]:port", "host"; ("unix:/path", None) for a socket."""
    if spec.startswith("unix:"):
        return spec, None
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError("bad address {!r}".format(spec))
        return host, int(rest[1:]) if rest else default_port
    host, sep, port = spec.rpartition(":")
    if not sep:
        return spec, default_port
    if ":" in host:  # a bare IPv6 address: nginx takes it whole
        return spec, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("bad port in {!r}".format(spec))
    return host, int(port)


def peer_key(address: str, port: Optional[int]) -> str:
    """How lbconsole names a peer: "10.0.0.31:8080", "[::1]:8080", "unix:/run/app.sock"."""
    if port is None:
        return address
    return "[{}]:{}".format(address, port) if ":" in address else "{}:{}".format(address, port)


def is_ip(host: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return True
        except (OSError, ValueError):
            pass
    return False


class Server:
    """One `server` directive of an upstream, with the peers it became."""

    __slots__ = ("addresses", "backup", "down", "error", "fail_timeout", "file", "host", "line", "max_conns",
                 "max_fails", "port", "resolve", "spec", "weight")

    def __init__(self, d: Directive, default_port: Optional[int]) -> None:
        args = d.args
        self.spec = args[0] if args else ""
        self.host, self.port = split_address(self.spec, default_port)
        self.file, self.line = d.file, d.line
        self.addresses = []  # type: List[str]
        self.error = None  # type: Optional[str]
        self.weight, self.max_fails, self.fail_timeout, self.max_conns = 1, 1, 10, 0
        self.backup = self.down = self.resolve = False
        for p in args[1:]:  # straight-line tests: this runs for every server of every upstream
            if p == "down":
                self.down = True
            elif p == "backup":
                self.backup = True
            elif p == "resolve":
                self.resolve = True
            elif p.startswith("max_fails="):
                self.max_fails = _count(p[10:], 1)
            elif p.startswith("fail_timeout="):
                self.fail_timeout = parse_seconds(p[13:])
            elif p.startswith("weight="):
                self.weight = _count(p[7:], 1)
            elif p.startswith("max_conns="):
                self.max_conns = _count(p[10:], 0)

    def resolve_with(self, resolver: Resolver) -> None:
        if self.port is None or is_ip(self.host):
            self.addresses = [self.host]
            return
        try:
            self.addresses = resolver(self.host, self.port)
        except (OSError, UnicodeError) as e:
            self.error = "cannot resolve {}: {}".format(self.host, e)

    def peers(self) -> List[str]:
        return [peer_key(a, self.port) for a in self.addresses]

    def to_dict(self) -> Dict[str, Any]:
        return {"spec": self.spec, "host": self.host, "port": self.port, "addresses": self.addresses,
                "peers": self.peers(), "weight": self.weight, "max_fails": self.max_fails,
                "fail_timeout": self.fail_timeout, "max_conns": self.max_conns, "backup": self.backup,
                "down": self.down, "resolve": self.resolve, "file": self.file, "line": self.line,
                "error": self.error}


class Upstream:
    def __init__(self, d: Directive, context: str) -> None:
        self.name = d.args[0] if d.args else ""
        self.context = context  # http | stream
        self.file, self.line = d.file, d.line
        self.keepalive = None  # type: Optional[int]
        self.servers = []  # type: List[Server]
        self.used_by = []  # type: List[Dict[str, Any]]
        default_port = 80 if context == "http" else None
        self.errors = []  # type: List[str]
        for c in d.block or []:
            if c.name == "server":
                try:
                    self.servers.append(Server(c, default_port))
                except ValueError as e:  # nginx -t would refuse it; say so, keep the rest
                    self.errors.append("{}:{}: upstream {}: {}".format(c.file, c.line, self.name, e))
            elif c.name == "keepalive" and c.args and c.args[0].isdigit():
                self.keepalive = int(c.args[0])

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "context": self.context, "file": self.file, "line": self.line,
                "keepalive": self.keepalive, "servers": [s.to_dict() for s in self.servers],
                "used_by": self.used_by}


def _pass_target(directive: str, value: str) -> Tuple[str, bool]:
    """(host part, has an explicit port or is a socket) of a *_pass value."""
    rest = _SCHEME.sub("", value, count=1)
    if rest.startswith("unix:"):
        return rest, True
    host = rest.split("/", 1)[0]
    if host.startswith("["):
        return host, True
    name, sep, _port = host.partition(":")
    return name, bool(sep)


def _site(parents: "Tuple[Directive, ...]") -> Dict[str, Any]:
    """server_name, listen and location path of the innermost server/location around a directive."""
    site = {"server_name": [], "listen": [], "location": None}  # type: Dict[str, Any]
    for p in parents:
        if p.name == "server" and p.block is not None:
            site["server_name"] = [a for c in p.block if c.name == "server_name" for a in c.args]
            site["listen"] = [c.args[0] for c in p.block if c.name == "listen" and c.args]
        elif p.name == "location":
            site["location"] = " ".join(p.args)
    return site


def read(config: Config, resolver: Resolver = system_resolver, prefix: Optional[str] = None) -> Dict[str, Any]:
    """Upstreams, who proxies to them, *_pass values only known at run time, error logs, pid file.

    prefix: nginx's -p (relative error_log and pid paths); default the main file's directory.
    """
    base = (prefix or config.prefix).rstrip("/")
    upstreams = {}  # type: Dict[Tuple[str, str], Upstream]
    passes = []  # type: List[Tuple[Directive, Tuple[Directive, ...], str]]
    error_logs = []  # type: List[str]
    pid_file = DEFAULT_PID_FILE
    for d, parents in walk(config.tree):
        context = parents[0].name if parents else "main"
        if d.name == "upstream" and d.block is not None and context in ("http", "stream"):
            up = Upstream(d, context)
            upstreams[(context, up.name.lower())] = up
        elif d.name in PASS_DIRECTIVES and d.args:
            passes.append((d, parents, context))
        elif d.name == "error_log" and d.args:
            path = d.args[0]
            if path not in ("stderr",) and not path.startswith(("syslog:", "memory:")):
                path = path if path.startswith("/") else base + "/" + path
                if path not in error_logs:
                    error_logs.append(path)
        elif d.name == "pid" and not parents and d.args:
            pid_file = d.args[0] if d.args[0].startswith("/") else base + "/" + d.args[0]
    dynamic = []  # type: List[Dict[str, Any]]
    for d, parents, context in passes:
        use = dict(_site(parents), directive=d.name, value=d.args[0], file=d.file, line=d.line)
        if "$" in d.args[0]:
            dynamic.append(use)  # resolved per request: no static upstream to attach it to
            continue
        host, explicit = _pass_target(d.name, d.args[0])
        target = upstreams.get((context, host.lower()))
        if target is not None and not explicit:  # nginx: an upstream "may not have port"
            target.used_by.append(use)
    for up in upstreams.values():
        for s in up.servers:
            s.resolve_with(resolver)
    warnings = list(config.warnings)
    warnings.extend(e for up in upstreams.values() for e in up.errors)
    warnings.extend(s.error for up in upstreams.values() for s in up.servers if s.error)
    return {"upstreams": [u.to_dict() for u in upstreams.values()], "dynamic_passes": dynamic,
            "error_logs": error_logs or [DEFAULT_ERROR_LOG], "pid_file": pid_file, "warnings": warnings}


class Reader:
    """read() of `nginx -T` output, remembered while the dump stays the same (the long-lived agent polls
    every few seconds; the config changes rarely). Names stay resolved as they were when the dump was
    first read, which is closer to nginx (it resolves at load) than resolving again each poll."""

    def __init__(self, resolver: Resolver = system_resolver, prefix: Optional[str] = None) -> None:
        self.resolver, self.prefix = resolver, prefix
        self._dump = None  # type: Optional[str]
        self._result = {}  # type: Dict[str, Any]
        self.files = []  # type: List[str]  # the files the last dump held
        self.globs = []  # type: List[str]  # and its wildcard includes

    def read(self, dump: str) -> Dict[str, Any]:
        """The upstreams of this dump; the same (not to be changed) dict while the dump is unchanged."""
        if dump != self._dump:
            config = Config.from_dump(dump)
            self._result = read(config, self.resolver, self.prefix)
            self._dump = dump
            self.files, self.globs = list(config.texts), list(config.globs)
        return self._result
