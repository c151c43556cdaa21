"""The order `ipvsadm -Ln` lists services and real servers in, so that the netlink view and the
ipvsadm view of one kernel are identical.

libipvs compares fwmarks and address words as `int r = ntohl(a) - ntohl(b)`: unsigned 32-bit
differences read as signed, so 10.0.0.1 sorts after 192.168.0.1 (0x0A.. - 0xC0.. wraps
positive), and with values spread around the circle the comparison is not even transitive.
ipvsadm sorts with glibc's qsort, a merge sort (glibc 2.36): emulated when needed.
"""

import socket
import struct
from typing import (
    Any,
    Callable,
    Dict,
    List,
    Tuple,
)

HALF, _U32 = 1 << 31, (1 << 32) - 1


def words(af: int, a4: bytes, a12: bytes) -> Tuple[int, ...]:
    return struct.unpack(">IIII", a4 + a12) if af == socket.AF_INET6 else struct.unpack(">I", a4)


def _cmp(x: Tuple[Any, ...], y: Tuple[Any, ...]) -> int:
    """ipvs_cmp_services / ipvs_cmp_dests on keys (fwmark, af, protocol, address words, port)."""
    d = (x[0] - y[0]) & _U32
    d = (d - (d & HALF) * 2) or x[1] - y[1] or x[2] - y[2]
    for a, b in zip(x[3], y[3] + (0, 0, 0)):  # as many words as the first one's family has
        d = d or ((a - b) & _U32) - ((a - b) & HALF) * 2
    return int(d or x[4] - y[4])


def _msort(idx: List[int], cmp: Callable[[int, int], int]) -> List[int]:
    """glibc's msort_with_tmp: halves sorted recursively, then merged taking the left one
    unless cmp says it is greater."""
    if len(idx) < 2:
        return idx
    left, right, out = _msort(idx[:len(idx) // 2], cmp), _msort(idx[len(idx) // 2:], cmp), []
    i = j = 0
    while i < len(left) and j < len(right):
        if cmp(left[i], right[j]) <= 0:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    return out + left[i:] + right[j:]


def ipvsadm_order(keys: List[Tuple[Any, ...]]) -> List[int]:
    """The indexes of keys in ipvsadm's order: a plain sort when every wrapped difference
    has the sign of the plain one (no two values of a level 2^31 or more apart) and IPv4 and
    IPv6 addresses are never compared (services: the family comes first)."""
    by_len: Dict[int, List[Any]] = {}
    for k in keys:
        by_len.setdefault(len(k[3]), []).append(k[3])
    levels: List[Any] = [[k[0] for k in keys]] + [col for ws in by_len.values() for col in zip(*ws)]
    if len({k[:3] + (len(k[3]),) for k in keys}) == len({k[:3] for k in keys}) \
            and all(max(v) - min(v) < HALF for v in levels if v):
        return sorted(range(len(keys)), key=keys.__getitem__)
    return _msort(list(range(len(keys))), lambda i, j: _cmp(keys[i], keys[j]))
