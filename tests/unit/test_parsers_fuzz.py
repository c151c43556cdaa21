"""Property tests: garbage never raises anything but ParseError, and generated tables in the
real tools' formats parse back to the numbers they were made from."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lbconsole.collectors.errors import ParseError
from lbconsole.collectors.host_parse import cpu_times, parse_host_section, parse_meminfo
from lbconsole.collectors.ipvs_text import parse_ipvsadm, parse_proc_ip_vs
from lbconsole.collectors.nginx_parse import parse_stub_status
from lbconsole.collectors.vrrp_parse import (
    REDACT_SED,
    REDACTED,
    parse_ip_addr,
    parse_keepalived_data,
    parse_keepalived_json,
    parse_keepalived_stats,
    redact_keepalived,
)

FIX = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURES = {p.name: p.read_text(errors="replace") for p in sorted(FIX.iterdir()) if p.is_file()}

TEXT_PARSERS = {
    "ipvsadm": lambda t: parse_ipvsadm(t, t, t),
    "ipvsadm_ln": parse_ipvsadm,
    "proc_ip_vs": parse_proc_ip_vs,
    "keepalived_json": parse_keepalived_json,
    "keepalived_data": lambda t: parse_keepalived_data(t, t),
    "keepalived_stats": parse_keepalived_stats,
    "ip_addr": parse_ip_addr,
    "stub_status": parse_stub_status,
    "host": parse_host_section,
    "meminfo": parse_meminfo,
    "cpu": cpu_times,
}
# Which fixtures feed which parser when mutated.
FEEDS = {
    "keepalived_json": [n for n in FIXTURES if n.endswith(".json") and n.startswith("keepalived")],
    "keepalived_data": [n for n in FIXTURES if n.endswith(".data") or n.endswith("_keepalived_data.txt")],
    "keepalived_stats": [n for n in FIXTURES if n.endswith(".stats") or n.endswith("_keepalived_stats.txt")],
    "ip_addr": [n for n in FIXTURES if n.startswith("ipaddr_") or n.endswith("_ip_addr.json")],
    "stub_status": [n for n in FIXTURES if n.startswith("nginx") and n.endswith(".txt")
                    or n.endswith("_nginx_status.txt")],
    "host": ["host_section.txt"],
    "meminfo": [n for n in FIXTURES if n.endswith("meminfo.txt")],
    "cpu": [n for n in FIXTURES if n.startswith("proc_stat") or n.endswith("_proc_stat.txt")],
    # The lab's director captures, once they are there.
    "ipvsadm": [n for n in FIXTURES if "_ipvsadm_ln" in n],
    "ipvsadm_ln": [n for n in FIXTURES if n.endswith("_ipvsadm_ln.txt")],
    "proc_ip_vs": [n for n in FIXTURES if n.endswith("_proc_net_ip_vs.txt")],
}
FEEDS = {k: v for k, v in FEEDS.items() if v}


def only_parse_errors(fn, text):
    try:
        fn(text)
    except ParseError as e:
        assert str(e) and len(str(e)) < 400, "messages stay short"


# Text made of the pieces the real formats use, so the parsers get past their first checks.
TOKENS = st.sampled_from([
    "TCP", "UDP", "FWM", "SCTP", "IPv6", "->", "Route", "Masq", "Tunnel", "Local", "wlc", "persistent",
    "10.99.0.100:80", "[2001:db8::1]:443", "0A630064:0050", "0", "100", "12K", "3M", "-1", "1e3",
    "IP Virtual Server version 1.2.1 (size=4096)", "Prot LocalAddress:Port Scheduler Flags",
    "  -> RemoteAddress:Port", " VRRP Instance = VI_1", "   State = MASTER", "   Virtual IP (1):",
    "Active connections:", "server accepts handled requests", "Reading:", "Writing:", "Waiting:",
    '"auth_data"', "{", "}", "[", "]", ":", ",", '"', "cpu", "MemTotal:", "kB", "\x00", "\u00e9", "٣",
])
STRUCTURED = st.lists(st.one_of(TOKENS, st.sampled_from([" ", "  ", "\n", "\t", "\r\n"])), max_size=60).map("".join)


@pytest.mark.parametrize("name", sorted(TEXT_PARSERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=300), STRUCTURED))
def test_arbitrary_text_only_parse_errors(name, text):
    only_parse_errors(TEXT_PARSERS[name], text)


@st.composite
def mutated(draw, names):
    text = FIXTURES[draw(st.sampled_from(names))]
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "delete", "insert", "replace", "dupline", "dropline"]))
        i = draw(st.integers(0, max(len(text) - 1, 0)))
        if kind == "cut":
            text = text[:i]
        elif kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:i] + draw(st.one_of(st.text(max_size=10), TOKENS)) + text[i:]
        elif kind == "replace":
            text = text[:i] + draw(st.characters()) + text[i + 1:]
        else:
            lines = text.split("\n")
            j = draw(st.integers(0, len(lines) - 1))
            lines[j:j + 1] = [lines[j]] * 2 if kind == "dupline" else []
            text = "\n".join(lines)
    return text


@pytest.mark.parametrize("name", sorted(FEEDS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_fixtures_only_parse_errors(name, data):
    only_parse_errors(TEXT_PARSERS[name], data.draw(mutated(FEEDS[name])))


# --- ipvsadm round trip ------------------------------------------------------------------------

def largenum(v: int, exact: bool) -> str:
    """ipvsadm's print_largenum."""
    if exact:
        s = str(v)
        return s.rjust(9 if len(s) <= 8 else len(s) + 1)
    for limit, div, suf in ((10**8, 1, ""), (10**9, 10**3, "K"), (10**11, 10**6, "M"), (10**14, 10**9, "G")):
        if v < limit:
            return f"{v // div:8d}{suf}" if suf else f"{v:9d}"
    return f"{v // 10**12:8d}T"


def shown(v: int, exact: bool) -> int:
    """What the printed number reads back as."""
    if exact or v < 10**8:
        return v
    for limit, div in ((10**9, 10**3), (10**11, 10**6), (10**14, 10**9)):
        if v < limit:
            return v // div * div
    return v // 10**12 * 10**12


addr4 = st.ip_addresses(v=4).map(str)
addr6 = st.ip_addresses(v=6).map(str)
# Up to 10**19: above that ipvsadm's "%8lluT" runs into the previous column (its own bug).
counter = st.one_of(st.integers(0, 10**6), st.integers(0, 10**19 - 1))
forward = st.sampled_from(["Route", "Masq", "Tunnel", "Local"])


@st.composite
def tables(draw):
    services, seen = [], set()
    for _ in range(draw(st.integers(0, 5))):
        proto = draw(st.sampled_from(["TCP", "UDP", "SCTP", "FWM"]))
        v6 = draw(st.booleans())
        if proto == "FWM":
            mark = draw(st.integers(1, 2**32 - 1))
            name = f"FWM  {mark} IPv6" if v6 else f"FWM  {mark}"
        else:
            a = draw(addr6 if v6 else addr4)
            port = draw(st.integers(0, 65535))
            name = f"{proto}  [{a}]:{port}" if v6 else f"{proto}  {a}:{port}"
        if name in seen:
            continue
        seen.add(name)
        dests, dseen = [], set()
        for _ in range(draw(st.integers(0, 6))):
            a = draw(addr6 if v6 else addr4)
            port = draw(st.integers(0, 65535))
            d = f"[{a}]:{port}" if v6 else f"{a}:{port}"
            if d in dseen:
                continue
            dseen.add(d)
            dests.append({"name": d, "addr": a, "port": port, "fwd": draw(forward),
                          "weight": draw(st.integers(0, 65535)), "act": draw(st.integers(0, 2**32 - 1)),
                          "inact": draw(st.integers(0, 2**32 - 1)),
                          "stats": draw(st.lists(counter, min_size=5, max_size=5)),
                          "rates": draw(st.lists(counter, min_size=5, max_size=5))})
        services.append({"name": name, "sched": draw(st.sampled_from(["wlc", "rr", "sh", "mh"])),
                         "persist": draw(st.one_of(st.none(), st.integers(1, 10**6))),
                         "stats": draw(st.lists(counter, min_size=5, max_size=5)),
                         "rates": draw(st.lists(counter, min_size=5, max_size=5)), "dests": dests})
    return services


def render(services, exact: bool) -> tuple[str, str, str]:
    head = "IP Virtual Server version 1.2.1 (size=4096)\n"
    ln = [head, "Prot LocalAddress:Port Scheduler Flags\n",
          "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"]
    stt = [head, "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n",
           "  -> RemoteAddress:Port\n"]
    rt = [head, "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n",
          "  -> RemoteAddress:Port\n"]
    for s in services:
        flags = f" persistent {s['persist']}" if s["persist"] else ""
        ln.append(f"{s['name']} {s['sched']}{flags}\n")
        stt.append(f"{s['name']:<33}" + "".join(largenum(v, exact) for v in s["stats"]) + "\n")
        rt.append(f"{s['name']:<33}" + "".join(largenum(v, exact) for v in s["rates"]) + "\n")
        for d in s["dests"]:
            ln.append(f"  -> {d['name']:<28} {d['fwd']:<7} {d['weight']:<6} {d['act']:<10} {d['inact']:<10}\n")
            stt.append(f"  -> {d['name']:<28}" + "".join(largenum(v, exact) for v in d["stats"]) + "\n")
            r = d["rates"]
            rt.append(f"  -> {d['name']:<28} {r[0]:8} {r[1]:8} {r[2]:8}" + largenum(r[3], exact)
                      + largenum(r[4], exact) + "\n")
    return "".join(ln), "".join(stt), "".join(rt)


@settings(max_examples=200, deadline=None)
@given(services=tables(), exact=st.booleans())
def test_generated_ipvsadm_tables_parse_back(services, exact):
    parsed = parse_ipvsadm(*render(services, exact))
    assert len(parsed) == len(services)
    for got, want in zip(parsed, services):
        assert got.persistent == bool(want["persist"])
        assert got.persistence_timeout == want["persist"]
        assert got.scheduler == want["sched"]
        assert list(got.stats.__class__.__slots__) and [getattr(got.stats, f) for f in got.stats.__slots__] == [
            shown(v, exact) for v in want["stats"]]
        assert [getattr(got.rates, f) for f in got.rates.__slots__] == [shown(v, exact) for v in want["rates"]]
        assert len(got.real_servers) == len(want["dests"])
        for rs, d in zip(got.real_servers, want["dests"]):
            assert (rs.address, rs.port, rs.forward, rs.weight, rs.active_conns, rs.inactive_conns) == (
                d["addr"], d["port"], d["fwd"].lower(), d["weight"], d["act"], d["inact"])
            assert [getattr(rs.stats, f) for f in rs.stats.__slots__] == [shown(v, exact) for v in d["stats"]]
            # cps/inpps/outpps of a real server are always printed exactly (%8u).
            assert [getattr(rs.rates, f) for f in rs.rates.__slots__] == (
                d["rates"][:3] + [shown(v, exact) for v in d["rates"][3:]])


def render_proc(services, hz: int) -> str:
    out = ["IP Virtual Server version 1.2.1 (size=4096)\n", "Prot LocalAddress:Port Scheduler Flags\n",
           "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"]

    def hexaddr(a: str, port: int) -> str:
        ip = ipaddress.ip_address(a)
        if ip.version == 4:
            return f"{int(ip):08X}:{port:04X}"
        return f"[{ip.exploded}]:{port:04X}"

    for s in services:
        if s["name"].startswith("FWM"):
            head = f"FWM  {int(s['name'].split()[1]):08X} {s['sched']} "
        else:
            proto, ap = s["name"].split()
            a, _, port = ap.rpartition(":")
            head = f"{proto}  {hexaddr(a.strip('[]'), int(port))} {s['sched']} "
        persist = f"persistent {s['persist'] * hz} FFFFFFFF\n" if s["persist"] else "\n"
        out.append(head + persist)
        for d in s["dests"]:
            out.append(f"  -> {hexaddr(d['addr'], d['port'])}      {d['fwd']:<7} {d['weight']:<6} "
                       f"{d['act']:<10} {d['inact']:<10}\n")
    return "".join(out)


@settings(max_examples=150, deadline=None)
@given(services=tables(), hz=st.sampled_from([100, 250, 300, 1000]))
def test_generated_proc_tables_parse_back_like_ipvsadm(services, hz):
    proc = parse_proc_ip_vs(render_proc(services, hz), hz=hz)
    ln = parse_ipvsadm(render(services, True)[0])
    assume(all(not s.fwmark or s.real_servers or s.family == "inet" for s in ln))
    for p, s in zip(proc, ln):
        assert (p.protocol, p.address, p.port, p.fwmark, p.scheduler, p.persistent, p.persistence_timeout) == (
            s.protocol, s.address, s.port, s.fwmark, s.scheduler, s.persistent, s.persistence_timeout)
        assert p.real_servers == s.real_servers


# --- other round trips ---------------------------------------------------------------------------

@given(nums=st.lists(st.integers(0, 2**63), min_size=7, max_size=7), trailing=st.sampled_from(["", " ", "  "]))
def test_stub_status_round_trip(nums, trailing):
    a, acc, hnd, req, r, w, q = nums
    text = (f"Active connections: {a}{trailing}\nserver accepts handled requests\n {acc} {hnd} {req}{trailing}\n"
            f"Reading: {r} Writing: {w} Waiting: {q}{trailing}\n")
    s = parse_stub_status(text)
    assert (s.active, s.accepts, s.handled, s.requests, s.reading, s.writing, s.waiting) == tuple(nums)


PASSWORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(pw=PASSWORD)
def test_redaction_of_any_json_password(pw):
    doc = json.loads(FIXTURES["keepalived227_a_normal.json"])
    doc[0]["data"]["auth_data"] = pw
    out = json.loads(redact_keepalived(json.dumps(doc)))
    assert out[0]["data"]["auth_data"] == REDACTED
    assert parse_keepalived_json(redact_keepalived(json.dumps(doc)))[0].instance == "VI_1"


@settings(max_examples=200, deadline=None)
@given(pw=PASSWORD)
def test_redaction_of_any_data_dump_password(pw):
    text = FIXTURES["keepalived227_a_normal.data"].replace("Password = lbpS3cr1", "Password = " + pw)
    out = redact_keepalived(text)
    assert "Password = " + REDACTED in out
    assert pw not in [ln.split("Password = ", 1)[1].strip() for ln in out.splitlines() if "Password = " in ln]


@settings(max_examples=40, deadline=None)
@given(pw=st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=8))
def test_sed_redaction_of_any_password(pw):
    doc = json.loads(FIXTURES["keepalived227_a_normal.json"])
    doc[0]["data"]["auth_data"] = pw
    text = json.dumps(doc, separators=(",", ":")) + "\n"
    env = dict(os.environ, LC_ALL="C", REDACT=REDACT_SED)
    out = subprocess.run(["sh", "-c", 'sed -E "$REDACT"'], input=text.encode(), env=env,
                         capture_output=True, check=True).stdout.decode()
    assert out == redact_keepalived(text)
    assert json.loads(out)[0]["data"]["auth_data"] == REDACTED
