"""/proc parsers for remote host stats, on files read from this host (tests/fixtures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbconsole.collectors.errors import ParseError
from lbconsole.collectors.host_parse import (
    cpu_percent,
    cpu_times,
    parse_host,
    parse_host_section,
    parse_loadavg,
    parse_meminfo,
    parse_nproc,
    parse_uptime,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def fx(name: str) -> str:
    return (FIX / name).read_text()


def test_single_files():
    assert parse_loadavg(fx("proc_loadavg.txt")) == (1.22, 0.33, 0.14)
    assert parse_uptime(fx("proc_uptime.txt")) == 840.10
    assert parse_nproc(fx("nproc.txt")) == 2
    total, pct = parse_meminfo(fx("proc_meminfo.txt"))
    assert total == 24684084 * 1024
    # used = MemTotal - MemAvailable (24152468 kB)
    assert pct == round(100 * (24684084 - 24152468) / 24684084, 1)


def test_meminfo_without_memavailable():
    total, pct = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 100 kB\nCached: 300 kB\n")
    assert (total, pct) == (1024000, 50.0)


def test_cpu_from_two_real_samples():
    a, b = cpu_times(fx("proc_stat_1.txt")), cpu_times(fx("proc_stat_2.txt"))
    # cpu  5374 0 2996 158155 721 0 55 16 0 0: busy = all but idle and iowait
    assert a == (5374 + 2996 + 55 + 16, 5374 + 2996 + 158155 + 721 + 55 + 16)
    assert b[1] > a[1]
    assert 0 <= cpu_percent(a, b) <= 100
    assert cpu_percent(None, b) == 0.0
    assert cpu_percent(b, a) == 0.0  # counters went back (reboot): no number rather than a wrong one
    assert cpu_percent((0, 100), (50, 200)) == 50.0


def test_parse_host_and_section():
    h = parse_host(fx("proc_loadavg.txt"), fx("proc_meminfo.txt"), fx("proc_uptime.txt"), fx("nproc.txt"), cpu=12.5)
    assert (h.load1, h.cpus, h.uptime_s, h.cpu_percent) == (1.22, 2, 840.10, 12.5)
    s = parse_host_section(fx("host_section.txt"))
    assert (s.load1, s.load5, s.load15, s.uptime_s, s.cpus) == (1.21, 0.34, 0.15, 845.45, 2)
    assert (s.cpu_busy, s.cpu_total) == (5574 + 3121 + 55 + 17, 5574 + 3121 + 159089 + 726 + 55 + 17)
    assert s.mem_total == 24684084 * 1024 and s.cpu_percent == 0.0
    prev = s.__class__(cpu_busy=s.cpu_busy - 50, cpu_total=s.cpu_total - 200)
    assert parse_host_section(fx("host_section.txt"), prev).cpu_percent == 25.0


@pytest.mark.parametrize("fn, text", [
    (parse_loadavg, ""), (parse_loadavg, "1.0 nan 2"), (parse_loadavg, "-1 0 0"), (parse_loadavg, "a b c"),
    (parse_uptime, ""), (parse_uptime, "inf 0"), (parse_nproc, "0"), (parse_nproc, "two"),
    (parse_meminfo, ""), (parse_meminfo, "MemTotal: lots kB"), (cpu_times, "cpu0 1 2 3 4"),
    (cpu_times, "cpu  1 2 x 4"), (cpu_times, "cpu 1 2"), (parse_host_section, "1 2 3\n"),
])
def test_garbage(fn, text):
    with pytest.raises(ParseError):
        fn(text)


@pytest.mark.parametrize("node", ["lb1", "lb2", "web1"])
def test_lab_nodes(node):
    names = [f"{node}_proc_{w}.txt" for w in ("loadavg", "meminfo", "stat")]
    load, mem, stat = (fx(n) for n in names)
    assert all(v >= 0 for v in parse_loadavg(load))
    total, pct = parse_meminfo(mem)
    assert total > 0 and 0 <= pct <= 100
    busy, all_ = cpu_times(stat)
    assert 0 < busy < all_
