"""Host load, CPU, memory and uptime from /proc (no process started).

cpu_percent needs two samples: the Agent keeps the last (busy, total) jiffies it read.
"""

import re
from typing import Any, Dict, Optional, Tuple

from .protocol import quote

# str.isdigit() also takes "²" and "٣", which int() then refuses or reads: /proc has ASCII digits only.
_DIGITS = re.compile(r"[0-9]+\Z")


class HostError(ValueError):
    pass


def _read(path: str) -> str:
    with open(path, "r", encoding="ascii", errors="replace") as f:
        return f.read()


def _nonneg(token: str, source: str) -> float:
    try:
        value = float(token)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):  # also rejects nan
        raise HostError(f"{source}: expected a number, got {quote(token)}")
    return value


def parse_loadavg(text: str) -> Tuple[float, float, float, int]:
    """"1.22 0.33 0.14 5/104 9612" -> (1.22, 0.33, 0.14, 9612): the last is the last PID handed out."""
    parts = text.split()
    if len(parts) < 3:
        raise HostError(f"/proc/loadavg: expected three load averages, got {quote(text.strip())}")
    last = int(parts[4]) if len(parts) > 4 and _DIGITS.match(parts[4]) else 0
    return _nonneg(parts[0], "/proc/loadavg"), _nonneg(parts[1], "/proc/loadavg"), _nonneg(parts[2], "/proc/loadavg"), last


def parse_uptime(text: str) -> float:
    parts = text.split()
    if not parts:
        raise HostError("/proc/uptime: empty")
    return _nonneg(parts[0], "/proc/uptime")


def parse_meminfo(text: str) -> Tuple[int, float]:
    """(MemTotal in bytes, percent used); used is MemTotal - MemAvailable, as `free` counts it."""
    fields = {}
    for line in text.split("\n"):
        key, sep, rest = line.partition(":")
        if sep and key in ("MemTotal", "MemAvailable", "MemFree", "Buffers", "Cached"):
            parts = rest.split()
            if not parts or not _DIGITS.match(parts[0]):
                raise HostError(f"/proc/meminfo: bad line {quote(line)}")
            fields[key] = int(parts[0]) * 1024
    total = fields.get("MemTotal", 0)
    if total <= 0:
        raise HostError("/proc/meminfo: no MemTotal")
    avail = fields.get("MemAvailable", fields.get("MemFree", 0) + fields.get("Buffers", 0) + fields.get("Cached", 0))
    used = min(max(total - avail, 0), total)
    return total, round(100.0 * used / total, 1)


def parse_stat(text: str) -> Tuple[int, int, int]:
    """(busy jiffies, total jiffies, CPUs) from /proc/stat. Idle and iowait are not busy;
    guest time is inside user/nice already."""
    busy = total = -1
    cpus = 0
    for line in text.split("\n"):
        if line.startswith("cpu "):
            vals = line.split()[1:9]
            if len(vals) < 4 or not all(_DIGITS.match(v) for v in vals):
                raise HostError(f"/proc/stat: bad cpu line {quote(line)}")
            nums = [int(v) for v in vals]
            total = sum(nums)
            busy = total - nums[3] - (nums[4] if len(nums) > 4 else 0)
        elif line.startswith("cpu"):
            cpus += 1
        elif total >= 0:
            break
    if total < 0:
        raise HostError("/proc/stat: no aggregate 'cpu' line")
    return busy, total, cpus


def cpu_percent(prev: Optional[Tuple[int, int]], busy: int, total: int) -> float:
    if prev is None:
        return 0.0
    dbusy, dtotal = busy - prev[0], total - prev[1]
    if dtotal <= 0 or dbusy < 0:
        return 0.0
    return round(min(100.0, 100.0 * dbusy / dtotal), 1)


def collect(prev: Optional[Tuple[int, int]] = None) -> Dict[str, Any]:
    """The host_stats object of `status --json` (plus cpu_busy/cpu_total, the raw jiffies)."""
    l1, l5, l15, _ = parse_loadavg(_read("/proc/loadavg"))
    busy, total, cpus = parse_stat(_read("/proc/stat"))
    mem_total, mem_pct = parse_meminfo(_read("/proc/meminfo"))
    return {"load1": l1, "load5": l5, "load15": l15, "cpu_percent": cpu_percent(prev, busy, total),
            "mem_percent": mem_pct, "mem_total": mem_total, "cpus": cpus,
            "uptime_s": parse_uptime(_read("/proc/uptime")), "cpu_busy": busy, "cpu_total": total}


def last_pid() -> int:
    """The last PID the kernel handed out (5th field of /proc/loadavg): counts process creation."""
    return parse_loadavg(_read("/proc/loadavg"))[3]
