"""Short, fixed-width renderings of numbers, ages and times for table cells."""

from __future__ import annotations

import time

_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def num(value: float | int | None) -> str:
    """1234 -> 1.2k; small numbers stay exact; at most 5 characters."""
    if value is None:
        return "–"
    v = float(value)
    for scale, unit in _UNITS:
        if abs(v) >= scale:
            scaled = v / scale
            return f"{scaled:.1f}{unit}" if abs(scaled) < 100 else f"{scaled:.0f}{unit}"
    if v == int(v):
        return str(int(v))
    return f"{v:.1f}" if abs(v) < 100 else f"{v:.0f}"


def bits(bytes_per_s: float | None) -> str:
    """IPVS reports bytes/s; operators read links in bits/s."""
    return "–" if bytes_per_s is None else num(bytes_per_s * 8)


def age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    s = max(0.0, seconds)
    if s < 60:
        return f"{s:.0f}s"
    if s < 3600:
        return f"{s // 60:.0f}m"
    if s < 86400:
        return f"{s // 3600:.0f}h"
    return f"{s // 86400:.0f}d"


def clock(epoch: float | None) -> str:
    """Local wall-clock time of a snapshot, HH:MM:SS."""
    if not epoch:
        return "--:--:--"
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def since(epoch: float | None, now: float) -> str:
    if not epoch:
        return "–"
    return age(now - epoch) + " ago"


def weights(values: list[int | None]) -> str:
    """One weight when the directors agree, else each one: drift shows at a glance."""
    seen = [v for v in values if v is not None]
    if not seen:
        return "–"
    if all(v == seen[0] for v in seen):
        return str(seen[0])
    return "/".join("–" if v is None else str(v) for v in values)
