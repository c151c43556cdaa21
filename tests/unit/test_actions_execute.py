"""execute(): read-only is refused here, from any caller, audited, with nothing run on a node but the
syslog line; other refusals and usage errors are audited too; and re-applying reverted drains."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.actions.execute import execute
from lbconsole.inventory import parse
from support import agents
from support.inventory import cluster_table, node_table

SVC = "-t 10.0.0.100:80"
TARGET = {"cluster": "c", "service": "10.0.0.100:80", "real_server": "10.0.0.21:80"}
NODES = (node_table("lb1", "127.0.0.1", "director"), node_table("lb2", "127.0.0.1", "director"),
         node_table("web1", "127.0.0.1", "nginx"))


def make(tmp_path, read_only_flag=False, read_only_inventory=False):
    """Real agents in-process (this host has no ip_vs: nothing here can drain anything)."""
    ds = {n: agents.session(n) for n in ("lb1", "lb2", "web1")}
    inv = parse(cluster_table("c", *NODES, read_only=read_only_inventory))
    ctx = ActionContext(inventory=inv, cluster="c", read_only=read_only_flag, wait_s=0,
                        transports=ds, audit=AuditLog(tmp_path / "a.jsonl"))
    return ctx, ds


def only_audit_was_sent(ds) -> bool:
    return all(set(agents.verbs(s)) <= {"audit"} for s in ds.values())


@pytest.mark.parametrize("flag, inventory", [(True, False), (False, True)])
@pytest.mark.parametrize("name, target, params", [
    ("drain", TARGET, {"reason": "r"}), ("undrain", TARGET, {}),
    ("failover", {"cluster": "c", "instance": "VI_1"}, {}), ("release", {"cluster": "c", "instance": "VI_1"}, {}),
    ("reload", {"cluster": "c", "node": "web1"}, {}),
])
async def test_read_only_is_refused_for_every_action(tmp_path, flag, inventory, name, target, params):
    ctx, ds = make(tmp_path, flag, inventory)
    try:
        res = await execute(ctx, name, target, params)
    finally:
        await asyncio.gather(*(s.close() for s in ds.values()))
    assert res.exit_code == 3 and "read-only" in res.message and "nothing was changed" in res.message
    assert all(agents.verbs(s) == [] for s in ds.values())  # read-only: no node is even contacted
    [rec] = ctx.audit.read()
    assert rec["what"] == name and rec["result"] == "refused" and rec["exit_code"] == 3
    assert "audited locally" in " ".join(res.details)


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
    try:
        res = await execute(tui, "drain", TARGET, {"reason": "r"})
        assert res.exit_code == 3 and not res.ok and only_audit_was_sent(ds)
        [rec] = AuditLog().read()
        assert rec["origin"] == "tui" and rec["result"] == "refused"
        tui.read_only = False
        res = await execute(tui, "drain", TARGET, {"reason": "r"})
    finally:
        await asyncio.gather(*(s.close() for s in ds.values()))
    # Not read-only: the TUI's sessions were used to check (this host has no ip_vs, so the check refuses).
    assert res.exit_code == 3 and "IPVS not readable" in res.message, res.message
    assert all("snapshot" in agents.verbs(ds[n]) for n in ("lb1", "lb2")) and only_audit_was_sent({"web1": ds["web1"]})
    assert not any(v in agents.verbs(s) for s in ds.values() for v in ("drain", "undrain"))


async def test_caller_refusal_and_usage_errors_are_audited(tmp_path):
    ctx, ds = make(tmp_path)
    res = await execute(ctx, "drain", TARGET, {"reason": "r"}, refusal="not confirmed: pass --yes")
    assert res.exit_code == 3 and "--yes" in res.message and only_audit_was_sent(ds)
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


async def test_an_agent_of_another_version_refuses_actions_naming_node_install(tmp_path):
    ctx, ds = make(tmp_path)
    ds["web1"] = ctx.transports["web1"] = agents.session("web1", expected=("0.0.0", "0" * 64))
    try:
        res = await execute(ctx, "reload", {"cluster": "c", "node": "web1"}, {})
    finally:
        await asyncio.gather(*(s.close() for s in ds.values()))
    assert res.exit_code == 3 and "lbconsole node install web1" in res.message, res.message
    assert agents.verbs(ds["web1"]) == ["audit"]  # asked who it is, then only the audit line: no reload
    assert ctx.audit.read()[-1]["result"] == "refused"


def test_audit_lines_are_json(tmp_path):
    log = AuditLog(tmp_path / "x.jsonl")
    log.append({"id": "1", "what": "drain"})
    assert json.loads(log.path.read_text())["what"] == "drain"
