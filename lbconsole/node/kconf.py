"""keepalived's running config, read on the node, and whether it is prepared for a
keepalived-safe drain or a graceful failover (docs/prepared-cluster.md).

The config file is the running keepalived's -f (from /proc/PID/cmdline), else Debian's default;
`include`s are expanded (globs, up to 3 deep) in Python, as keepalived does. A small reader:
statements and their blocks, enough to find virtual_server / real_server / vrrp_instance /
track_file; `keepalived -t` is the validator. Ported from lbconsole/actions/kconf.py and
prepared.py.
"""

import glob
import os
import time
from typing import (
    Any,
    Dict,
    Iterator,
    List,
    Optional,
    Tuple,
)

from .keys import join_host_port, parse_real_server, parse_service
from .protocol import NodeError

DEFAULT_CONF = "/etc/keepalived/keepalived.conf"
RACY_NS = 1_000_000_000


class Stmt:
    __slots__ = ("args", "block", "keyword")

    def __init__(self, keyword: str, args: Optional[List[str]] = None) -> None:
        self.keyword, self.args = keyword, args or []
        self.block: Optional[List[Stmt]] = None

    def children(self, keyword: str) -> List["Stmt"]:
        return [s for s in self.block or () if s.keyword == keyword]

    def child(self, keyword: str) -> Optional["Stmt"]:
        found = self.children(keyword)
        return found[0] if found else None


def _tokens(text: str) -> Iterator[Tuple[str, bool]]:
    for raw in text.splitlines():
        i, n = 0, len(raw)
        while i < n:
            c = raw[i]
            if c in " \t\r":
                i += 1
            elif c in "#!":
                break
            elif c in "{}":
                yield c, False
                i += 1
            elif c == '"':
                end = raw.find('"', i + 1)
                end = n if end < 0 else end
                yield raw[i + 1:end], True
                i = end + 1
            else:
                j = i
                while j < n and raw[j] not in " \t\r{}\"#!":
                    j += 1
                yield raw[i:j], False
                i = j
        yield "\n", False


def parse(text: str) -> List[Stmt]:
    """The top-level statements."""
    root: List[Stmt] = []
    stack = [root]
    current: Optional[Stmt] = None
    for token, quoted in _tokens(text):
        if token == "\n" and not quoted:
            current = None
        elif token == "{" and not quoted:
            owner = current or (stack[-1][-1] if stack[-1] else None)
            if owner is None:
                owner = Stmt("")
                stack[-1].append(owner)
            owner.block = []
            stack.append(owner.block)
            current = None
        elif token == "}" and not quoted:
            if len(stack) > 1:
                stack.pop()
            current = None
        elif current is None:
            current = Stmt(token)
            stack[-1].append(current)
        else:
            current.args.append(token)
    return root


def conf_path(pid: int) -> str:
    """The running keepalived's config file (its -f / --use-file), else Debian's default."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except (OSError, TypeError):
        return DEFAULT_CONF
    for i, arg in enumerate(argv):
        a = arg.decode("utf-8", "replace")
        if a in ("-f", "--use-file") and i + 1 < len(argv):
            return argv[i + 1].decode("utf-8", "replace")
        if a.startswith("--use-file="):
            return a[11:]
        if a.startswith("-f") and len(a) > 2 and not a.startswith("--"):
            return a[2:]
    return DEFAULT_CONF


Stamp = Tuple[str, int, int, int]


def _stamp(path: str) -> Stamp:
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size, st.st_ino


def read_text(path: str, depth: int = 0, stamps: Optional[List[Stamp]] = None) -> str:
    """The config with includes expanded (as keepalived does: globs, relative to the file). stamps, if given,
    gets what was read: each file, and each directory an include pattern lists (a new file there changes it)."""
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        if stamps is not None:
            st = os.fstat(f.fileno())
            stamps.append((path, st.st_mtime_ns, st.st_size, st.st_ino))
        lines = f.read().split("\n")
    out = []
    for line in lines:
        words = line.split()
        if depth < 3 and len(words) >= 2 and words[0] == "include":
            pattern = words[1] if words[1].startswith("/") else os.path.join(os.path.dirname(path), words[1])
            if stamps is not None:
                folder = os.path.dirname(pattern)
                # a pattern in its directory part (conf.d/*/x.conf) is not stamped: such a config is read each time
                stamps.append(_stamp(folder) if not glob.has_magic(folder) else ("", -1, -1, -1))
            for inc in sorted(glob.glob(pattern)):
                if os.path.isfile(inc):
                    out.append(read_text(inc, depth + 1, stamps))
            continue
        out.append(line)
    return "\n".join(out)


def _unchanged(stamps: Tuple[Stamp, ...]) -> bool:
    try:
        return bool(stamps) and all(_stamp(s[0]) == s for s in stamps)
    except OSError:
        return False


# The last config read: its files' stamps, its text and its statements (rebound whole: threads). A drain reads
# the config on every action; a stat of each file is cheaper than reading and expanding them again.
_last: Tuple[Tuple[Stamp, ...], str, List["Stmt"]] = ((), "", [])


def load(pid: int) -> Tuple[List[Stmt], str]:
    """(statements, path), or raise NodeError-free OSError when the file cannot be read.

    The files are read again when one of them (or an include directory) changed since the last read; they
    are parsed again only when their text changed (callers only read the statements)."""
    global _last
    path = conf_path(pid)
    last = _last
    if last[0] and last[0][0][0] == path and _unchanged(last[0]):
        return last[2], path
    stamps: List[Stamp] = []
    read_at = int(time.time() * 1e9)
    text = read_text(path, stamps=stamps)
    # As git does with its index: a file changed in the last second may change again within the clock's
    # granularity, keeping its stamp; it is not trusted, so the next load reads again.
    trusted = all(s[1] < read_at - RACY_NS for s in stamps)
    last = _last = (tuple(stamps) if trusted else (), text, last[2] if last[1] == text else parse(text))
    return last[2], path


def top(conf: List[Stmt], *keywords: str) -> List[Stmt]:
    return [s for s in conf if s.keyword in keywords]


def int_arg(stmt: Optional[Stmt], default: Optional[int] = None) -> Optional[int]:
    if stmt is None or not stmt.args:
        return default
    try:
        return int(stmt.args[0])
    except ValueError:
        return default


def flag(stmt: Optional[Stmt]) -> bool:
    return stmt is not None and (not stmt.args or stmt.args[0].lower() not in ("false", "no", "off", "0"))


def service_key(vs: Stmt) -> Optional[str]:
    args = vs.args
    try:
        if args and args[0] == "fwmark" and len(args) >= 2:
            fam = vs.child("ip_family")
            return parse_service("fwm:{}{}".format(args[1], ":6" if fam and fam.args[:1] == ["inet6"] else "")).key
        if len(args) >= 2 and args[0] != "group":
            proto = vs.child("protocol")
            name = (proto.args[:1] or ["TCP"])[0].upper() if proto else "TCP"
            hp = join_host_port(args[0], int(args[1]))
            return parse_service(hp if name == "TCP" else f"{name.lower()}:{hp}").key
    except (NodeError, ValueError):
        return None
    return None


def real_server_key(vs: Stmt, rs: Stmt) -> Optional[str]:
    try:
        port = int(rs.args[1]) if len(rs.args) >= 2 else (
            int(vs.args[1]) if len(vs.args) >= 2 and vs.args[0] != "fwmark" else 0)
        return parse_real_server(join_host_port(rs.args[0], port))
    except (NodeError, ValueError, IndexError):
        return None


_index: Tuple[Optional[List[Stmt]], Dict[Tuple[str, str], Tuple[Stmt, Stmt]]] = (None, {})


def find_real_server(conf: List[Stmt], svc_key: str, rs_key: str) -> Optional[Tuple[Stmt, Stmt]]:
    global _index
    index = _index
    if index[0] is not conf:  # keys parsed once per config (load() keeps the same statements while unchanged)
        found: Dict[Tuple[str, str], Tuple[Stmt, Stmt]] = {}
        for vs in top(conf, "virtual_server"):
            key = service_key(vs)
            if key is not None:
                for rs in vs.children("real_server"):
                    rkey = real_server_key(vs, rs)
                    if rkey is not None:
                        found.setdefault((key, rkey), (vs, rs))
        index = _index = (conf, found)
    return index[1].get((svc_key, rs_key))


def configured_weight(conf: Optional[List[Stmt]], svc_key: str, rs_key: str) -> Optional[int]:
    found = find_real_server(conf, svc_key, rs_key) if conf is not None else None
    return int_arg(found[1].child("weight"), 1) if found else None


def track_files(conf: List[Stmt]) -> Dict[str, Stmt]:
    return {s.args[0]: s for s in top(conf, "track_file", "vrrp_track_file") if s.args and s.block is not None}


def _file_of(definition: Stmt) -> Optional[str]:
    stmt = definition.child("file")
    return stmt.args[0] if stmt and stmt.args else None


def drain_track(conf: List[Stmt], svc_key: str, rs_key: str) -> Tuple[Optional[str], Optional[str]]:
    """(track file path, None) when the real server is prepared, else (None, what is missing)."""
    found = find_real_server(conf, svc_key, rs_key)
    if found is None:
        return None, f"no real_server {rs_key} in virtual_server {svc_key} of keepalived.conf"
    vs, rs = found
    defs = track_files(conf)
    for check in rs.children("FILE_CHECK"):
        ref = check.child("track_file")
        if not ref or not ref.args or ref.args[0] not in defs:
            continue
        name, definition = ref.args[0], defs[ref.args[0]]
        weight = int_arg(check.child("weight")) or int_arg(definition.child("weight"), 1)
        path = _file_of(definition)
        if weight != 0:
            return None, f"track_file {name} needs weight 0 (has {weight})"
        if not path:
            return None, f"track_file {name} has no file"
        if not flag(rs.child("inhibit_on_failure") or vs.child("inhibit_on_failure")):
            return None, f"real_server {rs_key} needs inhibit_on_failure (else a drain removes it)"
        return path, None
    return None, f"real_server {rs_key} of {svc_key} has no FILE_CHECK with a track_file"


def failover_track(conf: List[Stmt], instance: str) -> Tuple[Optional[str], Any]:
    """(track file path, its weight) of the instance's negative-weight track_file, or (None, why)."""
    inst = next((s for s in top(conf, "vrrp_instance") if s.args[:1] == [instance]), None)
    if inst is None:
        return None, f"no vrrp_instance {instance} in keepalived.conf"
    defs = track_files(conf)
    for block in inst.children("track_file"):
        for entry in block.block or ():
            if entry.keyword not in defs:
                continue
            override = int(entry.args[1]) if entry.args[:1] == ["weight"] and len(entry.args) > 1 \
                and entry.args[1].lstrip("-").isdigit() else None
            defined = int_arg(defs[entry.keyword].child("weight"), 1)
            weight = override or (1 if defined is None else defined)
            path = _file_of(defs[entry.keyword])
            if weight < 0 and path:
                return path, weight
    return None, f"vrrp_instance {instance} tracks no track_file with a negative weight (e.g. lbc_failover)"
