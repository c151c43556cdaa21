"""`lbconsole-node serve`: requests as JSON lines on stdin, responses and events on stdout.

Each request runs in its own thread (a poll is never stuck behind a failover's wait); every
write to stdout goes through one lock, a whole line at a time. stdout itself is taken over:
anything else that prints goes to stderr, so nothing but protocol lines reach the console.
"""

import sys
import threading

from .protocol import BAD_REQUEST, MAX_LINE, NodeError, decode, encode, error

MAX_INFLIGHT = 16
DRAIN_ON_EOF_S = 60.0  # an action already applying finishes (and is recorded) after the console left


class Writer:
    def __init__(self, stream):
        self.stream = stream
        self.lock = threading.Lock()
        self.broken = threading.Event()

    def send(self, message):
        data = encode(message)
        with self.lock:
            if self.broken.is_set():
                return
            try:
                self.stream.write(data)
                self.stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self.broken.set()


def serve(agent, stdin=None, stdout=None):
    """Serve until stdin ends (the session closed) or stdout breaks. Returns the exit status."""
    if stdout is None:
        stdout = sys.stdout.buffer
        sys.stdout = sys.stderr  # a stray print() can never become protocol
    if stdin is None:
        stdin = sys.stdin.buffer
    out = Writer(stdout)
    agent.subscribe(out.send)
    slots = threading.BoundedSemaphore(MAX_INFLIGHT)
    threads = []

    def run(request):
        try:
            out.send(agent.handle(request))
        finally:
            slots.release()

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
            slots.acquire()
            t = threading.Thread(target=run, args=(request,), daemon=True)
            threads = [x for x in threads if x.is_alive()] + [t]
            t.start()
    finally:
        agent.close()
        for t in threads:
            t.join(DRAIN_ON_EOF_S)
    return 0
