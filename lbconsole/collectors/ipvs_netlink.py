"""The local IPVS table over generic netlink, decoded from the raw reply bytes.

pyroute2 only resolves the "IPVS" family id (once per process: importing it is slow). The
GET_SERVICE dump and one GET_DEST dump per service are built here and read with `struct`:
pyroute2's message objects cost 9x `ipvsadm -Ln --stats` for 10,000 real servers.

Speed: the kernel writes every real server of a dump with the same attributes in the same
order, so one message is walked attribute by attribute and becomes a template (a struct
format with the wanted fields at their offsets). A whole dump is then checked against the
template in three big-int operations (every netlink and attribute header of every message,
under a byte mask) and unpacked by struct.iter_unpack; objects are built column-wise. A dump
that does not fit the template is read message by message, with bounds checks.
"""

from __future__ import annotations

import errno
import gc
import os
import socket
import struct
import threading
from collections import deque
from dataclasses import fields
from itertools import repeat
from operator import itemgetter

from lbconsole.snapshot import Counters, Rates, RealServer, Service

__all__ = ["IPVSUnavailable", "DecodeError", "collect", "decode", "read_raw"]


class IPVSUnavailable(Exception):
    """The local IPVS table cannot be read (no ip_vs, no permission, no usable reply)."""


class DecodeError(IPVSUnavailable):
    """A reply that is not what the kernel sends: truncated, garbled or unexpected."""


NLMSG_ERROR, NLMSG_DONE = 2, 3
_DUMP = 0x301  # NLM_F_REQUEST | NLM_F_DUMP
GET_SERVICE, GET_DEST = 4, 8  # IPVS_CMD_*; replies carry NEW_SERVICE (1) / NEW_DEST (5)
ATTR_SERVICE, ATTR_DEST = 1, 2  # IPVS_CMD_ATTR_*
_HDR = struct.Struct("=IHHII")  # nlmsghdr
_NLA = struct.Struct("=HH")
_DONE_LEN = 20  # nlmsghdr + int error (no extended ack requested)
_BUFSIZE = 65536  # the kernel then fills dump skbs of up to 32 KiB
_AF_NAME = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
_PROTO = {6: "TCP", 17: "UDP", 132: "SCTP"}
_FORWARD = ("masq", "local", "tunnel", "route")  # IP_VS_CONN_F_* & IP_VS_CONN_F_FWD_MASK
_STATS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")
_STATS_NEST, _STATS64_NEST = 10, 12  # same numbers in service and dest attributes

# Canonical row of each kind: field names (attributes by IPVS_{SVC,DEST}_ATTR_* number), the
# value when the attribute is absent, and the sort key (ipvsadm's order for the usual case).
_SVC = ("af", "proto", "a4", "a12", "port", "fwmark", "sched", "flags", "timeout") + _STATS
_SVC_ATTRS = {1: "af", 2: "proto", 3: "addr", 4: "port", 5: "fwmark", 6: "sched", 7: "flags", 8: "timeout"}
_DEST = ("a4", "a12", "port", "fwd", "weight", "active", "inact", "persist", "af") + _STATS
_DEST_ATTRS = {1: "addr", 2: "port", 3: "fwd", 4: "weight", 7: "active", 8: "inact", 9: "persist", 11: "af"}
_KINDS = {  # kind: (reply command, top attribute, fields, attributes, sort key fields)
    "service": (1, ATTR_SERVICE, _SVC, _SVC_ATTRS, ("fwmark", "af", "proto", "a4", "a12", "port")),
    "dest": (5, ATTR_DEST, _DEST, _DEST_ATTRS, ("a4", "a12", "port")),
}
_DEFAULT = {"a4": bytes(4), "a12": bytes(12), "port": bytes(2), "sched": b""}
_INT = {1: "B", 2: "H", 4: "I", 8: "Q"}


class _Template:
    """Where the wanted fields of one message layout are, and how to check a message has it."""

    __slots__ = ("size", "struct", "canon", "key", "mask", "expect", "_bulk")

    def __init__(self, size: int, found: dict, headers: list[int], names: tuple, key: tuple, first: bytes):
        parts, order, cursor = [], [], 0
        for off, fmt, names_here in sorted(found.values()):
            parts.append(f"{off - cursor}x{fmt}" if off > cursor else fmt)
            order.extend(names_here)
            cursor = off + struct.calcsize("=" + fmt)
        parts.append(f"{size - cursor}x")
        self.size, self.struct = size, struct.Struct("=" + "".join(parts))
        self.canon = tuple(order.index(n) if n in order else None for n in names)
        self.key = itemgetter(*(order.index(n) for n in key if n in order))
        mask = bytearray(size)
        for h in headers:
            mask[h:h + 4] = b"\xff\xff\xff\xff"
        self.mask, self.expect = bytes(mask), bytes(m & b for m, b in zip(mask, first))
        self._bulk: dict[int, tuple[int, int]] = {}

    def fits(self, data: bytes) -> bool:
        """Every header of every message in data is where this template says (data holds
        whole messages of this size only)."""
        n, rem = divmod(len(data), self.size)
        if rem or not n:
            return False
        m = self._bulk.get(n)
        if m is None:
            if len(self._bulk) > 64:
                self._bulk.clear()
            m = self._bulk[n] = (int.from_bytes(self.mask * n, "little"), int.from_bytes(self.expect * n, "little"))
        return int.from_bytes(data, "little") & m[0] == m[1]


_templates: dict[tuple[str, int], _Template] = {}


def _attrs(data: bytes, pos: int, end: int, where: str) -> list[tuple[int, int, int]]:
    """[(type, payload offset, payload length)] of the attributes in data[pos:end]."""
    out = []
    while pos < end:
        if pos + 4 > end:
            raise DecodeError(f"{where}: {end - pos} stray bytes after the attributes")
        ln, typ = _NLA.unpack_from(data, pos)
        if ln < 4 or pos + ln > end:
            raise DecodeError(f"{where}: attribute {typ & 0x3FFF} of length {ln} overruns its message")
        out.append((typ & 0x3FFF, pos + 4, ln - 4))
        pos += (ln + 3) & ~3
    return out


def _template(data: bytes, pos: int, size: int, kind: str) -> _Template:
    """Walk the message at data[pos:pos+size] and make the template of its layout."""
    cmd, top, names, attr_names, key = _KINDS[kind]
    if size < 20 or data[pos + 16] != cmd:
        raise DecodeError(f"IPVS {kind} reply: expected command {cmd}, got a {size}-byte message")
    headers, found = [0, 4, 16], {}
    nest = [a for a in _attrs(data, pos + 20, pos + size, kind) if a[0] == top]
    if len(nest) != 1:
        raise DecodeError(f"IPVS {kind} reply without its nested attribute")
    inner = _attrs(data, nest[0][1], nest[0][1] + nest[0][2], kind)
    stats = {t: (p, ln) for t, p, ln in inner if t in (_STATS_NEST, _STATS64_NEST)}
    for typ, p, ln in inner:
        name = attr_names.get(typ)
        if name == "addr":
            if ln != 16:
                raise DecodeError(f"IPVS {kind} address of {ln} bytes (expected 16)")
            found[name] = (p - pos, "4s12s", ("a4", "a12"))
        elif name in ("port", "sched"):
            found[name] = (p - pos, f"{ln}s", (name,))
        elif name == "flags" and ln == 8:
            found[name] = (p - pos, "I", (name,))  # struct ip_vs_flags: flags, then mask
        elif name is not None:
            if ln not in _INT:
                raise DecodeError(f"IPVS {kind} attribute {name} of {ln} bytes")
            found[name] = (p - pos, _INT[ln], (name,))
    if _STATS64_NEST in stats or _STATS_NEST in stats:
        p, ln = stats.get(_STATS64_NEST) or stats[_STATS_NEST]
        for typ, q, qlen in _attrs(data, p, p + ln, kind + " stats"):
            if 1 <= typ <= 10 and qlen in _INT:
                found[_STATS[typ - 1]] = (q - pos, _INT[qlen], (_STATS[typ - 1],))
            headers.append(q - 4 - pos)
    if "addr" not in found and kind == "dest" or "port" in found and found["port"][1] != "2s":
        raise DecodeError(f"IPVS {kind} reply without a usable address and port")
    headers += [p - 4 - pos for _, p, _ in _attrs(data, pos + 20, pos + size, kind) + inner]
    return _Template(size, found, headers, names, key, data[pos:pos + size])


def _check_end(data: bytes, pos: int, typ: int) -> None:
    """An NLMSG_ERROR or a failed NLMSG_DONE becomes the matching exception."""
    if pos + 20 > len(data):
        raise DecodeError("netlink error message cut short")
    code = -struct.unpack_from("=i", data, pos + 16)[0]
    if typ == NLMSG_DONE and code == 0:
        return
    if typ == NLMSG_ERROR and code == 0:
        raise DecodeError("netlink acknowledgement where a dump reply was expected")
    if code in (errno.EPERM, errno.EACCES):
        raise IPVSUnavailable("IPVS over netlink needs root or CAP_NET_ADMIN")
    if code == errno.ENOENT:
        global _family
        _family = None  # ip_vs was unloaded: resolve the family again next time
        raise IPVSUnavailable("IPVS not available: the ip_vs kernel module is not loaded")
    raise IPVSUnavailable(f"IPVS netlink error: {os.strerror(code) if 0 < code < 4096 else code}")


def _columns(data: bytes, kind: str) -> tuple[int, list]:
    """One dump's reply (all its messages up to NLMSG_DONE) as canonical columns, sorted."""
    names = _KINDS[kind][2]
    tail = len(data) - _DONE_LEN
    if tail >= 0 and _HDR.unpack_from(data, tail)[:2] == (_DONE_LEN, NLMSG_DONE):
        _check_end(data, tail, NLMSG_DONE)
        if tail == 0:
            return 0, [[] for _ in names]
        size = _HDR.unpack_from(data)[0]
        tmpl = _templates.get((kind, size))
        if tmpl is None and _HDR.unpack_from(data)[1] not in (NLMSG_ERROR, NLMSG_DONE) and size <= tail:
            tmpl = _templates.setdefault((kind, size), _template(data, 0, size, kind))
        body = data[:tail]
        if tmpl is not None and tmpl.fits(body):
            rows = list(tmpl.struct.iter_unpack(body))
            rows.sort(key=tmpl.key)
            cols = list(zip(*rows))
            n = len(rows)
            return n, [cols[i] if i is not None else [_DEFAULT.get(name, 0)] * n
                       for i, name in zip(tmpl.canon, names)]
    rows = _slow_rows(data, kind)
    rows.sort(key=itemgetter(*(names.index(k) for k in _KINDS[kind][4])))
    return len(rows), list(zip(*rows)) if rows else [[] for _ in names]


def _slow_rows(data: bytes, kind: str) -> list[tuple]:
    """Message by message, for replies whose messages differ in layout (or are garbage)."""
    names, rows, pos = _KINDS[kind][2], [], 0
    while pos + 16 <= len(data):
        size, typ = _HDR.unpack_from(data, pos)[:2]
        if size < 16 or pos + size > len(data):
            raise DecodeError(f"IPVS {kind} reply: netlink message of length {size} overruns the reply")
        if typ in (NLMSG_ERROR, NLMSG_DONE):
            _check_end(data, pos, typ)
            return rows
        tmpl = _templates.get((kind, size))
        if tmpl is None or not tmpl.fits(data[pos:pos + size]):
            tmpl = _template(data, pos, size, kind)
            _templates[(kind, size)] = tmpl
        row = tmpl.struct.unpack_from(data, pos)
        rows.append(tuple(row[i] if i is not None else _DEFAULT.get(n, 0) for i, n in zip(tmpl.canon, names)))
        pos += (size + 3) & ~3
    raise DecodeError(f"IPVS {kind} reply ends without NLMSG_DONE")


# --- building the snapshot objects column-wise ------------------------------------------------
# A frozen dataclass __init__ costs ~1 us per field; setting the slots through their
# descriptors, one map() per field, keeps the per-real-server work in C.

_new = object.__new__
_consume = deque(maxlen=0).extend
_SETTERS = {cls: tuple(getattr(cls, f.name).__set__ for f in fields(cls)) for cls in (RealServer, Counters, Rates)}
_ZERO_COUNTERS, _ZERO_RATES = Counters(), Rates()
_ntop4 = lambda a4: socket.inet_ntop(socket.AF_INET, a4)  # noqa: E731
_ntop6 = lambda a4, a12: socket.inet_ntop(socket.AF_INET6, a4 + a12)  # noqa: E731


def _build(cls: type, n: int, columns) -> list:
    objs = list(map(_new, repeat(cls, n)))
    for setter, column in zip(_SETTERS[cls], columns):
        _consume(map(setter, objs, column))
    return objs


def _numbers(cls: type, zero, n: int, cols) -> list:
    """Counters or Rates per row; the shared zero object when a whole column set is zero
    (idle servers, outbound counters under LVS-DR)."""
    if all(c.count(0) == n for c in cols):
        return [zero] * n
    return _build(cls, n, cols)


def _hosts(afs, a4s, a12s, n: int) -> list[str]:
    kinds = set(afs)
    if kinds == {socket.AF_INET}:
        return list(map(_ntop4, a4s))
    if kinds == {socket.AF_INET6}:
        return list(map(_ntop6, a4s, a12s))
    if not kinds <= _AF_NAME.keys():
        raise DecodeError(f"IPVS address family {min(kinds - _AF_NAME.keys())} is not IPv4 or IPv6")
    return [_ntop4(a) if f == socket.AF_INET else _ntop6(a, b) for f, a, b in zip(afs, a4s, a12s)]


def _ports(raw) -> list[int]:
    # Network byte order; a table has few distinct ports, so convert each once.
    conv = {p: int.from_bytes(p, "big") for p in set(raw)}
    return list(map(conv.__getitem__, raw))


def _real_servers(n: int, cols, svc_af: int) -> tuple[RealServer, ...]:
    a4, a12, port, fwd, weight, active, inact, persist, af = cols[:9]
    if 0 in set(af):  # no IPVS_DEST_ATTR_ADDR_FAMILY (kernels before 4.x): the service's
        af = [f or svc_af for f in af]
    bad = set(fwd) - {0, 1, 2, 3}
    if bad:
        raise DecodeError(f"IPVS forward method {min(bad)} is not masq, local, tunnel or route")
    counters = _numbers(Counters, _ZERO_COUNTERS, n, cols[9:14])
    rates = _numbers(Rates, _ZERO_RATES, n, cols[14:19])
    return tuple(_build(RealServer, n, (
        _hosts(af, a4, a12, n), _ports(port), list(map(_FORWARD.__getitem__, fwd)), weight, active, inact,
        persist, counters, rates, repeat(None, n))))


def _service(row: tuple, real: tuple[RealServer, ...]) -> Service:
    af, proto, a4, a12, port, fwmark, sched, flags, timeout = row[:9]
    if af not in _AF_NAME:
        raise DecodeError(f"IPVS service of address family {af}")
    if not fwmark and proto not in _PROTO:
        raise DecodeError(f"IPVS service of protocol {proto}")
    persistent = bool(flags & 1)  # IP_VS_SVC_F_PERSISTENT
    return Service(
        protocol="FWM" if fwmark else _PROTO[proto],
        address=None if fwmark else _hosts((af,), (a4,), (a12,), 1)[0],
        port=None if fwmark else int.from_bytes(port, "big"), fwmark=fwmark or None,
        scheduler=sched.split(b"\0", 1)[0].decode("ascii", "replace"), persistent=persistent,
        persistence_timeout=timeout if persistent else None, family=_AF_NAME[af],
        stats=Counters(*row[9:14]), rates=Rates(*row[14:19]), real_servers=real)


def _assemble(svc_rows: list[tuple], dest_dumps) -> tuple[Service, ...]:
    if len(dest_dumps) != len(svc_rows):
        raise DecodeError(f"{len(svc_rows)} IPVS services but {len(dest_dumps)} real-server dumps")
    was = gc.isenabled()
    gc.disable()  # tens of thousands of acyclic objects: no collections while making them
    try:
        out = [_service(row, _real_servers(*_columns(dump, "dest"), row[0])) for row, dump in zip(svc_rows, dest_dumps)]
    finally:
        if was:
            gc.enable()
    return tuple(out)


def _service_rows(data: bytes) -> list[tuple]:
    n, cols = _columns(data, "service")
    return list(zip(*cols))


def decode(services_dump: bytes, dest_dumps) -> tuple[Service, ...]:
    """The table from raw replies: the GET_SERVICE dump, and one GET_DEST dump per service in
    ipvsadm's order of the services (as read_raw returns them). Raises DecodeError."""
    try:
        return _assemble(_service_rows(services_dump), dest_dumps)
    except (struct.error, IndexError, ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"IPVS netlink reply not understood: {exc}") from None


# --- talking to the kernel ----------------------------------------------------------------

_family: int | None = None
_family_lock = threading.Lock()


def _family_id() -> int:
    """The "IPVS" generic netlink family id, resolved by pyroute2 once per process (ids are
    global, not per network namespace)."""
    global _family
    with _family_lock:
        if _family is None:
            from pyroute2.netlink.exceptions import NetlinkError
            from pyroute2.netlink.generic import GenericNetlinkSocket
            from pyroute2.netlink.generic.ipvs import GENL_NAME, ipvsmsg

            try:
                with GenericNetlinkSocket() as nl:
                    nl.bind(GENL_NAME, ipvsmsg)
                    _family = int(nl.prid)
            except NetlinkError as exc:
                if exc.code == errno.ENOENT:
                    raise IPVSUnavailable("IPVS not available: the ip_vs kernel module is not loaded") from None
                raise IPVSUnavailable(f"IPVS netlink: {exc}") from None
            except OSError as exc:
                raise IPVSUnavailable(f"IPVS netlink: {exc}") from None
        return _family


def _nla(typ: int, payload: bytes) -> bytes:
    return _NLA.pack(4 + len(payload), typ) + payload + bytes(-len(payload) % 4)


def _request(family: int, cmd: int, seq: int, attrs: bytes = b"") -> bytes:
    return _HDR.pack(20 + len(attrs), family, _DUMP, seq, 0) + struct.pack("=BBH", cmd, 1, 0) + attrs


def _service_ident(row: tuple) -> bytes:
    """IPVS_CMD_ATTR_SERVICE naming one service, as the kernel's GET_DEST expects it."""
    af, proto, a4, a12, port, fwmark = row[:6]
    spec = _nla(1, struct.pack("=H", af))
    if fwmark:
        spec += _nla(5, struct.pack("=I", fwmark))
    else:
        spec += _nla(2, struct.pack("=H", proto)) + _nla(3, a4 + a12) + _nla(4, port)
    return _nla(ATTR_SERVICE | 0x8000, spec)  # NLA_F_NESTED


def _open() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
    sock.settimeout(10)
    sock.bind((0, 0))
    return sock


def _dump(sock: socket.socket, request: bytes) -> bytes:
    """Send one dump request and read its reply up to NLMSG_DONE (or an error)."""
    sock.send(request)
    chunks = []
    while True:
        buf = sock.recv(_BUFSIZE)
        chunks.append(buf)
        if len(buf) < 16 or _HDR.unpack_from(buf)[1] == NLMSG_ERROR:
            break
        if len(buf) >= _DONE_LEN and _HDR.unpack_from(buf, len(buf) - _DONE_LEN)[:2] == (_DONE_LEN, NLMSG_DONE):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _read(family: int) -> tuple[bytes, list[bytes], list[tuple]]:
    try:
        with _open() as sock:
            services = _dump(sock, _request(family, GET_SERVICE, 1))
            rows = _service_rows(services)
            dests = [_dump(sock, _request(family, GET_DEST, seq, _service_ident(row)))
                     for seq, row in enumerate(rows, start=2)]
    except (socket.timeout, TimeoutError):
        raise IPVSUnavailable("IPVS over netlink: no reply from the kernel in 10 s") from None
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise IPVSUnavailable("IPVS over netlink needs root or CAP_NET_ADMIN") from None
        raise IPVSUnavailable(f"IPVS over netlink: {exc}") from None
    return services, dests, rows


def read_raw() -> tuple[bytes, list[bytes]]:
    """The raw replies collect() decodes (for fixtures): see decode()."""
    services, dests, _ = _read(_family_id())
    return services, dests


def collect() -> tuple[Service, ...]:
    """The local kernel's IPVS table, in ipvsadm's order. Raises IPVSUnavailable (no ip_vs,
    no CAP_NET_ADMIN) or its subclass DecodeError (a reply that cannot be read)."""
    try:
        _, dests, rows = _read(_family_id())
        return _assemble(rows, dests)
    except (struct.error, IndexError, ValueError, TypeError, KeyError) as exc:
        raise DecodeError(f"IPVS netlink reply not understood: {exc}") from None
