"""One long-lived agent session per node: JSON-lines requests by id, pushed events, reconnect with backoff.

The session is opened on first use and kept for the console's life. When it
dies (agent killed, sshd killed, link dropped) every subscriber hears so at
once, reads in flight fail with the reason, and a runner reopens it with
exponential backoff. A mutating request carries an `op_id`: in flight when the
session dies, it is sent again with the SAME op_id once a session is back (the
node returns its recorded result, never applies twice), or, if none comes back
in time, it ends as OutcomeUnknown - never silently dropped or doubled.

An agent slow to say hello is not restarted at connect_timeout (its start-up,
begun again, would be as slow): the node is unreachable with the reason, new
requests fail fast, and the same channel is read until hello or `hello_give_up`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from lbconsole.transport import diagnose
from lbconsole.transport.base import AgentError, Channel, OutcomeUnknown, TransportError, decode_line

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 15.0
HELLO_GIVE_UP = 300.0  # s without hello (at least 5 x connect_timeout) before an agent is taken as hung
Event = dict[str, Any]
Subscriber = Callable[[Event], None]
Opener = Callable[[], Awaitable[Channel]]


@dataclass
class _Pending:
    id: int
    verb: str
    args: dict[str, Any]
    mutating: bool
    future: asyncio.Future[dict[str, Any]] = field(repr=False)
    sent_on: int = 0  # the session generation it was last sent on


class AgentSession:
    """Requests to one node's agent. `opener` starts the agent and returns its channel."""

    def __init__(self, name: str, opener: Opener, *, connect_timeout: float, command_timeout: float,
                 describe: str = "", expected: tuple[str, str] | None = None, read_only: bool = False,
                 hello_give_up: float | None = None):
        self.name = name
        self.describe = describe or name
        self.connect_timeout = connect_timeout
        self.hello_give_up = hello_give_up or max(5 * connect_timeout, HELLO_GIVE_UP)
        self.command_timeout = command_timeout
        self.expected = expected  # (version, code sha256) of the console's own node program
        self.read_only = read_only
        self.hello: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.sessions_opened = 0
        self._opener = opener
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._subscribers: list[Subscriber] = []
        self._channel: Channel | None = None
        self._generation = 0
        self._up = asyncio.Event()
        self._wake = asyncio.Event()
        self._failed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._closed = False
        self._live = False  # the current channel's agent said hello: it is a session
        self._late = False  # no hello by connect_timeout: its channel is read, nothing sent on it
        self._backoff = 0.0
        self._retry_at = 0.0

    # ---- state -------------------------------------------------------------------------------
    @property
    def is_up(self) -> bool:
        return self._up.is_set()

    @property
    def version_problem(self) -> str | None:
        """Why this node's agent is not the console's (None when it is, or not known yet)."""
        return diagnose.version_problem(self.name, self.hello, self.expected)

    @property
    def mode(self) -> str:
        """installed | bootstrap | in-process: how this node's agent is started."""
        return str(getattr(self._opener, "mode", "in-process"))

    def reset_backoff(self) -> None:
        """An operator's action tries at once, not after the poll backoff."""
        self._retry_at = 0.0
        self._wake.set()

    def subscribe(self, callback: Subscriber) -> None:
        """Pushed events and session up/down notices, as {"event": kind, "at": s, "data": {...}}."""
        self._subscribers.append(callback)
        self._ensure_runner()
        if self.is_up and len(self._subscribers) == 1:
            asyncio.get_running_loop().create_task(self._watch())

    # ---- requests ----------------------------------------------------------------------------
    async def greeting(self) -> dict[str, Any]:
        """The agent's hello: the session's own when it holds one (nothing sent). Else one `hello` request,
        only to wait for it: pipelined behind the session's own, which answers first and is kept."""
        if self.hello is None:
            hello = await self.request("hello")
            self.hello = self.hello or hello  # None only if that session was lost and a new one is starting
        return self.hello

    async def request(self, verb: str, args: dict[str, Any] | None = None, *, timeout: float | None = None,
                      mutating: bool = False) -> dict[str, Any]:
        """The verb's result; AgentError for an error response, TransportError when the node cannot answer."""
        if self._closed:
            raise TransportError(f"{self.describe}: session closed")
        timeout = timeout or self.command_timeout
        args = dict(args or {})
        if mutating:
            args.setdefault("op_id", uuid.uuid4().hex)
        self._ensure_runner()
        await self._wait_up()
        pending = _Pending(next(self._ids), verb, args, mutating, asyncio.get_running_loop().create_future())
        pending.future.add_done_callback(_retrieve)
        self._pending[pending.id] = pending
        if self.hello is None:  # pipelined behind a session still starting: its set-up is not this request's
            timeout += self.connect_timeout
        try:
            await self._send(pending)
            msg = await self._answer(pending, timeout)
        finally:
            self._pending.pop(pending.id, None)
        if msg.get("ok"):
            result = msg.get("result")
            return result if isinstance(result, dict) else {"value": result}
        raw = msg.get("error")
        err: dict[str, Any] = raw if isinstance(raw, dict) else {}
        raise AgentError(str(err.get("code", "internal")), f"{self.name}: {err.get('message', 'no message')}")

    async def _answer(self, pending: _Pending, timeout: float) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), timeout)
        except TimeoutError:
            pass
        why = f"no answer to {pending.verb} within {timeout:g} s"
        if self._channel is not None and not self._live and pending.sent_on == self._generation:
            why += ": the agent has not said hello yet (still waiting for it)"  # slow: kept, not restarted
        else:  # a healthy agent answers, so the session (or the link) is taken as dead
            self._lost(why, hard=True)
        if not pending.mutating:
            raise TransportError(f"{self.describe}: {why}") from None
        bound = self.connect_timeout + timeout
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), bound)
        except TimeoutError:
            raise OutcomeUnknown(
                f"{self.name}: {pending.verb} (op_id {pending.args['op_id']}) got no answer, and none in {bound:g} s "
                "more: it may or may not have been applied; look at the node before trying again") from None

    async def _wait_up(self) -> None:
        if self.is_up:
            return
        if self._late:  # its agent is still starting: fail fast, pile nothing onto it
            raise TransportError(self.last_error or f"{self.describe}: the agent has not said hello yet")
        now = time.monotonic()
        if self.last_error and self._retry_at - now > 0.5:
            raise TransportError(f"{self.last_error} (retrying in {self._retry_at - now:.0f} s)")
        failed = self._failed  # set by the next failed attempt: a dead node fails fast, not at the timeout
        up, down = asyncio.ensure_future(self._up.wait()), asyncio.ensure_future(failed.wait())
        try:
            await asyncio.wait((up, down), timeout=self.connect_timeout + 1, return_when=asyncio.FIRST_COMPLETED)
        finally:
            up.cancel()
            down.cancel()
        if not self.is_up:
            why = f"{self.describe}: timed out opening the session ({self.connect_timeout:g} s)"
            raise TransportError(self.last_error or why)

    async def _send(self, pending: _Pending) -> None:
        channel = self._channel
        if channel is None:
            raise TransportError(self.last_error or f"{self.describe}: no session")
        pending.sent_on = self._generation
        line = json.dumps({"id": pending.id, "verb": pending.verb, "args": pending.args}, ensure_ascii=True)
        try:
            await channel.send(line + "\n")
        except (OSError, TransportError) as exc:
            self._lost(f"cannot send: {exc}")
            if not pending.mutating:
                raise TransportError(f"{self.describe}: session lost: {exc}") from None

    # ---- the runner: open, read, reopen --------------------------------------------------------
    def _ensure_runner(self) -> None:
        if self._runner is None and not self._closed:
            self._runner = asyncio.get_running_loop().create_task(self._run(), name=f"agent {self.name}")

    async def _run(self) -> None:
        while not self._closed:
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            try:
                channel = await asyncio.wait_for(self._opener(), self.connect_timeout)
            except TimeoutError:
                self._fail(f"{self.describe}: timed out opening the session "
                           f"({self.connect_timeout:g} s, connect_timeout)")
                continue
            except TransportError as exc:
                self._fail(str(exc))
                continue
            try:
                await self._serve(channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the runner must outlive any one session's failure
                self._lost(f"{type(exc).__name__}: {exc}")

    async def _serve(self, channel: Channel) -> None:
        """hello goes first and requests are pipelined behind it: one round trip after set-up.

        The agent answers on a pool of threads, so another answer can come before hello's (its
        first call imports the action modules). Those are held until hello is in: no answer is
        used from an agent whose version is not known yet, and every session that answered is
        counted, announced up, and watched.
        """
        self._channel, self.hello, self._live, self._late = channel, None, False, False
        self._generation += 1
        hello_id = next(self._ids)
        self._up.set()
        try:
            await channel.send(json.dumps({"id": hello_id, "verb": "hello", "args": {}}) + "\n")
            # Requests an earlier session left unanswered (mutating ones keep their op_id).
            for pending in list(self._pending.values()):
                if not pending.future.done() and pending.sent_on != self._generation:
                    await self._send(pending)
        except TransportError as exc:
            self._lost(str(exc))
            return
        why = "the agent ended the session"
        loop = asyncio.get_running_loop()
        started = loop.time()
        greeted = False
        early: list[dict[str, Any]] = []  # what came before hello, in order
        receiving: asyncio.Future[str | None] | None = None  # one read, kept across the hello deadline
        try:
            while True:
                if greeted:
                    line = await channel.receive()
                else:
                    receiving = receiving or asyncio.ensure_future(channel.receive())
                    limit = started + (self.hello_give_up if self._late else self.connect_timeout)
                    await asyncio.wait({receiving}, timeout=max(0.0, limit - loop.time()))
                    if not receiving.done():
                        if self._late:  # hung, not slow
                            self._lost(f"the agent did not say hello within {self.hello_give_up:g} s: taken as hung, "
                                       "starting it again", hard=True)
                            return
                        self._hello_late()
                        continue
                    line, receiving = receiving.result(), None
                if line is None:
                    why = await channel.diagnose()
                    break
                msg = decode_line(line)
                if msg is None:
                    continue
                if greeted:
                    self._deliver(msg)
                elif msg.get("id") != hello_id:
                    early.append(msg)
                else:
                    greeted = True
                    self._hello(msg)
                    if self._channel is not channel:  # hello refused: the session is already lost
                        return
                    for held in early:
                        self._deliver(held)
                    early.clear()
        except TransportError as exc:
            why = str(exc)
        except asyncio.CancelledError:
            channel.abort()
            raise
        finally:
            if receiving is not None:
                receiving.cancel()
        if self._channel is not channel:
            return
        fallback = getattr(self._opener, "fallback", None)
        if not greeted and fallback is not None and fallback(channel):
            # Nothing ran (no hello): start the other way now and send what was pending again.
            self._channel, self._late = None, False
            self._up.clear()
            for pending in self._pending.values():
                pending.sent_on = 0
            return
        self._lost(why)

    def _deliver(self, msg: dict[str, Any]) -> None:
        if "event" in msg and "id" not in msg:
            self._notify(msg)
            return
        waiting = self._pending.get(msg["id"]) if isinstance(msg.get("id"), int) else None
        if waiting is not None and not waiting.future.done():
            waiting.future.set_result(msg)

    def _hello(self, msg: dict[str, Any]) -> None:
        if not msg.get("ok"):
            self._lost(f"the agent refused hello: {msg.get('error')}")
            return
        self.hello = msg.get("result") if isinstance(msg.get("result"), dict) else {}
        self._live, self._late = True, False
        self._up.set()  # cleared if it came after connect_timeout
        self.sessions_opened += 1
        self._backoff, self.last_error = 0.0, None
        self._notify({"event": "session", "at": time.time(), "data": {"up": True}})
        if self._subscribers:
            asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        with contextlib.suppress(TransportError, AgentError):
            await self.request("watch")

    def _hello_late(self) -> None:
        """connect_timeout passed without hello: unreachable for now, but its channel is kept and read."""
        self._late = True
        self._up.clear()
        self._fail(f"{self.describe}: the agent has not said hello after {self.connect_timeout:g} s "
                   "(connect_timeout); still waiting for it")

    def _lost(self, why: str, hard: bool = False) -> None:
        """The session is dead: say so, fail reads in flight, keep mutating ones for a resend."""
        channel, self._channel = self._channel, None
        if channel is None:
            return  # already known
        channel.abort(hard)
        was_up, self._late = self._live, False
        self._up.clear()
        if why.startswith(self.describe):
            message = why
        else:  # before hello it never was a session: the reason alone (e.g. not installed) says it
            message = f"{self.describe}: session lost: {why}" if was_up else f"{self.describe}: {why}"
        self._fail(message)
        if was_up:
            self._notify({"event": "session", "at": time.time(), "data": {"up": False, "error": message}})

    def _fail(self, message: str) -> None:
        """Back off, wake who waits for the session, and fail reads in flight (mutating ones keep their op_id)."""
        self._backoff = min(BACKOFF_MAX, self._backoff * 2 or BACKOFF_FIRST)
        self._retry_at = time.monotonic() + self._backoff
        self.last_error = message
        failed, self._failed = self._failed, asyncio.Event()
        failed.set()
        for pending in list(self._pending.values()):
            if not pending.mutating and not pending.future.done():
                pending.future.set_exception(TransportError(message))

    def _notify(self, event: Event) -> None:
        for callback in list(self._subscribers):
            with contextlib.suppress(Exception):  # a broken subscriber must not kill the session
                callback(event)

    async def close(self) -> None:
        self._closed = True
        runner, self._runner = self._runner, None
        channel, self._channel = self._channel, None
        if runner is not None:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await runner
        if channel is not None:
            await channel.close()
        closer = getattr(self._opener, "close", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(TransportError(f"{self.describe}: session closed"))


def _retrieve(future: asyncio.Future[dict[str, Any]]) -> None:
    """An answer nobody waits for any more (its caller timed out) is not an error to report."""
    if not future.cancelled():
        future.exception()

