"""Snapshots prepared on the console's cadence: a poll is answered from a sample already taken.

A `snapshot` request that carries `max_age` (the oldest sample it accepts, counted from when the
sample's reading started) may be answered from a ready sample; one with `interval` also asks the
agent to take the next sample in its background thread just before the next request is due. A
request with `after` (node clock: a watch event's "at") accepts only a sample started after it.
A watch event (VIP added or removed, VRRP state, keepalived started or stopped) makes every ready
sample unusable and starts a retake at once, with a fresh keepalived dump. Without `max_age` a
request takes its own sample, as before. Whatever is answered says its own time (`sampled_at`) and
age (`sample_age`): the console never shows an old sample as new.
"""

import threading
import time
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Optional,
    Tuple,
)

from .protocol import BAD_REQUEST, Encoded, NodeError, to_json

Take = Callable[[Dict[str, Any]], Dict[str, Any]]
Key = Tuple[Tuple[str, ...], str]

LEAD_MIN_S = 0.05  # ready this long before the request, at least...
LEAD_FACTOR = 2.5  # ...and 2.5x the longest of the last takes (one with a keepalived dump is slow; directors sharing a host take turns)
LEAD_OF_MAX_AGE = 0.8  # ...but young enough for the request's max_age
TOOK_KEPT = 4
IDLE_POLLS = 3  # stop preparing after this many intervals without a request


def _seconds(args: Dict[str, Any], name: str, low: float, high: float) -> Optional[float]:
    value = args.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise NodeError(BAD_REQUEST, f"{name} must be a number from {low:g} to {high:g}")
    return float(value)


def _key(args: Dict[str, Any]) -> Key:
    roles = args.get("roles", [])
    return (tuple(sorted(str(r) for r in roles)) if isinstance(roles, list) else (), str(args.get("nginx_status_url")))


class _Sample:
    def __init__(self, started: float, took: float, dump_age: float, result: Dict[str, Any]) -> None:
        self.started, self.took, self.dump_age, self.result = started, took, dump_age, result
        try:  # once per sample, by the thread that took it, not on each request's path
            self.text = to_json(result) if result else ""
        except (TypeError, ValueError):  # a bug: the answer's own encoding says it
            self.text = ""


class _Plan:
    """What the console asks for under one key: its args, cadence and when it asked last."""

    def __init__(self, args: Dict[str, Any], interval: float, asked: float) -> None:
        self.args, self.interval, self.asked = args, interval, asked
        self.dirty = False  # an event made the ready sample unusable: retake now
        self.took: List[float] = []  # the last takes' durations

    def lead(self) -> float:
        lead = max(LEAD_MIN_S, LEAD_FACTOR * max(self.took, default=0.0))
        return min(lead, LEAD_OF_MAX_AGE * float(self.args.get("max_age") or 0.0))


class Prepared:
    def __init__(self, take: Take) -> None:
        self._take = take
        self._cond = threading.Condition()
        self._ready: Dict[Key, _Sample] = {}
        self._taking: Dict[Key, float] = {}  # key -> when the take under way started
        self._plans: Dict[Key, _Plan] = {}
        self._invalid_at = 0.0
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self.takes = {"ahead": 0, "asked": 0, "shared": 0}  # diagnostics: what answered each request

    # --- requests ---------------------------------------------------------------------
    def answer(self, args: Dict[str, Any]) -> Dict[str, Any]:
        max_age = _seconds(args, "max_age", 0.0, 3600.0)
        interval = _seconds(args, "interval", 0.1, 3600.0)
        after = _seconds(args, "after", 0.0, 1e11)
        if max_age is None:
            return self._take(args)
        now = time.time()
        if after is not None and after > now:
            if after > now + 1.0:
                raise NodeError(BAD_REQUEST, "after is ahead of this node's clock (it is a watch event's time)")
            time.sleep(after - now)  # a reading started after it
            now = time.time()
        key = _key(args)
        dump_age = float(args.get("dump_max_age", 1.0))
        since = max(now - max_age, after or 0.0)
        # A request naming an event (`after`) gets a sample newer than it; one that names none gets none older
        # than the last event this agent saw (the console may not have it yet).
        events = after is None
        with self._cond:
            if interval is not None:
                self._plan(key, args, interval, now)
            sample = self._usable(key, since, dump_age, events)
            while sample is None and self._taking.get(key, -1.0) >= since and not self._closed:
                self._cond.wait(30.0)  # the take under way is recent enough: share it
                sample = self._usable(key, since, dump_age, events)
            if sample is None:
                self._taking[key] = now
                self.takes["asked"] += 1
            else:
                self.takes["shared"] += 1
        if sample is None:
            sample = self._run(key, args, now, dump_age)
        out = Encoded(sample.result)
        out["sample_age"] = round(max(0.0, time.time() - sample.started), 4)
        out["sample_takes"] = dict(self.takes)
        if sample.text:
            out.text = '{{"sample_age":{},"sample_takes":{},{}'.format(
                to_json(out["sample_age"]), to_json(out["sample_takes"]), sample.text[1:])
        return out

    def _usable(self, key: Key, since: float, dump_age: float, events: bool) -> Optional[_Sample]:
        """The ready sample if it started after `since` (and, `events`, after the last event seen here)."""
        s = self._ready.get(key)
        if s is None or s.started < since or (events and s.started < self._invalid_at) or s.dump_age > dump_age:
            return None
        return s

    def _run(self, key: Key, args: Dict[str, Any], started: float, dump_age: float) -> _Sample:
        """Take one sample (the caller marked it under way) and keep it ready."""
        try:
            result = self._take(args)
            sample = _Sample(started, time.time() - started, dump_age, result)
        finally:
            with self._cond:
                if self._taking.get(key) == started:
                    del self._taking[key]
                self._cond.notify_all()
        with self._cond:
            have = self._ready.get(key)
            if have is None or have.started <= started:
                self._ready[key] = sample
            plan = self._plans.get(key)
            if plan is not None:
                plan.took = (plan.took + [sample.took])[-TOOK_KEPT:]
            self._cond.notify_all()
        return sample

    # --- the background taker ---------------------------------------------------------
    def _plan(self, key: Key, args: Dict[str, Any], interval: float, now: float) -> None:
        plan = self._plans.get(key)
        if plan is None:
            self._plans[key] = _Plan(dict(args), interval, now)
        else:
            plan.args, plan.interval, plan.asked = dict(args), interval, now
        if self._thread is None:  # made once and kept: a steady-state poll starts no thread
            self._thread = threading.Thread(target=self._loop, name="prepare", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def invalidate(self, at: Optional[float] = None) -> None:
        """Something changed on the node (a watch event): no ready sample is used any more; retake now."""
        with self._cond:
            self._invalid_at = max(self._invalid_at, time.time() if at is None else at)
            for plan in self._plans.values():
                plan.dirty = True
            self._cond.notify_all()

    def _due(self, now: float) -> Tuple[Optional[Key], float]:
        """The next key to take and in how many seconds (a key of None: nothing planned)."""
        best: Tuple[Optional[Key], float] = (None, 3600.0)
        for key, plan in list(self._plans.items()):
            if now - plan.asked > IDLE_POLLS * plan.interval:
                del self._plans[key]  # the console went away
                continue
            ready = self._ready.get(key)
            if plan.dirty:
                wait = 0.0
            else:
                lead = plan.lead()
                next_ask = plan.asked + plan.interval
                while next_ask - lead <= now - plan.interval:  # a request missed: plan for the next one
                    next_ask += plan.interval
                if ready is not None and ready.started >= next_ask - lead - 1e-3:
                    next_ask += plan.interval  # the next request's sample is ready already
                wait = next_ask - lead - now
            if key in self._taking:
                continue
            if wait < best[1]:
                best = (key, wait)
        return best

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._closed:
                    return
                key, wait = self._due(time.time())
                if key is None or wait > 0:
                    self._cond.wait(min(wait, 3600.0) if key is not None else 3600.0)
                    continue
                plan = self._plans[key]
                args = dict(plan.args)
                if plan.dirty:
                    args["dump_max_age"] = 0.0  # after an event the VRRP state is read anew
                plan.dirty = False
                started = time.time()
                self._taking[key] = started
                self.takes["ahead"] += 1
            try:
                self._run(key, args, started, float(args.get("dump_max_age", 1.0)))
            except Exception:  # noqa: BLE001 - a request will take its own and say what failed
                time.sleep(0.1)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def planned(self) -> List[Key]:
        with self._cond:
            return list(self._plans)
