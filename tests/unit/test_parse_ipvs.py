"""ipvsadm and /proc/net/ip_vs parsers (formats: ../shared/DOMAIN.md, ipvsadm 1.31 source)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lbconsole.collectors.errors import ParseError
from lbconsole.collectors.ipvs_text import build_columns, parse_ipvsadm, parse_number, parse_proc_ip_vs
from lbconsole.snapshot import Counters, Rates, RealServer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_parse_ipvsadm import generate  # noqa: E402

# Column widths as ipvsadm 1.31 prints them ("%-28s %-7s %-6d %-10u %-10u", "%-33s" + "%9llu").
LN = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.99.0.100:80 wlc
  -> 10.99.0.21:80                Route   100    3          17        
  -> 10.99.0.22:80                Route   0      0          2         
TCP  10.99.0.100:8080 wlc persistent 300
  -> 10.99.0.21:8080              Masq    100    0          0         
UDP  10.99.0.100:53 rr
  -> 10.99.0.23:53                Tunnel  1      0          0         
TCP  [2001:db8::100]:443 sh (sh-fallback) persistent 60 mask 64 ops
  -> [2001:db8::21]:443           Route   5      1          2         
FWM  10 wrr
  -> 10.99.0.21:0                 Local   1      0          0         
FWM  11 IPv6 rr
SCTP  10.99.0.100:3868 lc
  -> 10.99.0.24:3868              Masq    7      0          0         
"""

STATS = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes
  -> RemoteAddress:Port
TCP  10.99.0.100:80                    120     1500        0   123456        0
  -> 10.99.0.21:80                     100     1000        0   100000        0
  -> 10.99.0.22:80                      20      500        0 12345678901        0
TCP  10.99.0.100:8080                    1        2        3        4        5
  -> 10.99.0.21:8080                     1        2        3        4        5
UDP  10.99.0.100:53                      0        0        0        0        0
  -> 10.99.0.23:53                       0        0        0        0        0
TCP  [2001:db8::100]:443                 9        8        7        6        5
  -> [2001:db8::21]:443                  9        8        7        6        5
FWM  10                                  1        1        1        1        1
  -> 10.99.0.21:0                        1        1        1        1        1
FWM  11 IPv6                             0        0        0        0        0
SCTP  10.99.0.100:3868                   0        0        0        0        0
  -> 10.99.0.24:3868                     0        0        0        0        0
"""

RATE = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS
  -> RemoteAddress:Port
TCP  10.99.0.100:80                      5       50        0     5000        0
  -> 10.99.0.21:80                       4       40        0     4000        0
  -> 10.99.0.22:80                       1       10        0     1000        0
"""


def test_services_from_listing():
    svcs = parse_ipvsadm(LN)
    assert [s.key for s in svcs] == ["10.99.0.100:80", "10.99.0.100:8080", "udp:10.99.0.100:53",
                                     "[2001:db8::100]:443", "fwm:10", "fwm:11:6", "sctp:10.99.0.100:3868"]
    web = svcs[0]
    assert ((web.protocol, web.address, web.port, web.scheduler, web.persistent)
            == ("TCP", "10.99.0.100", 80, "wlc", False))
    assert [(r.address, r.port, r.forward, r.weight, r.active_conns, r.inactive_conns) for r in web.real_servers] == [
        ("10.99.0.21", 80, "route", 100, 3, 17), ("10.99.0.22", 80, "route", 0, 0, 2)]
    assert svcs[1].persistent and svcs[1].persistence_timeout == 300
    assert svcs[1].real_servers[0].forward == "masq"
    assert svcs[2].real_servers[0].forward == "tunnel"
    v6 = svcs[3]
    assert (v6.family, v6.address, v6.scheduler, v6.persistence_timeout) == ("inet6", "2001:db8::100", "sh", 60)
    assert v6.real_servers[0].address == "2001:db8::21" and v6.real_servers[0].key == "[2001:db8::21]:443"
    assert (svcs[4].fwmark, svcs[4].address, svcs[4].port, svcs[4].family) == (10, None, None, "inet")
    assert svcs[4].real_servers[0].forward == "local"
    assert (svcs[5].fwmark, svcs[5].family, svcs[5].real_servers) == (11, "inet6", ())
    assert svcs[6].protocol == "SCTP"
    # Without --stats/--rate everything is zero.
    assert web.stats == Counters() and web.real_servers[0].rates == Rates()


def test_stats_and_rates_are_merged():
    svcs = parse_ipvsadm(LN, STATS, RATE)
    web = svcs[0]
    assert web.stats == Counters(120, 1500, 0, 123456, 0)
    assert web.rates == Rates(5, 50, 0, 5000, 0)
    assert web.real_servers[1].stats == Counters(20, 500, 0, 12345678901, 0)
    assert web.real_servers[0].rates == Rates(4, 40, 0, 4000, 0)
    assert svcs[1].stats == Counters(1, 2, 3, 4, 5) and svcs[1].rates == Rates()  # not in RATE
    assert svcs[3].real_servers[0].stats == Counters(9, 8, 7, 6, 5)
    assert svcs[4].stats == Counters(1, 1, 1, 1, 1)


def test_table_changed_between_runs():
    # A real server added after --stats ran: it gets zeros, the others keep their numbers.
    ln = LN.replace("  -> 10.99.0.22:80 ", "  -> 10.99.0.30:80                Route   1      0          0\n"
                                             "  -> 10.99.0.22:80 ", 1)
    web = parse_ipvsadm(ln, STATS)[0]
    assert [r.address for r in web.real_servers] == ["10.99.0.21", "10.99.0.30", "10.99.0.22"]
    assert [r.stats.conns for r in web.real_servers] == [100, 0, 20]


def test_suffixed_numbers_without_exact():
    stats = STATS.replace("12345678901", "   12345M").replace(" 123456 ", "   123K ")
    web = parse_ipvsadm(LN, stats)[0]
    assert web.real_servers[1].stats.inbytes == 12345 * 10**6
    assert web.stats.inbytes == 123000
    assert [parse_number(x) for x in ("0", "7", "123K", "4M", "5G", "6T")] == [
        0, 7, 123000, 4 * 10**6, 5 * 10**9, 6 * 10**12]
    with pytest.raises(ValueError):
        parse_number("12X")


def test_empty_table_and_headers_only():
    assert parse_ipvsadm("") == ()
    assert parse_ipvsadm(LN.split("TCP")[0]) == ()
    assert parse_ipvsadm(LN.split("TCP")[0], STATS.split("TCP")[0], RATE.split("TCP")[0]) == ()


@pytest.mark.parametrize("bad, line, words", [
    ("  -> 10.99.0.21:80                Route   100    3\n", 5, "expected '-> ADDR:PORT"),
    ("  -> 10.99.0.21:80                Bridge  100    3          17\n", 5, "unknown forward method 'Bridge'"),
    ("  -> 10.99.0.21:80                Route   lots   3          17\n", 5, "expected a number, got 'lots'"),
    ("  -> 10.99.0.299:80               Route   100    3          17\n", 5, "expected ADDR:PORT"),
    ("  -> 10.99.0.21:99999             Route   100    3          17\n", 5, "expected ADDR:PORT"),
])
def test_bad_real_server_line_is_named(bad, line, words):
    text = LN.replace(LN.splitlines(True)[4], bad)
    with pytest.raises(ParseError) as e:
        parse_ipvsadm(text)
    assert str(e.value).startswith(f"ipvsadm -Ln: line {line}: ")
    assert words in str(e.value)


def test_garbage_is_a_parse_error_with_a_short_quote():
    with pytest.raises(ParseError, match="not an IPVS table") as e:
        parse_ipvsadm("bash: ipvsadm: command not found" + "x" * 500)
    assert len(str(e.value)) < 120
    with pytest.raises(ParseError, match="real server before any service"):
        parse_ipvsadm(LN.split("TCP")[0] + "  -> 10.0.0.1:80 Route 1 0 0\n")
    with pytest.raises(ParseError, match="expected 'PROT ADDR:PORT SCHEDULER"):
        parse_ipvsadm(LN.split("TCP")[0] + "ICMP  10.0.0.1:0 rr\n")
    with pytest.raises(ParseError, match=r"ipvsadm --stats: line 5"):
        parse_ipvsadm(LN, STATS.replace("   100     1000", "   100     1x00"))
    with pytest.raises(ParseError, match=r"persistence timeout"):
        parse_ipvsadm(LN.replace("persistent 300", "persistent"))


def test_column_builder_equals_init():
    built = build_columns(RealServer, 2, (["a", "b"], [1, 2], ["route", "masq"], [3, 4], [5, 6], [7, 8],
                                          [0, 0], [Counters(1), Counters()], [Rates(), Rates(2)], [None, None]))
    assert built == [RealServer("a", 1, "route", 3, 5, 7, 0, Counters(1), Rates()),
                     RealServer("b", 2, "masq", 4, 6, 8, 0, Counters(), Rates(2))]
    assert hash(built[0]) == hash(RealServer("a", 1, "route", 3, 5, 7, 0, Counters(1), Rates()))
    with pytest.raises(TypeError):
        build_columns(Counters, 1, ([1],))


def test_generated_table_round_trip():
    ln, st, rt = generate(7, 13, seed=5)
    svcs = parse_ipvsadm(ln, st, rt)
    assert len(svcs) == 7 and all(len(s.real_servers) == 13 for s in svcs)
    for s in svcs:
        # The generator prints service totals as sums of its real servers.
        assert s.stats.conns == sum(r.stats.conns for r in s.real_servers)
        assert s.rates.inbps == sum(r.rates.inbps for r in s.real_servers)
        assert s.persistent == (s.persistence_timeout == 300)
    # The same numbers, parsed line by line the slow way.
    dest_lines = [ln_.split() for ln_ in st.splitlines() if ln_.startswith("  ->") and "Remote" not in ln_]
    assert [(r.stats.conns, r.stats.inpkts, r.stats.inbytes) for s in svcs for r in s.real_servers] == [
        (int(d[2]), int(d[3]), int(d[5])) for d in dest_lines]


# --- /proc/net/ip_vs --------------------------------------------------------------------------

PROC = """\
IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  0A630064:0050 wlc 
  -> 0A630015:0050      Route   100    17         240       
  -> 0A630016:0050      Route   0      0          3         
TCP  0A630064:1F90 wlc ops persistent 75000 FFFFFFFF
  -> 0A630015:1F90      Masq    100    0          0         
FWM  0000000A wlc persistent 75000 FFFFFFFF
  -> 0A630017:0000      Tunnel  1      0          0         
TCP  [2001:0db8:0000:0000:0000:0000:0000:0100]:01BB rr 
  -> [2001:0db8:0000:0000:0000:0000:0000:0021]:01BB      Local   2      1          0         
"""


def test_proc_ip_vs():
    svcs = parse_proc_ip_vs(PROC)
    assert [s.key for s in svcs] == ["10.99.0.100:80", "10.99.0.100:8080", "fwm:10", "[2001:db8::100]:443"]
    web = svcs[0]
    assert [(r.address, r.port, r.forward, r.weight, r.active_conns, r.inactive_conns) for r in web.real_servers] == [
        ("10.99.0.21", 80, "route", 100, 17, 240), ("10.99.0.22", 80, "route", 0, 0, 3)]
    assert web.real_servers[0].stats == Counters() and web.stats == Counters()
    # The kernel prints the timeout in jiffies (svc->timeout = seconds * HZ).
    assert svcs[1].persistent and svcs[1].persistence_timeout == 300
    assert parse_proc_ip_vs(PROC, hz=100)[1].persistence_timeout == 750
    assert svcs[2].fwmark == 10 and svcs[2].real_servers[0].forward == "tunnel"
    assert svcs[3].family == "inet6" and svcs[3].real_servers[0].address == "2001:db8::21"


def test_proc_matches_ipvsadm_for_same_table():
    proc = parse_proc_ip_vs(PROC)
    ln = parse_ipvsadm(LN)
    assert [(r.address, r.port) for r in proc[0].real_servers] == [(r.address, r.port) for r in ln[0].real_servers]


def test_proc_garbage():
    with pytest.raises(ParseError, match="HEXADDR"):
        parse_proc_ip_vs(PROC.replace("0A630015:0050", "10.99.0.21:80", 1))
    with pytest.raises(ParseError, match="unknown forward method"):
        parse_proc_ip_vs(PROC.replace("Masq", "Magic"))
    with pytest.raises(ParseError, match="/proc/net/ip_vs: line 1: not an IPVS table"):
        parse_proc_ip_vs("cat: /proc/net/ip_vs: No such file or directory")
    assert parse_proc_ip_vs(PROC.split("TCP")[0]) == ()


# --- real lab output --------------------------------------------------------------------------

LAB_POLL = ROOT / "tests" / "fixtures" / "poll_lb1.txt"


def lab_ipvs_parts() -> dict[str, str]:
    """The ipvs section of a real lab director poll, split at its '@@LBC-PART name' markers."""
    text = LAB_POLL.read_text()
    body = text.split("@@LBC ipvs\n", 1)[1].split("\n@@LBC-RC ", 1)[0]
    chunks = body.split("@@LBC-PART ")
    parts = {"": chunks[0]}
    for chunk in chunks[1:]:
        head, _, rest = chunk.partition("\n")
        parts[head.strip()] = rest
    return parts


def test_real_lab_director_ipvsadm():
    parts = lab_ipvs_parts()
    svcs = parse_ipvsadm(parts[""], parts["stats"], parts["rate"])
    assert [(s.key, s.scheduler, s.persistent, s.persistence_timeout) for s in svcs] == [
        ("10.99.0.100:80", "wlc", False, None), ("10.99.0.100:8080", "wlc", True, 300)]
    for s in svcs:
        assert [(r.address, r.port, r.forward, r.weight) for r in s.real_servers] == [
            (f"10.99.0.{n}", s.port, "route", 100) for n in (21, 22, 23)]


FIXDIR = ROOT / "tests" / "fixtures"
LAB_NODES = ("lb1", "lb2")


def lab(node: str, what: str) -> str:
    """A capture from the lab's directors (`<node>_<what>.txt`, see tests/fixtures/README.md)."""
    return (FIXDIR / f"{node}_{what}.txt").read_text()


def static(svcs):
    """What the two sources must agree on, in a fixed order (/proc lists in hash/insert order)."""
    return sorted((s.key, s.scheduler, s.persistent, s.persistence_timeout,
                   sorted((r.key, r.forward, r.weight) for r in s.real_servers)) for s in svcs)


@pytest.mark.parametrize("node", LAB_NODES)
def test_lab_ipvsadm_exact(node):
    svcs = parse_ipvsadm(lab(node, "ipvsadm_ln"), lab(node, "ipvsadm_ln_stats"), lab(node, "ipvsadm_ln_rate"))
    # The lab: TCP 10.99.0.100:80 wlc and :8080 wlc persistent 300; 10.99.0.21-23, Route, weight 100.
    assert [(s.key, s.scheduler, s.persistent, s.persistence_timeout) for s in svcs] == [
        ("10.99.0.100:80", "wlc", False, None), ("10.99.0.100:8080", "wlc", True, 300)]
    for s in svcs:
        assert [(r.address, r.port, r.forward, r.weight) for r in s.real_servers] == [
            (f"10.99.0.{n}", s.port, "route", 100) for n in (21, 22, 23)]
        # The kernel counts each packet for its real server and its service alike.
        for f in ("conns", "inpkts", "outpkts", "inbytes", "outbytes"):
            assert getattr(s.stats, f) == sum(getattr(r.stats, f) for r in s.real_servers)
        # LVS-DR: the director never sees the replies.
        assert s.stats.outpkts == s.stats.outbytes == 0


def test_lab_lb1_numbers():
    web, alt = parse_ipvsadm(lab("lb1", "ipvsadm_ln"), lab("lb1", "ipvsadm_ln_stats"), lab("lb1", "ipvsadm_ln_rate"))
    assert web.stats == Counters(31, 186, 0, 12245, 0)
    assert web.real_servers[0].stats == Counters(10, 60, 0, 3950, 0)
    assert web.rates == Rates(3, 17, 0, 1112, 0)
    assert web.real_servers[2].rates == Rates(1, 6, 0, 371, 0)
    assert [r.inactive_conns for r in web.real_servers] == [10, 10, 11]
    assert alt.real_servers[2].stats == Counters(10, 60, 0, 4000, 0)


@pytest.mark.parametrize("node", LAB_NODES)
def test_lab_ipvsadm_without_exact_reads_the_same(node):
    assert parse_ipvsadm(lab(node, "ipvsadm_ln_noexact")) == parse_ipvsadm(lab(node, "ipvsadm_ln"))


@pytest.mark.parametrize("node", LAB_NODES)
def test_lab_proc_ip_vs_agrees_with_ipvsadm(node):
    proc = parse_proc_ip_vs(lab(node, "proc_net_ip_vs"))
    # "persistent 75000" in /proc is 300 s at Debian's HZ=250.
    assert "persistent 75000" in lab(node, "proc_net_ip_vs")
    assert static(proc) == static(parse_ipvsadm(lab(node, "ipvsadm_ln")))
    assert all(r.stats == Counters() for s in proc for r in s.real_servers)


def test_large_firewall_marks_printed_signed_by_ipvsadm():
    # Captured from the lab kernel: ipvsadm prints marks >= 2^31 as negative numbers.
    text = (Path(__file__).parents[1] / "fixtures" / "netlink" / "bigmark.ln.txt").read_text()
    marks = sorted(s.fwmark for s in parse_ipvsadm(text) if s.protocol == "FWM")
    assert marks == [10, 20, 2147483653, 4294967295]
