"""Live polling: every node on its own loop, so a slow or dead node never delays the others.

Each node re-arms its timer only after its poll finishes (polls never overlap).
`LivePoller.next()` hands out a snapshot shortly after any node reports, so a
VRRP transition shows within a fraction of a second of the poll that saw it.
"""

from __future__ import annotations

import asyncio
import time

from lbconsole.collectors import node as node_collector
from lbconsole.inventory import Inventory, NodeConfig
from lbconsole.snapshot import NodeSnapshot, Snapshot
from lbconsole.source.assemble import analyzer_for, assemble
from lbconsole.source.base import SnapshotSource
from lbconsole.transport import Transport, transport_for

COALESCE_S = 0.15  # gather reports that land together into one snapshot
NODE_DEADLINE_S = 20.0  # connect + command timeouts, with margin


class Poller:
    """The nodes' transports and their latest results."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        self.transports: dict[str, Transport] = {n.name: transport_for(n) for n in inventory.nodes}
        self.latest: dict[str, NodeSnapshot] = {}
        self.analyzer = analyzer_for(inventory)

    async def poll_node(self, node: NodeConfig) -> NodeSnapshot:
        previous = self.latest.get(node.name)
        try:
            snap = await asyncio.wait_for(
                node_collector.collect(node, self.transports[node.name], previous), NODE_DEADLINE_S)
        except TimeoutError:
            snap = node_collector.unreachable(node, previous, f"no answer within {NODE_DEADLINE_S:g} s",
                                              time.time())
        self.latest[node.name] = snap
        return snap

    async def poll_once(self) -> Snapshot:
        await asyncio.gather(*(self.poll_node(n) for n in self.inventory.nodes))
        return self.snapshot()

    def snapshot(self) -> Snapshot:
        return assemble(self.inventory, self.latest, time.time(), self.analyzer)

    async def close(self) -> None:
        await asyncio.gather(*(t.close() for t in self.transports.values()), return_exceptions=True)


class LivePoller(SnapshotSource):
    def __init__(self, inventory: Inventory, interval: float | None = None):
        self.poller = Poller(inventory)
        self.interval = interval or inventory.poll_interval
        self._fresh = asyncio.Event()
        self._wake = {n.name: asyncio.Event() for n in inventory.nodes}
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def inventory(self) -> Inventory:
        return self.poller.inventory

    def _start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._loop(n), name=f"poll {n.name}")
                           for n in self.inventory.nodes]

    async def _loop(self, node: NodeConfig) -> None:
        while True:
            started = time.monotonic()
            await self.poller.poll_node(node)
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
        await asyncio.sleep(COALESCE_S)
        self._fresh.clear()
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
