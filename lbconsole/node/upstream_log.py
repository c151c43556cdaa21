"""Upstream failures from nginx's error log, read from where the last read ended.

Runs on the node: Python 3.6+, standard library only. A follower keeps the
log's (device, inode) and the offset of the end of the last complete line it
read. Each poll reads only what was appended since: never the whole file. It
survives rotation (renamed, then nginx reopens it after USR1: the old file is
read to its end before it is let go) and truncation (copytruncate: seen from a
smaller size, or, when the file grew past the old offset again before the poll,
from the last bytes read no longer being there), and leaves a partial last line
for the next poll. The first poll starts at the end of the
log: failures are counted from the moment lbconsole started looking.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import json
import os
import re
from typing import Any, BinaryIO, Dict, Iterable, List, Optional, Tuple

TAIL = 4096  # bytes before the offset (whole lines: ids and times) to notice a truncated, refilled file
MAX_READ = 16 << 20  # per file per poll: a flood is read over several polls, never all at once
KINDS = ("connect", "timeout", "disabled", "no_live")
# nginx's own text comes first on the line, before ", client: "; what follows (request, host,
# referrer) is the client's and may imitate anything, so the kind is matched on nginx's part only.
_HEAD = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")
_KIND = (
    ("connect", re.compile(r"^connect\(\) (?:to \S+ )?failed \(.*\) while connecting to upstream$")),
    ("timeout", re.compile(r"^upstream timed out \(.*\) while ")),
    ("disabled", re.compile(r"^upstream server temporarily disabled while ")),
    ("no_live", re.compile(r"^no live upstreams while connecting to upstream$")),
)
_UPSTREAM_FIELD = ', upstream: "'
_TCP_PEER = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^/:\"\[\]]+):(\d+)(?:[/\"]|$)")


def classify(line: str) -> Optional[Tuple[str, List[str]]]:
    """(kind, the values of every `upstream: "..."` field) of a failure line, else None."""
    m = _HEAD.match(line)
    if m is None:
        return None
    message, _, rest = m.group(2).partition(", client: ")
    kind = next((k for k, rx in _KIND if rx.search(message)), None)
    if kind is None:
        return None
    values = []
    for part in rest.split(_UPSTREAM_FIELD)[1:]:
        end = part.find('"')
        values.append(part if end < 0 else part[:end])
    return kind, values


def _strip_scheme(value: str) -> str:
    i = value.find("://")
    return value[i + 3:] if 0 <= i < 10 else value  # stream upstreams have no scheme


def peer_of(value: str, unix_peers: Iterable[str] = ()) -> Optional[str]:
    """The peer ("10.0.0.31:8080", "[::1]:80", "unix:/run/x.sock") an upstream field names."""
    rest = _strip_scheme(value)
    if rest.startswith("unix:"):
        # nginx prints unix:PATH then ":" and the URI; a path may hold ":", so prefer a known one.
        for peer in sorted(unix_peers, key=len, reverse=True):
            if rest == peer or rest.startswith(peer + ":"):
                return peer
        return rest.rsplit(":", 1)[0] if rest.count(":") > 1 else rest
    m = _TCP_PEER.match(rest)
    return "{}:{}".format(m.group(1), m.group(2)) if m else None


def upstream_name_of(value: str) -> str:
    """The upstream a "no live upstreams" line names: "http://backend/x" -> "backend"."""
    return _strip_scheme(value).split("/", 1)[0]


def count(lines: Iterable[str], peers: Iterable[str] = ()) -> Dict[str, Any]:
    """Failures per peer and kind, and "no live upstreams" per upstream name.

    A line whose upstream fields name two different peers was imitated by a client: counted
    as unattributed, never charged to either.
    """
    known = set(peers)
    unix = [p for p in known if p.startswith("unix:")]
    servers = {}  # type: Dict[str, Dict[str, int]]
    upstreams = {}  # type: Dict[str, int]
    unattributed = 0
    for line in lines:
        found = classify(line)
        if found is None:
            continue
        kind, values = found
        if kind == "no_live":
            names = {upstream_name_of(v) for v in values}
            if len(names) == 1:
                name = names.pop()
                upstreams[name] = upstreams.get(name, 0) + 1
            else:
                unattributed += 1
            continue
        candidates = {peer_of(v, unix) for v in values} - {None}
        if known:
            candidates &= known
        if len(candidates) != 1:
            unattributed += 1
            continue
        peer = str(candidates.pop())
        per = servers.setdefault(peer, {})
        per[kind] = per.get(kind, 0) + 1
    return {"servers": servers, "upstreams": upstreams, "unattributed": unattributed}


class LogFollower:
    """Complete lines appended to one log file since the last poll."""

    def __init__(self, path: str, state: Optional[Dict[str, Any]] = None, max_read: int = MAX_READ) -> None:
        self.path, self.max_read = path, max_read
        self._file = None  # type: Optional[BinaryIO]
        self._id = (0, 0)
        self.offset = 0
        self._tail = b""
        self._retired = []  # type: List[Tuple[BinaryIO, int]]  # rotated away: read to their end
        self._pending_state = state
        self.error = None  # type: Optional[str]

    def state(self) -> Dict[str, Any]:
        return {"dev": self._id[0], "ino": self._id[1], "offset": self.offset, "tail": self._tail.hex()}

    def _open(self, at_end: bool) -> bool:
        try:
            f = open(self.path, "rb")  # noqa: SIM115 (kept open across polls: survives a rename)
        except OSError as e:
            self.error = "cannot read {}: {}".format(self.path, e.strerror or e)
            return False
        st = os.fstat(f.fileno())
        self._file, self._id, self.error = f, (st.st_dev, st.st_ino), None
        self.offset, self._tail = (st.st_size if at_end else 0), b""
        saved, self._pending_state = self._pending_state, None
        if saved and (saved.get("dev"), saved.get("ino")) == self._id and saved.get("offset", -1) <= st.st_size:
            self.offset = int(saved["offset"])  # the agent restarted: go on where it stopped
            self._tail = bytes.fromhex(str(saved.get("tail", "")))
            if self._tail and not self._same_tail(f):
                self.offset = 0  # truncated and refilled while no one looked
        elif saved:
            self.offset = 0  # rotated or truncated while no one looked: the new file is all new
        if self.offset and not self._tail:
            self._tail = self._bytes_before(f, self.offset)
        return True

    def _bytes_before(self, f: BinaryIO, offset: int) -> bytes:
        f.seek(max(0, offset - TAIL))
        return f.read(offset - max(0, offset - TAIL))

    def _same_tail(self, f: BinaryIO) -> bool:
        return self._bytes_before(f, self.offset) == self._tail

    def poll(self) -> List[str]:
        lines = []  # type: List[str]
        for f, offset in self._retired:
            lines.extend(self._read(f, offset, final=True)[0])
            f.close()
        self._retired = []
        if self._file is None and not self._open(at_end=self._pending_state is None):
            return lines
        assert self._file is not None
        try:
            st = os.stat(self.path)  # type: Optional[os.stat_result]
        except OSError:
            st = None  # renamed, not yet recreated: keep reading the old one
        if st is not None and (st.st_dev, st.st_ino) != self._id:
            got, used = self._read(self._file, self.offset, final=False)
            lines.extend(got)
            # nginx writes to the renamed file until it reopens (USR1): read it once more next poll.
            self._retired.append((self._file, self.offset + used))
            self._file = None
            if not self._open(at_end=False):
                return lines
        elif os.fstat(self._file.fileno()).st_size < self.offset or not self._same_tail(self._file):
            self.offset, self._tail = 0, b""  # truncated in place
        assert self._file is not None
        got, used = self._read(self._file, self.offset, final=False)
        if used:
            self.offset += used
            self._tail = self._bytes_before(self._file, self.offset)
        return lines + got

    def _read(self, f: BinaryIO, offset: int, final: bool) -> Tuple[List[str], int]:
        """(complete lines, bytes they used) from offset; `final` also takes a last partial line."""
        f.seek(offset)
        data = f.read(self.max_read)
        end = data.rfind(b"\n")
        if final or (end < 0 and len(data) >= self.max_read):
            end = len(data) - 1  # a file let go, or one line longer than a whole read
        if end < 0:
            return [], 0
        chunk = data[:end + 1]
        # Only "\n" ends a line: a client's \r or \x1c inside a request must not start a forged one.
        pieces = chunk.split(b"\n")
        if not pieces[-1]:
            pieces.pop()
        return [ln.decode("utf-8", "replace") for ln in pieces], len(chunk)

    def close(self) -> None:
        for f, _ in self._retired:
            f.close()
        if self._file is not None:
            self._file.close()
        self._retired, self._file = [], None


class ErrorLogs:
    """Every error log of a config, followed together; state savable across agent restarts."""

    def __init__(self, paths: Iterable[str], state: Optional[Dict[str, Dict[str, Any]]] = None) -> None:
        state = state or {}
        self.followers = {p: LogFollower(p, state.get(p)) for p in paths}

    def set_paths(self, paths: Iterable[str]) -> None:
        """After a reload the config may name other logs: keep the followers of those still named."""
        wanted = list(paths)
        for p in list(self.followers):
            if p not in wanted:
                self.followers.pop(p).close()
        for p in wanted:
            self.followers.setdefault(p, LogFollower(p))

    def poll(self, peers: Iterable[str] = ()) -> Dict[str, Any]:
        lines = []  # type: List[str]
        errors = []  # type: List[str]
        for follower in self.followers.values():
            lines.extend(follower.poll())
            if follower.error:
                errors.append(follower.error)
        result = count(lines, peers)
        result["lines"], result["errors"] = len(lines), errors
        return result

    def state(self) -> Dict[str, Dict[str, Any]]:
        return {p: f.state() for p, f in self.followers.items() if f.state()["ino"]}

    def save(self, path: str) -> None:
        tmp = "{}.tmp.{}".format(path, os.getpid())
        with open(tmp, "w") as f:
            json.dump(self.state(), f, sort_keys=True)
        os.replace(tmp, path)

    @classmethod
    def load(cls, paths: Iterable[str], state_file: str) -> "ErrorLogs":
        try:
            with open(state_file) as f:
                state = json.load(f)
        except (OSError, ValueError):
            state = None  # none yet, or unreadable: start at the end, as on a first run
        return cls(paths, state if isinstance(state, dict) else None)

    def close(self) -> None:
        for f in self.followers.values():
            f.close()
