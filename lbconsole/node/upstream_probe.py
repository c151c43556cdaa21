"""Active probes from the nginx node to each upstream peer: a TCP connect, or an HTTP GET of a health path.

Runs on the node: Python 3.6+, standard library only. One round probes every
peer at once from a single thread (non-blocking sockets and a selector, at most
MAX_IN_FLIGHT open at a time), each probe with its own deadline for connect,
request and status line together. `Prober.submit` runs the round in the
background and returns a Future at once, so a black-holed backend never holds
up the agent's other work.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import errno
import os
import queue
import selectors
import socket
import threading
import time
from concurrent.futures import Future
from typing import Any, Dict, List, Optional, Sequence, Tuple

DEFAULT_TIMEOUT = 2.0
MAX_IN_FLIGHT = 256  # open sockets at once: well under the usual 1024 descriptors
USER_AGENT = "lbconsole-probe"


class Target:
    """peer: "10.0.0.31:8080", "[::1]:8080" or "unix:/run/app.sock"; path: None for a TCP connect."""

    __slots__ = ("path", "peer", "server_name")

    def __init__(self, peer: str, path: Optional[str] = None, server_name: Optional[str] = None) -> None:
        if path is not None and (not path.startswith("/") or any(c in path for c in " \r\n")):
            raise ValueError("health path must start with / and hold no space or line break: {!r}".format(path))
        self.peer, self.path, self.server_name = peer, path, server_name


def _address(peer: str) -> Tuple[int, Any]:
    if peer.startswith("unix:"):
        return socket.AF_UNIX, peer[5:]
    host, _, port = peer.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


class _Probe:
    def __init__(self, target: Target, timeout: float) -> None:
        self.target, self.timeout = target, timeout
        self.start = time.monotonic()
        self.deadline = self.start + timeout
        self.result = {"peer": target.peer, "ok": False, "ms": None, "status": None,
                       "error": None}  # type: Dict[str, Any]
        self.sock = None  # type: Optional[socket.socket]
        self.connected = False
        self.out = b""
        self.data = b""

    def begin(self) -> bool:
        """Start the connect; False when it is already over (an error)."""
        try:
            family, addr = _address(self.target.peer)
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setblocking(False)
            err = self.sock.connect_ex(addr)
        except (OSError, ValueError) as e:
            return self.fail(str(e.strerror if isinstance(e, OSError) and e.strerror else e))
        if err not in (0, errno.EINPROGRESS, errno.EAGAIN):
            return self.fail(_strerror(err))
        if self.target.path is not None:
            host = self.target.server_name or (self.target.peer if family != socket.AF_UNIX else "localhost")
            self.out = "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: {}\r\nConnection: close\r\n\r\n".format(
                self.target.path, host, USER_AGENT).encode("latin-1")
        return True

    def fail(self, error: str) -> bool:
        self.result["error"] = error
        return False

    def ms(self) -> float:
        return round((time.monotonic() - self.start) * 1000, 2)

    def on_event(self, mask: int) -> bool:
        """Progress on a ready socket; False when the probe is over."""
        assert self.sock is not None
        if not self.connected:
            err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                return self.fail(_strerror(err))
            self.connected = True
            if self.target.path is None:
                self.result["ok"], self.result["ms"] = True, self.ms()
                return False
        try:
            if self.out and mask & selectors.EVENT_WRITE:
                self.out = self.out[self.sock.send(self.out):]
                return True
            if mask & selectors.EVENT_READ:
                chunk = self.sock.recv(4096)
                self.data += chunk
                if b"\n" in self.data or not chunk or len(self.data) >= 4096:
                    return self.status()
        except OSError as e:
            return self.fail(e.strerror or str(e))
        return True

    def status(self) -> bool:
        parts = self.data.split(b"\n", 1)[0].split()
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            return self.fail("not an HTTP answer: {!r}".format(self.data[:60]))
        status = int(parts[1])
        self.result.update(status=status, ms=self.ms(), ok=200 <= status < 400)
        if not self.result["ok"]:
            self.result["error"] = "HTTP {}".format(status)
        return False

    def events(self) -> int:
        if not self.connected or self.out:
            return selectors.EVENT_WRITE
        return selectors.EVENT_READ

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()


def _strerror(err: int) -> str:
    return os.strerror(err)


def probe_all(targets: Sequence[Target], timeout: float = DEFAULT_TIMEOUT,
              max_in_flight: int = MAX_IN_FLIGHT) -> List[Dict[str, Any]]:
    """Every target's {"peer", "ok", "ms", "status", "error"}, in order; ms: connect, or to the status line."""
    probes = []  # type: List[_Probe]
    waiting = list(range(len(targets)))[::-1]
    sel = selectors.DefaultSelector()
    live = {}  # type: Dict[int, _Probe]
    results = [None] * len(targets)  # type: List[Optional[Dict[str, Any]]]
    try:
        while waiting or live:
            while waiting and len(live) < max_in_flight:
                i = waiting.pop()
                p = _Probe(targets[i], timeout)
                probes.append(p)
                if p.begin():
                    assert p.sock is not None
                    live[i] = p
                    sel.register(p.sock, p.events(), i)
                else:
                    p.close()
                    results[i] = p.result
            if not live:
                continue
            now = time.monotonic()
            wait = max(0.0, min(p.deadline for p in live.values()) - now)
            for key, mask in sel.select(wait):
                i = int(key.data)
                p = live[i]
                if p.on_event(mask):
                    assert p.sock is not None
                    sel.modify(p.sock, p.events(), i)
                else:
                    _finish(sel, live, results, i)
            now = time.monotonic()
            for i in [i for i, p in live.items() if p.deadline <= now]:
                live[i].fail("timed out after {:g} s".format(timeout))
                _finish(sel, live, results, i)
    finally:
        for p in live.values():
            p.close()
        sel.close()
    return [r if r is not None else {"peer": t.peer, "ok": False, "ms": None, "status": None, "error": "not run"}
            for r, t in zip(results, targets)]


def _finish(sel: selectors.BaseSelector, live: Dict[int, _Probe], results: List[Optional[Dict[str, Any]]],
            i: int) -> None:
    p = live.pop(i)
    assert p.sock is not None
    sel.unregister(p.sock)
    p.close()
    results[i] = p.result


_Job = Tuple[Sequence[Target], float, "Future[List[Dict[str, Any]]]"]


class Prober:
    """Runs rounds in the background, one at a time (a new one waits for the last), on one worker
    thread started at the first round and kept: a steady poll starts no thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs = queue.Queue()  # type: queue.Queue[Optional[_Job]]
        self._worker = None  # type: Optional[threading.Thread]

    def submit(self, targets: Sequence[Target], timeout: float = DEFAULT_TIMEOUT) -> "Future[List[Dict[str, Any]]]":
        done = Future()  # type: Future[List[Dict[str, Any]]]
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="lbconsole-probe", daemon=True)
                self._worker.start()
            self._jobs.put((targets, timeout, done))
        return done

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            targets, timeout, done = job
            try:
                done.set_result(probe_all(targets, timeout))
            except Exception as e:  # noqa: BLE001 (handed to whoever waits on the future)
                done.set_exception(e)

    def close(self) -> None:
        """The worker ends after the round it runs (a daemon thread: it never holds the agent's exit)."""
        with self._lock:
            if self._worker is not None:
                self._jobs.put(None)
                self._worker = None
