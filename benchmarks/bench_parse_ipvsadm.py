"""Parsing remote ipvsadm output for 10,000 real servers (100 services x 100).

Run: .venv/bin/python benchmarks/bench_parse_ipvsadm.py [--services N] [--servers M]

The text is synthetic but byte-for-byte in ipvsadm 1.31's format (the printf widths of
print_service_entry / print_largenum with FMT_EXACT). Times are the best of several runs;
the figure that matters is the ratio to references measured in the same run on the same
text: str.split() of the three outputs, and a bare `for line in text.splitlines()` loop.
Goal (issue 3): well under 50 ms on the developer host. Not pass/fail.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lbconsole.collectors.ipvs_text import parse_ipvsadm  # noqa: E402

HEAD = "IP Virtual Server version 1.2.1 (size=4096)\n"


def _num(v: int) -> str:
    # print_largenum with FMT_EXACT: width 9, or len+1 for wider numbers.
    s = str(v)
    return s.rjust(9 if len(s) <= 8 else len(s) + 1)


def generate(services: int = 100, servers: int = 100, seed: int = 1) -> tuple[str, str, str]:
    """(-Ln --exact, --stats --exact, --rate --exact) for services x servers real servers."""
    rnd = random.Random(seed)
    ln = [HEAD, "Prot LocalAddress:Port Scheduler Flags\n",
          "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"]
    st = [HEAD, "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n",
          "  -> RemoteAddress:Port\n"]
    rt = [HEAD, "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n",
          "  -> RemoteAddress:Port\n"]
    for s in range(services):
        name = f"TCP  10.99.{s // 250}.{s % 250 + 1}:{80 + s % 3}"
        flags = " persistent 300" if s % 4 == 1 else ""
        ln.append(f"{name} wlc{flags}\n")
        rows_s, rows_r = [], []
        for r in range(servers):
            dest = f"10.{100 + r // 250}.{s % 250}.{r % 250 + 1}:{80 + s % 3}"
            ln.append(f"  -> {dest:<28} {'Route':<7} {rnd.choice((100, 100, 50, 0)):<6} "
                      f"{rnd.randrange(5000):<10} {rnd.randrange(50000):<10}\n")
            conns = rnd.randrange(10**7)
            c = (conns, conns * 9, 0, conns * 900, 0)
            rr = (rnd.randrange(500), rnd.randrange(5000), 0, rnd.randrange(10**7), 0)
            rows_s.append(c)
            rows_r.append(rr)
            st.append(f"  -> {dest:<28}" + "".join(map(_num, c)) + "\n")
            rt.append(f"  -> {dest:<28} {rr[0]:8} {rr[1]:8} {rr[2]:8}" + _num(rr[3]) + _num(rr[4]) + "\n")
        st.insert(len(st) - servers, f"{name:<33}" + "".join(_num(sum(x)) for x in zip(*rows_s)) + "\n")
        rt.insert(len(rt) - servers, f"{name:<33}" + "".join(_num(sum(x)) for x in zip(*rows_r)) + "\n")
    return "".join(ln), "".join(st), "".join(rt)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=100)
    ap.add_argument("--servers", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=15)
    a = ap.parse_args()
    ln, st, rt = generate(a.services, a.servers)
    n = a.services * a.servers
    parsed = parse_ipvsadm(ln, st, rt)
    assert sum(len(s.real_servers) for s in parsed) == n

    def split_ref():
        ln.split(), st.split(), rt.split()

    def loop_ref():
        for text in (ln, st, rt):
            for _line in text.splitlines():
                pass

    t_parse = best(lambda: parse_ipvsadm(ln, st, rt), a.repeat)
    t_ln = best(lambda: parse_ipvsadm(ln), a.repeat)
    t_split = best(split_ref, a.repeat)
    t_loop = best(loop_ref, a.repeat)
    size = (len(ln) + len(st) + len(rt)) / 1e6
    print(f"ipvsadm parse: {a.services} services x {a.servers} real servers = {n}; "
          f"{size:.2f} MB of text; best of {a.repeat}")
    print(f"  parse_ipvsadm(ln, stats, rate) {t_parse * 1e3:8.2f} ms  "
          f"= {t_parse / t_split:5.2f}x str.split()  = {t_parse / t_loop:5.2f}x splitlines loop")
    print(f"  parse_ipvsadm(ln) only         {t_ln * 1e3:8.2f} ms")
    print(f"  reference str.split() x3       {t_split * 1e3:8.2f} ms")
    print(f"  reference splitlines loop x3   {t_loop * 1e3:8.2f} ms")
    print(f"  per real server                {t_parse / n * 1e6:8.2f} us   (goal: < 50 ms total)")


if __name__ == "__main__":
    main()
