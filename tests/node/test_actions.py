"""The mutating verbs on a real node: nginx reload, VRRP failover and release (keepalived
stopped, or a prepared track file), op_id replay, read-only refusal, and hostile text.
(drain and undrain need ip_vs, which this kernel lacks: here they refuse cleanly; their apply
path runs in the lab, tests/node/test_node_lab.py.)"""

from __future__ import annotations

import json
import socket
import time
import uuid

from lbconsole.node import records
from lbconsole.node.reload import workers
from node.nodeenv import (
    KEEPALIVED_CONF,
    VRRP_PASSWORD,
    keepalived_conf,
    start_bootstrap,
    start_installed,
    start_keepalived,
    start_nginx,
)

HOSTILE = ("it's \"quoted\" $(touch /tmp/pwned) `id` ;rm -rf / \n{\"id\": 1, \"ok\": true}\n@@LBC vrrp\r\n"
           "\x00 nul \x1b[2J\x1b]0;title\x07 \u202e " + "x" * 65536)
BY = "ops@console $(id) `x`\n\x1b[31m"
MUTATING = ("drain", "undrain", "failover", "release", "reload")


def op(**kw) -> dict:
    return {"op_id": str(uuid.uuid4()), "by": "ops@console", **kw}


def state_files(node) -> list[str]:
    root = node.path("/var/lib/lbconsole")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_read_only_refuses_every_mutating_verb_before_anything(node, work, program_file, sessions):
    kpid = start_keepalived(node, keepalived_conf(work))
    npid = start_nginx(node)
    nworkers = workers(npid)
    for s in (start_installed(node, program_file, "--read-only"), start_bootstrap(node, read_only=True)):
        sessions.append(s)
        assert s.request("hello")["result"]["read_only"] is True
        args = op(service="10.98.0.100:80", real_servers=["10.98.0.21:80"], reason=HOSTILE, instance="VI_1")
        for verb in MUTATING:
            r = s.request(verb, args)
            assert r["error"]["code"] == "read_only" and verb in r["error"]["message"]
        assert s.request("snapshot", {"roles": ["director", "nginx"]})["ok"]  # reading still works
        assert s.request("audit", {"line": "read-only console looked"})["ok"]
    assert state_files(node) == []  # no record, no op, no track file
    assert node.path("/run/keepalived.pid").read_text().strip() == str(kpid) and workers(npid) == nworkers


def test_reload_verified_and_replayed_once(node, program_file, sessions):
    master = start_nginx(node)
    old = workers(master)
    s = start_installed(node, program_file)
    sessions.append(s)
    args = op(reason=HOSTILE)
    first = s.request("reload", args)["result"]
    assert first["verified"] is True and first["replayed"] is False, first["detail"]
    assert first["before"] == {"master_pid": master, "worker_pids": old}
    assert first["after"]["master_pid"] == master and set(first["after"]["worker_pids"]) - set(old)
    assert first["detail"].startswith(f"reloaded nginx: master {master} kept, new worker(s) ")
    now = workers(master)
    again = start_bootstrap(node)  # another session, the same op: nothing is done twice
    sessions.append(again)
    replay = again.request("reload", args)["result"]
    assert replay == {**first, "replayed": True}
    time.sleep(0.3)
    assert set(workers(master)) <= set(now)  # no new worker: the old one may have finished exiting
    other = s.request("failover", {**args, "instance": "VI_1"})
    assert other["error"]["code"] == "refused" and "was used for another action (reload)" in other["error"]["message"]


def test_reload_refused_when_nginx_t_fails(node, program_file, sessions):
    master = start_nginx(node)
    old = workers(master)
    conf = node.etc_nginx / "nginx.conf"
    conf.write_text(conf.read_text().replace("access_log off;", "access_log off; bogus_directive 1;"))
    s = start_installed(node, program_file)
    sessions.append(s)
    r = s.request("reload", op())
    assert r["error"]["code"] == "refused"
    assert r["error"]["message"].startswith("nginx -t failed; nothing was touched:")
    assert 'unknown directive "bogus_directive"' in r["error"]["message"]
    assert workers(master) == old


def test_failover_stops_keepalived_and_release_starts_it_as_it_ran(node, work, program_file, sessions):
    conf = keepalived_conf(work)
    pid = start_keepalived(node, conf)
    argv = node.path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
    s = start_installed(node, program_file)
    sessions.append(s)
    r = s.request("failover", op(instance="VI_1", reason=HOSTILE, by=BY))["result"]
    assert r["verified"] is True and r["mode"] == "stopped", r["detail"]
    assert r["before"]["state"] == "MASTER" and r["before"]["vips"] == ["10.98.0.100"]
    assert r["after"]["keepalived_pid"] is None
    snap = s.request("snapshot", {"roles": ["director"]})["result"]
    (rec,) = snap["forced"]
    assert rec["reason"] == HOSTILE and rec["by"] == BY and rec["mode"] == "stopped"  # its own field, verbatim
    assert rec["argv"] == [a.decode() for a in argv] and rec["systemd"] is False
    assert "10.98.0.100" not in {a["address"] for a in snap["addresses"]}
    again = s.request("failover", op(instance="VI_1"))
    assert again["error"]["code"] == "refused"  # not MASTER any more (keepalived is stopped)
    rel = s.request("release", op(instance="VI_1"))["result"]
    assert rel["verified"] is True and rel["detail"].startswith("released VI_1: started keepalived -P -f ")
    assert rel["after"]["keepalived_pid"] is not None
    assert s.request("snapshot", {"roles": ["director"]})["result"]["forced"] == []
    assert s.request("release", op(instance="VI_1"))["error"]["code"] == "refused"


def test_prepared_failover_lowers_the_priority_and_release_restores_it(node, work, program_file, sessions):
    conf = work / "keepalived.conf"
    text = KEEPALIVED_CONF.format(instance="VI_1", router_id="n1", password=VRRP_PASSWORD)
    text = ('track_file lbc_failover {\n    file "/var/lib/lbconsole/failover"\n    weight -100\n    init_file 0\n}\n'
            + text.replace("    advert_int 1\n", "    advert_int 1\n    track_file {\n        lbc_failover\n    }\n"))
    conf.write_text(text)
    node.path("/var/lib/lbconsole/failover").write_text("0\n")
    start_keepalived(node, conf)
    s = start_installed(node, program_file)
    sessions.append(s)
    r = s.request("failover", op(instance="VI_1", reason="maintenance"))["result"]
    assert r["verified"] is True and r["mode"] == "track_file", r["detail"]
    assert (r["before"]["effective_priority"], r["after"]["effective_priority"]) == (150, 50)
    assert node.path("/var/lib/lbconsole/failover").read_text() == "1\n"
    (rec,) = s.request("snapshot", {"roles": ["director"]})["result"]["forced"]
    assert rec["track"] == "/var/lib/lbconsole/failover" and rec["reason"] == "maintenance"
    rel = s.request("release", op(instance="VI_1"))["result"]
    assert rel["verified"] is True and rel["after"]["effective_priority"] == 150, rel["detail"]


def test_drain_without_ip_vs_is_unavailable_and_writes_no_record(node, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    for verb in ("drain", "undrain"):
        r = s.request(verb, op(service="10.98.0.100:80", real_servers=["10.98.0.21:80"], reason=HOSTILE))
        assert r["error"] == {"code": "unavailable", "message": "the ip_vs kernel module is not loaded"}
    assert [f for f in state_files(node) if not f.startswith("ops")] == []
    bad = s.request("drain", op(service="10.98.0.100:80; reboot", real_servers=["x"], reason="r"))
    assert bad["error"]["code"] == "bad_request"


def test_an_op_interrupted_while_applying_is_never_applied_again(node, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    args = op()
    from lbconsole.node import ops
    node.path(ops._path(args["op_id"])).parent.mkdir(parents=True)
    node.path(ops._path(args["op_id"])).write_text(json.dumps(
        {"op_id": args["op_id"], "verb": "reload", "state": "started", "started": 1.0}))
    r = s.request("reload", args)
    assert r["error"]["code"] == "failed" and "never finished" in r["error"]["message"]
    # Its "done" record is not flushed to disk: after a crash it may be empty or torn. Refused, not applied.
    master = start_nginx(node)
    nworkers = workers(master)
    for torn in ("", "{\"op_id\": "):
        args = op()
        node.path(ops._path(args["op_id"])).write_text(torn)
        r = s.request("reload", args)
        assert r["error"]["code"] == "failed" and "cannot be read" in r["error"]["message"]
    assert workers(master) == nworkers  # no reload happened
    assert s.request("reload", {"op_id": "x"})["error"]["code"] == "bad_request"  # no "by"


def test_audit_line_to_syslog_without_control_characters(node, program_file, sessions):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(node.path("/run/syslog.sock")))
    sock.settimeout(10)
    try:
        s = start_installed(node, program_file)
        sessions.append(s)
        r = s.request("audit", {"line": "drain by " + HOSTILE})
        assert r["ok"] and r["result"]["logged"] == 4003
        msg = sock.recv(65536).decode()
        assert msg.startswith("<13>") and "lbconsole[" in msg  # user.notice, ident lbconsole, the PID
        body = msg.split(": ", 1)[1]
        assert body.startswith("drain by it's \"quoted\" $(touch /tmp/pwned) `id` ;rm -rf / ?{\"id\": 1")
        assert not any(ord(c) < 32 or 0x7f <= ord(c) < 0xa0 for c in body) and body.endswith("...")
        assert s.request("audit", {"line": ""})["error"]["code"] == "bad_request"
    finally:
        sock.close()
    assert records.STATE_DIR == "/var/lib/lbconsole"
