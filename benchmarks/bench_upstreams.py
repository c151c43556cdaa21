"""Upstreams on a node: reading 200 upstreams x 20 servers vs `nginx -T` itself (goal <= 2x), and following
an error log: one poll after a 1 KB append with a 1 MB and with a 100 MB log (goal: the same cost).

    python benchmarks/bench_upstreams.py [--rounds N]

Needs Debian's nginx (nginx-light) on PATH; nothing is started (nginx -T only reads). Files go under
/var/tmp and are deleted at the end. Prints ratios to references measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lbconsole.node import nginx_conf, upstream_conf
from lbconsole.node.upstream_log import ErrorLogs

LINE = ('2026/11/30 04:40:01 [error] 81#81: *{n} connect() failed (111: Connection refused) while connecting to '
        'upstream, client: 10.99.0.50, server: _, request: "GET / HTTP/1.1", upstream: "http://10.0.{a}.{b}:8080/", '
        'host: "10.99.0.100"\n')


def make_config(root: Path, upstreams: int, servers: int) -> Path:
    (root / "conf.d").mkdir(parents=True)
    (root / "nginx.conf").write_text(
        f"worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\n"
        f"http {{\n    include {root}/conf.d/*.conf;\n}}\n")
    for u in range(upstreams):
        lines = [f"upstream pool{u} {{"]
        lines += [f"    server 10.{u // 250}.{u % 250}.{s + 1}:8080 max_fails=2 fail_timeout=10s;  # app{s}"
                  for s in range(servers)]
        lines += ["    keepalive 16;", "}",
                  f"server {{ listen 127.0.0.1:{10000 + u}; location / {{ proxy_pass http://pool{u}; }} }}"]
        (root / "conf.d" / f"pool{u:03}.conf").write_text("\n".join(lines) + "\n")
    return root / "nginx.conf"


def timed(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_read(root: Path, rounds: int) -> None:
    conf = make_config(root / "conf", 200, 20)
    argv = ["nginx", "-T", "-c", str(conf), "-p", str(conf.parent)]

    def dump() -> str:
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    text = dump()

    def parse() -> dict:
        return upstream_conf.read(nginx_conf.Config.from_dump(text), lambda h, p: [h])

    got = parse()
    assert len(got["upstreams"]) == 200 and all(len(u["servers"]) == 20 for u in got["upstreams"])
    # CPU seconds, best of N, interleaved: the machine is shared, and wall time mostly measures the others.
    def cpu(fn) -> float:
        c0, p0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
        fn()
        c1, p1 = resource.getrusage(resource.RUSAGE_CHILDREN), time.process_time()
        return (c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime) + (p1 - p0)

    reader = upstream_conf.Reader(lambda h, p: [h])
    reader.read(text)
    t_dump = t_parse = t_total = t_poll = float("inf")
    for _ in range(rounds):
        t_dump = min(t_dump, cpu(dump))
        t_parse = min(t_parse, cpu(parse))
        t_total = min(t_total, cpu(lambda: upstream_conf.read(nginx_conf.Config.from_dump(dump()), lambda h, p: [h])))
        t_poll = min(t_poll, cpu(lambda: reader.read(dump())))
    print(f"read 200 upstreams x 20 servers ({len(text) // 1024} KB of nginx -T), CPU time, best of {rounds}:")
    print(f"  nginx -T alone              {t_dump * 1000:8.1f} ms  (reference)")
    print(f"  parse + upstreams (Python)  {t_parse * 1000:8.1f} ms  = {t_parse / t_dump:.2f}x nginx -T")
    print(f"  nginx -T + parse, first     {t_total * 1000:8.1f} ms  = {t_total / t_dump:.2f}x nginx -T (goal <= 2x)")
    print(f"  nginx -T + Reader, a poll   {t_poll * 1000:8.1f} ms  = {t_poll / t_dump:.2f}x nginx -T "
          "(config unchanged since the last poll)")


def fill(path: Path, size: int) -> None:
    block = "".join(LINE.format(n=i, a=i % 200, b=i % 20 + 1) for i in range(1000)).encode()
    with open(path, "wb") as f:
        written = 0
        while written < size:
            f.write(block)
            written += len(block)


def poll_cost(path: Path, rounds: int) -> tuple[float, int]:
    logs = ErrorLogs([str(path)])
    logs.poll()  # starts at the end
    append = "".join(LINE.format(n=i, a=1, b=2) for i in range(4)).encode()  # ~1 KB
    times, counted = [], 0
    for _ in range(rounds):
        with open(path, "ab") as f:
            f.write(append)
        t = time.perf_counter()
        got = logs.poll(["10.0.1.2:8080"])
        times.append(time.perf_counter() - t)
        counted += got["servers"].get("10.0.1.2:8080", {}).get("connect", 0)
    logs.close()
    return statistics.median(times), counted


def bench_follow(root: Path, rounds: int) -> None:
    small, big = root / "small.log", root / "big.log"
    fill(small, 1 << 20)
    fill(big, 100 << 20)
    t_small, n_small = poll_cost(small, rounds)
    t_big, n_big = poll_cost(big, rounds)
    assert n_small == n_big == 4 * rounds, (n_small, n_big)
    t = time.perf_counter()
    with open(big, "rb") as f:
        while f.read(1 << 20):
            pass
    t_scan = time.perf_counter() - t
    print(f"follow the error log: one poll after a ~1 KB append (4 failure lines), median of {rounds}:")
    print(f"  1 MB log                    {t_small * 1e6:8.1f} us  (reference)")
    print(f"  100 MB log                  {t_big * 1e6:8.1f} us  = {t_big / t_small:.2f}x (goal ~1x)")
    print(f"  (reading the 100 MB once    {t_scan * 1000:8.1f} ms  = {t_scan / t_big:.0f}x one poll: what a rescan "
          "would cost)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    if shutil.which("nginx") is None:
        sys.exit("nginx is not installed (apt-get install nginx-light)")
    root = Path(tempfile.mkdtemp(prefix="lbc-bench-upstreams-", dir="/var/tmp"))
    try:
        bench_read(root, args.rounds)
        bench_follow(root, args.rounds * 4)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"(cleaned up {root}; python {sys.version.split()[0]}, pid {os.getpid()})")


if __name__ == "__main__":
    main()
