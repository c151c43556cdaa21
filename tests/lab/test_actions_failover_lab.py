"""Failover and release on the real lab, with client traffic running: unprepared (keepalived stopped
on the master, then started again) and prepared (the lbc_failover track file)."""

from __future__ import annotations

import pytest

from lbconsole.lab import api
from support.lab_actions import (
    LAB_FAILOVER_FILE,
    Traffic,
    audit_lines,
    cli,
    longest_outage,
    master,
    prepared_cluster,
    syslog_capture,
)

pytestmark = pytest.mark.lab
OUTAGE_S = 8.0  # VRRP takeover (~1-3 s) plus the slow VM; requests must resume after it


def _check_traffic(samples):
    assert len(samples) > 10
    assert longest_outage(samples) <= OUTAGE_S, samples
    assert all(who != "FAILED" for _, who in samples[-3:]), samples[-5:]


def test_unprepared_failover_and_release_with_traffic(clean_lab, tmp_path):
    traffic = Traffic()
    try:
        with syslog_capture() as syslog:
            res = cli(clean_lab, tmp_path, "failover", "VI_1", "--yes")
            assert res.returncode == 0, res.stderr
            assert "lb2 is MASTER of VI_1 and holds 10.99.0.100" in res.stdout
            assert "keepalived stopped" in res.stdout and "IPVS table is flushed" in res.stdout
            assert master() == "lb2" and not api.daemon_running("lb1", "keepalived")
            forced = api.run("lb1", "cat /var/lib/lbconsole/forced/VI_1.json", check=True).stdout
            assert '"mode": "stopped"' in forced
            api.run("lb1", "sleep 2")
            fid = audit_lines(tmp_path)[-1]["id"]
            assert sorted(ln.rsplit("node=", 1)[1] for ln in syslog() if f"id={fid}" in ln) == ["lb1", "lb2"]

        res = cli(clean_lab, tmp_path, "failover", "VI_1", "--yes")
        assert res.returncode == 3 and "peer lb1 is itself forced down (stopped by" in res.stderr
        assert "lbconsole failover VI_1 --release" in res.stderr

        res = cli(clean_lab, tmp_path, "failover", "VI_1", "--release", "--yes")
        assert res.returncode == 0, res.stderr
        assert "released VI_1 on lb1" in res.stdout and "second flap" in res.stdout
        assert api.daemon_running("lb1", "keepalived") and master() == "lb1"
        api.run("client", "sleep 3")
    finally:
        samples = traffic.stop()
    _check_traffic(samples)
    assert [(r["what"], r["result"]) for r in audit_lines(tmp_path)] == [
        ("failover", "done"), ("failover", "refused"), ("release", "done")]
    assert cli(clean_lab, tmp_path, "failover", "VI_1", "--release", "--yes").returncode == 3  # nothing forced


def test_prepared_failover_keeps_keepalived_running(clean_lab, tmp_path):
    with prepared_cluster():
        traffic = Traffic()
        try:
            res = cli(clean_lab, tmp_path, "failover", "VI_1", "--yes")
            assert res.returncode == 0, res.stderr
            assert "stepped down through its track file" in res.stdout and "-> 50)" in res.stdout
            assert "keepalived stopped" not in res.stdout
            assert master() == "lb2" and api.daemon_running("lb1", "keepalived")
            assert api.run("lb1", f"cat {LAB_FAILOVER_FILE}", check=True).stdout.strip() == "1"
            res = cli(clean_lab, tmp_path, "failover", "VI_1", "--release", "--yes")
            assert res.returncode == 0, res.stderr
            assert master() == "lb1"
            assert api.run("lb1", f"cat {LAB_FAILOVER_FILE}", check=True).stdout.strip() == "0"
            api.run("client", "sleep 3")
        finally:
            samples = traffic.stop()
    _check_traffic(samples)
