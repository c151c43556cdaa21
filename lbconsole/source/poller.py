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
from lbconsole.source.assemble import analyzer_for, assemble
from lbconsole.source.base import SnapshotSource
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

    def __init__(self, inventory: Inventory, read_only: bool = False):
        self.inventory = inventory
        self.sessions: dict[str, AgentSession] = {
            n.name: session_for(n, node_read_only(inventory, n, read_only)) for n in inventory.nodes}
        self.latest: dict[str, NodeSnapshot] = {}
        self.analyzer = analyzer_for(inventory)

    @property
    def transports(self) -> dict[str, AgentSession]:
        """The sessions, under the name actions look for (they reuse the console's sessions)."""
        return self.sessions

    async def poll_node(self, node: NodeConfig, dump_max_age: float = node_collector.DUMP_MAX_AGE_S) -> NodeSnapshot:
        previous = self.latest.get(node.name)
        deadline = node.connect_timeout + node.command_timeout + DEADLINE_MARGIN_S
        try:
            snap = await asyncio.wait_for(
                node_collector.collect(node, self.sessions[node.name], previous, dump_max_age=dump_max_age),
                deadline)
        except TimeoutError:
            snap = node_collector.unreachable(node, previous, f"no answer within {deadline:g} s", time.time())
        self.latest[node.name] = snap
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
        self.poller = Poller(inventory, read_only)
        self.interval = interval or inventory.poll_interval
        self._fresh = asyncio.Event()
        self._wake = {n.name: asyncio.Event() for n in inventory.nodes}
        self._urgent: set[str] = set()
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
        self._urgent.add(name)
        self._wake[name].set()

    async def _loop(self, node: NodeConfig) -> None:
        while True:
            started = time.monotonic()
            urgent = node.name in self._urgent
            self._urgent.discard(node.name)
            # After an event the VRRP state must be read anew, not from a shared dump cache.
            await self.poller.poll_node(node, dump_max_age=0.0 if urgent else node_collector.DUMP_MAX_AGE_S)
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
