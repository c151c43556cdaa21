"""Every refusal names a way forward that exists, and a host without ip_vs is told so."""

from __future__ import annotations

import os

from lbconsole import cli
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.execute import execute
from unit.test_actions_drain import SVC, cluster, drain, edits  # noqa: F401  (cluster is a fixture)

TARGET = {"cluster": "c", "service": "10.0.0.100:80", "real_server": "10.0.0.21:80"}


async def test_undrain_with_a_director_down_names_undrain_force_and_it_works(cluster):  # noqa: F811
    ctx, ds = cluster
    assert (await drain(ctx, "10.0.0.21:80")).exit_code == 0
    (ds["lb2"].root / "ipvs.json").write_text("not json")  # lb2's ipvsadm now fails
    res = await execute(ctx, "undrain", TARGET, {})
    assert res.exit_code == 3
    assert "lbconsole undrain 10.0.0.100:80 10.0.0.21:80 --force" in res.message
    # The way forward exists: the CLI has undrain --force, and it restores what answers.
    parser = cli.build_parser()
    args = parser.parse_args(["undrain", "10.0.0.100:80", "10.0.0.21:80", "--force", "--yes"])
    assert args.force is True
    res = await execute(ctx, "undrain", TARGET, {"force": True})
    assert res.exit_code == 0, res.message
    assert ds["lb1"].weight(SVC, "10.0.0.21:80") == 100 and ds["lb1"].drain_records() == []
    assert any("undrain again once lb2 answers" in line for line in res.details)
    assert [r["params"].get("force") for r in AuditLog(ctx.audit.path).read()][-1] is True


async def test_drain_on_a_host_without_ip_vs_says_so(cluster):  # noqa: F811
    ctx, ds = cluster
    for d in ds.values():  # ipvsadm as it answers on a kernel without ip_vs
        tool = d.root / "bin" / "ipvsadm"
        tool.write_text("#!/bin/sh\necho \"Can't initialize ipvs: Protocol not available\"\n"
                        "echo 'Are you sure that IP Virtual Server is built in the kernel or as module?'\nexit 2\n")
        os.chmod(tool, 0o755)
    res = await drain(ctx, "10.0.0.21:80")
    assert res.exit_code == 3
    assert "ip_vs is not loaded" in res.message and "no director has service" not in res.message
