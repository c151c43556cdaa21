"""keepalived dumps, `ip -j addr` and password redaction, on dumps from real keepalived 2.2.7
(tests/fixtures/README.md says how they were captured)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from lbconsole.collectors.errors import ParseError
from lbconsole.collectors.vrrp_parse import (
    REDACT_SED,
    REDACTED,
    parse_ip_addr,
    parse_keepalived_data,
    parse_keepalived_json,
    parse_keepalived_stats,
    redact_keepalived,
)
from lbconsole.snapshot import Address

FIX = Path(__file__).resolve().parents[1] / "fixtures"
# The passwords in the fixtures: the namespace captures' normal one and the split-brain
# node's wrong one, and the lab cluster's (lbconsole/lab/topology.py VRRP_PASSWORD).
PASSWORDS = ("lbpS3cr1", "wr0ngPw9", "Lb7vRrpX")
DUMPS = sorted({p.name for p in FIX.glob("keepalived*") if p.suffix in (".json", ".data", ".stats")}
               | {p.name for p in FIX.glob("*_keepalived_*.txt")})


def fixture(name: str) -> str:
    return (FIX / name).read_text()


def by_name(instances):
    return {i.instance: i for i in instances}


def test_json_normal_master_backup_fault():
    a = by_name(parse_keepalived_json(fixture("keepalived227_a_normal.json")))
    assert list(a) == ["VI_1", "VI_2", "VI_6", "VI_3"]
    vi1 = a["VI_1"]
    assert ((vi1.vrid, vi1.state, vi1.priority, vi1.effective_priority, vi1.interface)
            == (51, "MASTER", 150, 150, "lbp-va"))
    # "10.98.0.100/24 dev lbp-va scope global set" -> the address only.
    assert vi1.vips == ("10.98.0.100", "10.98.0.110")
    assert vi1.last_transition == pytest.approx(1795509843.809959)
    assert (vi1.adverts_sent, vi1.become_master, vi1.auth_failures, vi1.source) == (7, 1, 0, "json")
    assert a["VI_2"].state == "BACKUP" and a["VI_2"].adverts_rcvd == 7
    assert a["VI_6"].vips == ("fd98::100",)
    assert a["VI_3"].state == "FAULT"
    b = by_name(parse_keepalived_json(fixture("keepalived227_b_normal.json")))
    assert (b["VI_1"].state, b["VI_2"].state) == ("BACKUP", "MASTER")


def test_json_split_brain_both_master_with_auth_failures():
    a = by_name(parse_keepalived_json(fixture("keepalived227_a_splitbrain.json")))
    b = by_name(parse_keepalived_json(fixture("keepalived227_b_splitbrain.json")))
    for name in ("VI_1", "VI_2"):
        assert a[name].state == b[name].state == "MASTER"
        assert a[name].vrid == b[name].vrid
        assert a[name].auth_failures > 0 and b[name].auth_failures > 0


def test_json_version_2_wrapper():
    v1 = json.loads(fixture("keepalived227_a_normal.json"))
    v2 = json.dumps({"vrrp": v1, "track_process": [{"process": "nginx", "have_quorum": True}]})
    assert parse_keepalived_json(v2) == parse_keepalived_json(fixture("keepalived227_a_normal.json"))


@pytest.mark.parametrize("state, name", [(0, "INIT"), (1, "BACKUP"), (2, "MASTER"), (3, "FAULT"),
                                         (97, "STOP"), (98, "STOP")])
def test_json_states(state, name):
    doc = json.loads(fixture("keepalived227_a_normal.json"))[:1]
    doc[0]["data"]["state"] = state
    assert parse_keepalived_json(json.dumps(doc))[0].state == name


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ('[{"data":{"iname":"VI_1","vrid":51,"sta', "not JSON"),  # cut off while being written
    ('{"vrrp": 3}', "expected a list"),
    ('[{"data":{"iname":"VI_1","vrid":51,"state":7}}]', "unknown state 7"),
    ('[{"data":{"iname":"VI_1","vrid":"51","state":2}}]', "'vrid' has the wrong type"),
    ('[{"data":{"iname":"VI_1","vrid":true,"state":2}}]', "'vrid' has the wrong type"),
    ('[{"data":{"vrid":51,"state":2}}]', "no field 'iname'"),
    ('[{"data":{"iname":"VI_1","vrid":51,"state":2,"vips":[5]}}]', "expected a VIP string"),
    ("[" * 100000, "not JSON"),
])
def test_json_garbage(text, words):
    with pytest.raises(ParseError, match=words):
        parse_keepalived_json(text)


def test_data_dump_with_stats_equals_json_apart_from_counters():
    for node in ("a_normal", "b_normal", "a_splitbrain", "b_splitbrain"):
        data = parse_keepalived_data(fixture(f"keepalived227_{node}.data"), fixture(f"keepalived227_{node}.stats"))
        js = parse_keepalived_json(fixture(f"keepalived227_{node}.json"))
        def key(i):
            return (i.instance, i.vrid, i.state, i.priority, i.effective_priority, i.interface, i.vips,
                    round(i.last_transition, 6), i.become_master)

        assert [key(i) for i in data] == [key(i) for i in js]
        assert all(i.source == "data" for i in data)
    sb = by_name(parse_keepalived_data(fixture("keepalived227_b_splitbrain.data"),
                                       fixture("keepalived227_b_splitbrain.stats")))
    assert sb["VI_1"].auth_failures == 16 and sb["VI_1"].state == "MASTER"


def test_data_dump_2_0_form():
    text = """------< VRRP Topology >------
 VRRP Instance = VI_1
   Using src_ip = 10.0.0.2
   State = BACKUP
   Last transition = 1700000000 (Tue Nov 14 22:13:20 2023)
   Interface = eth1
   Virtual Router ID = 51
   Priority = 100
   Effective priority = 90
   Virtual IP = 2
     10.0.0.100/32 dev eth1 scope global
     10.0.0.101/32 dev eth1 scope global
   Tracked interfaces = 1
     eth2 weight -10
 VRRP Instance = VI_2
   State = DELETED
   Virtual Router ID = 52
------< Interfaces >------
 Name = eth1
   State = UP, RUNNING
"""
    vi1, vi2 = parse_keepalived_data(text)
    assert (vi1.state, vi1.vrid, vi1.priority, vi1.effective_priority, vi1.interface) == ("BACKUP", 51, 100, 90, "eth1")
    assert vi1.vips == ("10.0.0.100", "10.0.0.101") and vi1.last_transition == 1700000000.0
    assert vi2.state == "STOP"


def test_data_dump_garbage():
    with pytest.raises(ParseError, match="line 3: bad state"):
        parse_keepalived_data(" VRRP Instance = VI_1\n   Virtual Router ID = 51\n   State = SLEEPY\n")
    with pytest.raises(ParseError, match="line 2: bad vrid"):
        parse_keepalived_data(" VRRP Instance = VI_1\n   Virtual Router ID = x\n")
    with pytest.raises(ParseError, match="has no State"):
        parse_keepalived_data(" VRRP Instance = VI_1\n")
    with pytest.raises(ParseError, match="not a keepalived data dump"):
        parse_keepalived_data("<html>502 Bad Gateway</html>")
    assert parse_keepalived_data("") == ()


def test_stats_dump():
    st = parse_keepalived_stats(fixture("keepalived227_a_splitbrain.stats"))
    assert st["VI_1"] == {"adverts_rcvd": 0, "adverts_sent": 39, "become_master": 1, "auth_failures": 1}
    with pytest.raises(ParseError, match="expected 'VRRP Instance: NAME'"):
        parse_keepalived_stats("  Advertisements:\n")
    with pytest.raises(ParseError, match="line 3: expected a number"):
        parse_keepalived_stats("VRRP Instance: VI_1\n  Advertisements:\n    Received: many\n")


def test_ip_addr():
    addrs = parse_ip_addr(fixture("ipaddr_b_splitbrain.json"))
    assert Address("lo", "127.0.0.1", "inet") in addrs
    assert {a.address for a in addrs if a.interface == "lbp-vb"} >= {"10.98.0.100", "10.98.0.101", "10.98.0.110",
                                                                     "fd98::100"}
    # Split brain: the same VIP on both nodes.
    a_vips = {x.address for x in parse_ip_addr(fixture("ipaddr_a_splitbrain.json")) if x.interface != "lo"}
    b_vips = {x.address for x in addrs if x.interface != "lo"}
    assert {"10.98.0.100", "10.98.0.101"} <= a_vips & b_vips
    assert parse_ip_addr('[{}, {"ifname": "eth0", "addr_info": []}]') == ()
    assert parse_ip_addr(fixture("ipaddr_host.json"))
    for bad in ("", "Device \"x\" does not exist.", '{"ifname": "lo"}', '[{"ifname": 3}]',
                '[{"ifname": "lo", "addr_info": [7]}]'):
        with pytest.raises(ParseError):
            parse_ip_addr(bad)


# --- redaction --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DUMPS)
def test_redaction_removes_the_lab_passwords(name):
    text = fixture(name)
    out = redact_keepalived(text)
    for pw in PASSWORDS:
        assert pw not in out
    if any(pw in text for pw in PASSWORDS):
        assert REDACTED in out
    # Nothing else changes: same number of lines, and the parsers read the same instances.
    assert out.count("\n") == text.count("\n")
    if name.endswith(".json"):
        assert parse_keepalived_json(out) == parse_keepalived_json(text)
    if name.endswith(".data") or name.endswith("_keepalived_data.txt"):
        assert parse_keepalived_data(out) == parse_keepalived_data(text)


def test_redaction_of_escapes_and_cut_off_json():
    assert redact_keepalived('{"auth_data":"a\\"b\\\\c","x":1}') == '{"auth_data":"<redacted>","x":1}'
    assert redact_keepalived('[{"data":{"auth_data":"lbpS3') == '[{"data":{"auth_data":"<redacted>"'
    assert redact_keepalived('"auth_data" : "pw"') == '"auth_data" : "<redacted>"'
    assert redact_keepalived("   Password = has spaces and = signs\n") == "   Password = <redacted>\n"
    assert redact_keepalived("  SSL password:secret\n Password : secret\n") == (
        "  SSL password: <redacted>\n Password : <redacted>\n")


def needs_sed(fn):  # sed is part of every Debian system; the node side relies on it
    return fn


def run_sed(text: str) -> str:
    # As the poll script runs it: REDACT set from a quoted variable, C locale.
    env = dict(os.environ, LC_ALL="C", REDACT=REDACT_SED)
    return subprocess.run(["sh", "-c", 'sed -E "$REDACT"'], input=text.encode("latin-1"),
                          env=env, capture_output=True, check=True).stdout.decode("latin-1")


@needs_sed
@pytest.mark.parametrize("name", DUMPS)
def test_sed_redaction_on_real_dumps_equals_python(name):
    text = fixture(name)
    out = run_sed(text)
    for pw in PASSWORDS:
        assert pw not in out
    assert out == redact_keepalived(text)


@needs_sed
@pytest.mark.parametrize("text", [
    '{"auth_data":"a\\"b\\\\c","x":1}\n', '[{"data":{"auth_data":"lbpS3', '   Password = x y\n',
    '  SSL password:secret\n', '"auth_data":"é\\u00e9"\n', "no secrets here\n",
])
def test_sed_equals_python_on_edge_cases(text):
    assert run_sed(text) == redact_keepalived(text)


# --- the lab cluster's directors (captured by `lbconsole lab`) -----------------------------------

def lab(name: str) -> str:
    return fixture(name)


@pytest.mark.parametrize("node, state, prio", [("lb1", "MASTER", 150), ("lb2", "BACKUP", 100)])
def test_lab_director_vrrp(node, state, prio):
    (js,) = parse_keepalived_json(lab(f"keepalived_{node}.json"))
    (data,) = parse_keepalived_data(lab(f"{node}_keepalived_data.txt"), lab(f"{node}_keepalived_stats.txt"))
    for vi in (js, data):
        assert (vi.instance, vi.vrid, vi.state, vi.priority, vi.interface, vi.vips) == (
            "VI_1", 51, state, prio, "eth0", ("10.99.0.100",))
    assert js.last_transition == data.last_transition
    # The dumps were taken one after the other: the counters only grow.
    assert data.adverts_sent >= js.adverts_sent and data.adverts_rcvd >= js.adverts_rcvd
    assert "Lb7vRrpX" not in redact_keepalived(lab(f"keepalived_{node}.json"))


def test_lab_vip_only_on_the_master():
    holders = {n for n in ("lb1", "lb2")
               if any(a.address == "10.99.0.100" and a.interface != "lo"
                      for a in parse_ip_addr(lab(f"{n}_ip_addr.json")))}
    assert holders == {"lb1"}


def test_lab_split_brain_both_master_and_vip_on_both():
    for node in ("lb1", "lb2"):
        (js,) = parse_keepalived_json(lab(f"keepalived_{node}_splitbrain.json"))
        (data,) = parse_keepalived_data(lab(f"{node}_keepalived_data_splitbrain.txt"))
        assert (js.vrid, js.state) == (data.vrid, data.state) == (51, "MASTER")
        assert any(a.address == "10.99.0.100" and a.interface == "eth0"
                   for a in parse_ip_addr(lab(f"{node}_ip_addr_splitbrain.json")))
