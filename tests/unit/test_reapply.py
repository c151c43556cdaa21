"""Re-apply of reverted drains: a failure on any server is reported, whatever another server did."""

from __future__ import annotations

import os

from lbconsole.actions import reapply
from lbconsole.actions.execute import execute
from lbconsole.snapshot import ClusterSnapshot, Drain, NodeSnapshot, RealServer, Service, Snapshot
from unit.test_actions_execute import SVC, make

RS = ("10.0.0.21:80", "10.0.0.22:80")


def snapshot(weight: int) -> Snapshot:
    rss = tuple(RealServer(k.split(":")[0], 80, "route", weight, drain=Drain("r", "ann@ops1", 1.0, 100)) for k in RS)
    svc = Service("TCP", "10.0.0.100", 80, None, "wlc", real_servers=rss)
    nodes = (NodeSnapshot("lb1", "127.0.0.1", ("director",), reachable=True, ipvs=(svc,)),
             NodeSnapshot("lb2", "127.0.0.1", ("director",), reachable=True, ipvs=(svc,)))
    return Snapshot(1.0, (ClusterSnapshot("c", nodes),))


async def test_a_skipped_server_does_not_hide_a_failed_re_apply_of_another(tmp_path, monkeypatch):
    monkeypatch.setattr(reapply, "_last", {})  # its own pacing, not that of other tests
    ctx, ds = make(tmp_path)
    target = {"cluster": "c", "service": "10.0.0.100:80", "real_server": list(RS)}
    assert (await execute(ctx, "drain", target, {"reason": "r", "force": True})).ok
    lb2 = ds["lb2"]
    svcs = lb2.services
    for k in RS:
        svcs[SVC]["rs"][k]["w"] = 100  # keepalived put both weights back on lb2
    lb2.set_services(svcs)
    # On lb2, ipvsadm -e fails for .21 (as when the kernel refuses the edit) ...
    real = lb2.root / "bin" / "ipvsadm"
    real.rename(lb2.root / "bin" / "ipvsadm.real")
    real.write_text(f'#!/bin/sh\ncase "$*" in *"-e "*10.0.0.21:80*) echo "Memory allocation problem"; exit 1;; esac\n'
                    f'exec {lb2.root}/bin/ipvsadm.real "$@"\n')
    os.chmod(real, 0o755)
    # ... and .22 is undrained between the inspection and the re-apply (its record goes).
    transport = ctx.transports["lb2"]
    run = transport.run

    async def undrain_22_midway(script, timeout=10.0, stdin=None):
        if "drain_one" in script:
            for p in (lb2.root / "var-lib-lbconsole" / "drain").glob("*10.0.0.22*"):
                p.unlink()
        return await run(script, timeout, stdin)
    transport.run = undrain_22_midway
    [res] = await reapply.reapply_reverted(ctx, snapshot(100), now=1000.0)
    assert not res.ok and "FAILED" in res.message and "10.0.0.21:80" in res.message
    assert any("10.0.0.22:80: undrained since" in d for d in res.details)
    assert ctx.audit.read()[-1]["result"] == "failed"
