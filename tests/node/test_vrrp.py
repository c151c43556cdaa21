"""VRRP from a real keepalived (VRRP only, -P, in a node made here): the JSON dump, the password
removed on the node, one shared dump per interval however many agents ask."""

from __future__ import annotations

import json
import math
import re
import stat
import threading
import time
from pathlib import Path

import pytest

from lbconsole.node import kdump, vrrp
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
        for _ in ids:
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
    time.sleep(1.2)  # past max_age, and past keepalived's next advert (advert_int 1)
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


EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "vrrp_expected.json").read_text())  # see its README
SECRET = re.compile(r'"auth_data"\s*:\s*"(?!<redacted>")|^\s*(SSL )?[Pp]assword\s*[=:]\s*(?!<redacted>\s*$)\S',
                    re.MULTILINE)


@pytest.mark.parametrize("name", ["keepalived227_a_normal.json", "keepalived227_b_splitbrain.json",
                                  "keepalived_lb1.json", "keepalived227_a_normal.data", "lb1_keepalived_data.txt"])
def test_redaction_removes_every_password_and_nothing_else(name):
    text = (FIXTURES / name).read_text()
    assert SECRET.search(text), "the capture has a password to remove"
    out = vrrp.redact(text)
    assert not SECRET.search(out)
    changed = [(a, b) for a, b in zip(text.split("\n"), out.split("\n")) if a != b]
    assert changed and out.count("\n") == text.count("\n")
    assert all(vrrp.REDACTED in b and ("auth_data" in a or "assword" in a) for a, b in changed)
    assert json.loads(out) if name.endswith(".json") else True  # still a JSON document


def test_redaction_of_hostile_and_cut_dumps():
    hostile = 'x "auth_data":"p\\"w"\n   Password = hunter2\n  SSL password:abc\n "auth_data" : "cut'
    out = vrrp.redact(hostile)
    assert out == ('x "auth_data":"<redacted>"\n   Password = <redacted>\n  SSL password: <redacted>\n'
                   ' "auth_data" : "<redacted>"')
    for word in ("hunter2", "abc", "cut", 'p\\"w'):
        assert word not in out


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if n.endswith(".json")))
def test_json_dumps_parse_as_the_console_read_them(name):
    assert json.loads(json.dumps(vrrp.parse_json((FIXTURES / name).read_text()))) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if not n.endswith(".json")))
def test_data_dumps_parse_as_the_console_read_them(name):
    assert json.loads(json.dumps(vrrp.parse_data((FIXTURES / name).read_text()))) == EXPECTED[name]
