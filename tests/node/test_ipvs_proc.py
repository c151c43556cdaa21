"""The node's /proc/net/ip_vs reader (lbconsole/node/ipvs.py, the fallback when netlink fails) on the
kernel's format and on the lab directors' captures, checked against ipvsadm's listing of the same table
(tests/support/ipvsadm_text.py, the tests' reference reader of ipvsadm)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lbconsole.node.ipvs import IPVSError, parse_proc
from lbconsole.node.snapshot import join_host_port, service_key
from support import ipvsadm_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "ipvs_expected.json").read_text())  # see its README
ZERO_COUNTERS = {"conns": 0, "inpkts": 0, "outpkts": 0, "inbytes": 0, "outbytes": 0}

# As kernel 6.1 prints it (ip_vs_info_seq_show): hex addresses and ports, persistence in jiffies.
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
FWM  00000014 rr 
  -> [2001:0db8:0000:0000:0000:0000:0000:0012]:0000      Route   3      0          0         
UDP  0A630064:0035 rr 
TCP  [2001:0db8:0000:0000:0000:0000:0000:0100]:01BB rr 
  -> [2001:0db8:0000:0000:0000:0000:0000:0021]:01BB      Local   2      1          0         
"""


def rows(svc: dict) -> list[tuple]:
    return [(r["address"], r["port"], r["forward"], r["weight"], r["active_conns"], r["inactive_conns"])
            for r in svc["real_servers"]]


def test_proc_ip_vs():
    svcs = parse_proc(PROC)
    assert [service_key(s) for s in svcs] == ["10.99.0.100:80", "10.99.0.100:8080", "fwm:10", "fwm:20:6",
                                              "udp:10.99.0.100:53", "[2001:db8::100]:443"]
    web, alt, mark, mark6, udp, v6 = svcs
    assert rows(web) == [("10.99.0.21", 80, "route", 100, 17, 240), ("10.99.0.22", 80, "route", 0, 0, 3)]
    assert (web["persistent"], web["persistence_timeout"], web["scheduler"]) == (False, None, "wlc")
    # /proc has no counters: zeros, never made up.
    assert web["stats"] == web["real_servers"][0]["stats"] == ZERO_COUNTERS
    # The kernel prints the timeout in jiffies (svc->timeout = seconds * HZ); Debian's HZ is 250.
    assert alt["persistent"] and alt["persistence_timeout"] == 300
    assert parse_proc(PROC, hz=100)[1]["persistence_timeout"] == 750
    assert rows(alt) == [("10.99.0.21", 8080, "masq", 100, 0, 0)]
    assert (mark["fwmark"], mark["address"], mark["port"], mark["family"]) == (10, None, None, "inet")
    assert rows(mark) == [("10.99.0.23", 0, "tunnel", 1, 0, 0)]
    assert mark6["family"] == "inet6"  # the kernel does not print it: its IPv6 real server tells
    assert udp["real_servers"] == []
    assert (v6["family"], v6["address"], v6["port"]) == ("inet6", "2001:db8::100", 443)
    assert rows(v6) == [("2001:db8::21", 443, "local", 2, 1, 0)]
    assert all(r["drain"] is None and r["persist_conns"] == 0 for s in svcs for r in s["real_servers"])


def test_headers_only_is_an_empty_table():
    assert parse_proc(PROC.split("TCP")[0]) == []
    assert parse_proc("") == []


@pytest.mark.parametrize("text, words", [
    (PROC.replace("0A630015:0050", "10.99.0.21:80", 1), "line 5: expected HEXADDR:HEXPORT, got '10.99.0.21:80'"),
    (PROC.replace("Masq", "Magic"), "line 8: expected a real server, got '-> 0A630015:1F90      Magic"),
    (PROC.replace("100    17", "lots    17"), "line 5: bad numbers in"),
    (PROC.replace("0000000A wlc", "0000000X wlc"), "line 9: bad firewall mark '0000000X'"),
    (PROC.replace("persistent 75000 FFFFFFFF\n  -> 0A630015", "persistent\n  -> 0A630015"), "line 7: bad persistence"),
    ("cat: /proc/net/ip_vs: No such file or directory", "line 1: expected 'PROT HEXADDR:PORT SCHEDULER'"),
    ("  -> 0A630017:0050      Route   100    0          11\n", "line 1: expected a real server"),
    ('{"id": 1, "ok": true}\n', "line 1: expected 'PROT HEXADDR:PORT SCHEDULER'"),
])
def test_garbage_names_the_line(text, words):
    with pytest.raises(IPVSError) as e:
        parse_proc(text)
    assert str(e.value).startswith("/proc/net/ip_vs: " + words) and len(str(e.value)) < 200


def test_error_quotes_little():
    with pytest.raises(IPVSError) as e:
        parse_proc("TCP  0A630064:0050 wlc\n  -> " + "x" * 10000 + " Route 1 0 0\n")
    assert len(str(e.value)) < 200


# --- the lab's directors: /proc and ipvsadm captured one after the other ---------------------

def lab(node: str, what: str) -> str:
    return (FIXTURES / f"{node}_{what}.txt").read_text()


def static(svcs: list[dict]) -> list[tuple]:
    """What the two sources must agree on, in a fixed order (/proc lists in the kernel's order, not
    sorted as ipvsadm does)."""
    return sorted((service_key(s), s["scheduler"], s["persistent"], s["persistence_timeout"],
                   sorted((join_host_port(r["address"], r["port"]), r["forward"], r["weight"])
                          for r in s["real_servers"])) for s in svcs)


@pytest.mark.parametrize("node", ["lb1", "lb2"])
def test_lab_proc_ip_vs_agrees_with_ipvsadm(node):
    text = lab(node, "proc_net_ip_vs")
    assert "persistent 75000" in text  # 300 s at Debian's HZ=250
    proc = parse_proc(text, hz=250)
    assert static(proc) == static(ipvsadm_text.read(lab(node, "ipvsadm_ln")))
    # The lab: TCP 10.99.0.100:80 wlc and :8080 wlc persistent 300; 10.99.0.21-23, Route, weight 100.
    assert static(proc) == [(f"10.99.0.100:{port}", "wlc", port == 8080, 300 if port == 8080 else None,
                             [(f"10.99.0.{n}:{port}", "route", 100) for n in (21, 22, 23)]) for port in (80, 8080)]
    assert all(r["stats"] == ZERO_COUNTERS for s in proc for r in s["real_servers"])


# --- the reference reader itself -------------------------------------------------------------

@pytest.mark.parametrize("name", ["empty", "lb1", "scratch"])
def test_reference_ipvsadm_reader_reads_the_captures_as_recorded(name):
    """ipvs_expected.json was made by the console's old ipvsadm parser (tested against the real tool); the
    reference reader reads the same listings the same, so the decoder tests keep their witness."""
    text = [(FIXTURES / "netlink" / f"{name}.{what}.txt").read_text() for what in ("ln", "stats", "rate")]
    assert json.loads(json.dumps(ipvsadm_text.read(*text))) == EXPECTED["netlink:" + name]


def test_reference_ipvsadm_reader_on_the_lab_and_signed_marks():
    web, alt = ipvsadm_text.read(*(lab("lb1", what) for what in ("ipvsadm_ln", "ipvsadm_ln_stats", "ipvsadm_ln_rate")))
    assert web["stats"] == {"conns": 31, "inpkts": 186, "outpkts": 0, "inbytes": 12245, "outbytes": 0}
    assert web["real_servers"][2]["rates"] == {"cps": 1, "inpps": 6, "outpps": 0, "inbps": 371, "outbps": 0}
    assert alt["real_servers"][2]["stats"] == {"conns": 10, "inpkts": 60, "outpkts": 0, "inbytes": 4000,
                                               "outbytes": 0}
    for s in (web, alt):  # the kernel counts each packet for its real server and its service alike
        assert all(s["stats"][f] == sum(r["stats"][f] for r in s["real_servers"]) for f in ZERO_COUNTERS)
    marks = ipvsadm_text.read((FIXTURES / "netlink" / "bigmark.ln.txt").read_text())
    assert sorted(s["fwmark"] for s in marks if s["protocol"] == "FWM") == [10, 20, 2147483653, 4294967295]
    with pytest.raises(ValueError, match="line 1"):
        ipvsadm_text.read("bash: ipvsadm: command not found")
    with pytest.raises(ValueError):
        ipvsadm_text.read(lab("lb1", "ipvsadm_ln_noexact"), lab("lb1", "ipvsadm_ln_stats").replace(" 12245", "   12K"))
