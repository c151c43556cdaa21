"""The Agent: one node's verbs behind one thread-safe `handle(request) -> response`.

The same object serves a session (server.py: JSON lines on stdin/stdout) and the console
in-process for `host = "local"` (subscribe() delivers the pushed events there).
"""

import os
import platform
import socket
import sys
import threading
import traceback
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
)

from . import VERSION, audit, prepared, snapshot, upstream_snapshot, watch
from .protocol import (
    BAD_REQUEST,
    INTERNAL,
    READ_ONLY,
    UNKNOWN_VERB,
    NodeError,
    error,
    event,
    ok,
)

MUTATING = ("drain", "undrain", "failover", "release", "reload", "upstream_drain", "upstream_undrain")
CHANGES = ("addr", "vrrp", "keepalived", "resync")  # events after which no prepared sample is used


def _mutations() -> Dict[str, Callable[["Agent", Dict[str, Any]], Dict[str, Any]]]:
    """The mutating verbs' handlers (imported lazily: a read-only agent never needs them)."""
    from . import actions
    return actions.VERBS


class Agent:
    def __init__(self, read_only: bool = False, code_sha256: Optional[str] = None, mode: str = "local",
                 upstreams: Optional[upstream_snapshot.UpstreamWatcher] = None) -> None:
        """upstreams: the watcher of this node's nginx upstreams (default: the node's own nginx,
        made at the first snapshot with the nginx role; tests give one on a loopback nginx)."""
        self.read_only = bool(read_only)
        self.mode = mode  # installed | bootstrap | local
        self._sha = code_sha256
        self._subs: List[Callable[[Dict[str, Any]], None]] = []
        self._lock = threading.Lock()
        self._state: Dict[str, Any] = {}
        if upstreams is not None:
            self._state["upstreams"] = upstreams
        self._watch: Optional[watch.Watcher] = None
        self._prepared = prepared.Prepared(lambda args: snapshot.take(args, self._state))

    @property
    def code_sha256(self) -> str:
        if self._sha is None:
            from . import program
            self._sha = program.code_sha256()
        return self._sha

    # --- events -------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Dict[str, Any]], None]) -> Callable[[], None]:
        """callback(event dict) for every pushed event, from watcher threads; returns a
        function that unsubscribes."""
        with self._lock:
            self._subs.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subs:
                    self._subs.remove(callback)
        return unsubscribe

    def emit(self, kind: str, data: Any, at: Optional[float] = None) -> None:
        msg = event(kind, data, at)
        if kind in CHANGES:
            self._prepared.invalidate(msg.get("at"))
        with self._lock:
            subs = list(self._subs)
        for fn in subs:
            try:
                fn(msg)
            except Exception:  # noqa: BLE001 - a subscriber's bug must not stop the watchers
                traceback.print_exc(file=sys.stderr)

    def close(self) -> None:
        with self._lock:
            w, self._watch = self._watch, None
        if w is not None:
            w.stop()
        self._prepared.close()
        upstreams = self._state.get("upstreams")
        if upstreams is not None:
            upstreams.close()  # the error-log files it keeps open

    # --- requests -----------------------------------------------------------------------
    def handle(self, request: Any) -> Dict[str, Any]:
        """The response to one request object (never raises)."""
        req_id = request.get("id") if isinstance(request, dict) else None
        if isinstance(req_id, bool) or not isinstance(req_id, (int, str, type(None))):
            req_id = None
        try:
            if not isinstance(request, dict):
                raise NodeError(BAD_REQUEST, "a request must be a JSON object")
            verb, args = request.get("verb"), request.get("args", {})
            if not isinstance(verb, str):
                raise NodeError(BAD_REQUEST, "a request needs a verb (a string)")
            if not isinstance(args, dict):
                raise NodeError(BAD_REQUEST, "args must be a JSON object")
            if verb in MUTATING:
                if self.read_only:  # before anything else: nothing is read or written
                    raise NodeError(READ_ONLY, f"this node agent serves read-only (serve --read-only): {verb} "
                                               "is refused")
                try:
                    return ok(req_id, _mutations()[verb](self, args))
                finally:  # no sample read before or during the change is answered after it
                    self._prepared.invalidate()
            handler = _VERBS.get(verb)
            if handler is None:
                raise NodeError(UNKNOWN_VERB, "unknown verb {!r} (this agent knows: {})".format(
                    verb[:40], ", ".join(self.capabilities())))
            return ok(req_id, handler(self, args))
        except NodeError as exc:
            return error(req_id, exc.code, exc.message)
        except Exception as exc:  # noqa: BLE001 - the answer is an internal error, never a dead agent
            traceback.print_exc(file=sys.stderr)
            return error(req_id, INTERNAL, f"{type(exc).__name__}: {str(exc)[:300]}")

    def capabilities(self) -> List[str]:
        verbs = list(_VERBS)
        try:
            verbs += [v for v in MUTATING if v in _mutations()]
        except ImportError:
            pass
        return verbs

    def hello(self, args: Dict[str, Any]) -> Dict[str, Any]:
        return {"version": VERSION, "code_sha256": self.code_sha256, "python": platform.python_version(),
                "read_only": self.read_only, "capabilities": self.capabilities(), "hostname": socket.gethostname(),
                "pid": os.getpid(), "euid": os.geteuid(), "mode": self.mode}

    def snapshot(self, args: Dict[str, Any]) -> Dict[str, Any]:
        snapshot.parse_args(args)  # bad args are said before any sample is shared
        return self._prepared.answer(args)

    def watch(self, args: Dict[str, Any]) -> Dict[str, Any]:
        with self._lock:
            watcher, started = self._watch, False
            if watcher is None:
                watcher = self._watch = watch.Watcher(self.emit, args)
                started = True
        if started:
            watcher.start()
        return {"watching": watcher.sources()}

    def audit(self, args: Dict[str, Any]) -> Dict[str, Any]:
        return audit.log(args)


_VERBS = {"hello": Agent.hello, "snapshot": Agent.snapshot, "watch": Agent.watch, "audit": Agent.audit}
