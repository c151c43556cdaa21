"""execute(): read-only is refused here, from any caller, audited, with nothing run on a node but the
syslog line; other refusals and usage errors are audited too; and re-applying reverted drains."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from lbconsole.actions import reapply
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.actions.execute import execute
from lbconsole.inventory import parse
from lbconsole.snapshot import ClusterSnapshot, Drain, NodeSnapshot, RealServer, Service, Snapshot
from support.fake_director import FakeDirector

SVC = "-t 10.0.0.100:80"
TARGET = {"cluster": "c", "service": "10.0.0.100:80", "real_server": "10.0.0.21:80"}
INVENTORY = """[[cluster]]
name = "c"
{ro}
[[cluster.node]]
name = "lb1"
host = "127.0.0.1"
roles = ["director"]
[[cluster.node]]
name = "lb2"
host = "127.0.0.1"
roles = ["director"]
[[cluster.node]]
name = "web1"
host = "127.0.0.1"
roles = ["nginx"]
"""


def make(tmp_path, read_only_flag=False, read_only_inventory=False):
    svcs = {SVC: {"sched": "wlc", "rs": {"10.0.0.21:80": {"w": 100}, "10.0.0.22:80": {"w": 100}}}}
    ds = {n: FakeDirector(tmp_path / n, n, svcs) for n in ("lb1", "lb2", "web1")}
    inv = parse(INVENTORY.format(ro="read_only = true" if read_only_inventory else ""))
    ctx = ActionContext(inventory=inv, cluster="c", read_only=read_only_flag, wait_s=0,
                        transports={n: d.transport() for n, d in ds.items()}, audit=AuditLog(tmp_path / "a.jsonl"))
    return ctx, ds


def only_logger_ran(ctx) -> bool:
    return all(s.startswith("logger -t lbconsole") for t in ctx.transports.values() for s in t.scripts)


@pytest.mark.parametrize("flag, inventory", [(True, False), (False, True)])
@pytest.mark.parametrize("name, target, params", [
    ("drain", TARGET, {"reason": "r"}), ("undrain", TARGET, {}),
    ("failover", {"cluster": "c", "instance": "VI_1"}, {}), ("release", {"cluster": "c", "instance": "VI_1"}, {}),
    ("reload", {"cluster": "c", "node": "web1"}, {}),
])
async def test_read_only_is_refused_for_every_action(tmp_path, flag, inventory, name, target, params):
    ctx, ds = make(tmp_path, flag, inventory)
    res = await execute(ctx, name, target, params)
    assert res.exit_code == 3 and "read-only" in res.message and "nothing was changed" in res.message
    assert all(t.scripts == [] for t in ctx.transports.values())  # read-only: no node is even contacted
    [rec] = ctx.audit.read()
    assert rec["what"] == name and rec["result"] == "refused" and rec["exit_code"] == 3
    assert "audited locally" in " ".join(res.details)
    assert [n for n, d in ds.items() if d.syslog()] == []


@dataclass
class TuiContext:  # the shape lbconsole.ui.operate.ActionContext has
    inventory: Any
    snapshot: Any
    cluster: str
    read_only: bool
    origin: str = "tui"
    progress: Callable[[str], None] = field(default=lambda text: None)
    extra: dict = field(default_factory=dict)


async def test_a_tui_context_is_accepted_and_still_refused_when_read_only(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    ctx, ds = make(tmp_path)
    tui = TuiContext(ctx.inventory, None, "c", True, extra={"transports": ctx.transports})
    res = await execute(tui, "drain", TARGET, {"reason": "r"})
    assert res.exit_code == 3 and not res.ok and all(d.calls() == [] for d in ds.values())
    [rec] = AuditLog().read()
    assert rec["origin"] == "tui" and rec["result"] == "refused"
    tui.read_only = False
    res = await execute(tui, "drain", TARGET, {"reason": "r"})
    assert res.ok, res.message
    assert all(d.weight(SVC, "10.0.0.21:80") == 0 for n, d in ds.items() if n != "web1")


async def test_caller_refusal_and_usage_errors_are_audited(tmp_path):
    ctx, ds = make(tmp_path)
    res = await execute(ctx, "drain", TARGET, {"reason": "r"}, refusal="not confirmed: pass --yes")
    assert res.exit_code == 3 and "--yes" in res.message and all(d.calls() == [] for d in ds.values())
    res = await execute(ctx, "drain", {"cluster": "c", "service": "nonsense", "real_server": "1.2.3.4:5"}, {})
    assert res.exit_code == 2
    res = await execute(ctx, "reload", {"cluster": "c", "node": "nosuch"}, {})
    assert res.exit_code == 2 and "web1" in res.message
    assert [r["result"] for r in ctx.audit.read()] == ["refused", "usage", "usage"]


async def test_unknown_or_harmless_action_names_are_usage_errors(tmp_path):
    ctx, _ = make(tmp_path)
    for name in ("nosuch", "refresh"):
        with pytest.raises(Exception) as err:
            await execute(ctx, name, TARGET, {})
        assert getattr(err.value, "exit_code", None) == 2


def snapshot_with(weights: dict[str, int], drained=("10.0.0.21:80",), read_only=False) -> Snapshot:
    nodes = []
    for name, weight in weights.items():
        rss = tuple(RealServer("10.0.0.21", 80, "route", weight,
                               drain=Drain("r", "ann@ops1", 1.0, 100) if "10.0.0.21:80" in drained else None)
                    for _ in range(1))
        svc = Service("TCP", "10.0.0.100", 80, None, "wlc", real_servers=rss)
        nodes.append(NodeSnapshot(name, "127.0.0.1", ("director",), reachable=True, ipvs=(svc,)))
    return Snapshot(1.0, (ClusterSnapshot("c", tuple(nodes), read_only=read_only),))


async def test_reapply_re_drains_only_where_reverted_and_not_too_often(tmp_path):
    ctx, ds = make(tmp_path)
    assert (await execute(ctx, "drain", TARGET, {"reason": "r"})).ok
    svcs = ds["lb2"].services
    svcs[SVC]["rs"]["10.0.0.21:80"]["w"] = 100  # keepalived put the weight back on lb2
    ds["lb2"].set_services(svcs)
    lb1_edits = len([c for c in ds["lb1"].calls() if c.startswith("-e")])
    snap = snapshot_with({"lb1": 0, "lb2": 100})
    [res] = await reapply.reapply_reverted(ctx, snap, now=1000.0)
    assert res.ok and "re-applied" in res.message and ds["lb2"].weight(SVC, "10.0.0.21:80") == 0
    assert len([c for c in ds["lb1"].calls() if c.startswith("-e")]) == lb1_edits
    assert ds["lb2"].drain_records()[0]["weight"] == 100  # the weight to restore survives
    assert await reapply.reapply_reverted(ctx, snap, now=1001.0) == []  # too soon: never a tight loop
    rec = ctx.audit.read()[-1]
    assert rec["what"] == "drain_reapply" and rec["target"]["node"] == "lb2" and rec["result"] == "done"


async def test_reapply_does_nothing_read_only_or_after_an_undrain(tmp_path):
    ctx, ds = make(tmp_path)
    snap = snapshot_with({"lb1": 100, "lb2": 100})
    ctx.read_only = True
    assert await reapply.reapply_reverted(ctx, snap, now=5000.0) == []
    assert await reapply.reapply_reverted(ActionContext(inventory=ctx.inventory, read_only=False, audit=ctx.audit,
                                                        transports=ctx.transports),
                                          snapshot_with({"lb1": 100}, read_only=True), now=6000.0) == []
    ctx.read_only = False
    # The snapshot still shows the drain, but it was undrained since: no record on the node, nothing done.
    assert await reapply.reapply_reverted(ctx, snapshot_with({"lb2": 100}), now=7000.0) == []
    assert [c for c in ds["lb2"].calls() if c.startswith("-e")] == [] and ctx.audit.read() == []


def test_audit_lines_are_json(tmp_path):
    log = AuditLog(tmp_path / "x.jsonl")
    log.append({"id": "1", "what": "drain"})
    assert json.loads(log.path.read_text())["what"] == "drain"
