"""IPVS tables from text: ipvsadm 1.31 listings and /proc/net/ip_vs.

Remote directors answer with `ipvsadm -Ln --exact` (+ `--stats`, `--rate`), or
only /proc/net/ip_vs when ipvsadm is missing. A director can hold 10,000 real
servers, so the per-real-server work is done column-wise by C code (str.split,
slices, map(int)) instead of a Python loop per line; a block that does not fit
the fast path is re-read line by line, which also finds the line to blame.
"""

from __future__ import annotations

import gc
import ipaddress
import re
import socket
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from functools import partial
from itertools import repeat
from typing import Any, TypeVar

from lbconsole.collectors.errors import ParseError, quote
from lbconsole.snapshot import Counters, Rates, RealServer, Service

__all__ = ["parse_ipvsadm", "parse_proc_ip_vs", "parse_number", "build_columns", "no_gc", "PROC_HZ"]

PROTOCOLS = ("TCP", "UDP", "SCTP", "FWM")
FORWARD = {"Route": "route", "Masq": "masq", "Tunnel": "tunnel", "Local": "local"}
# /proc/net/ip_vs prints the persistence timeout in jiffies; Debian's kernels use HZ=250.
PROC_HZ = 250
_SUFFIX = {"K": 1000, "M": 1000_000, "G": 1000_000_000, "T": 1000_000_000_000}
# A service line starts at column 0; real-server lines start with "  ->".
_SERVICE_SPLIT = re.compile(r"\n(?=[^ \n])")
_ADDR = re.compile(r"^(?:((?:\d{1,3}\.){3}\d{1,3})|\[([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)\]):(\d{1,5})$")
_ZERO_COUNTERS = Counters()
_ZERO_RATES = Rates()
_pton4 = partial(socket.inet_pton, socket.AF_INET)


# --- building frozen dataclasses column-wise ------------------------------------------------
# A frozen dataclass __init__ costs ~1 us per field in CPython 3.11; 10,000 real servers with
# their counters and rates would take ~35 ms. Setting the slots through their descriptors,
# one map() per field, keeps the loop in C. The objects are equal to ones built by __init__
# (a unit test checks that), and every field is set.

_new = object.__new__
_sink: deque[object] = deque(maxlen=0)
_consume = _sink.extend
_T = TypeVar("_T")
_Setter = Callable[[object, object], None]


def _setters(cls: type) -> tuple[_Setter, ...]:
    return tuple(getattr(cls, f.name).__set__ for f in fields(cls))


_SETTERS: dict[type, tuple[_Setter, ...]] = {cls: _setters(cls) for cls in (RealServer, Counters, Rates)}


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic GC while tens of thousands of acyclic objects are made: otherwise
    each 700 allocations start a collection (~10% of the parse here, and more in a big
    heap such as the TUI's). Restores the previous state."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build_columns(cls: type[_T], n: int, columns: Sequence[Iterable[object]]) -> list[_T]:
    """`n` instances of the slotted dataclass `cls`, field i taken from columns[i]."""
    setters = _SETTERS[cls]
    if len(columns) != len(setters):
        raise TypeError(f"{cls.__name__} needs {len(setters)} columns, got {len(columns)}")
    objs: list[_T] = list(map(_new, repeat(cls, n)))
    for setter, column in zip(setters, columns):
        _consume(map(setter, objs, column))
    return objs


# --- numbers and addresses ------------------------------------------------------------------

def parse_number(token: str, what: str = "number") -> int:
    """An ipvsadm counter: "123", or without --exact "123K" / "45M" / "6G" / "7T"."""
    if token.isdigit() and token.isascii():
        return int(token)
    mult = _SUFFIX.get(token[-1:])
    if mult and token[:-1].isdigit() and token[:-1].isascii():
        return int(token[:-1]) * mult
    raise ValueError(f"expected a {what}, got {quote(token)}")


def _ints(tokens: list[str]) -> list[int]:
    """A column of counters. int() is the cost floor (~0.1 us each here), so a column of one
    repeated value (zeros: outbound counters under LVS-DR, idle servers; equal weights; one
    port) is converted once; K/M/G suffixes take the slow path. int() also takes "+1" or
    "1_0": harmless leniency, never a crash."""
    n = len(tokens)
    if n and tokens.count(tokens[0]) == n:
        return [parse_number(tokens[0])] * n
    try:
        return list(map(int, tokens))
    except ValueError:
        return [parse_number(t) for t in tokens]


def _split_addr(token: str) -> tuple[str, int, str]:
    """'10.0.0.1:80' or '[2001:db8::1]:80' -> (host, port, family)."""
    m = _ADDR.match(token)
    try:
        if not m or int(m.group(3)) > 65535:
            raise ValueError
        if m.group(1):
            _pton4(m.group(1))
            return m.group(1), int(m.group(3)), "inet"
        socket.inet_pton(socket.AF_INET6, m.group(2))
        return m.group(2), int(m.group(3)), "inet6"
    except (OSError, ValueError):
        raise ValueError(f"expected ADDR:PORT, got {quote(token)}") from None


def _split_addrs(tokens: list[str]) -> tuple[list[str], list[int]]:
    """Hosts and ports of a column of ADDR:PORT tokens; the usual IPv4 case stays in C
    (inet_pton validates every host strictly)."""
    joined = "\n".join(tokens)
    if "[" not in joined and joined.count(":") == len(tokens):
        parts = joined.replace(":", "\n").split("\n")
        hosts, ports = parts[0::2], parts[1::2]
        try:
            _consume(map(_pton4, hosts))
            numbers = _ints(ports)
            if not numbers or 0 <= min(numbers) <= max(numbers) <= 65535:
                return hosts, numbers
        except (OSError, ValueError):
            pass
    pairs = [_split_addr(t) for t in tokens]
    return [p[0] for p in pairs], [p[1] for p in pairs]


# --- ipvsadm --------------------------------------------------------------------------------

def _strip_headers(text: str, source: str) -> str:
    """Drop the "IP Virtual Server ...", "Prot ..." and "  -> RemoteAddress..." title lines."""
    start = 0
    for _ in range(3):
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        if line.startswith(("IP Virtual Server", "Prot ", "  -> RemoteAddress")):
            start = len(text) if end < 0 else end + 1
        else:
            break
    if start == 0 and text.strip():
        raise ParseError(source, f"not an IPVS table: {quote(text.partition(chr(10))[0])}", 1)
    return text[start:]


def _blocks(text: str, source: str) -> list[tuple[int, str, str]]:
    """[(line number of the service line, service line, its real-server lines)]."""
    body = _strip_headers(text, source)
    line = text.count("\n", 0, len(text) - len(body)) + 1
    out = []
    for chunk in _SERVICE_SPLIT.split(body):
        svc, _, block = chunk.partition("\n")
        if svc[:1].isspace() or not svc:
            if chunk.strip():
                bad = next(x for x in chunk.split("\n") if x.strip())
                raise ParseError(source, f"real server before any service: {quote(bad.strip())}", line)
        else:
            out.append((line, svc, block))
        line += chunk.count("\n") + 1
    return out


def _service_name(tokens: list[str]) -> int:
    """How many leading tokens name the service: 'TCP ADDR:PORT', 'FWM 10' or 'FWM 10 IPv6'."""
    if tokens[0] == "FWM" and len(tokens) > 2 and tokens[2] == "IPv6":
        return 3
    return 2


def _dest_columns(block: str, width: int, source: str, line: int, expect: str) -> list[list[str]]:
    """The real-server lines of one service as `width` token columns ('->' first)."""
    toks = block.split()
    n = block.count("->")
    if len(toks) == n * width and toks[0::width].count("->") == n:
        return [toks[i::width] for i in range(width)]
    # Slow path: find the offending line.
    cols: list[list[str]] = [[] for _ in range(width)]
    for off, text in enumerate(block.split("\n"), start=line + 1):
        row = text.split()
        if not row:
            continue
        if len(row) != width or row[0] != "->":
            raise ParseError(source, f"expected {expect!r}, got {quote(text.strip())}", off)
        for col, tok in zip(cols, row):
            col.append(tok)
    return cols


def _blame(source: str, line: int, block: str, fn: Callable[..., _T], *args: object) -> _T:
    """Run a column conversion; on bad input, name the first line of the block that fails."""
    try:
        return fn(*args)
    except ValueError as e:
        for off, text in enumerate(block.split("\n"), start=line + 1):
            for tok in text.split()[1:]:
                try:
                    parse_number(tok)
                except ValueError:
                    if ":" not in tok and tok not in FORWARD:
                        raise ParseError(source, str(e), off) from None
        raise ParseError(source, str(e), line) from None


def _parse_listing(text: str) -> list[tuple[list[str], list[list[str]], int, str]]:
    """-Ln: [(service tokens, [addrs, fwd, weight, active, inactive] columns, line, block)]."""
    out = []
    for line, svc, block in _blocks(text, "ipvsadm -Ln"):
        tokens = svc.split()
        cols = _dest_columns(block, 6, "ipvsadm -Ln", line,
                             "-> ADDR:PORT FORWARD WEIGHT ACTIVECONN INACTCONN")
        out.append((tokens, cols[1:], line, block))
    return out


def _parse_numbers(text: str, source: str) -> dict[str, _Numbers]:
    """--stats / --rate: {service name: (service numbers, real-server addrs, 5 columns)}."""
    out: dict[str, _Numbers] = {}
    for line, svc, block in _blocks(text, source):
        tokens = svc.split()
        k = _service_name(tokens)
        if len(tokens) != k + 5 or tokens[0] not in PROTOCOLS:
            raise ParseError(source, f"expected 'PROT ADDR:PORT' and 5 numbers, got {quote(svc)}", line)
        try:
            svc_nums = [parse_number(t) for t in tokens[k:]]
        except ValueError as e:
            raise ParseError(source, str(e), line) from None
        cols = _dest_columns(block, 7, source, line, "-> ADDR:PORT and 5 numbers")
        nums = _blame(source, line, block, lambda: [_ints(c) for c in cols[2:]])  # noqa: B023 (called at once)
        out[" ".join(tokens[:k])] = (svc_nums, cols[1], nums)
    return out


# (service numbers, real-server addrs, 5 columns) of --stats / --rate
_Numbers = tuple[list[int], list[str], list[list[int]]]


def _service_fields(tokens: list[str], source: str, line: int) -> dict[str, Any]:
    """Protocol, address or fwmark, scheduler and persistence of a -Ln service line."""
    proto = tokens[0]
    if proto not in PROTOCOLS or len(tokens) < 3:
        raise ParseError(source, f"expected 'PROT ADDR:PORT SCHEDULER ...', got {quote(' '.join(tokens))}", line)
    k = _service_name(tokens)
    if len(tokens) <= k:
        raise ParseError(source, f"no scheduler in {quote(' '.join(tokens))}", line)
    f: dict[str, Any] = {"protocol": proto, "scheduler": tokens[k], "address": None, "port": None,
               "fwmark": None, "family": "inet"}
    try:
        if proto == "FWM":
            # ipvsadm prints marks of 2^31 and above signed: "FWM  -2147483643".
            mark = tokens[1]
            value = -parse_number(mark[1:], "firewall mark") if mark[:1] == "-" else parse_number(mark, "firewall mark")
            f["fwmark"] = value & 0xFFFFFFFF
            f["family"] = "inet6" if k == 3 else "inet"
        else:
            f["address"], f["port"], f["family"] = _split_addr(tokens[1])
        flags = tokens[k + 1:]
        if "persistent" in flags:
            i = flags.index("persistent")
            f["persistent"] = True
            f["persistence_timeout"] = parse_number(flags[i + 1] if i + 1 < len(flags) else "",
                                                    "persistence timeout")
    except ValueError as e:
        raise ParseError(source, str(e), line) from None
    return f


def _matching(addrs: list[str], numbers: _Numbers | None) -> list[list[int]] | None:
    """The 5 number columns of `numbers` lined up with `addrs` (None: service not listed)."""
    if numbers is None:
        return None
    _, their_addrs, cols = numbers
    if their_addrs == addrs:
        return cols
    # The table changed between the three ipvsadm runs: match by address, zeros if missing.
    index = {a: i for i, a in enumerate(their_addrs)}
    rows = [index.get(a) for a in addrs]
    return [[c[i] if i is not None else 0 for i in rows] for c in cols]


def parse_ipvsadm(ln: str, stats: str | None = None, rate: str | None = None) -> tuple[Service, ...]:
    """Services from `ipvsadm -Ln --exact`, with counters from `--stats --exact` and rates from
    `--rate --exact` when given (numbers with K/M/G/T suffixes are read too).

    `ln` is authoritative: a service or real server missing from `stats`/`rate` (the table
    changed between the runs) gets zeros; ones only in `stats`/`rate` are ignored.
    Raises ParseError on anything that is not such a listing.
    """
    if not isinstance(ln, str):
        raise ParseError("ipvsadm -Ln", "no output")
    with no_gc():
        return _parse_ipvsadm(ln, stats, rate)


def _parse_ipvsadm(ln: str, stats: str | None, rate: str | None) -> tuple[Service, ...]:
    listing = _parse_listing(ln)
    st = _parse_numbers(stats, "ipvsadm --stats") if stats is not None else {}
    rt = _parse_numbers(rate, "ipvsadm --rate") if rate is not None else {}
    services = []
    for tokens, (addrs, fwds, weights, active, inactive), line, block in listing:
        f = _service_fields(tokens, "ipvsadm -Ln", line)
        name = " ".join(tokens[:_service_name(tokens)])
        n = len(addrs)
        try:
            hosts, ports = _split_addrs(addrs)
            # Usually one forward method per service: look it up once.
            forward = ([FORWARD[fwds[0]]] * n if n and fwds.count(fwds[0]) == n
                       else list(map(FORWARD.__getitem__, fwds)))
        except (ValueError, KeyError):
            for off, text in enumerate(block.split("\n"), start=line + 1):
                row = text.split()
                if len(row) > 2:
                    try:
                        _split_addr(row[1])
                    except ValueError as e:
                        raise ParseError("ipvsadm -Ln", str(e), off) from None
                    if row[2] not in FORWARD:
                        raise ParseError("ipvsadm -Ln", f"unknown forward method {quote(row[2])}", off) from None
            raise ParseError("ipvsadm -Ln", "bad real server", line) from None
        ints = _blame("ipvsadm -Ln", line, block, lambda: [_ints(weights), _ints(active), _ints(inactive)])  # noqa: B023 (called at once)
        s_cols, r_cols = _matching(addrs, st.get(name)), _matching(addrs, rt.get(name))
        counters = (build_columns(Counters, n, s_cols) if s_cols else repeat(_ZERO_COUNTERS, n))
        rates = build_columns(Rates, n, r_cols) if r_cols else repeat(_ZERO_RATES, n)
        real = build_columns(RealServer, n, (
            hosts, ports, forward, ints[0], ints[1], ints[2], repeat(0, n),
            counters, rates, repeat(None, n)))
        svc_stats = Counters(*st[name][0]) if name in st else _ZERO_COUNTERS
        svc_rates = Rates(*rt[name][0]) if name in rt else _ZERO_RATES
        services.append(Service(stats=svc_stats, rates=svc_rates, real_servers=tuple(real), **f))
    return tuple(services)


# --- /proc/net/ip_vs ------------------------------------------------------------------------

def _hex_addr(token: str, source: str, line: int) -> tuple[str, int, str]:
    """'0A630064:0050' -> ('10.99.0.100', 80, 'inet'); '[2001:0db8:...]:01BB' -> compressed v6."""
    host, sep, port = token.rpartition(":")
    try:
        if not sep or len(port) != 4:
            raise ValueError
        p = int(port, 16)
        if host.startswith("[") and host.endswith("]"):
            return str(ipaddress.IPv6Address(host[1:-1])), p, "inet6"
        if len(host) != 8:
            raise ValueError
        v = int(host, 16)
    except ValueError:
        raise ParseError(source, f"expected HEXADDR:HEXPORT, got {quote(token)}", line) from None
    return f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}", p, "inet"


def parse_proc_ip_vs(text: str, hz: int = PROC_HZ) -> tuple[Service, ...]:
    """Services from /proc/net/ip_vs: weights and active/inactive connections, zero counters.

    The kernel prints the persistence timeout in jiffies; `hz` (the kernel's CONFIG_HZ)
    converts it to seconds.
    """
    source = "/proc/net/ip_vs"
    if not isinstance(text, str):
        raise ParseError(source, "no output")
    with no_gc():
        return _parse_proc(text, hz, source)


def _parse_proc(text: str, hz: int, source: str) -> tuple[Service, ...]:
    services = []
    for line, svc, block in _blocks(text, source):
        tokens = svc.split()
        if tokens[0] not in PROTOCOLS or len(tokens) < 3:
            raise ParseError(source, f"expected 'PROT HEXADDR:PORT SCHEDULER', got {quote(svc)}", line)
        f: dict[str, Any] = {"protocol": tokens[0], "scheduler": tokens[2], "address": None, "port": None,
                   "fwmark": None, "family": "inet"}
        if tokens[0] == "FWM":
            try:
                f["fwmark"] = int(tokens[1], 16)
            except ValueError:
                raise ParseError(source, f"expected a hex firewall mark, got {quote(tokens[1])}", line) from None
            # The kernel does not say a fwmark service's family; an IPv6 real server tells.
            f["family"] = "inet6" if "[" in block else "inet"
        else:
            f["address"], f["port"], f["family"] = _hex_addr(tokens[1], source, line)
        if "persistent" in tokens:
            i = tokens.index("persistent")
            try:
                f["persistent"] = True
                f["persistence_timeout"] = int(tokens[i + 1]) // max(hz, 1)
            except (ValueError, IndexError):
                raise ParseError(source, f"bad persistence in {quote(svc)}", line) from None
        cols = _dest_columns(block, 6, source, line, "-> HEXADDR:PORT FORWARD WEIGHT ACTIVE INACTIVE")
        addrs = [_hex_addr(t, source, line) for t in cols[1]]
        if not set(cols[2]) <= FORWARD.keys():
            bad = next(t for t in cols[2] if t not in FORWARD)
            raise ParseError(source, f"unknown forward method {quote(bad)}", line)
        weights, active, inactive = _blame(source, line, block, lambda: [_ints(c) for c in cols[3:6]])  # noqa: B023 (called at once)
        n = len(addrs)
        real = build_columns(RealServer, n, (
            [a[0] for a in addrs], [a[1] for a in addrs], [FORWARD[t] for t in cols[2]],
            weights, active, inactive, repeat(0, n), repeat(_ZERO_COUNTERS, n),
            repeat(_ZERO_RATES, n), repeat(None, n)))
        services.append(Service(real_servers=tuple(real), **f))
    return tuple(services)
