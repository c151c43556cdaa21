"""What a steady-state poll costs on a node, with the agent. Not pass/fail: it prints figures.

    .venv/bin/python benchmarks/bench_node_poll.py [--polls 60]

A node is made here (network, mount and PID namespaces, so that the 5th field of its
/proc/loadavg, the last PID handed out, counts only what runs on it) with keepalived (VRRP) and
nginx at their default paths, and the installed program serving one session. After a first
snapshot (which looks up keepalived's dump signals once), it times POLLS snapshot requests, one
every INTERVAL (director + nginx roles, dump_max_age 0: a new keepalived dump, a signal, at most
every 0.5 s), then an idle window of the same
length; processes created = PIDs handed out while polling minus those while idle (goal: 0).
The reference for time is one `hello` round trip on the same session (the poll-cycle goal is
<= 1.2x one round trip). The lab's figures (over SSH, in the VM) are bench_poll.py's.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from node.nodeenv import (
    NodeEnv,
    keepalived_conf,
    start_installed,
    start_keepalived,
    start_nginx,
)

from lbconsole.node import program


class LastPid:
    """The node's last PID, read inside its PID namespace (/proc/loadavg answers for the reader's
    namespace) by one process started once, so reading it creates none."""

    CODE = ("import sys\nfor _ in sys.stdin:\n    print(open('/proc/loadavg').read().split()[4], flush=True)\n")

    def __init__(self, env: NodeEnv):
        self.proc = env.popen(["/usr/bin/python3", "-c", self.CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)

    def __call__(self) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())


def timed(session, verb: str, args: dict | None = None) -> float:
    started = time.perf_counter()
    reply = session.request(verb, args)
    took = time.perf_counter() - started
    assert reply["ok"], json.dumps(reply)[:300]
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=60)
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between polls")
    opts = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lbcnode-bench-", dir="/var/tmp"))
    prog = work / "lbconsole-node"
    prog.write_bytes(program.program_bytes())
    prog.chmod(0o755)
    env = NodeEnv(work, pid_ns=True)
    session = None
    try:
        start_keepalived(env, keepalived_conf(work))
        start_nginx(env)
        session = start_installed(env, prog)
        args = {"roles": ["director", "nginx"], "nginx_status_url": "http://127.0.0.1:8080/nginx_status",
                "dump_max_age": 0}
        first = session.request("snapshot", args)["result"]
        assert first["vrrp"] and first["nginx"], first["errors"]
        # the second read of the nginx config proves its files stood still: `nginx -T` runs no more after it
        assert session.request("snapshot", args)["result"]["upstreams"] is not None
        hello = statistics.median(timed(session, "hello") for _ in range(20))
        last_pid = LastPid(env)
        last_pid()
        pid0, t0 = last_pid(), time.monotonic()
        polls = []
        for _ in range(opts.polls):
            polls.append(timed(session, "snapshot", args))
            time.sleep(opts.interval)
        pid1, t1 = last_pid(), time.monotonic()
        time.sleep(t1 - t0)
        pid2 = last_pid()
        created, idle = pid1 - pid0, pid2 - pid1
        print(f"node: keepalived (VRRP) + nginx + the agent, own PID namespace; {opts.polls} snapshots in "
              f"{t1 - t0:.2f} s, one every {opts.interval:g} s (a new keepalived dump at most every 0.5 s)")
        print(f"processes created on the node while polling: {created}; in an idle window as long: {idle}; "
              f"polls' own: {created - idle} (goal 0)")
        print(f"snapshot round trip: median {statistics.median(polls) * 1000:.1f} ms, max {max(polls) * 1000:.1f} ms; "
              f"hello round trip {hello * 1000:.2f} ms; ratio {statistics.median(polls) / hello:.1f}x "
              "(on a local pipe; over SSH the round trip dominates)")
    finally:
        if session is not None:
            session.close()
        env.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
