"""[[cluster.upstream]]: the nginx upstreams of a cluster and their health paths, checked at load."""

import pytest

from lbconsole import inventory
from lbconsole.collectors import node as collector
from lbconsole.errors import InventoryError
from support.inventory import cluster_table, node_table

NODES = cluster_table("prod", node_table("web1", "10.0.0.21", "nginx"), node_table("app1", "10.0.0.31", "backend"))


def test_upstreams_with_and_without_health_path_reach_the_nginx_nodes():
    inv = inventory.parse(NODES + """
[[cluster.upstream]]
name = "backend"
health_path = "/health?from=lb"

[[cluster.upstream]]
name = "static"
""", "inv.toml")
    prod = inv.cluster("prod")
    assert prod.upstreams == (inventory.UpstreamConfig("backend", "/health?from=lb"),
                              inventory.UpstreamConfig("static", None))
    web1 = prod.node("web1")
    assert web1.upstream_health == (("backend", "/health?from=lb"),)
    assert dict(web1.peer_names) == {"10.0.0.21": "web1", "10.0.0.31": "app1"}
    args = collector.snapshot_args(web1)
    assert args["upstream_health"] == {"backend": "/health?from=lb"}
    assert "upstream_health" not in collector.snapshot_args(prod.node("app1"))  # not an nginx node


def test_no_upstream_table_is_fine_and_sends_no_paths():
    web1 = inventory.parse(NODES, "inv.toml").find_node("web1")
    assert web1.upstream_health == () and collector.snapshot_args(web1)["upstream_health"] == {}


@pytest.mark.parametrize("extra, line, words", [
    ("[[cluster.upstream]]\nhealth_path = '/h'\n", 11, "upstream #1 in cluster 'prod' has no 'name'"),
    ("[[cluster.upstream]]\nname = 'backend'\nhealth = '/h'\n", 13, "unknown key 'health'"),
    ("[[cluster.upstream]]\nname = 'backend'\nhealth_path = 'health'\n", 13,
     "health_path 'health' must be a URL path starting with /"),
    ("[[cluster.upstream]]\nname = 'backend'\nhealth_path = '/a b'\n", 13, "must be a URL path starting with /"),
    ("[[cluster.upstream]]\nname = 'backend'\nhealth_path = 3\n", 13,
     "upstream #1 of cluster #1: 'health_path' must be a string, not an integer"),
    ("[[cluster.upstream]]\nname = 'my backend'\n", 12, "is not an nginx upstream name"),
    ("[[cluster.upstream]]\nname = 'b'\n[[cluster.upstream]]\nname = 'b'\n", 14, "upstream 'b' is defined twice"),
    ("upstream = 'backend'\n", 3, "'upstream' must be a list, not a string (write a [[cluster]] table"),
])
def test_bad_upstream_entries_are_clear_errors_at_their_line(extra, line, words):
    # the extra keys go into the last [[cluster.node]] unless they open a table of their own
    text = NODES.replace('name = "prod"\n', 'name = "prod"\n' + extra, 1) if extra.startswith("upstream =") \
        else NODES + extra
    with pytest.raises(InventoryError) as err:
        inventory.parse(text, "/etc/inv.toml")
    msg = str(err.value)
    assert words in msg, msg
    assert msg.startswith(f"inventory /etc/inv.toml:{line}:"), msg
