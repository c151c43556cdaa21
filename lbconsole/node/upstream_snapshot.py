"""The `upstreams` part of the agent's snapshot: configured upstreams, failures since the last poll,
probes, and lbconsole's drain records, gathered on the nginx node.

Runs on the node: Python 3.6+, standard library only. One watcher lives as long as the agent: it keeps
the parsed config while `nginx -T` prints the same, the error-log offsets, and the probe pool. A
snapshot starts the probe round first, so the agent can read its other parts while probes run, then
collects it within a bounded wait; a round not done by then is reported from the last complete one,
marked stale, and never holds the snapshot up longer.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import os
import time
from concurrent.futures import Future, TimeoutError  # noqa: F401 (Future: type comments)
from typing import Any, Dict, List, Optional, Tuple

from lbconsole.node import upstream_conf, upstream_edit
from lbconsole.node.nginx_reload import Nginx, NginxError
from lbconsole.node.upstream_log import ErrorLogs
from lbconsole.node.upstream_probe import DEFAULT_TIMEOUT, Prober, Target

STATE_FILE = "/var/lib/lbconsole/upstream-log.json"


def targets(read: Dict[str, Any], health_paths: Optional[Dict[str, str]] = None) -> List[Target]:
    """One probe per (peer, health path): an HTTP GET where the upstream has a path, else a TCP connect."""
    health_paths = health_paths or {}
    seen = set()
    out = []  # type: List[Target]
    for u in read.get("upstreams", ()):
        path = health_paths.get(u["name"])
        for s in u["servers"]:
            if s["down"]:
                continue  # drained or marked down: nothing to learn, no load to add
            for peer in s["peers"]:
                if (peer, path) not in seen:
                    seen.add((peer, path))
                    name = s["host"] if s["port"] is not None and not upstream_conf.is_ip(s["host"]) else None
                    out.append(Target(peer, path, name))
    return out


class UpstreamWatcher:
    def __init__(self, nginx: Nginx, record_dir: str = upstream_edit.RECORD_DIR, state_file: Optional[str] = None,
                 resolver: upstream_conf.Resolver = upstream_conf.system_resolver, prefix: Optional[str] = None,
                 probe_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.nginx, self.record_dir, self.state_file = nginx, record_dir, state_file
        self.reader = upstream_conf.Reader(resolver, prefix)
        self.logs = None  # type: Optional[ErrorLogs]
        self.prober = Prober()
        self.probe_timeout = probe_timeout
        self._round = None  # type: Optional[Future[List[Dict[str, Any]]]]
        self._last_probes = []  # type: List[Dict[str, Any]]
        self._last_probed_at = None  # type: Optional[float]
        self._round_started = 0.0
        self._pending = {}  # type: Dict[str, Any]
        self._read = None  # type: Optional[Dict[str, Any]]
        self._files_seen = None  # type: Optional[Tuple[Any, ...]]
        self.dumps = 0  # how many times `nginx -T` ran

    def read_config(self) -> Dict[str, Any]:
        """The config's upstreams; `nginx -T` runs only when a file it read, or a directory a wildcard
        include looks in, changed since (stat), so a steady poll starts no process."""
        if self._read is not None and self._files_seen is not None and self._files_seen == self._stat_files():
            return self._read
        self._read = self._files_seen = None
        before = self._stat_files()
        self.dumps += 1
        read = self.reader.read(self.nginx.dump())
        after = self._stat_files()  # the files this dump named: equal to before only if nothing moved meanwhile
        self._read, self._files_seen = read, (after if after is not None and after == before else None)
        return read

    def _stat_files(self) -> Optional[Tuple[Any, ...]]:
        """What the files of the last dump and the wildcard include directories are now; None: read again."""
        out = []  # type: List[Any]
        try:
            for path in self.reader.files:
                st = os.stat(path)
                out.append((path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
            for pattern in self.reader.globs:
                directory = os.path.dirname(pattern)
                if any(c in directory for c in "*?["):
                    return None  # a wildcard directory: a new one could match anywhere
                st = os.stat(directory)
                out.append((directory, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
        except OSError:
            return None
        return tuple(out) if out else None

    def start(self, health_paths: Optional[Dict[str, str]] = None) -> None:
        """Read the config and the error log, and start a probe round (unless the last is still running)."""
        self._pending = {"warnings": [], "error": None}
        try:
            read = self.read_config()
        except (NginxError, ValueError) as e:
            self._pending["error"] = str(e)
            return
        self._pending["read"] = read
        if self.logs is None:
            self.logs = ErrorLogs.load(read["error_logs"], self.state_file) if self.state_file \
                else ErrorLogs(read["error_logs"])
        else:
            self.logs.set_paths(read["error_logs"])
        peers = [p for u in read["upstreams"] for s in u["servers"] for p in s["peers"]]
        self._pending["failures"] = self.logs.poll(peers)
        if self.state_file:
            try:
                self.logs.save(self.state_file)
            except OSError as e:
                self._pending["warnings"].append("cannot save {}: {}".format(self.state_file, e.strerror))
        if self._round is None or self._round.done():
            if self._round is not None and self._round.exception() is None:
                # a round that ended after the last snapshot gave up on it: its results are the latest
                self._last_probes, self._last_probed_at = self._round.result(), self._round_started
            self._round = self.prober.submit(targets(read, health_paths), self.probe_timeout)
            self._round_started = time.time()

    def finish(self, max_wait: Optional[float] = None) -> Dict[str, Any]:
        """The snapshot part: {"upstreams", "failures", "probes", "probed_at", "probes_stale", "drains",
        "error_logs", "warnings", "error"}; upstreams is None when the config could not be read."""
        pending = self._pending
        if "read" not in pending:
            return {"upstreams": None, "failures": None, "probes": [], "probed_at": None, "probes_stale": False,
                    "drains": upstream_edit.read_records(self.record_dir), "error_logs": [],
                    "warnings": pending.get("warnings", []), "error": pending.get("error") or "not started"}
        stale = False
        if self._round is not None:
            try:
                self._last_probes = self._round.result(self.probe_timeout + 1 if max_wait is None else max_wait)
                self._last_probed_at = self._round_started
            except TimeoutError:
                stale = True
        read, failures = pending["read"], pending["failures"]
        return {"upstreams": read["upstreams"], "failures": failures, "probes": self._last_probes,
                "probed_at": self._last_probed_at, "probes_stale": stale,
                "drains": upstream_edit.read_records(self.record_dir), "error_logs": read["error_logs"],
                "warnings": pending["warnings"] + read["warnings"] + failures.get("errors", []), "error": None}

    def snapshot(self, health_paths: Optional[Dict[str, str]] = None,
                 max_wait: Optional[float] = None) -> Dict[str, Any]:
        self.start(health_paths)
        return self.finish(max_wait)

    def close(self) -> None:
        self.prober.close()
        if self.logs is not None:
            self.logs.close()
