"""The IPVS netlink decoder (the node agent's, lbconsole/node/ipvs_decode.py: the only one): on replies
captured from a real kernel (tests/fixtures/netlink/, see capture.py there), on replies encoded here the way
kernel 6.1 writes them, and on garbage. Its plain objects are compared as the console reads them."""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lbconsole.collectors.node import _service
from lbconsole.node import ipvs_netlink as node_nl
from lbconsole.node import ipvs_order
from lbconsole.snapshot import Counters, Rates, RealServer, Service
from support import ipvsadm_text


class _AsConsole:
    """The decoder with its results as the console maps them (lbconsole.snapshot.Service)."""

    def __getattr__(self, name: str):
        return getattr(node_nl, name)

    @staticmethod
    def decode(services: bytes, dests: list[bytes]) -> tuple[Service, ...]:
        return tuple(_service(s, {}) for s in node_nl.decode(services, dests))

    @staticmethod
    def collect() -> tuple[Service, ...]:
        return tuple(_service(s, {}) for s in node_nl.collect())


nl = _AsConsole()
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "netlink"
CAPTURES = sorted(p.stem for p in FIXTURES.glob("*.dumps"))
FAMILY = 0x22
FWD = ("masq", "local", "tunnel", "route")


def load_dumps(name: str) -> list[bytes]:
    """A .dumps file: each dump as a u32 (little-endian) length and its bytes."""
    data, out, pos = (FIXTURES / f"{name}.dumps").read_bytes(), [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def ipvsadm_listings(name: str) -> tuple[str, str, str]:
    return tuple((FIXTURES / f"{name}.{what}.txt").read_text() for what in ("ln", "stats", "rate"))


# --- a kernel-like encoder (net/netfilter/ipvs/ip_vs_ctl.c, 6.1: ip_vs_genl_fill_*) ----------

def nla(typ: int, payload: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(payload), typ) + payload + bytes(-len(payload) % 4)


def stats_nests(s: tuple, r: tuple, pad: bool = False, only32: bool = False) -> bytes:
    """STATS (u32 but the byte counters, truncated as the kernel does) and STATS64 (u64 each,
    with IPVS_STATS_ATTR_PAD before each as on architectures that align 64-bit attributes)."""
    v = s + r
    s32 = b"".join(nla(i + 1, struct.pack("=Q", x) if i in (3, 4) else struct.pack("=I", x % 2**32))
                   for i, x in enumerate(v))
    s64 = b"".join((nla(11, b"") if pad else b"") + nla(i + 1, struct.pack("=Q", x)) for i, x in enumerate(v))
    return nla(10, s32) + (b"" if only32 else nla(12, s64))


def raw_addr(af: int, addr: str) -> bytes:
    return socket.inet_pton(af, addr).ljust(16, b"\0")


def message(cmd: int, top: int, body: bytes, seq: int = 1) -> bytes:
    payload = struct.pack("=BBH", cmd, 1, 0) + nla(top, body)
    return struct.pack("=IHHII", 16 + len(payload), FAMILY, 2, seq, 4242) + payload


def done(err: int = 0) -> bytes:
    return struct.pack("=IHHIIi", 20, nl.NLMSG_DONE, 2, 1, 4242, err)


def error(err: int) -> bytes:
    return struct.pack("=IHHIIi", 36, nl.NLMSG_ERROR, 0, 1, 4242, err) + bytes(16)


def service_msg(s: Service, sched_pad: str = "") -> bytes:
    af = socket.AF_INET6 if s.family == "inet6" else socket.AF_INET
    body = nla(1, struct.pack("=H", af))
    if s.fwmark:
        body += nla(5, struct.pack("=I", s.fwmark))
    else:
        body += (nla(2, struct.pack("=H", {"TCP": 6, "UDP": 17, "SCTP": 132}[s.protocol]))
                 + nla(3, raw_addr(af, s.address)) + nla(4, struct.pack(">H", s.port)))
    body += nla(6, (s.scheduler + sched_pad).encode() + b"\0")
    body += nla(7, struct.pack("=II", (1 if s.persistent else 0) | 2, 0xFFFFFFFF))
    body += nla(8, struct.pack("=I", s.persistence_timeout or 0)) + nla(9, b"\xff\xff\xff\xff")
    return message(1, 1, body + stats_nests(astuple(s.stats), astuple(s.rates)))


def dest_msg(r: RealServer, *, family: bool = True, only32: bool = False, pad: bool = False) -> bytes:
    af = socket.AF_INET6 if ":" in r.address else socket.AF_INET
    body = (nla(1, raw_addr(af, r.address)) + nla(2, struct.pack(">H", r.port))
            + nla(3, struct.pack("=I", FWD.index(r.forward))) + nla(4, struct.pack("=I", r.weight))
            + nla(13, b"\0") + nla(14, b"\0\0") + nla(15, b"\0\0") + nla(5, bytes(4)) + nla(6, bytes(4))
            + nla(7, struct.pack("=I", r.active_conns)) + nla(8, struct.pack("=I", r.inactive_conns))
            + nla(9, struct.pack("=I", r.persist_conns)))
    if family:
        body += nla(11, struct.pack("=H", af))
    return message(5, 2, body + stats_nests(astuple(r.stats), astuple(r.rates), pad, only32))


def astuple(obj) -> tuple:
    return tuple(getattr(obj, f) for f in obj.__dataclass_fields__)


def encode(table: list[Service], **dest_kw) -> tuple[bytes, list[bytes]]:
    """(services dump, dest dumps in the order decode() expects) for a table."""
    return (b"".join(map(service_msg, table)) + done(),
            [b"".join(dest_msg(r, **dest_kw) for r in s.real_servers) + done() for s in ordered(table)])


def ipvsadm_sorted(items: list, key) -> list:
    """ipvsadm 1.31's order, written from its C: libipvs's ipvs_cmp_services/ipvs_cmp_dests
    (`int r = ntohl(a) - ntohl(b)`) under glibc 2.36's qsort (msort_with_tmp, a merge sort).
    key(item) -> (fwmark, family, protocol, address words, port)."""
    def c_int(v: int) -> int:
        return ctypes.c_int32(v & 0xFFFFFFFF).value

    def cmp(x, y) -> int:
        r = c_int(x[0] - y[0]) or x[1] - y[1] or x[2] - y[2]
        for i in range(len(x[3])):
            r = r or c_int(x[3][i] - (y[3] + (0, 0, 0))[i])
        return r or x[4] - y[4]

    def msort(xs: list) -> list:
        if len(xs) <= 1:
            return xs
        a, b = msort(xs[:len(xs) // 2]), msort(xs[len(xs) // 2:])
        out = []
        while a and b:
            out.append(a.pop(0) if cmp(key(a[0]), key(b[0])) <= 0 else b.pop(0))
        return out + a + b

    return msort(list(items))


def words(address: str) -> tuple[int, ...]:
    packed = socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)
    return struct.unpack(f">{len(packed) // 4}I", packed)


def svc_key(s: Service) -> tuple:
    af = socket.AF_INET6 if s.family == "inet6" else socket.AF_INET
    if s.fwmark:
        return s.fwmark, af, 0, words("::" if af == socket.AF_INET6 else "0.0.0.0"), 0
    return 0, af, {"TCP": 6, "UDP": 17, "SCTP": 132}[s.protocol], words(s.address), s.port


def rs_key(r: RealServer) -> tuple:
    return 0, 0, 0, words(r.address), r.port


def ordered(table: list[Service]) -> list[Service]:
    return ipvsadm_sorted(table, svc_key)


def expected(table: list[Service]) -> tuple[Service, ...]:
    return tuple(replace(s, real_servers=tuple(ipvsadm_sorted(s.real_servers, rs_key))) for s in ordered(table))


# --- captured replies --------------------------------------------------------------------

def test_captures_are_present():
    assert {"empty", "lb1", "scratch", "bigmark"} <= set(CAPTURES)


@pytest.mark.parametrize("name", [c for c in CAPTURES if c != "bigmark"])
def test_capture_equals_ipvsadm(name):
    dumps = load_dumps(name)
    got = nl.decode(dumps[0], dumps[1:])
    want = tuple(_service(s, {}) for s in ipvsadm_text.read(*ipvsadm_listings(name)))
    # ipvsadm -Ln does not show persistent connections.
    assert tuple(replace(s, real_servers=tuple(replace(r, persist_conns=0) for r in s.real_servers))
                 for s in got) == want


def test_scratch_capture_has_every_kind():
    dumps = load_dumps("scratch")
    table = nl.decode(dumps[0], dumps[1:])
    by_key = {s.key: s for s in table}
    assert {"198.51.100.10:80", "udp:198.51.100.10:53", "sctp:198.51.100.11:3868", "198.51.100.12:443",
            "fwm:10", "fwm:20:6", "[2001:db8::100]:443", "203.0.113.1:8080", "10.255.0.9:80"} == set(by_key)
    assert by_key["198.51.100.12:443"].persistence_timeout == 300
    assert by_key["fwm:10"].persistent and by_key["fwm:20:6"].family == "inet6"
    assert by_key["[2001:db8::100]:443"].real_server("[2001:db8:1::11]:8443").forward == "masq"
    assert by_key["198.51.100.12:443"].real_server("127.0.0.1:443").forward == "local"
    assert by_key["udp:198.51.100.10:53"].real_server("192.0.2.13:53").forward == "tunnel"
    assert len(by_key["203.0.113.1:8080"].real_servers) == 250
    assert by_key["198.51.100.10:80"].stats.conns > 0


def test_big_marks_in_ipvsadms_order():
    """ipvsadm prints marks of 2^31 and more negative, and orders them by a wrapping
    comparison (a cycle with mark 0 and small marks): the keys, in its order."""
    dumps = load_dumps("bigmark")
    want = []
    for line in (FIXTURES / "bigmark.ln.txt").read_text().splitlines()[3:]:
        w = line.split()
        if w[0] == "FWM":
            want.append(f"fwm:{int(w[1]) & 0xFFFFFFFF}" + (":6" if w[2] == "IPv6" else ""))
        else:
            want.append(w[1] if w[0] == "TCP" else f"{w[0].lower()}:{w[1]}")
    assert [s.key for s in nl.decode(dumps[0], dumps[1:])] == want
    assert "fwm:4294967295" in want


def test_empty_table():
    dumps = load_dumps("empty")
    assert len(dumps) == 1 and struct.unpack_from("=IH", dumps[0]) == (20, nl.NLMSG_DONE)
    assert nl.decode(dumps[0], []) == ()


# --- encoded replies ---------------------------------------------------------------------

ips4 = st.builds(lambda n: socket.inet_ntop(socket.AF_INET, n.to_bytes(4, "big")), st.integers(1, 2**32 - 1))
# glibc's inet_ntop, as ipvsadm prints them (it writes ::1.2.3.4 where Python writes ::102:304).
ips6 = st.builds(lambda n: socket.inet_ntop(socket.AF_INET6, n.to_bytes(16, "big")), st.integers(1, 2**128 - 1))
u32, u64 = st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1)
counters = st.one_of(st.just(Counters()), st.builds(Counters, u64, u64, u64, u64, u64))
rates = st.one_of(st.just(Rates()), st.builds(Rates, u64, u64, u64, u64, u64))


@st.composite
def tables(draw):
    out, seen = [], set()
    for _ in range(draw(st.integers(0, 5))):
        fam = draw(st.sampled_from(["inet", "inet6"]))
        ips = ips6 if fam == "inet6" else ips4
        if draw(st.booleans()):
            mark = draw(st.integers(1, 2**32 - 1))
            svc = dict(protocol="FWM", address=None, port=None, fwmark=mark)
        else:
            svc = dict(protocol=draw(st.sampled_from(["TCP", "UDP", "SCTP"])), address=draw(ips),
                       port=draw(st.integers(0, 65535)), fwmark=None)
        persistent = draw(st.booleans())
        s = Service(**svc, scheduler=draw(st.sampled_from(["wlc", "rr", "wrr", "sh", "lblcr", "mh"])),
                    persistent=persistent, persistence_timeout=draw(st.integers(1, 2**31)) if persistent else None,
                    family=fam, stats=draw(counters), rates=draw(rates))
        rs, keys = [], set()
        for _ in range(draw(st.integers(0, 40))):
            r = RealServer(draw(ips), draw(st.integers(0, 65535)), draw(st.sampled_from(FWD)), draw(u32),
                           draw(u32), draw(u32), draw(u32), draw(counters), draw(rates))
            if r.key not in keys:
                keys.add(r.key)
                rs.append(r)
        if s.key not in seen:
            seen.add(s.key)
            out.append(replace(s, real_servers=tuple(rs)))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from([{}, {"only32": True}, {"family": False}, {"pad": True}]))
def test_encoded_tables_round_trip(table, variant):
    if variant.get("only32"):  # 32-bit counters: the kernel truncates, so must the test
        table = [replace(s, real_servers=tuple(replace(r, stats=Counters(
            r.stats.conns % 2**32, r.stats.inpkts % 2**32, r.stats.outpkts % 2**32, r.stats.inbytes,
            r.stats.outbytes), rates=Rates(*(x % 2**32 for x in astuple(r.rates)))) for r in s.real_servers))
                 for s in table]
    if not variant.get("family", True):  # old kernels: a real server has its service's family
        table = [replace(s, real_servers=tuple(
            r for r in s.real_servers if (":" in r.address) == (s.family == "inet6"))) for s in table]
    services, dests = encode(table, **variant)
    assert nl.decode(services, dests) == expected(table)


def test_order_is_ipvsadms_even_where_its_comparison_wraps():
    # 10.x - 192.x wraps positive in libipvs: 192.168.0.1 is listed first. 10.x < 100.x <
    # 200.x < 10.x (each step under 2^31, the last over it) is a cycle: glibc's merge sort decides.
    rs = tuple(RealServer(a, 80, "route", 1) for a in ("200.0.0.1", "10.0.0.1", "100.0.0.1", "10.0.0.2"))
    table = [Service("TCP", "10.0.0.1", 80, None, "wlc", real_servers=rs),
             Service("TCP", "192.168.0.1", 80, None, "wlc"), Service("FWM", None, None, 3, "rr"),
             Service("FWM", None, None, 2**31 + 5, "rr")]
    services, dests = encode(table)
    got = nl.decode(services, dests)
    # A mark of 2^31 or more is "less" than 0 (the non-FWM services), 3 is not.
    assert [s.key for s in got] == ["fwm:2147483653", "192.168.0.1:80", "10.0.0.1:80", "fwm:3"]
    assert [r.address for r in got[2].real_servers] == [r.address for r in ipvsadm_sorted(rs, rs_key)]
    assert got == expected(table)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_order_shortcut_agrees_with_the_emulation(data):
    """A plain sort is taken when it gives ipvsadm's order; check it against the reference."""
    base = data.draw(st.integers(0, 2**32 - 1))
    word = st.integers(0, 2**32 - 1) if data.draw(st.booleans()) else st.integers(base, base + 2**31 - 1).map(
        lambda v: v % 2**32)
    services = data.draw(st.booleans())
    key = st.tuples(st.integers(0, 3) if services else st.just(0),
                    st.sampled_from([2, 10]) if services else st.just(0), st.sampled_from([0, 6, 17]),
                    st.one_of(st.tuples(word), st.tuples(word, word, word, word)), st.integers(0, 65535))
    keys = data.draw(st.lists(key, max_size=30, unique=True))
    if services:  # a service's address has its family's number of words
        keys = list({k[:3] + ((k[3] * 4)[:4 if k[1] == 10 else 1],) + k[4:]: 0 for k in keys})
    assert [keys[i] for i in ipvs_order.ipvsadm_order(keys)] == ipvsadm_sorted(keys, lambda k: k)


def test_mixed_layouts_in_one_dump_use_the_slow_path():
    rs = [RealServer(f"10.0.0.{i}", 80, "route", i) for i in range(1, 6)]
    svc = Service("TCP", "10.0.0.100", 80, None, "wlc", real_servers=tuple(rs))
    dump = b"".join(dest_msg(r, pad=i % 2 == 0) for i, r in enumerate(rs)) + done()
    assert nl.decode(service_msg(svc) + done(), [dump]) == (svc,)


def test_many_services_of_several_layouts():
    table = [Service("TCP", f"10.1.{i}.1", 80 + i, None, "wlc" if i % 2 else "lblcr", real_servers=(
        RealServer("10.2.0.1", 80, "masq", 1),)) for i in range(30)]
    table.append(Service("FWM", None, None, 7, "rr", persistent=True, persistence_timeout=60))
    services, dests = encode(table)
    assert nl.decode(services, dests) == expected(table)


def test_errors():
    svc = service_msg(Service("TCP", "10.0.0.1", 80, None, "wlc"))
    with pytest.raises(nl.IPVSUnavailable, match="^IPVS over netlink needs root or CAP_NET_ADMIN$"):
        nl.decode(error(-errno.EPERM), [])
    with pytest.raises(nl.IPVSUnavailable, match="^IPVS not available: the ip_vs kernel module is not loaded$"):
        nl.decode(error(-errno.ENOENT), [])
    with pytest.raises(nl.IPVSUnavailable, match="Invalid argument"):
        nl.decode(svc + done(-errno.EINVAL), [b""])
    with pytest.raises(nl.DecodeError, match="1 IPVS services but 0 real-server replies"):
        nl.decode(svc + done(), [])
    with pytest.raises(nl.DecodeError, match="without NLMSG_DONE"):
        nl.decode(svc, [done()])


# --- garbage -----------------------------------------------------------------------------

def sample_dumps() -> list[bytes]:
    table = [Service("TCP", "10.0.0.1", 80, None, "wlc", real_servers=tuple(
        RealServer(f"10.0.1.{i}", 80, "route", 1, stats=Counters(i, i, 0, i, 0)) for i in range(1, 4))),
        Service("FWM", None, None, 5, "rr", family="inet6", real_servers=(RealServer("2001:db8::1", 0, "route", 1),))]
    services, dests = encode(table)
    return [services, *dests]


def decode_or_clear_error(dumps: list[bytes]) -> None:
    try:
        nl.decode(dumps[0], dumps[1:])
    except nl.IPVSUnavailable as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_replies_raise_only_clear_errors(data):
    dumps = data.draw(st.sampled_from([sample_dumps, lambda: load_dumps("scratch"), lambda: load_dumps("lb1")]))()
    i = data.draw(st.integers(0, len(dumps) - 1))
    d = bytearray(dumps[i])
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
        pos = data.draw(st.integers(0, max(len(d) - 1, 0)))
        if op == "flip" and d:
            d[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del d[pos:]
        elif op == "insert":
            d[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif d:
            del d[pos:pos + data.draw(st.integers(1, 8))]
    dumps[i] = bytes(d)
    decode_or_clear_error(dumps)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=3))
def test_random_bytes_raise_only_clear_errors(dumps):
    decode_or_clear_error(dumps)


@pytest.mark.parametrize("name", CAPTURES)
def test_truncated_captures_raise_only_clear_errors(name):
    dumps = load_dumps(name)
    for i, d in enumerate(dumps):
        for cut in range(0, len(d), max(1, len(d) // 97)):
            decode_or_clear_error(dumps[:i] + [d[:cut]] + dumps[i + 1:])


# --- collect() over a fake socket ---------------------------------------------------------

def chunks(reply: bytes, size: int) -> list[bytes]:
    """Like the kernel's dump skbs: whole messages up to `size` bytes each (garbage: any cut)."""
    out, start, pos = [], 0, 0
    while pos + 16 <= len(reply):
        n = struct.unpack_from("=I", reply, pos)[0]
        if n < 16 or pos + n > len(reply):
            break
        if pos + n - start > size and pos > start:
            out.append(reply[start:pos])
            start = pos
        pos += (n + 3) & ~3
    return out + [reply[start:]] if reply[start:] or not out else out


class FakeSocket:
    """Answers each dump request with the next reply, in kernel-sized chunks; records requests."""

    def __init__(self, replies: list[bytes], chunk: int = 4000):
        self.replies, self.chunk, self.requests, self.pending = list(replies), chunk, [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def send(self, data: bytes) -> int:
        self.requests.append(data)
        reply = self.replies.pop(0) if self.replies else done()
        self.pending = chunks(reply, self.chunk)
        return len(data)

    def recv_into(self, view: memoryview, size: int, flags: int = 0) -> int:
        """Like a datagram socket: the datagram's real length is returned with MSG_TRUNC."""
        if not self.pending:
            raise TimeoutError
        data = self.pending.pop(0)
        view[:min(size, len(data))] = data[:size]
        return len(data) if flags & socket.MSG_TRUNC else min(size, len(data))


def fake_kernel(monkeypatch, replies: list[bytes], chunk: int = 4000) -> FakeSocket:
    sock = FakeSocket(replies, chunk)
    monkeypatch.setattr(node_nl, "_family_id", lambda: FAMILY)
    monkeypatch.setattr(node_nl, "_open", lambda: sock)
    return sock


def test_collect_sends_one_dest_dump_per_service(monkeypatch):
    table = [Service("UDP", "2001:db8::5", 53, None, "rr", family="inet6", real_servers=(
        RealServer("2001:db8::6", 53, "masq", 1),)), Service("FWM", None, None, 9, "sh")]
    services, dests = encode(table)
    sock = fake_kernel(monkeypatch, [services, *dests], chunk=40)
    assert nl.collect() == expected(table)
    hdr = [struct.unpack_from("=IHHII", r) for r in sock.requests]
    assert [(h[1], h[2]) for h in hdr] == [(FAMILY, 0x301)] * 3
    assert [r[16] for r in sock.requests] == [nl.GET_SERVICE, nl.GET_DEST, nl.GET_DEST]
    ident = sock.requests[1][20:]  # UDP [2001:db8::5]:53: af, protocol, address, port
    assert ident == nla(0x8001, nla(1, struct.pack("=H", 10)) + nla(2, struct.pack("=H", 17))
                        + nla(3, socket.inet_pton(socket.AF_INET6, "2001:db8::5")) + nla(4, b"\x00\x35"))
    assert sock.requests[2][20:] == nla(0x8001, nla(1, struct.pack("=H", 2)) + nla(5, struct.pack("=I", 9)))


def test_collect_reuses_its_buffer_safely(monkeypatch):
    big = [Service("TCP", "10.0.0.1", 80, None, "wlc", real_servers=tuple(
        RealServer(f"10.1.{i // 200}.{i % 200 + 1}", 80, "route", i) for i in range(600)))]
    small = [Service("UDP", "10.0.0.2", 53, None, "rr", real_servers=(RealServer("10.2.0.1", 53, "masq", 1),))]
    for table in (big, small, big):
        services, dests = encode(table)
        fake_kernel(monkeypatch, [services, *dests], chunk=32768)
        assert nl.collect() == expected(table)
    services, dests = encode(big)
    fake_kernel(monkeypatch, [services, dests[0][:5000] + b"junk" + dests[0][5004:]], chunk=32768)
    with pytest.raises(nl.IPVSUnavailable):
        nl.collect()
    fake_kernel(monkeypatch, [services, *dests], chunk=32768)
    assert nl.collect() == expected(big)


def test_collect_permission_error(monkeypatch):
    fake_kernel(monkeypatch, [error(-errno.EPERM)])
    with pytest.raises(nl.IPVSUnavailable, match="needs root or CAP_NET_ADMIN"):
        nl.collect()


def test_collect_without_reply(monkeypatch):
    sock = fake_kernel(monkeypatch, [])
    sock.send = lambda data: (_ for _ in ()).throw(TimeoutError())
    with pytest.raises(nl.IPVSUnavailable, match="no reply"):
        nl.collect()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_collect_on_garbage_raises_only_ipvs_errors(monkeypatch, data):
    dumps = sample_dumps()
    i = data.draw(st.integers(0, len(dumps) - 1))
    cut = data.draw(st.integers(0, len(dumps[i])))
    junk = data.draw(st.binary(max_size=64))
    dumps[i] = dumps[i][:cut] + junk + (done() if data.draw(st.booleans()) else b"")
    assume(dumps != sample_dumps())
    fake_kernel(monkeypatch, dumps, chunk=data.draw(st.integers(1, 500)))
    try:
        nl.collect()
    except nl.IPVSUnavailable as exc:
        assert str(exc)


def test_this_host(monkeypatch):
    """Without ip_vs (CI, this host) the error says so; with it, root gets a table."""
    monkeypatch.setattr(nl, "_family", None)
    try:
        table = nl.collect()
    except nl.IPVSUnavailable as exc:
        assert str(exc) in ("IPVS not available: the ip_vs kernel module is not loaded",
                            "IPVS over netlink needs root or CAP_NET_ADMIN")
    else:
        assert isinstance(table, tuple)
