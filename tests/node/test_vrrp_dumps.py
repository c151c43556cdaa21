"""The node's keepalived dump readers and password redaction (lbconsole/node/vrrp.py) on dumps from a real
keepalived 2.2.7: namespace captures and the lab's directors (tests/fixtures/README.md says how they were
taken). Live keepalived on a node made here is in test_vrrp.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lbconsole.node.vrrp import REDACTED, VrrpError, parse_data, parse_json, redact

FIX = Path(__file__).resolve().parents[1] / "fixtures"
# The passwords in the fixtures: the namespace captures' normal one and the split-brain
# node's wrong one, and the lab cluster's (lbconsole/lab/topology.py VRRP_PASSWORD).
PASSWORDS = ("lbpS3cr1", "wr0ngPw9", "Lb7vRrpX")
DUMPS = sorted({p.name for p in FIX.glob("keepalived*") if p.suffix in (".json", ".data", ".stats")}
               | {p.name for p in FIX.glob("*_keepalived_*.txt")})
COUNTERS = ("adverts_rcvd", "adverts_sent", "auth_failures", "become_master")


def fixture(name: str) -> str:
    return (FIX / name).read_text()


def by_name(instances: list[dict]) -> dict[str, dict]:
    return {i["instance"]: i for i in instances}


def test_json_normal_master_backup_fault():
    a = by_name(parse_json(fixture("keepalived227_a_normal.json")))
    assert list(a) == ["VI_1", "VI_2", "VI_6", "VI_3"]
    vi1 = a["VI_1"]
    assert ((vi1["vrid"], vi1["state"], vi1["priority"], vi1["effective_priority"], vi1["interface"])
            == (51, "MASTER", 150, 150, "lbp-va"))
    # "10.98.0.100/24 dev lbp-va scope global set" -> the address only.
    assert vi1["vips"] == ["10.98.0.100", "10.98.0.110"]
    assert vi1["last_transition"] == pytest.approx(1795509843.809959)
    assert (vi1["adverts_sent"], vi1["become_master"], vi1["auth_failures"], vi1["source"]) == (7, 1, 0, "json")
    assert a["VI_2"]["state"] == "BACKUP" and a["VI_2"]["adverts_rcvd"] == 7
    assert a["VI_6"]["vips"] == ["fd98::100"]
    assert a["VI_3"]["state"] == "FAULT"
    b = by_name(parse_json(fixture("keepalived227_b_normal.json")))
    assert (b["VI_1"]["state"], b["VI_2"]["state"]) == ("BACKUP", "MASTER")


def test_json_split_brain_both_master_with_auth_failures():
    a = by_name(parse_json(fixture("keepalived227_a_splitbrain.json")))
    b = by_name(parse_json(fixture("keepalived227_b_splitbrain.json")))
    for name in ("VI_1", "VI_2"):
        assert a[name]["state"] == b[name]["state"] == "MASTER"
        assert a[name]["vrid"] == b[name]["vrid"]
        assert a[name]["auth_failures"] > 0 and b[name]["auth_failures"] > 0
    assert b["VI_1"]["auth_failures"] == 15  # as in the dump


def test_json_version_2_wrapper():
    v1 = json.loads(fixture("keepalived227_a_normal.json"))
    v2 = json.dumps({"vrrp": v1, "track_process": [{"process": "nginx", "have_quorum": True}]})
    assert parse_json(v2) == parse_json(fixture("keepalived227_a_normal.json"))


@pytest.mark.parametrize("state, name", [(0, "INIT"), (1, "BACKUP"), (2, "MASTER"), (3, "FAULT"),
                                         (97, "STOP"), (98, "STOP")])
def test_json_states(state, name):
    doc = json.loads(fixture("keepalived227_a_normal.json"))[:1]
    doc[0]["data"]["state"] = state
    assert parse_json(json.dumps(doc))[0]["state"] == name


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ('[{"data":{"iname":"VI_1","vrid":51,"sta', "not JSON"),  # cut off while being written
    ('{"vrrp": 3}', "expected a list"),
    ('[{"data":{"iname":"VI_1","vrid":51,"state":7}}]', "unknown state 7"),
    ('[{"data":{"iname":"VI_1","vrid":"51","state":2}}]', "'vrid' has the wrong type"),
    ('[{"data":{"iname":"VI_1","vrid":true,"state":2}}]', "'vrid' has the wrong type"),
    ('[{"data":{"vrid":51,"state":2}}]', "no field 'iname'"),
    ('[{"data":{"iname":"VI_1","vrid":51,"state":2,"vips":[5]}}]', "expected a VIP string"),
    ('[{"data":{"iname":"VI_1","vrid":51,"state":2}, "stats": 3}]', '"stats" is not an object'),
    ('[{"data":{"iname":"VI_1","vrid":51,"state":2,"last_transition":1' + "0" * 400 + "}}]", "out of range"),
    ('[{"data":{"iname":"VI_1","vrid":51,"state":2,"last_transition":NaN}}]', "out of range"),
    ("[" * 100000, "not JSON"),
])
def test_json_garbage(text, words):
    with pytest.raises(VrrpError, match=words) as e:
        parse_json(text)
    assert str(e.value).startswith("keepalived.json") and len(str(e.value)) < 200


@pytest.mark.parametrize("node", ["a_normal", "b_normal", "a_splitbrain", "b_splitbrain"])
def test_data_dump_equals_json_apart_from_counters(node):
    """The data dump (keepalived builds without JSON) says the same, with no counters."""
    data = parse_data(fixture(f"keepalived227_{node}.data"))
    js = parse_json(fixture(f"keepalived227_{node}.json"))

    def same(i: dict) -> dict:
        return {k: round(v, 6) if k == "last_transition" else v for k, v in i.items()
                if k not in COUNTERS and k != "source"}

    assert [same(i) for i in data] == [same(i) for i in js]
    assert all(i["source"] == "data" and all(i[c] == 0 for c in COUNTERS) for i in data)


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
    vi1, vi2 = parse_data(text)
    assert ((vi1["state"], vi1["vrid"], vi1["priority"], vi1["effective_priority"], vi1["interface"])
            == ("BACKUP", 51, 100, 90, "eth1"))
    assert vi1["vips"] == ["10.0.0.100", "10.0.0.101"] and vi1["last_transition"] == 1700000000.0
    assert vi2["state"] == "STOP"


def test_data_dump_garbage():
    with pytest.raises(VrrpError, match="line 3: bad state"):
        parse_data(" VRRP Instance = VI_1\n   Virtual Router ID = 51\n   State = SLEEPY\n")
    with pytest.raises(VrrpError, match="line 2: bad vrid"):
        parse_data(" VRRP Instance = VI_1\n   Virtual Router ID = x\n")
    with pytest.raises(VrrpError, match="line 3: bad last_transition"):
        parse_data(" VRRP Instance = VI_1\n   State = MASTER\n   Last transition = nan (x)\n")
    with pytest.raises(VrrpError, match="line 1: instance 'VI_1' has no State"):
        parse_data(" VRRP Instance = VI_1\n")
    with pytest.raises(VrrpError, match="not a keepalived data dump"):
        parse_data("<html>502 Bad Gateway</html>")
    assert parse_data("") == []


# --- redaction --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DUMPS)
def test_redaction_removes_the_lab_passwords(name):
    text = fixture(name)
    out = redact(text)
    for pw in PASSWORDS:
        assert pw not in out
    if any(pw in text for pw in PASSWORDS):
        assert REDACTED in out
    # Nothing else changes: same number of lines, and the readers see the same instances.
    assert out.count("\n") == text.count("\n")
    if name.endswith(".json"):
        assert parse_json(out) == parse_json(text)
    if name.endswith(".data") or "_keepalived_data" in name:
        assert parse_data(out) == parse_data(text)


def test_redaction_of_escapes_and_cut_off_json():
    assert redact('{"auth_data":"a\\"b\\\\c","x":1}') == '{"auth_data":"<redacted>","x":1}'
    assert redact('[{"data":{"auth_data":"lbpS3') == '[{"data":{"auth_data":"<redacted>"'
    assert redact('"auth_data" : "pw"') == '"auth_data" : "<redacted>"'
    assert redact("   Password = has spaces and = signs\n") == "   Password = <redacted>\n"
    assert redact("  SSL password:secret\n Password : secret\n") == (
        "  SSL password: <redacted>\n Password : <redacted>\n")


# --- the lab cluster's directors (captured by `lbconsole lab`) -----------------------------------

@pytest.mark.parametrize("node, state, prio", [("lb1", "MASTER", 150), ("lb2", "BACKUP", 100)])
def test_lab_director_vrrp(node, state, prio):
    (js,) = parse_json(fixture(f"keepalived_{node}.json"))
    (data,) = parse_data(fixture(f"{node}_keepalived_data.txt"))
    for vi in (js, data):
        assert (vi["instance"], vi["vrid"], vi["state"], vi["priority"], vi["interface"], vi["vips"]) == (
            "VI_1", 51, state, prio, "eth0", ["10.99.0.100"])
    assert js["last_transition"] == data["last_transition"]
    assert js["adverts_sent"] > 0 if state == "MASTER" else js["adverts_rcvd"] > 0


def test_lab_split_brain_both_master():
    for node in ("lb1", "lb2"):
        (js,) = parse_json(fixture(f"keepalived_{node}_splitbrain.json"))
        (data,) = parse_data(fixture(f"{node}_keepalived_data_splitbrain.txt"))
        assert (js["vrid"], js["state"]) == (data["vrid"], data["state"]) == (51, "MASTER")
