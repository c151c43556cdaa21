"""doctor on a host that is not a load balancer (no inventory: the local node) says what is true."""

from __future__ import annotations

import io

from lbconsole import inventory
from lbconsole.commands import doctor

IPVS_MISSING = "Can't initialize ipvs: Protocol not available"


def report(probe: dict) -> str:
    out = io.StringIO()
    rep = doctor.Report(out)
    (node,) = inventory.local_inventory().nodes
    full = {"have": {"ipvsadm", "keepalived", "nginx", "logger"}, "uid": "0", "conf": "", **probe}
    doctor._report_node(rep, node, full, None, None)
    return out.getvalue()


def test_the_local_node_is_not_called_ssh():
    text = report({"ipvs": "ok"})
    assert "ssh to" not in text and ":22" not in text
    assert "this host, read in-process (no SSH)" in text


def test_no_ip_vs_is_named():
    text = report({"ipvs": IPVS_MISSING})
    assert "FAIL  ip_vs is not loaded on" in text and "not an LVS director" in text


def test_no_real_server_is_not_every_real_server_prepared():
    out = io.StringIO()
    cluster = inventory.local_inventory().clusters[0]
    (node,) = cluster.nodes
    doctor._report_cluster(doctor.Report(out), cluster, {node.name: {"conf": "vrrp_instance VI_1 {\n}\n"}})
    text = out.getvalue()
    assert "every real server is prepared" not in text
    assert "no virtual_server with a real_server" in text


def test_node_text_is_shown_as_text():
    text = report({"ipvs": "\x1b]0;pwned\x07\x1b[2J boom"})
    assert "\x1b" not in text and "\x07" not in text and "boom" in text
