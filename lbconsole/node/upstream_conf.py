"""The upstreams of an effective nginx config: servers and their parameters, and who proxies to them.

Runs on the node: Python 3.6+, standard library only. A server given by name
is resolved here, on the node, as nginx resolved it at start (every address
becomes a peer); the resolver is a parameter so tests need no DNS.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import re
import socket
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from lbconsole.node.gcpause import gc_paused
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


Params = Tuple[int, int, int, int, bool, bool, bool]  # weight, max_fails, fail_timeout, max_conns, backup, down, resolve


def server_params(params: Tuple[str, ...]) -> Params:
    """The parameters of a `server` line after its address; ValueError for a time nginx would reject."""
    weight, max_fails, fail_timeout, max_conns = 1, 1, 10, 0
    backup = down = resolve = False
    for p in params:
        if p == "down":
            down = True
        elif p == "backup":
            backup = True
        elif p == "resolve":
            resolve = True
        elif p.startswith("max_fails="):
            max_fails = _count(p[10:], 1)
        elif p.startswith("fail_timeout="):
            fail_timeout = parse_seconds(p[13:])
        elif p.startswith("weight="):
            weight = _count(p[7:], 1)
        elif p.startswith("max_conns="):
            max_conns = _count(p[10:], 0)
    return weight, max_fails, fail_timeout, max_conns, backup, down, resolve


_INET = socket.AF_INET
_pton = socket.inet_pton


Key = Union[str, Tuple[str, ...]]  # a server's parameters: their text (a flat block) or its words


def _server(spec: str, key: Key, file: str, line: int, default_port: Optional[int],
            cache: "Dict[Key, Dict[str, Any]]") -> Dict[str, Any]:
    """One `server` directive of an upstream as a dict; a name's peers are filled in by _resolve.

    This runs for every server of every upstream: the parameters, mostly the same on every line of an
    upstream, are parsed once per distinct tuple into a dict that each server copies, and
    "a.b.c.d:port" takes a short way (its peer is the spec as written)."""
    template = cache.get(key)
    host, sep, port_text = spec.rpartition(":")
    if sep and port_text.isdigit() and ":" not in host and host[:1] != "[" and host != "unix" \
            and 0 < int(port_text) < 65536:
        port = int(port_text)  # type: Optional[int]
        try:
            _pton(_INET, host)
            addresses, peers = [host], [host + ":" + str(port)]
        except OSError:
            addresses, peers = [], []  # a name: resolved once every upstream is read
    else:
        host, port = split_address(spec, default_port)
        if port is None:
            addresses, peers = [host], [host]
        elif is_ip(host):
            addresses, peers = [host], [peer_key(host, port)]
        else:
            addresses, peers = [], []
    if template is None:
        w = server_params(tuple(key.split()) if isinstance(key, str) else key)
        template = cache[key] = {
            "spec": "", "host": "", "port": None, "addresses": None, "peers": None, "weight": w[0],
            "max_fails": w[1], "fail_timeout": w[2], "max_conns": w[3], "backup": w[4], "down": w[5],
            "resolve": w[6], "file": "", "line": 0, "error": None}
    server = template.copy()
    server["spec"], server["host"], server["port"] = spec, host, port
    server["addresses"], server["peers"], server["file"], server["line"] = addresses, peers, file, line
    return server


def _resolve(server: Dict[str, Any], resolver: Resolver) -> None:
    host, port = server["host"], server["port"]
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as e:
        server["error"] = "cannot resolve {}: {}".format(host, e)
        return
    server["addresses"] = addresses
    server["peers"] = [peer_key(a, port) for a in addresses]


def _upstream(d: Directive, context: str, cache: "Dict[Key, Dict[str, Any]]", errors: List[str]
              ) -> Dict[str, Any]:
    name = d.args[0] if d.args else ""
    default_port = 80 if context == "http" else None  # type: Optional[int]
    keepalive = None  # type: Optional[int]
    servers = []  # type: List[Dict[str, Any]]
    if d.flat is not None:  # read straight from the texts: no Directive nor word list per server
        file = d.file
        for text, line in zip(*d.flat):
            w = text.split(None, 2)
            if w[0] != "server":
                if w[0] == "keepalive" and len(w) > 1 and w[1].isdigit():
                    keepalive = int(w[1])
                continue
            spec, key = (w[1], w[2]) if len(w) == 3 else (w[1] if len(w) > 1 else "", "")
            # The usual line, "server a.b.c.d:port PARAMS" with PARAMS seen before, inline (this loop
            # runs for every server); anything else, or anything that raises, goes through _server.
            template = cache.get(key)
            host, _, port_text = spec.rpartition(":")
            if template is not None and port_text.isdigit():
                try:  # an IPv4 literal (inet_pton takes nothing else): no "[", ":" or "unix" in it
                    port = int(port_text)
                    _pton(_INET, host)
                    if 0 < port < 65536:
                        server = template.copy()
                        server["spec"], server["host"], server["port"] = spec, host, port
                        server["addresses"], server["peers"] = [host], [host + ":" + str(port)]
                        server["file"], server["line"] = file, line
                        servers.append(server)
                        continue
                except (ValueError, OSError):
                    pass
            try:
                servers.append(_server(spec, key, file, line, default_port, cache))
            except ValueError as e:  # nginx -t would refuse it; say so, keep the rest
                errors.append("{}:{}: upstream {}: {}".format(file, line, name, e))
        return _upstream_dict(d, name, context, keepalive, servers)
    for c in d.block or []:
        if c.name == "server":
            try:
                servers.append(_server(c.args[0] if c.args else "", tuple(c.args[1:]), c.file, c.line,
                                       default_port, cache))
            except ValueError as e:
                errors.append("{}:{}: upstream {}: {}".format(c.file, c.line, name, e))
        elif c.name == "keepalive" and c.args and c.args[0].isdigit():
            keepalive = int(c.args[0])
    return _upstream_dict(d, name, context, keepalive, servers)


def _upstream_dict(d: Directive, name: str, context: str, keepalive: Optional[int],
                   servers: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"name": name, "context": context, "file": d.file, "line": d.line, "keepalive": keepalive,
            "servers": servers, "used_by": []}


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
    with gc_paused():
        return _read(config, resolver, prefix)


def _read(config: Config, resolver: Resolver, prefix: Optional[str]) -> Dict[str, Any]:
    base = (prefix or config.prefix).rstrip("/")
    upstreams = {}  # type: Dict[Tuple[str, str], Dict[str, Any]]
    errors = {}  # type: Dict[Tuple[str, str], List[str]]  # per upstream: a later one of the same name replaces it
    cache = {}  # type: Dict[Key, Dict[str, Any]]
    passes = []  # type: List[Tuple[Directive, Tuple[Directive, ...], str]]
    error_logs = []  # type: List[str]
    pid_file = DEFAULT_PID_FILE
    # Nothing nginx accepts inside an upstream block matters here but its servers and keepalive,
    # which _upstream reads: the walk does not go into it.
    for d, parents in walk(config.tree, skip=("upstream",)):
        context = parents[0].name if parents else "main"
        if d.name == "upstream" and (d.flat is not None or d.block is not None) and context in ("http", "stream"):
            errs = []  # type: List[str]
            up = _upstream(d, context, cache, errs)
            upstreams[(context, up["name"].lower())] = up
            errors[(context, up["name"].lower())] = errs
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
            target["used_by"].append(use)
    for up in upstreams.values():
        for server in up["servers"]:
            if not server["addresses"]:
                _resolve(server, resolver)
    warnings = list(config.warnings)
    warnings.extend(e for errs in errors.values() for e in errs)
    warnings.extend(s["error"] for up in upstreams.values() for s in up["servers"] if s["error"])
    return {"upstreams": list(upstreams.values()), "dynamic_passes": dynamic,
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
