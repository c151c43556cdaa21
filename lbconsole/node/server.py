"""`lbconsole-node serve`: requests as JSON lines on stdin, responses and events on stdout.

Requests run concurrently on a pool of worker threads (a poll is never stuck behind a
failover's wait); beyond MAX_INFLIGHT busy workers they queue. Every
write to stdout goes through one lock, a whole line at a time. stdout itself is taken over:
anything else that prints goes to stderr, so nothing but protocol lines reach the console.
"""

import queue
import sys
import threading
import time
import traceback
from typing import (
    Any,
    BinaryIO,
    Callable,
    Dict,
    List,
    Optional,
    Tuple,
)

from .protocol import BAD_REQUEST, INTERNAL, MAX_LINE, NodeError, decode, encode, error

MAX_INFLIGHT = 16
DRAIN_ON_EOF_S = 60.0  # an action already applying finishes (and is recorded) after the console left


class Writer:
    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()
        self.broken = threading.Event()

    def send(self, message: Dict[str, Any]) -> None:
        try:
            data = encode(message)
        except (TypeError, ValueError) as exc:  # a NaN or a non-JSON value: a bug, said as such
            traceback.print_exc(file=sys.stderr)
            data = encode(error(message.get("id"), INTERNAL, f"the answer could not be encoded: {exc}"[:300]))
        with self.lock:
            if self.broken.is_set():
                return
            try:
                self.stream.write(data)
                self.stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.broken.set()


class Pool:
    """Worker threads made on demand (up to MAX_INFLIGHT) and kept: in steady state a request
    creates no thread (and no task ID: /proc/loadavg's last PID stays put, which is how the
    "0 processes per poll" goal is counted)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.jobs: queue.Queue[Optional[Tuple[Callable[..., None], Tuple[Any, ...]]]] = queue.Queue()
        self.lock = threading.Lock()
        self.threads: List[threading.Thread] = []
        self.idle = 0

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self.lock:
            if self.idle == 0 and len(self.threads) < self.size:
                t = threading.Thread(target=self._work, name="request", daemon=True)
                self.threads.append(t)
                t.start()
            else:
                self.idle -= 1
        self.jobs.put((fn, args))

    def _work(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            fn, args = job
            try:
                fn(*args)
            except Exception:  # noqa: BLE001 - the worker must survive a bug in one request
                traceback.print_exc(file=sys.stderr)
            finally:
                with self.lock:
                    self.idle += 1

    def close(self, timeout: float) -> None:
        for _ in self.threads:
            self.jobs.put(None)
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))


def serve(agent: Any, stdin: Optional[BinaryIO] = None, stdout: Optional[BinaryIO] = None) -> int:
    """Serve until stdin ends (the session closed) or stdout breaks. Returns the exit status."""
    if stdout is None:
        stdout = sys.stdout.buffer
        sys.stdout = sys.stderr  # a stray print() can never become protocol
    if stdin is None:
        stdin = sys.stdin.buffer
    out = Writer(stdout)
    agent.subscribe(out.send)
    pool = Pool(MAX_INFLIGHT)
    try:
        while not out.broken.is_set():
            line = stdin.readline(MAX_LINE + 1)
            if not line:
                break
            if len(line) > MAX_LINE and not line.endswith(b"\n"):
                out.send(error(None, BAD_REQUEST, f"request line longer than {MAX_LINE} bytes"))
                while line and not line.endswith(b"\n"):  # skip the rest of it
                    line = stdin.readline(MAX_LINE + 1)
                continue
            if not line.strip():
                continue
            try:
                request = decode(line)
            except NodeError as exc:
                out.send(error(None, exc.code, exc.message))
                continue
            pool.submit(lambda r: out.send(agent.handle(r)), request)
    finally:
        agent.close()
        pool.close(DRAIN_ON_EOF_S)
    return 0
