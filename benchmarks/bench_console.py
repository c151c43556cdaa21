"""The console at 10,000 real servers (100 services x 100, on two directors) refreshed at 1 Hz.

Run: .venv/bin/python benchmarks/bench_console.py [--seconds 20] [--services 100] [--servers 100]

Each scenario runs the real App headless in its own process (so RSS is its own)
and feeds it pre-built synthetic snapshots at 1 Hz: what is measured is the
console (state, transitions, histories, widgets, rendering), not the poller.
Prints CPU as % of one core and RSS in MB, with ratios to the goals (20 %,
150 MB) and to a reference measured in the same run: the same App on the
lab-sized cluster (1 service x 3 real servers). Not pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL_CPU = 20.0
GOAL_RSS = 150.0
VARIANTS = 4  # distinct snapshots cycled, so every refresh carries new numbers


def build(services: int, servers: int, variant: int):
    from lbconsole.snapshot import (
        ClusterSnapshot,
        NginxStatus,
        NodeSnapshot,
        Rates,
        RealServer,
        Service,
        Snapshot,
        VrrpInstance,
    )

    t = 1_700_000_000.0
    svcs = []
    for s in range(services):
        rss = tuple(RealServer(f"10.{1 + s // 250}.{s % 250}.{r % 250}", 8000 + r // 250, "route", 100,
                               active_conns=(r * 7 + variant) % 50, inactive_conns=(r + variant) % 30,
                               rates=Rates(cps=(r + variant) % 11 * 0.5, inpps=r % 17, inbps=r * 100 + variant))
                    for r in range(servers))
        svcs.append(Service("TCP", f"10.99.{s // 250}.{s % 250}", 80, None, "wlc",
                            rates=Rates(cps=sum(r.rates.cps for r in rss)), real_servers=rss))
    svcs = tuple(svcs)

    def director(name, state, prio):
        return NodeSnapshot(name=name, host=name, roles=("director",), reachable=True, updated_at=t, age_s=0.2,
                            ipvs=svcs, vrrp=(VrrpInstance("VI_1", 51, state, prio, prio, "eth1", ("10.99.0.100",)),))

    webs = tuple(NodeSnapshot(name=f"web{i}", host=f"web{i}", roles=("nginx",), reachable=True, updated_at=t,
                              age_s=0.3, nginx=NginxStatus(4 + variant, 1000, 1000, 1000 + variant, 0, 1, 3, 12.5))
                 for i in (1, 2, 3))
    nodes = (director("lb1", "MASTER", 150), director("lb2", "BACKUP", 100)) + webs
    return Snapshot(taken_at=t, clusters=(ClusterSnapshot("bench", nodes),))


class Feed:
    """A SnapshotSource at a fixed rate, cycling pre-built snapshots with fresh timestamps."""

    replay = False

    def __init__(self, snapshots, interval: float = 1.0):
        self.snapshots = snapshots
        self.interval = interval
        self.n = 0
        self.next_at = None

    async def next(self):
        now = time.monotonic()
        if self.next_at is not None and self.next_at > now:
            await asyncio.sleep(self.next_at - now)
        self.next_at = max(now, self.next_at or now) + self.interval
        snap = self.snapshots[self.n % len(self.snapshots)]
        self.n += 1
        return replace(snap, taken_at=snap.taken_at + self.n)

    def refresh_now(self):
        pass

    def set_speed(self, factor):
        pass

    async def close(self):
        pass


async def measure(services: int, servers: int, seconds: float, screen: str) -> dict:
    import psutil

    from lbconsole.source.base import SnapshotSource
    from lbconsole.ui.app import LbConsole

    SnapshotSource.register(Feed)
    snaps = [build(services, servers, v) for v in range(VARIANTS)]
    feed = Feed(snaps)
    app = LbConsole(feed, read_only=True, noc=screen == "noc")
    proc = psutil.Process()
    async with app.run_test(size=(160, 50)) as pilot:
        while app.state.count < 1:
            await pilot.pause(0.05)
        if screen == "service":
            await pilot.press("down", "enter")
        warm = 3.0
        await asyncio.sleep(warm)
        cpu0, wall0, n0 = time.process_time(), time.monotonic(), app.state.count
        await asyncio.sleep(seconds)
        cpu1, wall1, n1 = time.process_time(), time.monotonic(), app.state.count
        rss = proc.memory_info().rss / 2**20
    return {"cpu_pct": 100 * (cpu1 - cpu0) / (wall1 - wall0), "rss_mb": rss, "snapshots": n1 - n0,
            "seconds": wall1 - wall0, "real_servers": services * servers}


def run_child(args, scenario: str, services: int, servers: int, screen: str = "main") -> dict:
    cmd = [sys.executable, __file__, "--child", "--services", str(services), "--servers", str(servers),
           "--seconds", str(args.seconds), "--screen", screen]
    out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TEXTUAL": ""})
    if out.returncode != 0:
        sys.exit(f"{scenario} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--services", type=int, default=100)
    p.add_argument("--servers", type=int, default=100)
    p.add_argument("--screen", default="main", choices=("main", "service", "noc"))
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.services, args.servers, args.seconds, args.screen))))
        return
    ref = run_child(args, "reference", 1, 3)
    rows = [("reference: lab-sized cluster (3 real servers)", ref)]
    big = run_child(args, "main", args.services, args.servers)
    rows.append((f"{big['real_servers']:,} real servers, main screen", big))
    svc = run_child(args, "service", args.services, args.servers, "service")
    rows.append((f"{svc['real_servers']:,} real servers, service screen", svc))
    noc = run_child(args, "noc", args.services, args.servers, "noc")
    rows.append((f"{noc['real_servers']:,} real servers, --noc wall", noc))
    print(f"console at 1 Hz for {args.seconds:g} s per scenario (CPU: % of one core)")
    print(f"{'scenario':52} {'CPU %':>7} {'/goal':>6} {'/ref':>6} {'RSS MB':>7} {'/goal':>6} {'/ref':>6} {'snaps':>6}")
    for name, r in rows:
        print(f"{name:52} {r['cpu_pct']:7.1f} {r['cpu_pct'] / GOAL_CPU:6.2f} "
              f"{r['cpu_pct'] / max(ref['cpu_pct'], 0.01):6.1f} {r['rss_mb']:7.1f} {r['rss_mb'] / GOAL_RSS:6.2f} "
              f"{r['rss_mb'] / ref['rss_mb']:6.2f} {r['snapshots']:6d}")
    print(f"goals: CPU <= {GOAL_CPU:g} % of a core, RSS <= {GOAL_RSS:g} MB (ratio /goal <= 1.00)")


if __name__ == "__main__":
    main()
