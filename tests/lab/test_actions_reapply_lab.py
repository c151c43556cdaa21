"""Re-apply of reverted drains on the real lab (unprepared keepalived puts the weight back on a health flap):
a real server undrained since the revert was seen is left alone, and that never hides a re-apply that failed
on another; every failure is reported and audited."""

from __future__ import annotations

import asyncio

import pytest

from lbconsole import inventory as inventory_mod
from lbconsole.actions import reapply
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.lab import api
from lbconsole.source.poller import Poller
from lbconsole.transport import session_for
from support.lab_actions import SVC, cli, drain_records, flap_nginx, rs, wait_weights, weights

pytestmark = pytest.mark.lab


async def _poll(inv: inventory_mod.Inventory):
    with api.in_ops_netns():
        poller = Poller(inv)
        try:
            return await poller.poll_once()
        finally:
            await poller.close()


async def _reapply(inv: inventory_mod.Inventory, snap, audit: AuditLog):
    """A console that is not read-only, whose agent on lb2 is (as for an account with only the read-only
    sudoers line there): lb2 refuses the change itself, a real failure of the re-apply on that director."""
    with api.in_ops_netns():
        lb2 = session_for(inv.find_node("lb2"), read_only=True)
        ctx = ActionContext(inventory=inv, transports={"lb2": lb2}, audit=audit, origin="tui")
        try:
            return await reapply.reapply_reverted(ctx, snap)
        finally:
            await ctx.close()
            await lb2.close()


def test_a_server_undrained_since_is_skipped_and_never_hides_a_failed_re_apply(clean_lab, tmp_path, monkeypatch):
    monkeypatch.setattr(reapply, "_last", {})  # its own pacing, not that of an earlier test in this session
    web1, web2 = rs("web1"), rs("web2")
    res = cli(clean_lab, tmp_path, "drain", SVC, web1, web2, "--reason", "rack move", "--yes", "--wait", "0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "set directly on lb1, lb2" in res.stdout
    flap_nginx("web1", "web2")
    wait_weights(web1, 100)  # keepalived silently put its configured weights back, on both directors
    wait_weights(web2, 100)
    inv = inventory_mod.load(str(clean_lab))
    snap = asyncio.run(_poll(inv))
    assert "drain_reverted" in {a.kind for a in snap.alerts}
    assert {k: sorted(v) for k, v in reapply.reverted(snap).items()} == {("lab", d, SVC): [web1, web2]
                                                                        for d in ("lb1", "lb2")}

    # web2 is undrained after the revert was seen, before the console re-applies.
    res = cli(clean_lab, tmp_path, "undrain", SVC, web2, "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    audit = AuditLog(tmp_path / "console-audit.jsonl")
    done = asyncio.run(_reapply(inv, snap, audit))

    assert len(done) == 2, [r.message for r in done]
    lb1, lb2 = done  # one result per director, in order
    assert lb1.ok and lb1.message.startswith(f"re-applied the drain of {web1} of {SVC} on lb1"), lb1.message
    assert f"{web2}: undrained since, left alone" in lb1.details
    assert not lb2.ok and f"re-apply of the drain of {web1} of {SVC} on lb2 FAILED" in lb2.message, lb2.message
    assert "serves read-only" in lb2.message and f"{web2}: undrained since, left alone" in lb2.details
    assert weights(web1) == {"lb1": 0, "lb2": 100} and weights(web2) == {"lb1": 100, "lb2": 100}
    assert [r["real_server"] for r in drain_records("lb2")] == [web1]  # still recorded: the next pass retries
    assert [(r["what"], r["target"]["node"], r["result"]) for r in audit.read()] == [
        ("drain_reapply", "lb1", "done"), ("drain_reapply", "lb2", "failed")]
