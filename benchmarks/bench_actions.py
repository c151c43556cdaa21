"""Action latency on the lab (or any inventory): drain from confirm to weight 0 on every director, and
failover from confirm to the peer being MASTER.

Run from where the directors are reachable, e.g. the lab's ops namespace:

    ip netns exec lbc-ops python benchmarks/bench_actions.py [--inventory F] [--runs 5] [--no-failover]

Absolute times depend on the machine (the lab's directors run under qemu TCG), so each figure is also
given as a ratio to a reference measured in the same run over the same agent sessions: one request
round trip (`hello`) to every director at once. The actions are real and audited, to a temporary
audit log; every drain is undone and every failover released.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from lbconsole import inventory as inventory_mod
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.actions.execute import execute

LAB_INVENTORY = "/var/lib/lbconsole-lab/inventory.toml"
DRAIN_GOAL_S = 0.250
DRAIN_GOAL_RATIO = 1.5


async def drain_runs(ctx, poller, target, directors, runs: int, refs: list[float],
                     live: bool) -> tuple[list[float], list[float], list[float]]:
    """Drain then undrain `runs` times; `live`: the context carries a current snapshot, as in the TUI."""
    drains, applies, undrains = [], [], []
    for _ in range(runs):
        refs.append(await round_trip(ctx, directors))
        ctx.snapshot = await poller.poll_once() if live else None  # untimed: the TUI always has one
        res = await execute(ctx, "drain", target, {"reason": "benchmark"})
        if not res.ok:
            raise SystemExit(f"drain failed: {res.message}")
        drains.append(res.timings["verified_s"])
        applies.append(res.timings["applied_s"])
        started = time.monotonic()
        res = await execute(ctx, "undrain", target)
        undrains.append(time.monotonic() - started)
        if not res.ok:
            raise SystemExit(f"undrain failed: {res.message}")
    return drains, applies, undrains


async def round_trip(ctx, directors) -> float:
    """One request (`hello`) on each director's open agent session, all at once."""
    started = time.monotonic()
    await asyncio.gather(*(ctx.session(n).request("hello") for n in directors))
    return time.monotonic() - started


def pick_target(snapshot_cluster):
    """A real server of the first service that has at least two (so draining one is allowed)."""
    for node in snapshot_cluster.directors:
        for svc in node.ipvs:
            if len([rs for rs in svc.real_servers if rs.weight > 0]) >= 2:
                return svc.key, svc.real_servers[0].key
    raise SystemExit("no service with two real servers in service: nothing to drain safely")


async def main(args) -> int:
    from lbconsole.source.poller import Poller

    inv = inventory_mod.load(args.inventory)
    cluster = inv.cluster(args.cluster) if args.cluster else inv.clusters[0]
    poller = Poller(inv, interval=inv.poll_interval)
    snap = await poller.poll_once()
    service, real_server = pick_target(snap.cluster(cluster.name))
    audit = AuditLog(Path(tempfile.mkdtemp(prefix="lbc-bench-")) / "audit.jsonl")
    ctx = ActionContext(inventory=inv, cluster=cluster.name, transports=poller.transports, audit=audit, wait_s=0,
                        origin="bench")
    directors = cluster.directors
    try:
        await round_trip(ctx, directors)  # connections open before anything is timed
        target = {"cluster": cluster.name, "service": service, "real_server": real_server}
        refs: list[float] = []
        live = await drain_runs(ctx, poller, target, directors, args.runs, refs, live=True)
        fresh = await drain_runs(ctx, poller, target, directors, args.runs, refs, live=False)
        ref = statistics.median(refs)
        print(f"directors: {', '.join(n.name for n in directors)}; target {service} {real_server}; {args.runs} runs")
        print(f"reference: one request round trip (`hello`) to every director at once: median {ref * 1000:.0f} ms")
        for label, (drains, applies, undrains) in (
                ("with the console's live snapshot as the check (the TUI)", live),
                ("with a fresh snapshot of every director as the check (the CLI)", fresh)):
            drain, apply = statistics.median(drains), statistics.median(applies)
            verdict = "met" if drain <= DRAIN_GOAL_S and drain / ref <= DRAIN_GOAL_RATIO else "NOT met"
            print(f"drain {label}: confirm -> weight 0 read back on every director: median {drain * 1000:.0f} ms "
                  f"(min {min(drains) * 1000:.0f}, max {max(drains) * 1000:.0f}) = {drain / ref:.1f}x reference; "
                  f"goal {DRAIN_GOAL_S * 1000:.0f} ms and {DRAIN_GOAL_RATIO:g}x: {verdict}")
            print(f"  of which the drain verb on every director (check, apply, read back on the node): median "
                  f"{apply * 1000:.0f} ms = {apply / ref:.1f}x reference; undrain, whole action incl. audit: "
                  f"median {statistics.median(undrains) * 1000:.0f} ms")
        if not args.no_failover:
            await failover_figures(ctx, cluster, snap, ref)
    finally:
        await poller.close()
    return 0


async def failover_figures(ctx, cluster, snap, ref: float) -> None:
    instances = sorted({i.instance for n in snap.cluster(cluster.name).directors for i in n.vrrp})
    if not instances:
        print("failover: no VRRP instance seen; skipped")
        return
    target = {"cluster": cluster.name, "instance": instances[0]}
    started = time.monotonic()
    res = await execute(ctx, "failover", target)
    took = time.monotonic() - started
    if not res.ok:
        print(f"failover: {res.message}")
        return
    peer = res.timings["peer_master_s"]
    print(f"failover {instances[0]}: confirm -> peer MASTER holding the VIP: {res.timings['total_s']:.2f} s "
          f"({peer:.2f} s after the step-down; whole action incl. audit {took:.2f} s) = "
          f"{res.timings['total_s'] / ref:.0f}x reference; {res.details[0]}")
    res = await execute(ctx, "release", target)
    print(f"release: {res.message}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inventory", default=LAB_INVENTORY)
    parser.add_argument("--cluster")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-failover", action="store_true")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
