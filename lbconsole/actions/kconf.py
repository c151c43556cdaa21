"""A small reader for keepalived.conf: statements and their blocks, with line numbers.

Enough to find virtual_server / real_server / vrrp_instance / track_file blocks
and their keywords; not a validator (`keepalived -t` is). Comments start with
`#` or `!` anywhere outside quotes; braces may share a line with statements.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import overload

from lbconsole.actions.targets import parse_real_server, parse_service
from lbconsole.errors import UsageError
from lbconsole.snapshot import join_host_port


@dataclass
class Stmt:
    keyword: str
    args: list[str]
    line: int  # 1-based line of the keyword
    block: list[Stmt] | None = None
    open_line: int | None = None  # line of its "{"
    close_line: int | None = None  # line of its "}"

    def children(self, keyword: str) -> list[Stmt]:
        return [s for s in self.block or () if s.keyword == keyword]

    def child(self, keyword: str) -> Stmt | None:
        found = self.children(keyword)
        return found[0] if found else None

    def has(self, keyword: str) -> bool:
        return self.child(keyword) is not None


@dataclass
class Config:
    stmts: list[Stmt] = field(default_factory=list)

    def top(self, *keywords: str) -> list[Stmt]:
        return [s for s in self.stmts if s.keyword in keywords]


def _tokens(text: str) -> Iterator[tuple[str, int, bool]]:
    """(token, line, quoted) triples."""
    for number, raw in enumerate(text.splitlines(), 1):
        i, n = 0, len(raw)
        while i < n:
            c = raw[i]
            if c in " \t\r":
                i += 1
            elif c in "#!":
                break
            elif c in "{}":
                yield c, number, False
                i += 1
            elif c == '"':
                end = raw.find('"', i + 1)
                end = n if end < 0 else end
                yield raw[i + 1:end], number, True
                i = end + 1
            else:
                j = i
                while j < n and raw[j] not in " \t\r{}\"#!":
                    j += 1
                yield raw[i:j], number, False
                i = j
        yield "\n", number, False


def parse(text: str) -> Config:
    root: list[Stmt] = []
    stack: list[list[Stmt]] = [root]
    owners: list[Stmt] = []
    current: Stmt | None = None
    for token, line, quoted in _tokens(text):
        if token == "\n" and not quoted:
            current = None
        elif token == "{" and not quoted:
            owner = current or (stack[-1][-1] if stack[-1] else None)
            if owner is None:  # a stray brace: keep going, as keepalived does
                owner = Stmt("", [], line)
                stack[-1].append(owner)
            owner.block, owner.open_line = [], line
            owners.append(owner)
            stack.append(owner.block)
            current = None
        elif token == "}" and not quoted:
            if len(stack) > 1:
                stack.pop()
                owners.pop().close_line = line
            current = None
        elif current is None:
            current = Stmt(token, [], line)
            stack[-1].append(current)
        else:
            current.args.append(token)
    return Config(root)


def service_key(vs: Stmt) -> str | None:
    """The Service.key of a virtual_server block, or None for groups and unparsable ones."""
    args = vs.args
    try:
        if args and args[0] == "fwmark" and len(args) >= 2:
            family = vs.child("ip_family")
            suffix = ":6" if family and family.args[:1] == ["inet6"] else ""
            return parse_service(f"fwm:{args[1]}{suffix}").key
        if len(args) >= 2 and args[0] != "group":
            protocol = vs.child("protocol")
            proto = (protocol.args[:1] or ["TCP"])[0].upper() if protocol is not None else "TCP"
            hp = join_host_port(args[0], int(args[1]))
            return parse_service(hp if proto == "TCP" else f"{proto.lower()}:{hp}").key
    except (UsageError, ValueError):
        return None
    return None


def real_server_key(vs: Stmt, rs: Stmt) -> str | None:
    try:
        port = int(rs.args[1]) if len(rs.args) >= 2 else (
            int(vs.args[1]) if len(vs.args) >= 2 and vs.args[0] != "fwmark" else 0)
        return parse_real_server(join_host_port(rs.args[0], port)).key
    except (UsageError, ValueError, IndexError):
        return None


def find_real_server(conf: Config, svc_key: str, rs_key: str) -> tuple[Stmt, Stmt] | None:
    for vs in conf.top("virtual_server"):
        if service_key(vs) != svc_key:
            continue
        for rs in vs.children("real_server"):
            if real_server_key(vs, rs) == rs_key:
                return vs, rs
    return None


def track_files(conf: Config) -> dict[str, Stmt]:
    """Top-level track_file definitions by name (vrrp_track_file is the old spelling)."""
    return {s.args[0]: s for s in conf.top("track_file", "vrrp_track_file") if s.args and s.block is not None}


def instance(conf: Config, name: str) -> Stmt | None:
    return next((s for s in conf.top("vrrp_instance") if s.args[:1] == [name]), None)


@overload
def int_arg(stmt: Stmt | None, default: int) -> int: ...
@overload
def int_arg(stmt: Stmt | None, default: None = None) -> int | None: ...
def int_arg(stmt: Stmt | None, default: int | None = None) -> int | None:
    if stmt is None or not stmt.args:
        return default
    try:
        return int(stmt.args[0])
    except ValueError:
        return default


def flag(stmt: Stmt | None) -> bool:
    """A bare keyword is on; `keyword false|no|off|0` is off."""
    if stmt is None:
        return False
    return not stmt.args or stmt.args[0].lower() not in ("false", "no", "off", "0")
