"""Mutating verbs: one at a time per node, each op_id applied at most once.

A lock (flock on /run/lbconsole/actions.lock) serialises actions from every agent on the node.
Under it, the op's record in /var/lib/lbconsole/ops/ (named by the sha256 of the op_id) is
read: a finished op returns its recorded result with "replayed": true and changes nothing;
an op that started but never finished (the agent died while applying) is refused, because
applying it again could apply it twice. Records older than KEEP_S are pruned.

The "started" record is made durable (fsync) before anything is applied. The "done" record is not: if
a crash loses it, what is left is the "started" record, or an empty or torn file; both are refused on
replay, never applied again. That saves one disk flush per action.
"""

import fcntl
import hashlib
import os
import time
from typing import (
    Any,
    Callable,
    Dict,
)

from . import records
from .protocol import BAD_REQUEST, FAILED, REFUSED, NodeError

OPS_DIR = records.STATE_DIR + "/ops"
LOCK_FILE = "/run/lbconsole/actions.lock"
KEEP_S = 7 * 24 * 3600
PRUNE_EVERY_S = 3600.0  # a listing and a stat per record: not on every action
_pruned = [0.0]  # when this agent last pruned


def check_args(args: Dict[str, Any]) -> str:
    op_id, by = args.get("op_id"), args.get("by")
    if not isinstance(op_id, str) or not 1 <= len(op_id) <= 200:
        raise NodeError(BAD_REQUEST, "a mutating verb needs an op_id (a string of 1 to 200 characters)")
    if not isinstance(by, str) or not by.strip() or len(by) > 200:
        raise NodeError(BAD_REQUEST, "a mutating verb needs by (who acts: user@host, up to 200 characters)")
    return op_id


def _path(op_id: str) -> str:
    return "{}/{}.json".format(OPS_DIR, hashlib.sha256(op_id.encode("utf-8", "surrogatepass")).hexdigest())


def _prune(now: float) -> None:
    if now - _pruned[0] < PRUNE_EVERY_S:
        return
    _pruned[0] = now
    try:
        names = os.listdir(OPS_DIR)
    except OSError:
        return
    for name in names:
        path = os.path.join(OPS_DIR, name)
        try:
            if now - os.stat(path).st_mtime > KEEP_S:
                os.unlink(path)
        except OSError:
            pass


class _Lock:
    def __enter__(self) -> None:
        os.makedirs(os.path.dirname(LOCK_FILE), mode=0o700, exist_ok=True)
        self.fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)


def run(verb: str, args: Dict[str, Any], apply: Callable[[], Dict[str, Any]]) -> Dict[str, Any]:
    """apply() -> result dict, or raises NodeError. Returns the result with "replayed"."""
    op_id = check_args(args)
    with _Lock():
        path = _path(op_id)
        rec = records.read_one(path)
        if rec is None and os.path.lexists(path):
            raise NodeError(FAILED, f"op {op_id[:80]!r} ({verb}) has a record that cannot be read ({path}); it is not applied again: "
                                    "read the node's state and start a new action")
        if rec is not None:
            if rec.get("op_id") != op_id or rec.get("verb") != verb:
                raise NodeError(REFUSED, "op_id {!r} was used for another action ({}); nothing was done".format(
                    op_id[:80], rec.get("verb")))
            if rec.get("state") != "done":
                raise NodeError(FAILED, "op {!r} ({}) started at {} and never finished (the agent stopped while "
                                        "applying it); it is not applied again: read the node's state and start a new "
                                        "action".format(op_id[:80], verb, rec.get("started")))
            if rec.get("error"):
                raise NodeError(rec["error"]["code"], rec["error"]["message"] + " (replayed)")
            result = dict(rec["result"])
            result["replayed"] = True
            return result
        now = time.time()
        _prune(now)
        base = {"op_id": op_id, "verb": verb, "by": args.get("by"), "started": now}
        records.write(path, dict(base, state="started"))
        try:
            result = apply()
        except NodeError as exc:
            records.write(path, dict(base, state="done", error={"code": exc.code, "message": exc.message}),
                          durable=False)
            raise
        except Exception as exc:
            records.write(path, dict(base, state="done", error={"code": FAILED, "message": f"{type(exc).__name__}: {str(exc)[:300]}"}),
                          durable=False)
            raise
        result["replayed"] = False
        records.write(path, dict(base, state="done", finished=time.time(), result=result), durable=False)
        return result
