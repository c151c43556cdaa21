"""The IPVS table decoded from the raw generic netlink replies (ipvs_netlink asks the kernel for them).

Python 3.6+ standard library only: it runs in lbconsole-node, and the console uses it through
lbconsole.node.ipvs_netlink (the one decoder). The replies are read with struct and memoryview: pyroute2's
message objects cost 9x `ipvsadm -Ln --stats` for 10,000 real servers.

Why it is fast: the kernel writes every real server with the same attributes in the same order. All GET_DEST
replies are received back to back into one buffer; one message is walked attribute by attribute into a template
(where each wanted field is); the headers of every message are checked against it by strided memoryview
comparisons; each field is then read for all real servers at once as a strided column, and the dicts (the
service and real server objects of `status --json`) are built column-wise. Replies that do not fit one template
are read message by message, with bounds checks.

The result equals what `ipvsadm -Ln --exact` (--stats, --rate) shows on the same kernel, in ipvsadm's order (the
tests check it against ipvsadm), plus the persistent connections that -Ln does not show. Counters are the 64-bit
ones (the 32-bit ones if a kernel has no IPVS_*_ATTR_STATS64); rates are the kernel estimator's per-second
values, as ipvsadm prints.
"""

import contextlib
import errno
import os
import re
import socket
import struct
import sys
from array import array
from functools import partial
from itertools import chain, repeat
from operator import itemgetter
from typing import (
    Any,
    Dict,
    Iterable,
    Iterator,
    List,
    Optional,
    Tuple,
    cast,
)

from .gcpause import gc_paused
from .ipvs_order import HALF as _HALF
from .ipvs_order import ipvsadm_order as _ipvsadm_order
from .ipvs_order import words as _words

__all__ = ["DecodeError", "IPVSUnavailable", "NotLoaded", "decode"]


class IPVSUnavailable(Exception):
    """The local IPVS table cannot be read (no ip_vs, no permission, no usable reply)."""


class DecodeError(IPVSUnavailable):
    """A reply that is not what the kernel sends: truncated, garbled or unexpected."""


class NotLoaded(IPVSUnavailable):
    """The kernel has no "IPVS" family (ip_vs not loaded, or unloaded since it was resolved)."""


NLMSG_ERROR, NLMSG_DONE = 2, 3
_HDR, _NLA = struct.Struct("=IHHII"), struct.Struct("=HH")  # nlmsghdr, nlattr
_DONE_LEN = 20  # nlmsghdr + int error (no extended ack asked for)
_AF_NAME = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
_PROTO = {6: "TCP", 17: "UDP", 132: "SCTP"}
_FORWARD = ("masq", "local", "tunnel", "route")  # IP_VS_CONN_F_* & IP_VS_CONN_F_FWD_MASK
_STATS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")
# Canonical rows and columns, and the IPVS_{SVC,DEST}_ATTR_* numbers of the fields.
_SVC = ("af", "proto", "a4", "a12", "port", "fwmark", "sched", "flags", "timeout") + _STATS
_DEST = ("a4", "a12", "port", "fwd", "weight", "active", "inact", "persist", "af") + _STATS
_KINDS = {  # kind: (reply command, top attribute, fields, attribute names)
    "service": (1, 1, _SVC, {1: "af", 2: "proto", 3: "addr", 4: "port", 5: "fwmark", 6: "sched", 7: "flags",
                             8: "timeout"}),
    "dest": (5, 2, _DEST, {1: "addr", 2: "port", 3: "fwd", 4: "weight", 7: "active", 8: "inact", 9: "persist",
                           11: "af"}),
}
_DEFAULT = {"a4": bytes(4), "a12": bytes(12), "port": bytes(2), "sched": b""}
_INT = {1: "B", 2: "H", 4: "I", 8: "Q"}
_CODE = {"addr": "16s", "port": "2s", "flags": "I"}  # struct ip_vs_flags {flags, mask}: flags only
_SIZE = {"addr": 16, "port": 2, "flags": 8}


def _attrs(data: Any, pos: int, end: int, kind: str) -> List[Tuple[int, int, int]]:
    """[(type, payload offset, payload length)] of the attributes in data[pos:end]."""
    out = []
    while pos < end:
        if pos + 4 > end:
            raise DecodeError(f"IPVS {kind} reply: {end - pos} stray bytes after the attributes")
        ln, typ = _NLA.unpack_from(data, pos)
        if ln < 4 or pos + ln > end:
            raise DecodeError(f"IPVS {kind} reply: attribute {typ & 0x3FFF} of length {ln} overruns its message")
        out.append((typ & 0x3FFF, pos + 4, ln - 4))
        pos += (ln + 3) & ~3
    return out


class _Template:
    """One message layout: each wanted field's offset and struct code, and the header words
    that every message of this layout has (to check a message, or thousands, against it)."""

    __slots__ = ("checks", "defaults", "expect", "mask", "names", "pick", "size", "struct", "where")

    def __init__(self, data: Any, pos: int, size: int, kind: str) -> None:
        cmd, top, self.names, attr_names = _KINDS[kind]
        if size < 20 or size % 4 or data[pos + 16] != cmd:
            raise DecodeError(f"IPVS {kind} reply: expected command {cmd} in a {size}-byte message")
        outer = _attrs(data, pos + 20, pos + size, kind)
        nest = [a for a in outer if a[0] == top]
        if len(nest) != 1:
            raise DecodeError(f"IPVS {kind} reply without its nested attribute")
        inner = _attrs(data, nest[0][1], nest[0][1] + nest[0][2], kind)
        stats = {t: (p, ln) for t, p, ln in inner if t in (10, 12)}  # *_ATTR_STATS, *_ATTR_STATS64
        if stats:
            p, ln = stats.get(12) or stats[10]
            inner += [(100 + t, q, qlen) for t, q, qlen in _attrs(data, p, p + ln, kind) if 1 <= t <= 10]
        self.where, heads = {}, [0, 4, 16] + [p - 4 - pos for _, p, _ in outer + inner]
        for typ, p, ln in inner:
            name = _STATS[typ - 101] if typ > 100 else attr_names.get(typ)
            if name is not None:
                if ln != _SIZE.get(name, ln) or name not in _CODE and name != "sched" and ln not in _INT:
                    raise DecodeError(f"IPVS {kind} attribute {name} of {ln} bytes")
                self.where[name] = (p - pos, f"{ln}s" if name == "sched" else _CODE.get(name) or _INT[ln])
        if "addr" not in self.where and kind == "dest":
            raise DecodeError("IPVS real server without an address")
        self.size, fmt, order, at = size, [], [], 0
        self.checks = [(h // 4, int.from_bytes(data[pos + h:pos + h + 4], sys.byteorder)) for h in heads]
        for off, code, name in sorted((off, code, name) for name, (off, code) in self.where.items()):
            fmt.append(f"{off - at}x{'4s12s' if name == 'addr' else code}")
            order += ["a4", "a12"] if name == "addr" else [name]
            at = off + struct.calcsize("=" + code)
        self.struct = struct.Struct("=" + "".join(fmt) + f"{size - at}x")
        # A canonical row is picked from the unpacked values followed by the defaults.
        self.defaults = tuple(_DEFAULT.get(n, 0) for n in self.names)
        self.pick = itemgetter(*(order.index(n) if n in order else len(order) + k for k, n in enumerate(self.names)))
        mask = bytearray(size)
        for h in heads:
            mask[h:h + 4] = b"\xff" * 4
        self.mask = int.from_bytes(mask, "little")
        self.expect = int.from_bytes(data[pos:pos + size], "little") & self.mask

    def fits(self, data: Any, pos: int) -> bool:
        return int.from_bytes(data[pos:pos + self.size], "little") & self.mask == self.expect

    def row(self, data: Any, pos: int) -> Tuple[Any, ...]:
        return cast(Tuple[Any, ...], self.pick(self.struct.unpack_from(data, pos) + self.defaults))


_templates: "Dict[Tuple[str, int], _Template]" = {}


def _check_end(data: Any, pos: int, typ: int) -> None:
    """An NLMSG_ERROR, or an NLMSG_DONE that reports an error, becomes the matching exception."""
    if pos < 0 or pos + 20 > len(data):
        raise DecodeError("netlink error message cut short")
    code = -struct.unpack_from("=i", data, pos + 16)[0]
    if typ == NLMSG_DONE and code == 0:
        return
    if code in (errno.EPERM, errno.EACCES):
        raise IPVSUnavailable("IPVS over netlink needs root or CAP_NET_ADMIN")
    if code == errno.ENOENT:
        raise NotLoaded("IPVS not available: the ip_vs kernel module is not loaded")
    if code == 0:
        raise DecodeError("netlink acknowledgement where a dump reply was expected")
    raise IPVSUnavailable(f"IPVS netlink error: {os.strerror(code) if 0 < code < 4096 else code}")


def _rows(data: Any, kind: str, done: bool = True) -> List[Tuple[Any, ...]]:
    """Canonical rows, message by message (up to NLMSG_DONE if `done`)."""
    rows: List[Tuple[Any, ...]] = []
    pos, end = 0, len(data)
    while pos < end:
        size, typ = _HDR.unpack_from(data, pos)[:2] if pos + 16 <= end else (0, 0)
        if size < 16 or pos + size > end:
            raise DecodeError(f"IPVS {kind} reply: a netlink message overruns the reply at byte {pos}")
        if typ in (NLMSG_ERROR, NLMSG_DONE):
            _check_end(data, pos, typ)
            return rows
        tmpl = _templates.get((kind, size))
        if tmpl is None or not tmpl.fits(data, pos):
            tmpl = _templates[(kind, size)] = _Template(data, pos, size, kind)
        rows.append(tmpl.row(data, pos))
        pos += (size + 3) & ~3
    if done:
        raise DecodeError(f"IPVS {kind} reply ends without NLMSG_DONE")
    return rows


# --- all real servers at once: strided columns over the back-to-back GET_DEST replies ------

_consts: "Dict[Tuple[int, int], memoryview]" = {}
_LO = 0 if sys.byteorder == "little" else 1  # which u32 of a u64 is the low one
_HI32 = (1 << 32).__mul__
_split4, _split12 = re.compile(b".{4}", re.DOTALL).findall, re.compile(b".{12}", re.DOTALL).findall


def _all(col: memoryview, value: int, n: int) -> bool:
    """Every u32 of a strided column equals value (one C-level comparison)."""
    const = _consts.get((value, n))
    if const is None:
        if len(_consts) > 256:
            _consts.clear()
        const = _consts[(value, n)] = memoryview(array("I", [value]) * n)
    return col == const


def _bulk(view: memoryview, n: int, tmpl: _Template) -> Optional[Dict[str, Any]]:
    """The canonical columns of n messages of tmpl's layout, or None if one does not fit."""
    w, s = view.cast("I"), tmpl.size // 4
    if not all(_all(w[i::s], v, n) for i, v in tmpl.checks):
        return None
    cols = dict.fromkeys(_DEST)
    for name, (off, code) in tmpl.where.items():
        i = off // 4
        if code == "I" or code == "Q" and _all(w[i + 1 - _LO::s], 0, n):  # a u64 whose high half is 0
            col = w[i + _LO * (code == "Q")::s]
            cols[name] = [0] * n if _all(col, 0, n) else col.tolist()
        elif code == "Q":
            cols[name] = list(map(int.__add__, w[i + _LO::s].tolist(), map(_HI32, w[i + 1 - _LO::s].tolist())))
        elif code in ("H", "2s"):  # a port stays in network byte order here
            cols[name] = view.cast("H")[off // 2::s * 2].tolist()
        elif code == "B":
            cols[name] = view[off::tmpl.size].tolist()
    i = tmpl.where["addr"][0] // 4  # 4 bytes for IPv4, 12 more for IPv6 (gathered only then)
    cols["a4"] = _split4(w[i::s].tobytes())
    if cols["af"] is None or set(cols["af"]) != {socket.AF_INET}:
        words = memoryview(bytearray(12 * n)).cast("I")
        for k in range(3):
            words[k::3] = w[i + 1 + k::s]
        cols["a12"] = _split12(words.tobytes())
    for name in _DEST[2:8] + _STATS:
        if cols[name] is None:
            cols[name] = [_DEFAULT.get(name, 0)] * n
    return cols


def _dest_columns(buf: Any, spans: List[Tuple[int, int]]) -> Tuple[List[int], Dict[str, Any]]:
    """(real servers per service, canonical columns) of the GET_DEST replies in buf, one
    span each; the spans follow each other and hold whole messages without NLMSG_DONE."""
    view = memoryview(buf)[:spans[-1][1] if spans else 0]
    size, typ = _HDR.unpack_from(view)[:2] if len(view) >= 16 else (0, 0)
    if size >= 20 and size % 4 == 0 and typ not in (NLMSG_ERROR, NLMSG_DONE) \
            and all((e - b) % size == 0 for b, e in spans):
        try:
            tmpl = _templates.get(("dest", size))
            if tmpl is None or not tmpl.fits(view, 0):
                tmpl = _templates[("dest", size)] = _Template(view, 0, size, "dest")
            cols = _bulk(view, len(view) // size, tmpl)
        except DecodeError:
            cols = None  # the first message is bad: the slow path says where
        if cols is not None:
            return [(e - b) // size for b, e in spans], cols
    counts: List[int] = []
    rows: List[Tuple[Any, ...]] = []
    for b, e in spans:
        rows += _rows(view[b:e], "dest", done=False)
        counts.append(len(rows) - sum(counts))
    return counts, dict(zip(_DEST, map(list, zip(*rows)))) if rows else dict.fromkeys(_DEST, [])  # noqa: RUF024 - read only


# --- the snapshot objects (plain dicts, the fields of `status --json`), built column-wise ---

_COUNTER_KEYS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
_RATE_KEYS = ("cps", "inpps", "outpps", "inbps", "outbps")
_ZERO_COUNTERS, _ZERO_RATES = dict.fromkeys(_COUNTER_KEYS, 0), dict.fromkeys(_RATE_KEYS, 0)
_ntop4 = partial(socket.inet_ntop, socket.AF_INET)
_names: "Dict[bytes, str]" = {}  # IPv4 address texts: the same few thousand at every poll


def _numbers(keys: Tuple[str, ...], zero: Dict[str, int], n: int, cols: List[Any]) -> List[Dict[str, int]]:
    """Counter or rate dicts per row; one shared zero dict when all are zero (idle servers):
    treat the result as read-only."""
    if all(c.count(0) == n for c in cols):
        return [zero] * n
    return list(map(dict, map(zip, repeat(keys, n), zip(*cols))))


def _hosts(afs: List[int], a4s: List[bytes], a12s: Optional[List[bytes]]) -> List[str]:
    kinds = set(afs)
    if kinds == {socket.AF_INET}:
        known: List[Any] = list(map(_names.get, a4s))
        if None in known:
            fresh = list(map(_ntop4, a4s))
            if len(_names) > 100_000:
                _names.clear()
            _names.update(zip(a4s, fresh))
            return fresh
        return known
    if not kinds <= _AF_NAME.keys():
        raise DecodeError(f"IPVS address family {min(kinds - _AF_NAME.keys())} is not IPv4 or IPv6")
    return [_ntop4(a) if f == socket.AF_INET else socket.inet_ntop(socket.AF_INET6, a + b)
            for f, a, b in zip(afs, a4s, a12s or [])]


def _ports(raw: List[Any]) -> List[int]:
    """Ports from network byte order (bytes, or a u16 read in host order); few distinct ones."""
    conv = {p: int.from_bytes(p if isinstance(p, bytes) else p.to_bytes(2, sys.byteorder), "big") for p in set(raw)}
    return list(map(conv.__getitem__, raw))


def _real_servers(counts: List[int], cols: Dict[str, Any], svc_afs: List[int]) -> List[List[Dict[str, Any]]]:
    n, af = sum(counts), cols["af"]
    if af is None or 0 in af:  # no IPVS_DEST_ATTR_ADDR_FAMILY (before Linux 4.x): the service's
        own = chain.from_iterable(map(repeat, svc_afs, counts))
        af = list(own) if af is None else [f or g for f, g in zip(af, own)]
    bad = set(cols["fwd"]) - {0, 1, 2, 3}
    if bad:
        raise DecodeError(f"IPVS forward method {min(bad)} is not masq, local, tunnel or route")
    ports = _ports(cols["port"])
    objs = [{"address": a, "port": p, "forward": f, "weight": w, "active_conns": ac, "inactive_conns": ic,
             "persist_conns": pc, "stats": st, "rates": rt, "drain": None}
            for a, p, f, w, ac, ic, pc, st, rt in zip(
                _hosts(af, cols["a4"], cols["a12"]), ports, map(_FORWARD.__getitem__, cols["fwd"]), cols["weight"],
                cols["active"], cols["inact"], cols["persist"],
                _numbers(_COUNTER_KEYS, _ZERO_COUNTERS, n, [cols[k] for k in _STATS[:5]]),
                _numbers(_RATE_KEYS, _ZERO_RATES, n, [cols[k] for k in _STATS[5:]]))]
    # ipvsadm's order within a service: address, then port. Sorting by the raw address bytes
    # gives it while a service's IPv4 addresses are less than 2^31 apart (see _ipvsadm_order).
    a4, a12 = cols["a4"], cols["a12"]
    keys, out, start = list(zip(a4, ports)), [], 0
    for c in counts:
        end, seg = start + c, a4[start:start + c]
        if a12 is None and (c < 2 or int.from_bytes(max(seg), "big") - int.from_bytes(min(seg), "big") < _HALF):
            order = sorted(range(start, end), key=keys.__getitem__)
        else:
            order = [start + i for i in _ipvsadm_order([
                (0, 0, 0, _words(af[k], a4[k], a12[k] if a12 else b""), ports[k]) for k in range(start, end)])]
        out.append(list(map(objs.__getitem__, order)))
        start = end
    return out


def _service(row: Tuple[Any, ...], host: str, port: int, real: List[Dict[str, Any]]) -> Dict[str, Any]:
    af, proto, _, _, _, fwmark, sched, flags, timeout = row[:9]
    if not fwmark and proto not in _PROTO:
        raise DecodeError(f"IPVS service of protocol {proto}")
    persistent = bool(flags & 1)  # IP_VS_SVC_F_PERSISTENT
    return {
        "protocol": "FWM" if fwmark else _PROTO[proto], "address": None if fwmark else host,
        "port": None if fwmark else port, "fwmark": fwmark or None,
        "scheduler": sched.split(b"\0", 1)[0].decode("ascii", "replace"), "persistent": persistent,
        "persistence_timeout": timeout if persistent else None, "family": _AF_NAME[af],
        "stats": dict(zip(_COUNTER_KEYS, row[9:14])), "rates": dict(zip(_RATE_KEYS, row[14:19])),
        "real_servers": real}


def _table(rows: List[Tuple[Any, ...]], buf: Any, spans: List[Tuple[int, int]]) -> List[Dict[str, Any]]:
    """The Services of the service rows, with the GET_DEST replies in buf (one span each)."""
    try:
        with gc_paused():  # tens of thousands of acyclic objects: no collections while making them
            counts, cols = _dest_columns(buf, spans)
            if len(counts) != len(rows):
                raise DecodeError(f"{len(rows)} IPVS services but {len(counts)} real-server replies")
            svc: List[Any] = list(zip(*rows)) or [[]] * len(_SVC)
            return list(map(_service, rows, _hosts(svc[0], svc[2], svc[3]), _ports(svc[4]),
                             _real_servers(counts, cols, svc[0])))
    except (struct.error, IndexError, ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"IPVS netlink reply not understood: {exc}") from None


def _service_rows(data: Any) -> List[Tuple[Any, ...]]:
    """The GET_SERVICE reply's rows, in ipvsadm's order."""
    try:
        rows = _rows(data, "service")
        return [rows[i] for i in _ipvsadm_order([
            (r[5], r[0], r[1], _words(r[0], r[2], r[3]), int.from_bytes(r[4], "big")) for r in rows])]
    except (struct.error, IndexError, ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"IPVS netlink reply not understood: {exc}") from None


def decode(services_dump: bytes, dest_dumps: Iterable[bytes]) -> List[Dict[str, Any]]:
    """The table from raw replies, as read_raw returns them: the GET_SERVICE dump, and one
    GET_DEST dump per service in ipvsadm's order. Raises DecodeError, or IPVSUnavailable for
    a kernel error."""
    with _decoding():
        return _decode(services_dump, dest_dumps)


def _decode(services_dump: bytes, dest_dumps: Iterable[bytes]) -> List[Dict[str, Any]]:
    rows, parts, spans, pos = _service_rows(services_dump), [], [], 0
    for d in dest_dumps:
        if len(d) < _DONE_LEN or _HDR.unpack_from(d, len(d) - _DONE_LEN)[:2] != (_DONE_LEN, NLMSG_DONE):
            _rows(d, "dest")  # raises the reply's error, or what is wrong with it
        _check_end(d, len(d) - _DONE_LEN, NLMSG_DONE)
        parts.append(d[:-_DONE_LEN])
        spans.append((pos, pos + len(parts[-1])))
        pos = spans[-1][1]
    return _table(rows, b"".join(parts), spans)


@contextlib.contextmanager
def _decoding() -> Iterator[None]:
    """The bounds checks above are the design; this is the guarantee that bytes no check foresaw
    still end as a DecodeError (the node's error), never as an IndexError out of a poll."""
    try:
        yield
    except IPVSUnavailable:
        raise
    except (IndexError, KeyError, ValueError, struct.error, TypeError) as exc:
        raise DecodeError(f"IPVS reply cannot be decoded: {type(exc).__name__}: {exc}") from None
