"""Polling over the agents against the real lab. Not pass/fail: it prints figures and ratios.

    .venv/bin/python -m lbconsole lab up
    .venv/bin/python benchmarks/bench_poll.py [--polls 60] [--rounds 10]

Figures, each against a reference measured in the same run:
- steady state over N polls: new SSH sessions (the agents' sessions opened, the SSH connections on the
  nodes) and processes created on the directors (the VM's last PID, 5th field of /proc/loadavg), minus
  an idle window of the same length (goal: 0 and 0);
- one poll cycle over every node vs one request round trip (`hello`) on an open session to the slowest
  node (goal <= 1.2x);
- one-shot `status` (fresh sessions) vs one session set-up plus one round trip to the slowest node
  (goal: about 1x: every node at once).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from lbconsole import inventory
from lbconsole.lab import api
from lbconsole.source.poller import Poller
from lbconsole.transport import session_for

DIRECTOR = "lb1"  # in the VM: a PID space of its own (shared with lb2), unlike the host namespaces


async def timed(coro_fn, rounds: int) -> float:
    walls = []
    for _ in range(rounds):
        started = time.perf_counter()
        await coro_fn()
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def last_pid(node: str) -> int:
    """The last PID handed out on the node (5th field of /proc/loadavg); read out of band."""
    return int(api.run(node, "cat /proc/loadavg", check=True).stdout.split()[4])


def ssh_connections(node: str) -> int:
    out = api.run(node, "ss -Htn state established '( sport = :22 )'", check=True).stdout
    return len([line for line in out.splitlines() if line.strip()])


async def steady_state(inv: inventory.Inventory, polls: int) -> None:
    poller = Poller(inv)
    try:
        await poller.poll_once()  # sessions open first: the console keeps them for its life
        down = {n: s.error for n, s in poller.latest.items() if not s.reachable}
        if down:
            raise SystemExit(f"not every lab node answered, figures would be meaningless: {down}")
        opened = {n: s.sessions_opened for n, s in poller.sessions.items()}
        conns = {n.name: ssh_connections(n.name) for n in inv.nodes}
        pid0 = last_pid(DIRECTOR)
        started = time.monotonic()
        for _ in range(polls):
            await poller.poll_once()
        window = time.monotonic() - started
        pid1 = last_pid(DIRECTOR)
        await asyncio.sleep(window)  # the same length, idle: what the VM creates anyway
        pid2 = last_pid(DIRECTOR)
        new_sessions = sum(s.sessions_opened - opened[n] for n, s in poller.sessions.items())
        conns_after = {n.name: ssh_connections(n.name) for n in inv.nodes}
    finally:
        await poller.close()
    forks = (pid1 - pid0) - (pid2 - pid1)
    print(f"steady state, {polls} polls of {len(inv.nodes)} nodes in {window:.1f} s:")
    print(f"  new agent sessions: {new_sessions} (goal 0); SSH connections per node before/after: "
          f"{sum(conns.values())}/{sum(conns_after.values())} over {len(conns)} nodes")
    print(f"  processes created on the directors' VM: {pid1 - pid0} while polling, {pid2 - pid1} idle "
          f"-> {forks} per {polls} polls attributable to polling (goal 0; the lab's own helpers fork in both)")


async def cycle_vs_round_trip(inv: inventory.Inventory, rounds: int) -> None:
    poller = Poller(inv)
    try:
        await poller.poll_once()
        trips = {}
        for node in inv.nodes:
            session = poller.sessions[node.name]
            trips[node.name] = await timed(lambda s=session: s.request("hello"), rounds)
        slowest = max(trips, key=trips.__getitem__)
        alone = {n.name: await timed(lambda n=n: poller.poll_node(n), rounds) for n in inv.nodes}
        heaviest = max(alone, key=alone.__getitem__)
        cycle = await timed(poller.poll_once, rounds)
    finally:
        await poller.close()
    print(f"poll cycle, {len(inv.nodes)} nodes: {cycle * 1000:.1f} ms; one round trip (`hello`) to the slowest "
          f"node ({slowest}): {trips[slowest] * 1000:.1f} ms -> {cycle / trips[slowest]:.2f}x (goal <= 1.2x)")
    print(f"  the slowest node's snapshot request alone ({heaviest}): {alone[heaviest] * 1000:.1f} ms -> cycle "
          f"{cycle / alone[heaviest]:.2f}x that (the rest is the agent's work on the node, not the link)")
    print("  round trips: " + ", ".join(f"{n} {t * 1000:.1f} ms" for n, t in sorted(trips.items())))
    print("  snapshots alone: " + ", ".join(f"{n} {t * 1000:.1f} ms" for n, t in sorted(alone.items())))


async def one_shot(inv: inventory.Inventory) -> None:
    async def setup_and_trip(node) -> float:
        session = session_for(node, read_only=True)
        started = time.perf_counter()
        try:
            await session.request("hello")
            return time.perf_counter() - started
        finally:
            await session.close()

    setups = dict(zip((n.name for n in inv.nodes),
                      await asyncio.gather(*(setup_and_trip(n) for n in inv.nodes)), strict=True))
    slowest = max(setups, key=setups.__getitem__)
    poller = Poller(inv, read_only=True)
    started = time.perf_counter()
    try:
        snap = await poller.poll_once()
    finally:
        await poller.close()
    took = time.perf_counter() - started
    ok = all(n.reachable for c in snap.clusters for n in c.nodes)
    print(f"one-shot status (fresh sessions, every node at once): {took:.2f} s, all answered: {ok}; "
          f"session set-up + one round trip to the slowest node ({slowest}): {setups[slowest]:.2f} s "
          f"-> {took / setups[slowest]:.2f}x")
    print("  set-up + round trip per node: " + ", ".join(f"{n} {t:.2f} s" for n, t in sorted(setups.items())))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--polls", type=int, default=60)
    args = parser.parse_args()
    path = api.up(print)
    inv = inventory.load(str(path))
    with api.in_ops_netns():
        asyncio.run(steady_state(inv, args.polls))
        asyncio.run(cycle_vs_round_trip(inv, args.rounds))
        try:
            asyncio.run(asyncio.wait_for(one_shot(inv), 300))
        except TimeoutError:
            print("one-shot status: no result within 300 s (see README: a known open problem)")


if __name__ == "__main__":
    main()
