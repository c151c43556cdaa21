"""Host load, CPU and memory from /proc text (remote nodes; psutil is for the local host).

CPU use needs two samples: cpu_times() reads one /proc/stat, cpu_percent() compares two.
"""

from __future__ import annotations

from dataclasses import replace

from lbconsole.collectors.errors import ParseError, quote
from lbconsole.snapshot import HostStats

__all__ = ["parse_loadavg", "parse_meminfo", "parse_uptime", "parse_nproc", "cpu_times",
           "cpu_percent", "parse_host", "parse_host_section"]


def parse_loadavg(text: str) -> tuple[float, float, float]:
    """/proc/loadavg "1.22 0.33 0.14 5/104 9612" -> (1.22, 0.33, 0.14)."""
    parts = text.split() if isinstance(text, str) else []
    try:
        if len(parts) < 3:
            raise ValueError
        return _nonneg(parts[0]), _nonneg(parts[1]), _nonneg(parts[2])
    except ValueError:
        raise ParseError("/proc/loadavg", f"expected three load averages, got {quote(str(text).strip())}") from None


def parse_uptime(text: str) -> float:
    """/proc/uptime "840.10 1581.60" -> 840.1 seconds."""
    parts = text.split() if isinstance(text, str) else []
    try:
        if not parts:
            raise ValueError
        return _nonneg(parts[0])
    except ValueError:
        raise ParseError("/proc/uptime", f"expected seconds, got {quote(str(text).strip())}") from None


def parse_nproc(text: str) -> int:
    """`nproc` output -> number of CPUs."""
    s = text.strip() if isinstance(text, str) else ""
    if not (s.isdigit() and s.isascii()) or int(s) < 1:
        raise ParseError("nproc", f"expected a CPU count, got {quote(s)}")
    return int(s)


def parse_meminfo(text: str) -> tuple[int, float]:
    """/proc/meminfo -> (MemTotal in bytes, percent used). "Used" is MemTotal - MemAvailable,
    as `free` and psutil count it (buffers and cache are reclaimable, not used)."""
    fields: dict[str, int] = {}
    for line in text.split("\n") if isinstance(text, str) else ():
        key, sep, rest = line.partition(":")
        if sep and key in ("MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached"):
            parts = rest.split()
            if not parts or not (parts[0].isdigit() and parts[0].isascii()):
                raise ParseError("/proc/meminfo", f"bad line {quote(line)}")
            fields[key] = int(parts[0]) * 1024  # kB
    total = fields.get("MemTotal", 0)
    if total <= 0:
        raise ParseError("/proc/meminfo", "no MemTotal")
    # Kernels before 3.14 have no MemAvailable.
    avail = fields.get("MemAvailable",
                       fields.get("MemFree", 0) + fields.get("Buffers", 0) + fields.get("Cached", 0))
    used = min(max(total - avail, 0), total)
    return total, round(100.0 * used / total, 1)


def cpu_times(stat_text: str) -> tuple[int, int]:
    """(busy, total) jiffies from the aggregate "cpu" line of /proc/stat. Idle and iowait
    are not busy; guest time is already inside user/nice, so it is not added twice."""
    for line in stat_text.split("\n") if isinstance(stat_text, str) else ():
        parts = line.split()
        if parts and parts[0] == "cpu":
            vals = parts[1:9]  # user nice system idle iowait irq softirq steal
            if len(vals) < 4 or not all(v.isdigit() and v.isascii() for v in vals):
                raise ParseError("/proc/stat", f"bad cpu line {quote(line)}")
            nums = [int(v) for v in vals]
            total = sum(nums)
            idle = nums[3] + (nums[4] if len(nums) > 4 else 0)
            return total - idle, total
    raise ParseError("/proc/stat", "no aggregate 'cpu' line")


def cpu_percent(prev: tuple[int, int] | None, cur: tuple[int, int]) -> float:
    """Percent of all CPUs busy between two cpu_times() samples (0 without a usable prev)."""
    if prev is None:
        return 0.0
    dbusy, dtotal = cur[0] - prev[0], cur[1] - prev[1]
    if dtotal <= 0 or dbusy < 0:
        return 0.0
    return round(min(100.0, 100.0 * dbusy / dtotal), 1)


def parse_host(loadavg: str, meminfo: str, uptime: str, nproc: str,
               cpu: float = 0.0) -> HostStats:
    """HostStats from the separate /proc files; `cpu` is a cpu_percent() result."""
    l1, l5, l15 = parse_loadavg(loadavg)
    total, mem_pct = parse_meminfo(meminfo)
    return HostStats(load1=l1, load5=l5, load15=l15, cpu_percent=cpu, mem_percent=mem_pct,
                     mem_total=total, cpus=parse_nproc(nproc), uptime_s=parse_uptime(uptime))


def parse_host_section(text: str, prev: HostStats | None = None) -> HostStats:
    """The poll script's host part: /proc/loadavg, /proc/uptime, nproc, the "cpu" line of
    /proc/stat and the MemTotal/MemAvailable lines, in that order. cpu_busy/cpu_total keep
    this sample's jiffies; cpu_percent is computed only when `prev` (the last sample) is given."""
    lines = [ln for ln in text.split("\n") if ln.strip()] if isinstance(text, str) else []
    if len(lines) < 5:
        raise ParseError("host", f"expected loadavg, uptime, nproc, cpu and meminfo lines, got {len(lines)}")
    busy, total = cpu_times(lines[3])
    stats = parse_host(lines[0], "\n".join(lines[4:]), lines[1], lines[2])
    pct = cpu_percent((prev.cpu_busy, prev.cpu_total), (busy, total)) if prev else 0.0
    return replace(stats, cpu_percent=pct, cpu_busy=busy, cpu_total=total)


def _nonneg(token: str) -> float:
    value = float(token)
    if not value >= 0 or value == float("inf"):  # also rejects nan
        raise ValueError(token)
    return value
