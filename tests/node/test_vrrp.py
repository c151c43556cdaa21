"""VRRP from a real keepalived (VRRP only, -P, in a node made here): the JSON dump, the password
removed on the node, one shared dump per interval however many agents ask."""

from __future__ import annotations

import json
import math
import stat
import threading
import time
from pathlib import Path

import pytest

from lbconsole.collectors import vrrp_parse
from lbconsole.node import kdump, vrrp
from lbconsole.snapshot import _to_plain
from node.nodeenv import (
    VRRP_PASSWORD,
    FileCreations,
    keepalived_conf,
    start_bootstrap,
    start_installed,
    start_keepalived,
    stop_keepalived,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def test_snapshot_from_a_real_keepalived(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work))
    for s in (start_installed(node, program_file), start_bootstrap(node)):
        sessions.append(s)
        res = s.request("snapshot", {"roles": ["director"]})["result"]
        assert res["keepalived_running"] is True and "vrrp" not in res["errors"]
        (inst,) = res["vrrp"]
        assert inst["instance"] == "VI_1" and inst["state"] == "MASTER" and inst["vrid"] == 51
        assert inst["vips"] == ["10.98.0.100"] and inst["source"] == "json" and inst["priority"] == 150
        assert inst["interface"] == "eth0" and inst["adverts_sent"] >= 1
        assert set(inst) == {"instance", "vrid", "state", "priority", "effective_priority", "interface", "vips",
                             "last_transition", "adverts_rcvd", "adverts_sent", "auth_failures", "become_master",
                             "source"}
        assert not any(VRRP_PASSWORD.encode() in line for line in s.raw)
    run_dir, cache = node.path(kdump.RUN_DIR), node.path(kdump.CACHE_FILE)
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700 and stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert VRRP_PASSWORD not in cache.read_text() and vrrp.REDACTED in cache.read_text()
    assert VRRP_PASSWORD in node.path("/tmp/keepalived.json").read_text()  # keepalived's own file has it


def test_two_agents_hammering_share_one_dump_per_interval(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work))
    a, b = start_installed(node, program_file), start_bootstrap(node)
    sessions += [a, b]
    assert a.request("hello")["ok"] and b.request("hello")["ok"]
    dumps = FileCreations(node.path("/tmp"), "keepalived.json")
    max_age, duration = 1.0, 3.0
    answers: list[dict] = []

    def hammer(s, first_id):
        ids = []
        end = time.monotonic() + duration
        i = first_id
        while time.monotonic() < end:
            s.send_raw(json.dumps({"id": i, "verb": "snapshot",
                                   "args": {"roles": ["director"], "dump_max_age": max_age}}).encode() + b"\n")
            ids.append(i)
            i += 1
            time.sleep(0.01)
        for req_id in ids:
            answers.append(s.lines.get(timeout=60))

    started = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(s, 1000)) for s in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    took = time.monotonic() - started
    count = dumps.poll()
    dumps.close()
    assert len(answers) > 100
    assert all(m["ok"] and m["result"]["vrrp"][0]["state"] == "MASTER" for m in answers)
    assert 1 <= count <= math.ceil(took / max_age) + 1, (count, took)


def test_a_stale_dump_is_refreshed_after_max_age(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work))
    s = start_installed(node, program_file)
    sessions.append(s)
    dumps = FileCreations(node.path("/tmp"), "keepalived.json")
    args = {"roles": ["director"], "dump_max_age": 0.6}
    t1 = s.request("snapshot", args)["result"]["vrrp"][0]
    t2 = s.request("snapshot", args)["result"]["vrrp"][0]
    time.sleep(0.7)
    t3 = s.request("snapshot", args)["result"]["vrrp"][0]
    assert dumps.poll() == 2  # the first and the third
    assert t1["adverts_sent"] == t2["adverts_sent"] < t3["adverts_sent"]


def test_keepalived_stopped_and_a_stale_pid_file(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work))
    s = start_installed(node, program_file)
    sessions.append(s)
    assert s.request("snapshot", {"roles": ["director"]})["result"]["keepalived_running"] is True
    stop_keepalived(node)
    node.path("/run/keepalived.pid").write_text(f"{node.pid}\n")  # a PID that is not keepalived
    res = s.request("snapshot", {"roles": ["director"], "dump_max_age": 0})["result"]
    assert res["keepalived_running"] is False and res["vrrp"] is None
    assert res["errors"]["vrrp"].startswith(f"keepalived is not running (pid {node.pid} is 'sleep'")
    res = s.request("snapshot", {"roles": ["nginx"]})["result"]
    assert res["vrrp"] == [] and "vrrp" not in res["errors"]


def test_protocol_looking_instance_name_stays_its_own_field(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work, instance="@@LBC-RC_0"))
    s = start_installed(node, program_file)
    sessions.append(s)
    r = s.request("snapshot", {"roles": ["director"]})
    assert [i["instance"] for i in r["result"]["vrrp"]] == ["@@LBC-RC_0"]
    assert [json.loads(line)["id"] for line in s.raw] == [r["id"]]


@pytest.mark.parametrize("name", ["keepalived227_a_normal.json", "keepalived227_b_splitbrain.json",
                                  "keepalived_lb1.json", "keepalived227_a_normal.data", "lb1_keepalived_data.txt",
                                  "keepalived227_a.conf", "keepalived227_a_normal.stats"])
def test_redaction_equals_the_consoles(name):
    text = (FIXTURES / name).read_text()
    assert vrrp.redact(text) == vrrp_parse.redact_keepalived(text)
    hostile = 'x "auth_data":"p\\"w\n   Password = hunter2\n  SSL password:abc\n "auth_data" : "cut'
    assert vrrp.redact(hostile) == vrrp_parse.redact_keepalived(hostile)
    assert "hunter2" not in vrrp.redact(hostile) and "cut" not in vrrp.redact(hostile)


@pytest.mark.parametrize("name", ["keepalived227_a_normal.json", "keepalived227_b_splitbrain.json",
                                  "keepalived_lb1.json", "keepalived_lb2_splitbrain.json"])
def test_json_parse_equals_the_consoles(name):
    text = (FIXTURES / name).read_text()
    assert json.loads(json.dumps(vrrp.parse_json(text))) == json.loads(json.dumps(
        _to_plain(vrrp_parse.parse_keepalived_json(text))))


@pytest.mark.parametrize("name", ["keepalived227_a_normal.data", "keepalived227_b_splitbrain.data",
                                  "lb1_keepalived_data.txt", "lb2_keepalived_data_splitbrain.txt"])
def test_data_parse_equals_the_consoles(name):
    text = (FIXTURES / name).read_text()
    assert json.loads(json.dumps(vrrp.parse_data(text))) == json.loads(json.dumps(
        _to_plain(vrrp_parse.parse_keepalived_data(text))))


def test_a_vip_move_makes_the_next_snapshot_dump_again(node, work, program_file, sessions):
    start_keepalived(node, keepalived_conf(work))
    s = start_installed(node, program_file)
    sessions.append(s)
    dumps = FileCreations(node.path("/tmp"), "keepalived.json")
    args = {"roles": ["director"], "dump_max_age": 60}
    s.request("snapshot", args)
    s.request("snapshot", args)
    assert dumps.poll() == 1  # fresh enough: shared
    node.run(["ip", "addr", "add", "10.98.0.200/32", "dev", "eth0"])  # the addresses changed
    res = s.request("snapshot", args)["result"]
    assert dumps.poll() == 2 and {"interface": "eth0", "address": "10.98.0.200", "family": "inet"} in \
        res["addresses"]
    s.request("snapshot", args)
    assert dumps.poll() == 2


def test_protocol_looking_lines_in_a_data_dump_are_text():
    text = (FIXTURES / "keepalived227_a_normal.data").read_text()
    hostile = text.replace(" VRRP Instance = VI_1", ' VRRP Instance = VI_1\n{"id": 1, "ok": true}\n@@LBC-RC 0', 1)
    assert vrrp.parse_data(hostile) == vrrp.parse_data(text)  # the stray lines are not fields
    with pytest.raises(vrrp.VrrpError, match="not a keepalived data dump"):
        vrrp.parse_data('{"id": 1, "ok": true, "result": {}}\n@@LBC vrrp\n')
    with pytest.raises(vrrp.VrrpError, match="not JSON"):
        vrrp.parse_json('[{"data": {"iname": "VI_1"}}\n{"id": 1}')
