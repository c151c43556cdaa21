"""Local IPVS snapshot of 10,000 real servers (100 services x 100) on a real kernel.

Run as root on the host, with the lab up (`lbconsole lab up`):

    .venv/bin/python benchmarks/bench_ipvs_netlink.py [--services 100] [--servers 100] [--runs 7]

It works inside the lab VM, on director lb1, in a scratch network namespace (`lbcbench`, made
and deleted here; IPVS tables are per namespace, so lb1's own table is never touched). The
table uses TEST-NET addresses (192.0.2.0/24 services, 203.0.113.0/24 and 198.51.100.0/24 real
servers, LVS-DR); with --traffic (the default) one TCP SYN per real server goes through it
from a local client, so counters and rates are not all zero. The SYNs leave through a veth
whose peer, in the same namespace, drops them.

The working tree's lbconsole package is sent over the lab's ssh (the VM's 9p view of the
host can be stale), with pyroute2 for (c), and run by the VM's python3.

Timed in the same run, (a) and (b) alternating round by round (the VM is shared with the
other lab tests and its load varies a lot; compare ratios, not absolute times):
  (a) `ipvsadm -Ln --stats --exact` read through a pipe: the reference;
  (b) ipvs_netlink.collect() in a process that has polled before (its very first call,
      which resolves the "IPVS" family id, is shown apart);
  (c) pyroute2's high-level API: IPVS().service("dump") and dest("dump") per service.
Each is printed with its ratio to (a). Goal (issue 3): (b) <= (a). Not pass/fail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lbconsole.lab import api, remote_python  # noqa: E402

NODE, NETNS = "lb1", "lbcbench"

SETUP = r"""
set -e
ip netns del {ns} 2>/dev/null || true
ip netns add {ns}
x() {{ ip netns exec {ns} "$@"; }}
x ip link set lo up
x ip link add v0 type veth peer name v1
x ip link set v0 up; x ip link set v1 up
x ip addr add 203.0.113.254/24 dev v0
x ip addr add 198.51.100.254/24 dev v0
x ip route add 192.0.2.0/24 dev v0
for s in $(seq 1 {services}); do
  echo "-A -t 192.0.2.$s:80 -s wlc"
  for r in $(seq 1 {servers}); do
    net=$(( (r - 1) / 200 )); host=$(( (r - 1) % 200 + 1 ))
    [ $net = 0 ] && ip=203.0.113.$host || ip=198.51.100.$host
    echo "-a -t 192.0.2.$s:80 -r $ip:80 -g -w $(( (s + r) % 5 * 25 ))"
  done
done | x ipvsadm -R
for host in $(seq 1 200); do
  echo "neigh replace 203.0.113.$host lladdr 02:00:00:00:71:01 dev v0"
  echo "neigh replace 198.51.100.$host lladdr 02:00:00:00:51:01 dev v0"
done | x ip -batch -
"""

TRAFFIC = r"""
import socket, time
# Weights 0 get nothing; every other real server gets about one SYN (wlc spreads them). The
# IPVS connection entries outlive the sockets.
for s in range(1, {services} + 1):
    socks = []
    for _ in range({servers}):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("192.0.2.%d" % s, 80))
        socks.append(c)
    for c in socks:
        c.close()
time.sleep(4.5)  # the estimator updates rates every 2 s
"""

MAIN = r"""
import statistics, subprocess, sys, time

def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out

def ipvsadm():
    return subprocess.run(["ipvsadm", "-Ln", "--stats", "--exact"], stdout=subprocess.PIPE, check=True).stdout

def pyroute2_dump():
    from pyroute2 import IPVS, IPVSService
    n = 0
    with IPVS() as ipvs:
        for msg in ipvs.service("dump"):
            n += len(list(ipvs.dest("dump", service=IPVSService.from_message(msg))))
    return n

cold, _ = timed(lambda: __import__("lbconsole.node.ipvs_netlink").node.ipvs_netlink.collect())
from lbconsole.node import ipvs_netlink
# (a) and (b) alternate, so that both see the same load (the VM is shared and TCG is slow).
a, b = [], []
for r in range({runs}):
    for which in ((a, ipvsadm), (b, ipvs_netlink.collect))[::1 if r % 2 else -1]:
        which[0].append(timed(which[1]))
c = [timed(pyroute2_dump) for _ in range(max(1, {runs} // 3))]
text, table = a[0][1], b[0][1]
rs = sum(len(s["real_servers"]) for s in table)
busy = sum(1 for s in table for r in s["real_servers"] if r["stats"]["conns"])
print(f"IPVS table: {{len(table)}} services, {{rs}} real servers ({{busy}} with traffic); "
      f"ipvsadm output {{len(text) / 1e6:.2f}} MB; pyroute2 saw {{c[0][1]}} real servers; {{len(a)}} rounds")
print(f"{{'':40}} {{'best':>9}} {{'median':>9}}   ratio to (a): best/best, median/median")
ta, tb, tc = ([t for t, _ in x] for x in (a, b, c))
for label, ts in (("(a) ipvsadm -Ln --stats --exact", ta), ("(b) ipvs_netlink.collect()", tb),
                  ("(c) pyroute2 IPVS service/dest dump", tc)):
    print(f"{{label:40}} {{min(ts) * 1e3:7.1f}}ms {{statistics.median(ts) * 1e3:7.1f}}ms   "
          f"{{min(ts) / min(ta):5.2f}}x  {{statistics.median(ts) / statistics.median(ta):5.2f}}x")
print(f"(b)/(a) in the same round: median {{statistics.median(x / y for x, y in zip(tb, ta)):.2f}}x, "
      f"worst {{max(x / y for x, y in zip(tb, ta)):.2f}}x")
print(f"(b) first call in a new process (resolves the family id): {{cold * 1e3:.0f}}ms")
"""


def run_python(main: str, netns: str | None = None, timeout: float = 1800) -> str:
    """Run the source `main` on NODE (in `netns` there) with the working tree's lbconsole and pyroute2."""
    try:
        return remote_python.run_python(NODE, main, netns=netns, packages=("pyroute2",), timeout=timeout)
    except api.LabError as exc:
        sys.exit(f"benchmark failed: {exc}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--services", type=int, default=100)
    p.add_argument("--servers", type=int, default=100, help="real servers per service (at most 400)")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--no-traffic", dest="traffic", action="store_false")
    args = p.parse_args()
    if not (1 <= args.services <= 254 and 1 <= args.servers <= 400):
        p.error("--services 1..254, --servers 1..400")
    if not api.is_up():
        sys.exit("the lab is not up: run `lbconsole lab up` first")
    fmt = {"ns": NETNS, "services": args.services, "servers": args.servers, "runs": args.runs}
    print(f"setting up {args.services} x {args.servers} real servers in netns {NETNS} on {NODE} ...", flush=True)
    try:
        api.run(NODE, SETUP.format(**fmt), check=True, timeout=1800)
        if args.traffic:
            run_python(TRAFFIC.format(**fmt), NETNS)
        print(run_python(MAIN.format(**fmt), NETNS), end="")
    finally:
        api.run(NODE, f"ip netns del {NETNS}", timeout=120)


if __name__ == "__main__":
    main()
