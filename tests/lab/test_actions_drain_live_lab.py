"""Drain from a console that already polls (the TUI's way): the check uses its live snapshot, no extra
read goes to the directors before the change, and each agent checks again when it acts, so data the
console had that is no longer true is refused on the node with nothing touched there."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest

from lbconsole import inventory as inventory_mod
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.actions.execute import execute
from lbconsole.lab import api
from lbconsole.snapshot import RealServer
from lbconsole.source.poller import Poller
from support.lab_actions import DIRECTORS, SVC, drain_records, rs, weights

pytestmark = pytest.mark.lab


def _audit(tmp: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp / "audit.jsonl").read_text().splitlines()]


class Counting:
    """The verbs an action sends on the console's sessions (wrapping the real sessions' request)."""

    def __init__(self, poller: Poller) -> None:
        self.verbs: list[tuple[str, str]] = []
        for name, session in poller.sessions.items():
            real = session.request

            async def request(verb, args=None, *, _real=real, _name=name, **kw):
                self.verbs.append((_name, verb))
                return await _real(verb, args, **kw)

            session.request = request  # type: ignore[method-assign]


async def _drain(inventory: Path, tmp: Path, real_server: str, tamper=None):
    inv = inventory_mod.load(str(inventory))
    with api.in_ops_netns():
        poller = Poller(inv, interval=1.0)
        try:
            await poller.poll_once()  # the sessions open (seconds in the VM): that snapshot is old by then
            snap = await poller.poll_once()  # what a running console shows
            if tamper is not None:
                snap = tamper(snap)
            seen = Counting(poller)
            ctx = ActionContext(inventory=inv, cluster="lab", transports=poller.transports, snapshot=snap,
                                audit=AuditLog(tmp / "audit.jsonl"), wait_s=0, origin="tui")
            res = await execute(ctx, "drain", {"cluster": "lab", "service": SVC, "real_server": real_server},
                                {"reason": "live drain test"})
            undo = await execute(ctx, "undrain", {"cluster": "lab", "service": SVC, "real_server": real_server})
            return res, undo, seen.verbs
        finally:
            await poller.close()


def test_drain_checks_with_the_live_snapshot_and_the_node(clean_lab, tmp_path):
    web1 = rs("web1")
    res, undo, verbs = asyncio.run(_drain(clean_lab, tmp_path, web1))
    assert res.ok, res.message
    assert f"drained {web1} of {SVC}: weight 0 on lb1, lb2" in res.message
    assert res.after["lb1"] == {web1: 0} and res.after["lb2"] == {web1: 0}
    assert res.before == {"lb1": {web1: 100}, "lb2": {web1: 100}}  # as each node read it when it acted
    assert "active connections reached 0 after" in " ".join(res.details)
    # Nothing read before the change: the drain verb (check, apply, read back on the node) is the first call.
    drain_calls = [i for i, (_, v) in enumerate(verbs) if v == "drain"]
    assert sorted(n for n, v in verbs if v == "drain") == sorted(DIRECTORS)
    assert "snapshot" not in [v for _, v in verbs[:min(drain_calls)]], verbs
    assert undo.ok, undo.message
    assert weights(web1) == {"lb1": 100, "lb2": 100}
    lines = _audit(tmp_path)
    assert [r["what"] for r in lines] == ["drain", "undrain"] and lines[0]["result"] == "done"


def test_what_the_console_believed_is_checked_again_on_the_node(clean_lab, tmp_path):
    ghost = "10.99.0.99:80"  # the console's data says both directors have it; neither does

    def tamper(snap):
        cluster = snap.cluster("lab")
        nodes = []
        for node in cluster.nodes:
            if node.name in DIRECTORS:
                svcs = tuple(dataclasses.replace(s, real_servers=(*s.real_servers, RealServer(
                    address="10.99.0.99", port=80, forward="Route", weight=100))) if s.key == SVC else s
                    for s in node.ipvs)
                node = dataclasses.replace(node, ipvs=svcs)
            nodes.append(node)
        return dataclasses.replace(snap, clusters=(dataclasses.replace(cluster, nodes=tuple(nodes)),))

    res, undo, verbs = asyncio.run(_drain(clean_lab, tmp_path, ghost, tamper))
    # The console believed it and asked both; each agent checked and refused: nothing touched anywhere.
    assert not res.ok
    assert "no real server 10.99.0.99:80" in res.message + " ".join(res.details)
    assert sorted(n for n, v in verbs if v == "drain") == sorted(DIRECTORS)
    assert drain_records("lb1") == drain_records("lb2") == []
    assert weights(rs("web1")) == {"lb1": 100, "lb2": 100}
    assert [r["what"] for r in _audit(tmp_path)][0] == "drain"
