"""Daemons a node's role needs that did not answer: nginx on the nginx tier, keepalived on directors."""

from __future__ import annotations

from collections.abc import Iterator

from lbconsole.snapshot import Alert, ClusterSnapshot


def check(cluster: ClusterSnapshot) -> Iterator[Alert]:
    for node in cluster.nodes:
        if not node.reachable:
            continue
        if node.has_role("nginx") and node.nginx is None:
            yield Alert("critical", "nginx_down", f"{node.name}: nginx stub_status did not answer"
                        + (f" ({node.error})" if node.error else ""), cluster.name, node.name)
        if node.has_role("director") and (not node.vrrp or any(i.state == "STOP" for i in node.vrrp)):
            yield Alert("critical", "keepalived_down", f"{node.name}: keepalived is not running or not answering",
                        cluster.name, node.name)
