"""The node's /proc readers (lbconsole/node/host.py) on files read from real hosts: this one and the
lab's nodes (tests/fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbconsole.node.host import HostError, cpu_percent, parse_loadavg, parse_meminfo, parse_stat, parse_uptime

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def fx(name: str) -> str:
    return (FIX / name).read_text()


def test_single_files():
    assert parse_loadavg(fx("proc_loadavg.txt")) == (1.22, 0.33, 0.14, 9612)  # 9612: the last PID handed out
    assert parse_uptime(fx("proc_uptime.txt")) == 840.10
    total, pct = parse_meminfo(fx("proc_meminfo.txt"))
    assert total == 24684084 * 1024
    # used = MemTotal - MemAvailable (24152468 kB), as `free` counts it
    assert pct == round(100 * (24684084 - 24152468) / 24684084, 1)


def test_meminfo_without_memavailable():
    total, pct = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 100 kB\nCached: 300 kB\n")
    assert (total, pct) == (1024000, 50.0)


def test_cpu_from_two_real_samples():
    busy_a, total_a, cpus = parse_stat(fx("proc_stat_1.txt"))
    busy_b, total_b, cpus_b = parse_stat(fx("proc_stat_2.txt"))
    # cpu  5374 0 2996 158155 721 0 55 16 0 0: busy = all but idle and iowait
    assert (busy_a, total_a) == (5374 + 2996 + 55 + 16, 5374 + 2996 + 158155 + 721 + 55 + 16)
    assert cpus == cpus_b == int(fx("nproc.txt"))  # `nproc` on the same host
    assert total_b > total_a
    assert cpu_percent((busy_a, total_a), busy_b, total_b) == round(100 * (busy_b - busy_a) / (total_b - total_a), 1)
    assert 0 <= cpu_percent((busy_a, total_a), busy_b, total_b) <= 100
    assert cpu_percent(None, busy_b, total_b) == 0.0  # one sample: no rate yet
    # Counters went back (a reboot): no number rather than a wrong one.
    assert cpu_percent((busy_b, total_b), busy_a, total_a) == 0.0
    assert cpu_percent((0, 100), 50, 200) == 50.0


@pytest.mark.parametrize("fn, text, source", [
    (parse_loadavg, "", "/proc/loadavg"), (parse_loadavg, "1.0 nan 2", "/proc/loadavg"),
    (parse_loadavg, "-1 0 0", "/proc/loadavg"), (parse_loadavg, "a b c", "/proc/loadavg"),
    (parse_uptime, "", "/proc/uptime"), (parse_uptime, "inf 0", "/proc/uptime"),
    (parse_meminfo, "", "/proc/meminfo"), (parse_meminfo, "MemTotal: lots kB", "/proc/meminfo"),
    (parse_meminfo, "MemTotal: \u00b2 kB", "/proc/meminfo"),  # isdigit() but not a number int() reads
    (parse_stat, "cpu0 1 2 3 4", "/proc/stat"), (parse_stat, "cpu  1 2 x 4", "/proc/stat"),
    (parse_stat, "cpu 1 2", "/proc/stat"), (parse_stat, "cpu  1 2 \u00b2 4", "/proc/stat"),
])
def test_garbage_is_a_host_error_naming_the_file(fn, text, source):
    with pytest.raises(HostError, match="^" + source + ": "):
        fn(text)


def test_a_last_pid_that_is_not_ascii_digits_counts_as_none():
    assert parse_loadavg("0.1 0.2 0.3 1/2 \u00b2") == (0.1, 0.2, 0.3, 0)


@pytest.mark.parametrize("node", ["lb1", "lb2", "web1"])
def test_lab_nodes(node):
    l1, l5, l15, last = parse_loadavg(fx(f"{node}_proc_loadavg.txt"))
    assert min(l1, l5, l15) >= 0 and last > 0
    total, pct = parse_meminfo(fx(f"{node}_proc_meminfo.txt"))
    assert total > 0 and 0 <= pct <= 100
    busy, all_, cpus = parse_stat(fx(f"{node}_proc_stat.txt"))
    assert 0 < busy < all_ and cpus >= 1
