"""Read-only on the real lab: the --read-only flag, a read-only cluster in the inventory and execute()
itself refuse every action (exit 3), audit the attempt, and change nothing."""

from __future__ import annotations

import asyncio

import pytest

from lbconsole import inventory as inventory_mod
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.actions.execute import execute
from lbconsole.lab import api
from support.lab_actions import SVC, audit_lines, cli, master, reset_lab, rs, weights

pytestmark = pytest.mark.lab

COMMANDS = [
    ("drain", SVC, rs("web1"), "--reason", "ro"),
    ("undrain", SVC, rs("web1")),
    ("failover", "VI_1"),
    ("failover", "VI_1", "--release"),
    ("reload", "web1"),
]


def lab_state():
    pid = api.run("web1", "cat /run/nginx.pid", check=True).stdout.strip()
    workers = api.run("web1", f"ps -o pid= --ppid {pid}", check=True).stdout.split()
    return weights(rs("web1")), master(), pid, sorted(workers)


@pytest.fixture
def clean_lab(lab):
    reset_lab()
    yield lab


def test_cli_flag_and_inventory_refuse_everything(clean_lab, tmp_path):
    before = lab_state()
    ro_inventory = tmp_path / "ro.toml"
    ro_inventory.write_text(clean_lab.read_text().replace('name = "lab"', 'name = "lab"\nread_only = true'))
    for args in COMMANDS:
        res = cli(clean_lab, tmp_path, *args, "--yes", "--read-only")
        assert res.returncode == 3 and "read-only (--read-only)" in res.stderr, (args, res.stderr)
        res = cli(ro_inventory, tmp_path, *args, "--yes")
        assert res.returncode == 3 and "read-only in the inventory" in res.stderr, (args, res.stderr)
    assert lab_state() == before
    lines = audit_lines(tmp_path)
    assert len(lines) == 2 * len(COMMANDS) and {r["result"] for r in lines} == {"refused"}


def test_execute_refuses_when_called_directly(clean_lab, tmp_path):
    before = lab_state()
    inv = inventory_mod.load(str(clean_lab))

    async def attempt():
        with api.in_ops_netns():
            ctx = ActionContext(inventory=inv, cluster="lab", read_only=True, audit=AuditLog(tmp_path / "a.jsonl"))
            try:
                return [await execute(ctx, "drain", {"cluster": "lab", "service": SVC, "real_server": rs("web1")},
                                      {"reason": "direct"}),
                        await execute(ctx, "failover", {"cluster": "lab", "instance": "VI_1"}),
                        await execute(ctx, "reload", {"cluster": "lab", "node": "web1"})]
            finally:
                await ctx.close()

    results = asyncio.run(attempt())
    assert [r.exit_code for r in results] == [3, 3, 3]
    assert lab_state() == before
    assert [r["what"] for r in AuditLog(tmp_path / "a.jsonl").read()] == ["drain", "failover", "reload"]
