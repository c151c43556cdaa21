"""Drain and undrain through execute(), against two fake directors that run the real scripts.

Each real server is changed exactly once on each director, whatever the input repeats
(hatop's "drain all" bug), and each director gets one syslog line per action.
"""

from __future__ import annotations

import json

import pytest

from lbconsole.actions import drain_script, prepare_conf
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.actions.execute import execute
from lbconsole.inventory import parse
from support.fake_director import FakeDirector

SVC = "-t 10.0.0.100:80"
KEEPALIVED = """vrrp_instance VI_1 {
    priority 150
}
virtual_server 10.0.0.100 80 {
    real_server 10.0.0.21 80 {
        weight 100
    }
    real_server 10.0.0.22 80 {
        weight 100
    }
    real_server 10.0.0.23 80 {
        weight 100
    }
}
"""
INVENTORY = """[[cluster]]
name = "c"
[[cluster.node]]
name = "lb1"
host = "127.0.0.1"
roles = ["director"]
[[cluster.node]]
name = "lb2"
host = "127.0.0.1"
roles = ["director"]
"""


def services():
    return {SVC: {"sched": "wlc", "rs": {"10.0.0.21:80": {"w": 100}, "10.0.0.22:80": {"w": 100, "fwd": "-m", "x": 50,
                                                                                      "y": 10},
                                         "10.0.0.23:80": {"w": 100}}}}


@pytest.fixture
def cluster(tmp_path):
    directors = {name: FakeDirector(tmp_path / name, name, services(), KEEPALIVED) for name in ("lb1", "lb2")}
    inv = parse(INVENTORY)
    ctx = ActionContext(inventory=inv, cluster="c", transports={n: d.transport() for n, d in directors.items()},
                        audit=AuditLog(tmp_path / "audit.jsonl"), operator="ann@ops1", wait_s=0)
    return ctx, directors


def edits(director, rs=None):
    return [c for c in director.calls() if c.startswith("-e") and (rs is None or f"-r {rs} " in c)]


async def drain(ctx, *rs, **params):
    target = {"cluster": "c", "service": "10.0.0.100:80", "real_server": list(rs)}
    return await execute(ctx, "drain", target, {"reason": "kernel update", **params})


async def test_drain_sets_weight_0_everywhere_keeping_forward_and_thresholds(cluster):
    ctx, ds = cluster
    res = await drain(ctx, "10.0.0.22:80")
    assert res.exit_code == 0, res.message
    for d in ds.values():
        rs = d.services[SVC]["rs"]["10.0.0.22:80"]
        assert (rs["w"], rs["fwd"], rs["x"], rs["y"]) == (0, "-m", 50, 10)
        [rec] = d.drain_records()
        assert rec["weight"] == 100 and rec["reason"] == "kernel update" and rec["by"] == "ann@ops1"
        assert rec["service"] == "10.0.0.100:80" and rec["real_server"] == "10.0.0.22:80" and rec["since"] > 0
    assert res.before == {"lb1": {"10.0.0.22:80": 100}, "lb2": {"10.0.0.22:80": 100}}
    assert res.after["lb1"] == {"10.0.0.22:80": 0} and "set directly" in " ".join(res.details)
    [line] = [json.loads(x) for x in ctx.audit.path.read_text().splitlines()]
    assert line["what"] == "drain" and line["result"] == "done" and line["after"]["lb2"] == {"10.0.0.22:80": 0}


async def test_each_real_server_exactly_once_on_each_director(cluster):
    ctx, ds = cluster
    res = await drain(ctx, "10.0.0.21:80", "10.0.0.22:80", "10.0.0.21:80")
    assert res.exit_code == 0, res.message
    for d in ds.values():
        assert len(edits(d, "10.0.0.21:80")) == 1 and len(edits(d, "10.0.0.22:80")) == 1
        assert edits(d, "10.0.0.23:80") == [] and len(edits(d)) == 2
        applies = [s for s in d_transport(ctx, d).scripts if "drain_one" in s]
        assert len(applies) == 1  # one round trip per director for the change
        assert len(d.syslog()) == 1 and "action=drain" in d.syslog()[0]
        assert d.weight(SVC, "10.0.0.23:80") == 100


def d_transport(ctx, d):
    return ctx.transports[d.name]


async def test_last_in_service_real_server_is_refused_unless_forced(cluster):
    ctx, ds = cluster
    assert (await drain(ctx, "10.0.0.21:80", "10.0.0.22:80")).exit_code == 0
    res = await drain(ctx, "10.0.0.23:80")
    assert res.exit_code == 3 and "no real server in service" in res.message and "--force" in res.message
    assert all(len(edits(d)) == 2 and d.weight(SVC, "10.0.0.23:80") == 100 for d in ds.values())
    res = await drain(ctx, "10.0.0.23:80", force=True)
    assert res.exit_code == 0 and all(d.weight(SVC, "10.0.0.23:80") == 0 for d in ds.values())
    assert any(line.startswith("forced: ") and "no real server in service" in line for line in res.details)


async def test_unknown_real_server_is_a_usage_error(cluster):
    ctx, ds = cluster
    res = await drain(ctx, "10.0.0.99:80")
    assert res.exit_code == 2 and "10.0.0.21:80" in res.message
    assert all(edits(d) == [] for d in ds.values())


async def test_a_director_that_cannot_be_reached_refuses_the_whole_drain(cluster, tmp_path):
    ctx, ds = cluster
    (ds["lb2"].root / "ipvs.json").write_text("not json")  # lb2's ipvsadm now fails
    res = await drain(ctx, "10.0.0.21:80")
    assert res.exit_code == 3 and "lb2" in res.message
    assert edits(ds["lb1"]) == [] and ds["lb1"].drain_records() == []


async def test_redrain_keeps_the_weight_to_restore_and_undrain_restores_it(cluster):
    ctx, ds = cluster
    assert (await drain(ctx, "10.0.0.21:80")).exit_code == 0
    assert (await drain(ctx, "10.0.0.21:80")).exit_code == 0
    assert all(d.drain_records()[0]["weight"] == 100 for d in ds.values())
    target = {"cluster": "c", "service": "10.0.0.100:80", "real_server": "10.0.0.21:80"}
    res = await execute(ctx, "undrain", target, {})
    assert res.exit_code == 0, res.message
    assert all(d.weight(SVC, "10.0.0.21:80") == 100 and d.drain_records() == [] for d in ds.values())
    again = await execute(ctx, "undrain", target, {})
    assert again.exit_code == 3 and "not drained" in again.message


async def test_prepared_director_gets_the_track_file(cluster, tmp_path, monkeypatch):
    ctx, ds = cluster
    monkeypatch.setattr(drain_script, "UNDRAIN_WAIT_S", 0.3)
    track_dir = tmp_path / "track"
    (ds["lb1"].root / "keepalived.conf").write_text(prepare_conf.prepare(KEEPALIVED, track_dir=str(track_dir)))
    res = await drain(ctx, "10.0.0.21:80")
    assert res.exit_code == 0
    track = track_dir / "lbc_drain_10.0.0.100_80_10.0.0.21_80"
    assert track.read_text().strip() == "1"
    assert "keepalived-safe on lb1" in " ".join(res.details) and "set directly on lb2" in " ".join(res.details)
    # Undrain on a prepared director leaves the weight to keepalived: this fake has none, so it stays 0.
    res = await execute(ctx, "undrain", {"cluster": "c", "service": "10.0.0.100:80", "real_server": "10.0.0.21:80"})
    assert track.read_text().strip() == "0"
    assert res.exit_code == 1 and "keepalived keeps it down" in " ".join(res.details)
    assert ds["lb2"].weight(SVC, "10.0.0.21:80") == 100 and ds["lb1"].weight(SVC, "10.0.0.21:80") == 0


async def test_reason_is_required(cluster):
    ctx, ds = cluster
    res = await execute(ctx, "drain", {"cluster": "c", "service": "10.0.0.100:80", "real_server": "10.0.0.21:80"},
                        {"reason": "  "})
    assert res.exit_code == 2 and "reason" in res.message
