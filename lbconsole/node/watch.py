"""The `watch` verb's event sources, each a thread that pushes events as they happen:
- addr: an address added to or removed from any interface (rtnetlink), at the node's time;
- keepalived: started or stopped (a pidfd of the running one: its exit wakes the thread; while
  none runs, or where os.pidfd_open is missing (Python < 3.9), its PID file checked every CHECK_S);
- vrrp: state changes from keepalived's notify FIFO, when the console names one
  (args "notify_fifo"): lines `INSTANCE "VI_1" MASTER 150`.

No source wakes up on a timer while nothing happens: a stop is a byte on a pipe every thread
also waits on (on the emulated directors the old half-second wake-ups cost as much as a poll).
"""

import os
import select
import stat
import sys
import threading
import time
import traceback
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
)

from . import kdump, rtnl

CHECK_S = 0.2


class Watcher:
    def __init__(self, emit: Callable[..., None], args: Dict[str, Any]) -> None:
        self.emit = emit
        self.stopping = threading.Event()
        self.threads: List[threading.Thread] = []
        self._stop_r, self._stop_w = os.pipe()  # readable once stopped: every select() wakes
        self._lock = threading.Lock()
        self._running = 0
        fifo = args.get("notify_fifo")
        self.fifo = fifo if isinstance(fifo, str) and fifo.startswith("/") else None
        self._sources = ["addr", "keepalived"] + (["vrrp"] if self.fifo else [])

    def sources(self) -> List[str]:
        return list(self._sources)

    def start(self) -> None:
        runs = [self._addr, self._keepalived] + ([self._fifo] if self.fifo else [])
        with self._lock:
            self._running = len(runs)
        for run in runs:
            t = threading.Thread(target=self._guard, args=(run,), name="watch-" + run.__name__, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        with self._lock:  # with the pipe's close in _guard: never a write to a closed (or reused) fd
            if self.stopping.is_set():
                return
            self.stopping.set()
            os.write(self._stop_w, b"x")
            if self._running == 0:
                self._close_pipe()

    def _close_pipe(self) -> None:
        os.close(self._stop_r)
        os.close(self._stop_w)

    def _wait(self, fds: List[Any], timeout: Optional[float] = None) -> List[Any]:
        """The fds that are readable ([] when stopping or timed out)."""
        ready, _, _ = select.select(fds + [self._stop_r], [], [], timeout)
        return [] if self._stop_r in ready else ready

    def _guard(self, run: Callable[[], None]) -> None:
        try:
            self._retry(run)
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self.stopping.is_set():  # the last thread out closes the pipe
                    self._close_pipe()

    def _retry(self, run: Callable[[], None]) -> None:
        """A source that fails says so in an event and retries after a pause, until stopped."""
        while not self.stopping.is_set():
            try:
                run()
                return
            except Exception as exc:  # noqa: BLE001 - retried, and said in an event
                traceback.print_exc(file=sys.stderr)
                self.emit("watch_error", {"source": run.__name__.strip("_"), "message": str(exc)[:300]})
                self.stopping.wait(2.0)

    def _addr(self) -> None:
        mon = rtnl.AddrMonitor()
        try:
            while not self.stopping.is_set():
                if not self._wait([mon]):
                    continue
                at = time.time()
                for action, entry in mon.read():
                    if action == "overrun" or entry is None:  # events were lost: the console should take a snapshot
                        self.emit("resync", {"source": "addr"}, at)
                    else:
                        data = dict(entry)
                        data["action"] = action
                        self.emit("addr", data, at)
        finally:
            mon.close()

    def _keepalived(self) -> None:
        last = _keepalived_state()
        while not self.stopping.is_set():
            pidfd = _pidfd(last)
            if pidfd is None:
                self._wait([], CHECK_S)
            else:
                try:
                    self._wait([pidfd])  # readable when that keepalived exits
                finally:
                    os.close(pidfd)
            if self.stopping.is_set():
                return
            now = _keepalived_state()
            if now != last:
                self.emit("keepalived", {"running": now is not None, "pid": now})
                last = now

    def _fifo(self) -> None:
        # O_RDWR: opening never blocks for a writer, and EOF never comes when keepalived restarts.
        path = self.fifo or ""
        st = os.stat(path)
        if not stat.S_ISFIFO(st.st_mode):
            raise OSError(f"{path} is not a FIFO")
        fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        buf = b""
        try:
            while not self.stopping.is_set():
                if not self._wait([fd]):
                    continue
                at = time.time()
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                buf += chunk
                *lines, buf = buf.split(b"\n")
                buf = buf[-4096:]
                for raw in lines:
                    data = parse_notify(raw.decode("utf-8", "replace"))
                    if data is not None:
                        self.emit("vrrp", data, at)
        finally:
            os.close(fd)


def _pidfd(pid: Optional[int]) -> Optional[int]:
    """A pidfd of a running keepalived (None where the system has none: then it is polled)."""
    pidfd_open = getattr(os, "pidfd_open", None)
    if pid is None or pidfd_open is None:
        return None
    try:
        fd = int(pidfd_open(pid))
    except OSError:  # gone already, or a kernel before 5.3
        return None
    if _keepalived_state() != pid:  # it exited between the PID file and the pidfd (the PID may be reused)
        os.close(fd)
        return None
    return fd


def _keepalived_state() -> Optional[int]:
    try:
        return kdump.keepalived_pid()
    except kdump.NotRunning:
        return None


def parse_notify(line: str) -> Optional[Dict[str, Any]]:
    """`INSTANCE "VI_1" MASTER 150` -> {"instance", "state", "priority"}; other lines None."""
    parts = line.strip().split()
    if len(parts) < 3 or parts[0] != "INSTANCE" or not (parts[1].startswith('"') and parts[1].endswith('"')):
        return None
    state = {"MASTER": "MASTER", "BACKUP": "BACKUP", "FAULT": "FAULT", "STOP": "STOP", "DELETED": "STOP"}.get(parts[2])
    if state is None:
        return None
    prio = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else None
    return {"instance": parts[1][1:-1], "state": state, "priority": prio}
