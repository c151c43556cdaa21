"""Property tests on the node's readers of daemon and kernel text (lbconsole/node: ipvs, vrrp, nginx,
host): garbage and mutated real captures never raise anything but the reader's own error (which the
snapshot turns into that part's message) with a short message; generated tables in the kernel's and
the tools' formats read back to the numbers they were made from."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lbconsole.node import host, ipvs, nginx, vrrp
from support import ipvsadm_text

FIX = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURES = {p.name: p.read_text(errors="replace") for p in sorted(FIX.iterdir()) if p.is_file()}

# Each reader and the one error it may raise.
READERS = {
    "proc_ip_vs": (ipvs.parse_proc, ipvs.IPVSError),
    "keepalived_json": (vrrp.parse_json, vrrp.VrrpError),
    "keepalived_data": (vrrp.parse_data, vrrp.VrrpError),
    "stub_status": (nginx.parse_stub_status, nginx.NginxError),
    "loadavg": (host.parse_loadavg, host.HostError),
    "uptime": (host.parse_uptime, host.HostError),
    "meminfo": (host.parse_meminfo, host.HostError),
    "stat": (host.parse_stat, host.HostError),
    "redact": (vrrp.redact, ()),  # never fails: it runs on every dump before anything else
}
# Which real captures feed which reader when mutated.
FEEDS = {
    "proc_ip_vs": [n for n in FIXTURES if n.endswith("_proc_net_ip_vs.txt")],
    "keepalived_json": [n for n in FIXTURES if n.endswith(".json") and n.startswith("keepalived")],
    "keepalived_data": [n for n in FIXTURES if n.endswith(".data") or "_keepalived_data" in n],
    "stub_status": [n for n in FIXTURES if n.startswith("nginx") and n.endswith(".txt")
                    or n.endswith("_nginx_status.txt")],
    "loadavg": [n for n in FIXTURES if n.endswith("proc_loadavg.txt")],
    "uptime": ["proc_uptime.txt"],
    "meminfo": [n for n in FIXTURES if n.endswith("meminfo.txt")],
    "stat": [n for n in FIXTURES if n.startswith("proc_stat") or n.endswith("_proc_stat.txt")],
    "redact": [n for n in FIXTURES if n.startswith("keepalived") or "_keepalived_" in n],
}


def test_every_reader_has_real_captures():
    assert set(FEEDS) == set(READERS) and all(FEEDS.values())


def only_own_errors(name: str, text: str) -> None:
    fn, error = READERS[name]
    try:
        fn(text)
    except error as e:
        assert str(e) and len(str(e)) < 400, "messages stay short"


# Text made of the pieces the real formats use, so the readers get past their first checks.
TOKENS = st.sampled_from([
    "TCP", "UDP", "FWM", "SCTP", "IPv6", "->", "Route", "Masq", "Tunnel", "Local", "wlc", "persistent",
    "10.99.0.100:80", "[2001:db8::1]:443", "0A630064:0050", "[2001:0db8:0000:0000:0000:0000:0000:0100]:01BB",
    "FFFFFFFF", "0", "100", "12K", "-1", "1e3", "1_0", "nan", "inf", "NaN", "1" + "0" * 400, "\u00b2", "\u0663",
    "IP Virtual Server version 1.2.1 (size=4096)", "Prot LocalAddress:Port Scheduler Flags",
    "  -> RemoteAddress:Port", " VRRP Instance = VI_1", "   State = MASTER", "   Virtual IP (1):",
    "   Virtual Router ID = 51", "   Last transition = ", "------< VRRP Topology >------",
    '"auth_data"', '"data"', '"vrid"', '"state"', '"last_transition"', '"vips"',
    "Active connections:", "server accepts handled requests", "Reading:", "Writing:", "Waiting:",
    "{", "}", "[", "]", ":", ",", '"', "cpu", "cpu0", "MemTotal:", "MemAvailable:", "kB", "Password =",
    "\x00", "\x1b[31m", "\u00e9", "@@LBC",
])
STRUCTURED = st.lists(st.one_of(TOKENS, st.sampled_from([" ", "  ", "\n", "\t", "\r\n"])), max_size=60).map("".join)


@pytest.mark.parametrize("name", sorted(READERS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=300), STRUCTURED))
def test_arbitrary_text_only_own_errors(name, text):
    only_own_errors(name, text)


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
def test_mutated_real_captures_only_own_errors(name, data):
    only_own_errors(name, data.draw(mutated(FEEDS[name])))


# --- generated IPVS tables -------------------------------------------------------------------------

addr4 = st.ip_addresses(v=4).map(str)
addr6 = st.ip_addresses(v=6).map(str)
counter = st.one_of(st.integers(0, 10**6), st.integers(0, 2**64 - 1))
forward = st.sampled_from(["Route", "Masq", "Tunnel", "Local"])


@st.composite
def tables(draw):
    services, seen = [], set()
    for _ in range(draw(st.integers(0, 5))):
        proto = draw(st.sampled_from(["TCP", "UDP", "SCTP", "FWM"]))
        v6 = draw(st.booleans())
        svc = {"protocol": proto, "v6": v6, "sched": draw(st.sampled_from(["wlc", "rr", "sh", "mh"])),
               "persist": draw(st.one_of(st.none(), st.integers(1, 10**6))),
               "stats": draw(st.lists(counter, min_size=5, max_size=5)),
               "rates": draw(st.lists(counter, min_size=5, max_size=5))}
        if proto == "FWM":
            svc["mark"] = draw(st.integers(1, 2**32 - 1))
            name = f"FWM  {svc['mark']} IPv6" if v6 else f"FWM  {svc['mark']}"
        else:
            svc["addr"], svc["port"] = draw(addr6 if v6 else addr4), draw(st.integers(0, 65535))
            name = f"{proto}  [{svc['addr']}]:{svc['port']}" if v6 else f"{proto}  {svc['addr']}:{svc['port']}"
        if name in seen:
            continue
        seen.add(name)
        svc["name"], svc["dests"], dseen = name, [], set()
        for _ in range(draw(st.integers(0, 6))):
            a, port = draw(addr6 if v6 else addr4), draw(st.integers(0, 65535))
            d = f"[{a}]:{port}" if v6 else f"{a}:{port}"
            if d in dseen:
                continue
            dseen.add(d)
            svc["dests"].append({"name": d, "addr": a, "port": port, "fwd": draw(forward),
                                 "weight": draw(st.integers(0, 65535)), "act": draw(st.integers(0, 2**32 - 1)),
                                 "inact": draw(st.integers(0, 2**32 - 1)),
                                 "stats": draw(st.lists(counter, min_size=5, max_size=5)),
                                 "rates": draw(st.lists(counter, min_size=5, max_size=5))})
        services.append(svc)
    return services


def render_proc(services, hz: int) -> str:
    """/proc/net/ip_vs as ip_vs_info_seq_show prints it."""
    out = ["IP Virtual Server version 1.2.1 (size=4096)\n", "Prot LocalAddress:Port Scheduler Flags\n",
           "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"]

    def hexaddr(a: str, port: int) -> str:
        ip = ipaddress.ip_address(a)
        return f"{int(ip):08X}:{port:04X}" if ip.version == 4 else f"[{ip.exploded}]:{port:04X}"

    for s in services:
        if s["protocol"] == "FWM":
            head = f"FWM  {s['mark']:08X} {s['sched']} "
        else:
            head = f"{s['protocol']}  {hexaddr(s['addr'], s['port'])} {s['sched']} "
        out.append(head + (f"persistent {s['persist'] * hz} FFFFFFFF\n" if s["persist"] else "\n"))
        for d in s["dests"]:
            out.append(f"  -> {hexaddr(d['addr'], d['port'])}      {d['fwd']:<7} {d['weight']:<6} "
                       f"{d['act']:<10} {d['inact']:<10}\n")
    return "".join(out)


def render_ipvsadm(services) -> tuple[str, str, str]:
    """`ipvsadm -Ln --exact`, `--stats --exact`, `--rate --exact` as ipvsadm 1.31 prints them."""
    def num(v: int) -> str:
        s = str(v)
        return s.rjust(9 if len(s) <= 8 else len(s) + 1)

    head = "IP Virtual Server version 1.2.1 (size=4096)\n"
    ln = [head, "Prot LocalAddress:Port Scheduler Flags\n",
          "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"]
    stt = [head, "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n",
           "  -> RemoteAddress:Port\n"]
    rt = [head, "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n",
          "  -> RemoteAddress:Port\n"]
    for s in services:
        name = s["name"] if s["protocol"] != "FWM" or s["mark"] < 2**31 else s["name"].replace(
            str(s["mark"]), str(s["mark"] - 2**32))  # ipvsadm prints marks with %d
        ln.append(f"{name} {s['sched']}" + (f" persistent {s['persist']}" if s["persist"] else "") + "\n")
        stt.append(f"{name:<33}" + "".join(map(num, s["stats"])) + "\n")
        rt.append(f"{name:<33}" + "".join(map(num, s["rates"])) + "\n")
        for d in s["dests"]:
            ln.append(f"  -> {d['name']:<28} {d['fwd']:<7} {d['weight']:<6} {d['act']:<10} {d['inact']:<10}\n")
            stt.append(f"  -> {d['name']:<28}" + "".join(map(num, d["stats"])) + "\n")
            r = d["rates"]
            rt.append(f"  -> {d['name']:<28} {r[0]:8} {r[1]:8} {r[2]:8}" + num(r[3]) + num(r[4]) + "\n")
    return "".join(ln), "".join(stt), "".join(rt)


def dest_rows(svc: dict) -> list[tuple]:
    return [(r["address"], r["port"], r["forward"], r["weight"], r["active_conns"], r["inactive_conns"])
            for r in svc["real_servers"]]


def want_rows(s: dict) -> list[tuple]:
    return [(str(ipaddress.ip_address(d["addr"])), d["port"], d["fwd"].lower(), d["weight"], d["act"], d["inact"])
            for d in s["dests"]]


@settings(max_examples=150, deadline=None)
@given(services=tables(), hz=st.sampled_from([100, 250, 300, 1000]))
def test_generated_proc_tables_read_back(services, hz):
    got = ipvs.parse_proc(render_proc(services, hz), hz=hz)
    assert len(got) == len(services)
    for g, s in zip(got, services):
        fwm = s["protocol"] == "FWM"
        assert (g["protocol"], g["fwmark"], g["scheduler"], g["persistent"], g["persistence_timeout"]) == (
            s["protocol"], s["mark"] if fwm else None, s["sched"], bool(s["persist"]), s["persist"])
        assert (g["address"], g["port"]) == ((None, None) if fwm else (str(ipaddress.ip_address(s["addr"])), s["port"]))
        # The kernel does not print a fwmark service's family: only an IPv6 real server tells.
        assert g["family"] == ("inet6" if s["v6"] and (s["dests"] or not fwm) else "inet")
        assert dest_rows(g) == want_rows(s)
        assert all(r["stats"] == g["stats"] == dict.fromkeys(ipvsadm_text.COUNTERS, 0) for r in g["real_servers"])


@settings(max_examples=100, deadline=None)
@given(services=tables())
def test_generated_ipvsadm_listings_read_back_by_the_reference(services):
    """The tests' reference reader of ipvsadm (tests/support/ipvsadm_text.py) is itself right."""
    got = ipvsadm_text.read(*render_ipvsadm(services))
    assert len(got) == len(services)
    for g, s in zip(got, services):
        assert (g["protocol"], g["scheduler"], g["persistent"], g["persistence_timeout"], g["family"]) == (
            s["protocol"], s["sched"], bool(s["persist"]), s["persist"], "inet6" if s["v6"] else "inet")
        assert g["fwmark"] == s.get("mark") and (g["address"], g["port"]) == (s.get("addr"), s.get("port"))
        assert list(g["stats"].values()) == s["stats"] and list(g["rates"].values()) == s["rates"]
        assert [(r["address"], r["port"], r["forward"], r["weight"], r["active_conns"], r["inactive_conns"])
                for r in g["real_servers"]] == [(d["addr"], d["port"], d["fwd"].lower(), d["weight"], d["act"],
                                                  d["inact"]) for d in s["dests"]]
        assert [list(r["stats"].values()) + list(r["rates"].values()) for r in g["real_servers"]] == [
            d["stats"] + d["rates"] for d in s["dests"]]


# --- other round trips ---------------------------------------------------------------------------

@given(nums=st.lists(st.integers(0, 2**63), min_size=7, max_size=7), trailing=st.sampled_from(["", " ", "  "]))
def test_stub_status_round_trip(nums, trailing):
    a, acc, hnd, req, r, w, q = nums
    text = (f"Active connections: {a}{trailing}\nserver accepts handled requests\n {acc} {hnd} {req}{trailing}\n"
            f"Reading: {r} Writing: {w} Waiting: {q}{trailing}\n")
    s = nginx.parse_stub_status(text)
    assert [s[k] for k in ("active", "accepts", "handled", "requests", "reading", "writing", "waiting")] == nums


PASSWORD = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"), min_size=1, max_size=8)


@settings(max_examples=200, deadline=None)
@given(pw=PASSWORD)
def test_redaction_of_any_json_password(pw):
    doc = json.loads(FIXTURES["keepalived227_a_normal.json"])
    doc[0]["data"]["auth_data"] = pw
    for text in (json.dumps(doc), json.dumps(doc, ensure_ascii=False, separators=(",", ":"))):
        out = vrrp.redact(text)
        assert json.loads(out)[0]["data"]["auth_data"] == vrrp.REDACTED
        assert vrrp.parse_json(out) == vrrp.parse_json(text)


@settings(max_examples=200, deadline=None)
@given(pw=PASSWORD)
def test_redaction_of_any_data_dump_password(pw):
    text = FIXTURES["keepalived227_a_normal.data"].replace("Password = lbpS3cr1", "Password = " + pw)
    out = vrrp.redact(text)
    assert "Password = " + vrrp.REDACTED in out
    assert pw not in [ln.split("Password = ", 1)[1].strip() for ln in out.splitlines() if "Password = " in ln]
    assert vrrp.parse_data(out) == vrrp.parse_data(text)
