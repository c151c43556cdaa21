"""Poll-cycle benchmark over SSH against the real lab. Not pass/fail: it prints figures and ratios.

    .venv/bin/python -m lbconsole lab up
    .venv/bin/python benchmarks/bench_poll.py [--extra 50] [--rounds 10]

Figures, each against a reference measured in the same run:
- one poll cycle over all lab nodes vs the slowest single node's poll on its own (goal <= 1.5x);
- a persistent-connection poll of a director vs `ssh node 'ipvsadm -Ln --stats --exact'` run anew
  (goal: at least 10x faster);
- with --extra N, a cycle over N sshd-only nodes: wall time and this process's CPU time per cycle.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import time

from lbconsole import inventory
from lbconsole.lab import api
from lbconsole.lab.access import ssh_argv
from lbconsole.lab import topology
from lbconsole.collectors import script
from lbconsole.source.poller import Poller


IPVSADM = "ipvsadm -Ln --stats --exact"


def median_time(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def timed(coro_fn, rounds: int) -> tuple[float, float]:
    """Median wall seconds and mean CPU seconds of this process per call."""
    walls = []
    cpu0 = time.process_time()
    for _ in range(rounds):
        started = time.perf_counter()
        await coro_fn()
        walls.append(time.perf_counter() - started)
    return statistics.median(walls), (time.process_time() - cpu0) / rounds


async def lab_cycle(inv: inventory.Inventory, rounds: int) -> None:
    poller = Poller(inv)
    try:
        await poller.poll_once()  # connect everything first: the console keeps connections open
        down = {n: s.error for n, s in poller.latest.items() if not s.reachable}
        if down:
            raise SystemExit(f"not every lab node answered, figures would be meaningless: {down}")
        cycle, cpu = await timed(poller.poll_once, rounds)
        singles = {}
        for node in inv.nodes:
            singles[node.name], _ = await timed(lambda n=node: poller.poll_node(n), rounds)
        slowest = max(singles, key=singles.get)
        print(f"poll cycle, {len(inv.nodes)} lab nodes: {cycle * 1000:.1f} ms (CPU {cpu * 1000:.1f} ms)")
        print(f"slowest single node ({slowest}) alone: {singles[slowest] * 1000:.1f} ms")
        print(f"  ratio cycle / slowest node: {cycle / singles[slowest]:.2f}x (goal <= 1.5x)")
        lb1 = inv.find_node("lb1")
        full, _ = await timed(lambda: poller.poll_node(lb1), rounds)
        same, _ = await timed(lambda: poller.transports["lb1"].run(IPVSADM), rounds)
        web1 = inv.find_node("web1")
        web_poll, _ = await timed(lambda: poller.poll_node(web1), rounds)
        web_script = script.build(web1)
    finally:
        await poller.close()
    fresh = median_time(lambda: subprocess.run(ssh_argv(topology.node("lb1"), IPVSADM), capture_output=True,
                                               check=True), max(3, rounds // 2))
    print(f"lb1 `ssh lb1 '{IPVSADM}'` anew: {fresh * 1000:.1f} ms")
    print(f"lb1 the same command on the persistent connection: {same * 1000:.1f} ms"
          f"  -> {fresh / same:.1f}x faster (goal >= 10x)")
    print(f"lb1 whole poll (IPVS x3, keepalived dump, addresses, host) on it: {full * 1000:.1f} ms"
          f"  -> {fresh / full:.1f}x")
    web_fresh = median_time(lambda: subprocess.run(ssh_argv(topology.node("web1"), web_script),
                                                   capture_output=True, check=True), max(3, rounds // 2))
    print(f"web1 (a host namespace, not the VM) whole poll anew over ssh: {web_fresh * 1000:.1f} ms, "
          f"on the persistent connection: {web_poll * 1000:.1f} ms  -> {web_fresh / web_poll:.1f}x")


async def extra_cycle(path, count: int, rounds: int) -> None:
    inv = inventory.load(str(path))
    poller = Poller(inv)
    try:
        await poller.poll_once()
        cycle, cpu = await timed(poller.poll_once, rounds)
        unreachable = [n for n in poller.latest.values() if not n.reachable]
    finally:
        await poller.close()
    print(f"poll cycle, {count} SSH nodes: {cycle * 1000:.1f} ms wall, {cpu * 1000:.1f} ms CPU "
          f"({cpu / cycle * 100:.0f}% of one core while polling); unreachable: {len(unreachable)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--extra", type=int, default=0, help="also poll this many sshd-only nodes")
    args = parser.parse_args()
    path = api.up(print)
    with api.in_ops_netns():
        asyncio.run(lab_cycle(inventory.load(str(path)), args.rounds))
    if args.extra:
        api.add_extra_ssh_nodes(args.extra)
        try:
            with api.in_ops_netns():
                asyncio.run(extra_cycle(topology.LAB_DIR / "inventory-ssh.toml", args.extra, args.rounds))
        finally:
            api.remove_extra_ssh_nodes()


if __name__ == "__main__":
    main()
