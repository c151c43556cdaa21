"""Live polling: every node on its own loop, so a slow or dead node never delays the others.

Each node's agent session is opened once and kept. Each node re-arms its timer
only after its poll finishes (polls never overlap). An event the agent pushes
(a VIP added or removed, a VRRP state change, keepalived started or stopped,
the session lost or back) re-snapshots that node at once, so a transition
shows within a second whatever the poll interval. `LivePoller.next()` hands out
a snapshot shortly after any node reports.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from lbconsole.collectors import node as node_collector
from lbconsole.inventory import Inventory, NodeConfig
from lbconsole.snapshot import NodeSnapshot, Snapshot
from lbconsole.source import events
from lbconsole.source.assemble import analyzer_for, assemble
from lbconsole.source.base import SnapshotSource
from lbconsole.source.cadence import cadence
from lbconsole.transport import AgentSession, session_for

COALESCE_S = 0.15  # gather reports that land together into one snapshot
COALESCE_EVENT_S = 0.02  # after a pushed event: show it now
DEADLINE_MARGIN_S = 5.0
EVENT_KINDS = ("addr", "vrrp", "keepalived", "session")


def node_read_only(inventory: Inventory, node: NodeConfig, read_only: bool) -> bool:
    cluster = inventory.cluster(node.cluster)
    return read_only or bool(cluster and cluster.read_only)


class Poller:
    """The nodes' agent sessions and their latest results."""

    def __init__(self, inventory: Inventory, read_only: bool = False, interval: float | None = None):
        self.inventory = inventory
        self.interval = interval  # polled this often: the agents prepare samples on that cadence
        self.sessions: dict[str, AgentSession] = {
            n.name: session_for(n, node_read_only(inventory, n, read_only)) for n in inventory.nodes}
        self.latest: dict[str, NodeSnapshot] = {}
        self.sampled: dict[str, NodeSnapshot] = {}  # the last snapshot read from each node (no event applied)
        self.analyzer = analyzer_for(inventory)

    @property
    def transports(self) -> dict[str, AgentSession]:
        """The sessions, under the name actions look for (they reuse the console's sessions)."""
        return self.sessions

    async def poll_node(self, node: NodeConfig, dump_max_age: float = node_collector.DUMP_MAX_AGE_S,
                        after: float | None = None) -> NodeSnapshot:
        """`after`: a pushed event's time (node clock); the sample must be newer."""
        previous = self.sampled.get(node.name) or self.latest.get(node.name)  # rates: between real samples
        deadline = node.connect_timeout + node.command_timeout + DEADLINE_MARGIN_S
        try:
            snap = await asyncio.wait_for(
                node_collector.collect(node, self.sessions[node.name], previous, dump_max_age=dump_max_age,
                                       cadence=cadence(self.interval, after)),
                deadline)
        except TimeoutError:
            snap = node_collector.unreachable(node, previous, f"no answer within {deadline:g} s", time.time())
        self.latest[node.name] = self.sampled[node.name] = snap
        return snap

    async def poll_once(self) -> Snapshot:
        """Every node asked at once; the snapshot is as of that moment (a slow node does not age the others)."""
        asked = time.time()
        await asyncio.gather(*(self.poll_node(n) for n in self.inventory.nodes))
        return self.snapshot(asked)

    def snapshot(self, now: float | None = None) -> Snapshot:
        return assemble(self.inventory, self.latest, time.time() if now is None else now, self.analyzer)

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sessions.values()), return_exceptions=True)


class LivePoller(SnapshotSource):
    def __init__(self, inventory: Inventory, interval: float | None = None, read_only: bool = False):
        self.interval = interval or inventory.poll_interval
        self.poller = Poller(inventory, read_only, interval=self.interval)
        self._fresh = asyncio.Event()
        self._wake = {n.name: asyncio.Event() for n in inventory.nodes}
        self._urgent: set[str] = set()
        self._after: dict[str, float] = {}  # node -> its latest event's time (node clock)
        self._applied: dict[str, list[dict[str, Any]]] = {}  # events shown before a sample had them
        self._tasks: list[asyncio.Task[None]] = []
        self.events_seen: dict[str, tuple[float, float]] = {}  # node -> (node clock at, console receipt)
        self._urgent_report = False

    @property
    def inventory(self) -> Inventory:
        return self.poller.inventory

    def _start(self) -> None:
        if not self._tasks:
            for n in self.inventory.nodes:
                self.poller.sessions[n.name].subscribe(functools.partial(self._on_event, n.name))
            self._tasks = [asyncio.create_task(self._loop(n), name=f"poll {n.name}")
                           for n in self.inventory.nodes]

    def _on_event(self, name: str, event: dict[str, Any]) -> None:
        if event.get("event") not in EVENT_KINDS:
            return
        if event.get("event") != "session":
            self.events_seen[name] = (float(event.get("at") or 0), time.time())
            self._after[name] = max(self._after.get(name, 0.0), float(event.get("at") or 0))
            self._show(name, event)
        self._urgent.add(name)
        self._wake[name].set()

    def _show(self, name: str, event: dict[str, Any]) -> None:
        """A VIP move or keepalived stopping, shown now (source/events.py); the re-read confirms it."""
        latest = self.poller.latest.get(name)
        applied = events.apply(latest, event) if latest is not None else None
        if applied is None:
            return
        self.poller.latest[name] = applied
        self._applied.setdefault(name, []).append(event)
        self._urgent_report = True
        self._fresh.set()

    def _reapply(self, name: str) -> None:
        """Events newer than the sample just read (it was on its way when they came) stay shown."""
        snap = self.poller.latest.get(name)
        pending = self._applied.pop(name, [])
        if snap is None or not snap.reachable or snap.sampled_at is None:
            return
        for event in pending:
            applied = events.apply(snap, event)
            if applied is not None:
                snap = applied
                self._applied.setdefault(name, []).append(event)
        self.poller.latest[name] = snap

    async def _loop(self, node: NodeConfig) -> None:
        while True:
            started = time.monotonic()
            urgent = node.name in self._urgent
            self._urgent.discard(node.name)
            after = self._after.pop(node.name, None) if urgent else None
            # After an event the VRRP state must be read anew, not from a shared dump cache.
            await self.poller.poll_node(node, dump_max_age=0.0 if urgent else node_collector.DUMP_MAX_AGE_S,
                                        after=after)
            self._reapply(node.name)
            self._urgent_report = self._urgent_report or urgent
            self._fresh.set()
            delay = max(0.0, self.interval - (time.monotonic() - started))
            wake = self._wake[node.name]
            try:
                await asyncio.wait_for(wake.wait(), delay)
            except TimeoutError:
                pass
            wake.clear()

    async def next(self) -> Snapshot:
        self._start()
        await self._fresh.wait()
        await asyncio.sleep(COALESCE_EVENT_S if self._urgent_report else COALESCE_S)
        self._fresh.clear()
        self._urgent_report = False
        return self.poller.snapshot()

    def refresh_now(self) -> None:
        for wake in self._wake.values():
            wake.set()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.poller.close()
