"""What viewers cost a `lbconsole serve` on the real lab. Not pass/fail: it prints figures and ratios.

    .venv/bin/python -m lbconsole lab up      # as root; or hold the lab lock (see README)
    .venv/bin/python benchmarks/bench_serve_viewers.py [--viewers 50] [--window 15] [--rounds 3]

The serve runs in the lab's ops namespace; the viewers are real `RemoteSource` clients (the code
`lbconsole --connect` uses), in a separate process so their CPU is not counted. Windows with no
viewers and with N viewers alternate, so drift in the lab's own load falls on both. Figures:
- the serve's CPU, in % of one core, with none and with N viewers (goal: at most 10 points more);
- SSH sessions from the ops side to the nodes, with none and with N viewers (goal: the same, one per node).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[1]


async def viewers_child(url: str, count: int) -> None:
    """Run `count` viewers until killed; print how many snapshots they took when asked (stdin line)."""
    from lbconsole.source.remote import Endpoint, RemoteSource, ServerLost

    taken = [0] * count

    async def view(i: int) -> None:
        source = RemoteSource(Endpoint.parse(url))
        while True:
            try:
                await source.next()
                taken[i] += 1
            except ServerLost:
                await asyncio.sleep(0.5)

    tasks = [asyncio.create_task(view(i)) for i in range(count)]
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        print(json.dumps(taken), flush=True)
    for t in tasks:
        t.cancel()


def ops(argv: list[str], **kw) -> subprocess.Popen:  # type: ignore[type-arg,no-untyped-def]
    return subprocess.Popen(["ip", "netns", "exec", "lbc-ops", *argv], cwd=CHECKOUT, **kw)


def ssh_sessions() -> int:
    from lbconsole.lab import api

    return int(api.run("ops", "ss -Htn state established '( dport = :22 )' | wc -l").stdout.strip())


def healthz(url: str) -> dict:  # type: ignore[type-arg]
    out = subprocess.run(["ip", "netns", "exec", "lbc-ops", "curl", "-sS", "--max-time", "5", url + "/healthz"],
                         capture_output=True, text=True, check=False)
    return json.loads(out.stdout) if out.stdout.startswith("{") else {}


def cpu_seconds(pid: int) -> float:
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def window(pid: int, seconds: float) -> float:
    """% of one core the serve used over `seconds`."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--window", type=float, default=15.0, help="seconds per measuring window")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(viewers_child(args.child, args.viewers))
        return
    from lbconsole.lab import api
    from support import free_port  # type: ignore[import-not-found]

    inventory = api.up(print)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = ops([sys.executable, "-m", "lbconsole", "serve", "--inventory", str(inventory), "--listen",
                 f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    child = None
    try:
        deadline = time.monotonic() + 120
        while not healthz(url).get("ok"):
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit("serve did not come up")
            time.sleep(0.5)
        time.sleep(args.window)  # every node connected and polled a few times
        idle, loaded, sessions_idle, sessions_loaded = [], [], [], []
        for _ in range(args.rounds):
            sessions_idle.append(ssh_sessions())
            idle.append(window(serve.pid, args.window))
            child = ops([sys.executable, __file__, "--child", url, "--viewers", str(args.viewers)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            while healthz(url).get("viewers") != args.viewers:
                time.sleep(0.2)
            time.sleep(2)
            loaded.append(window(serve.pid, args.window))
            sessions_loaded.append(ssh_sessions())
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("\n")
            child.stdin.flush()
            taken = json.loads(child.stdout.readline())
            child.terminate()
            child.wait(10)
            child = None
            while healthz(url).get("viewers") != 0:
                time.sleep(0.2)
        mean_idle, mean_loaded = sum(idle) / len(idle), sum(loaded) / len(loaded)
        print(f"serve CPU, no viewers: {' '.join(f'{x:.1f}' for x in idle)} -> mean {mean_idle:.1f}% of one core")
        print(f"serve CPU, {args.viewers} viewers: {' '.join(f'{x:.1f}' for x in loaded)} -> mean "
              f"{mean_loaded:.1f}% of one core (each viewer took {min(taken)}-{max(taken)} snapshots in the last "
              "window)")
        print(f"  {args.viewers} viewers cost {mean_loaded - mean_idle:+.1f} points of one core "
              f"(goal <= +10); ratio {mean_loaded / mean_idle:.2f}x the serve with no viewers")
        print(f"SSH sessions to the nodes: no viewers {sorted(set(sessions_idle))}, {args.viewers} viewers "
              f"{sorted(set(sessions_loaded))} (goal: the same, one per node)")
    finally:
        if child is not None:
            child.kill()
            child.wait(5)
        serve.terminate()
        serve.wait(15)


if __name__ == "__main__":
    sys.path.insert(0, str(CHECKOUT / "tests"))
    main()
