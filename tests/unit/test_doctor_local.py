"""doctor on a host that is not a load balancer (no inventory: the local node) says what is true.

This machine's kernel has no ip_vs and runs no keepalived: the real doctor, with the real in-process agent,
reports exactly that."""

from __future__ import annotations

import io

from lbconsole import inventory
from lbconsole.commands import doctor, doctor_prepared


async def local_report() -> str:
    out = io.StringIO()
    await doctor.doctor(inventory.local_inventory(), out)
    return out.getvalue()


async def test_the_local_node_is_not_called_ssh():
    text = await local_report()
    assert "ssh to" not in text and ":22" not in text
    assert "in-process" in text


async def test_no_ip_vs_is_named():
    text = await local_report()
    assert "FAIL  IPVS: the ip_vs kernel module is not loaded" in text


def test_no_real_server_is_not_every_real_server_prepared():
    out = io.StringIO()
    cluster = inventory.local_inventory().clusters[0]
    (node,) = cluster.nodes
    doctor_prepared.report_cluster(doctor.Report(out), cluster, {node.name: "vrrp_instance VI_1 {\n}\n"})
    text = out.getvalue()
    assert "every real server is prepared" not in text
    assert "no virtual_server with a real_server" in text


def test_node_text_is_shown_as_text():
    out = io.StringIO()
    doctor.Report(out).line("FAIL", "\x1b]0;pwned\x07\x1b[2J boom")
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text and "boom" in text
