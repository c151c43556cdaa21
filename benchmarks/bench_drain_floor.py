"""The least a drain can cost on the lab, against the drain goal (<= 1.5x one round trip to the directors).

    .venv/bin/python benchmarks/bench_drain_floor.py [--runs 20]

A drain that cannot be lost or applied twice needs, on each director, at least: the service read (the
agent checks when it acts: the real server is there, not the last one in service; and the kernel takes
the whole entry back), one record made durable before the weight changes (what to restore and the op's
id), the weight set, and the weight read back. This times those steps with the agent's own code inside
the lab VM (the record written to a scratch file in the director's state directory, then removed; the
weight set to the value it already has, so nothing changes), and the whole `drain` verb in-process
(drained and undrained again). The reference is measured in the same run: one request round trip
(`hello`) on open sessions to every director at once, from lbc-ops.

floor = round trip + 2 reads + durable record + set; printed as a ratio to the round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

from lbconsole import inventory
from lbconsole.lab import api, vm
from lbconsole.lab import topology as t
from lbconsole.transport import session_for

AGENT_PATH = "/usr/local/lib/lbconsole/lbconsole-node"  # where `lab up` installs it (`lbconsole node install`)

# Runs on the director (the VM's Python 3): stdlib and the installed agent only.
IN_VM = r'''
import json, os, statistics, sys, time, uuid
sys.path.insert(0, AGENT_PATH)
from lbconsole.node import agent, ipvs_edit, keys, records
runs = RUNS
svc = keys.parse_service(SERVICE)
rows = ipvs_edit.read(svc)
key = sorted(k for k, r in rows.items() if r.weight > 0)[0]
scratch = records.STATE_DIR + "/bench-floor-%d.json" % os.getpid()
def timed(fn):
    out = []
    for _ in range(runs):
        t0 = time.perf_counter(); fn(); out.append(time.perf_counter() - t0)
    return statistics.median(out)
record = {"service": svc.key, "real_server": key, "weight": rows[key].weight, "reason": "floor", "by": "bench",
          "op_id": uuid.uuid4().hex, "since": time.time()}
res = {"record": timed(lambda: records.write(scratch, record))}
os.unlink(scratch)
res["set"] = timed(lambda: ipvs_edit.set_weight(svc, rows[key], rows[key].weight))
res["read"] = timed(lambda: ipvs_edit.read(svc))
a = agent.Agent()
def verb(name, **kw):
    out = a.handle({"id": 1, "verb": name, "args": dict(service=svc.key, real_servers=[key], by="bench@floor",
                                                         op_id=uuid.uuid4().hex, **kw)})
    assert out.get("ok"), out
verbs = []
for _ in range(runs):
    t0 = time.perf_counter(); verb("drain", reason="floor"); verbs.append(time.perf_counter() - t0)
    verb("undrain")
res["verb"] = statistics.median(verbs)
print("FLOOR " + json.dumps(res))
'''


async def round_trip(inv: inventory.Inventory, runs: int) -> float:
    directors = [n for c in inv.clusters for n in c.directors]
    sessions = [session_for(n, read_only=True) for n in directors]
    try:
        await asyncio.gather(*(s.request("hello") for s in sessions))  # connected before anything is timed
        trips = []
        for _ in range(runs):
            started = time.perf_counter()
            await asyncio.gather(*(s.request("hello") for s in sessions))
            trips.append(time.perf_counter() - started)
        return statistics.median(trips)
    finally:
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


def in_vm(director: str, service: str, runs: int) -> dict[str, float]:
    script = IN_VM.replace("AGENT_PATH", repr(AGENT_PATH)).replace("RUNS", str(int(runs))) \
        .replace("SERVICE", repr(service))
    rc, out = vm.exec_node(t.node(director), f"python3 - <<'LBC_FLOOR'\n{script}LBC_FLOOR\n", timeout=600)
    lines = [line for line in out.splitlines() if line.startswith("FLOOR ")]
    if rc != 0 or not lines:
        raise SystemExit(f"the in-VM measurement failed on {director} (exit {rc}): {out[-2000:]}")
    return {k: float(v) for k, v in json.loads(lines[-1][len("FLOOR "):]).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--service", default=f"{t.VIP}:80")
    parser.add_argument("--director", default="lb1")
    args = parser.parse_args()
    inv = inventory.load(str(api.up(print)))
    with api.in_ops_netns():
        before = asyncio.run(round_trip(inv, args.runs))
    node = in_vm(args.director, args.service, args.runs)
    with api.in_ops_netns():
        after = asyncio.run(round_trip(inv, args.runs))
    rtt = statistics.mean([before, after])
    floor = rtt + node["record"] + node["set"] + 2 * node["read"]
    print(f"reference: one `hello` round trip to every director at once: {rtt * 1000:.1f} ms "
          f"(before {before * 1000:.1f}, after {after * 1000:.1f})")
    print(f"on {args.director}, in the VM, medians of {args.runs}: one durable record "
          f"{node['record'] * 1000:.1f} ms, set the weight {node['set'] * 1000:.1f} ms, read the service "
          f"{node['read'] * 1000:.1f} ms (twice: the check and the read-back); "
          f"the whole `drain` verb in-process {node['verb'] * 1000:.1f} ms")
    print(f"floor = round trip + those four: {floor * 1000:.1f} ms = {floor / rtt:.2f}x the round trip "
          f"(goal <= 1.5x: {'reachable' if floor / rtt <= 1.5 else 'NOT reachable'} on this host); "
          f"without the durable record {(floor - node['record']) / rtt:.2f}x; the verb's own work as it is "
          f"{(rtt + node['verb']) / rtt:.2f}x")


if __name__ == "__main__":
    main()
