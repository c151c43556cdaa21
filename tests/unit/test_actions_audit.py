"""The audit record: its fields, one JSON line per attempt, fsynced, no secrets, and the syslog line."""

from __future__ import annotations

import json
import os

from lbconsole.actions import audit
from lbconsole.actions.audit import AuditLog


def _record(**kw):
    rec = audit.new_record(who="ann@ops1", what="drain", cluster="prod",
                           target={"kind": "real_server", "cluster": "prod", "service": "10.0.0.1:80",
                                   "real_server": "10.0.0.21:80"}, origin="cli", params={"reason": "kernel update"})
    rec.update(kw)
    return rec


def test_record_has_who_when_what_target_before_after_result():
    rec = _record(before={"lb1": {"10.0.0.21:80": 100}}, after={"lb1": {"10.0.0.21:80": 0}}, result="done",
                  exit_code=0, message="drained")
    for key in ("id", "who", "when", "what", "target", "before", "after", "result", "message", "cluster"):
        assert key in rec
    assert rec["when"].endswith("Z") and rec["who"] == "ann@ops1"


def test_append_writes_one_json_line_each_and_fsyncs(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    log = AuditLog(tmp_path / "state" / "lbconsole" / "audit.jsonl")
    log.append(_record(result="done"))
    assert len(synced) == 2  # the file, and the directory because the file is new
    log.append(_record(result="refused"))
    assert len(synced) == 3
    lines = log.path.read_text().splitlines()
    assert [json.loads(line)["result"] for line in lines] == ["done", "refused"]
    assert oct(log.path.stat().st_mode & 0o777) == "0o600"


def test_default_path_is_in_the_xdg_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert AuditLog().path == tmp_path / "lbconsole" / "audit.jsonl"


def test_secrets_never_reach_the_log(tmp_path):
    log = AuditLog(tmp_path / "a.jsonl")
    log.append(_record(before={"vrrp": {"auth_pass": "Lb7vRrpX", "state": "MASTER"}, "password": "x"}))
    text = log.path.read_text()
    assert "Lb7vRrpX" not in text and "password" not in text and "MASTER" in text


def test_syslog_line_is_one_line_with_the_id_and_reason():
    rec = _record(result="done", message="drained 10.0.0.21:80\nsecond line")
    line = audit.syslog_line(rec)
    assert "\n" not in line and f"id={rec['id']}" in line and 'reason="kernel update"' in line
    assert "action=drain" in line and "real_server=10.0.0.21:80" in line and "result=done" in line
    assert len(audit.syslog_line(_record(message="x" * 5000))) <= 900
