"""The inventory contract: keys, defaults, lookup order, and one clear error per problem."""

import pytest

from lbconsole import inventory
from lbconsole.errors import InventoryError

GOOD = """
[defaults]
user = "ops"
port = 2222
identity = "~/.ssh/lb_ed25519"
known_hosts = "/etc/lbconsole/known_hosts"
sudo = true
poll_interval = 1.5

[[cluster]]
name = "prod"
read_only = true
color = "#ff0000"

[[cluster.node]]
name = "lb1"
host = "10.0.0.11"
roles = ["director"]

[[cluster.node]]
name = "web1"
host = "10.0.0.21"
roles = ["nginx"]
user = "root"
port = 22
sudo = false
nginx_status_url = "http://127.0.0.1:8080/status"

[[cluster]]
name = "staging"

[[cluster.node]]
name = "lb9"
host = "10.1.0.11"
roles = ["director", "nginx"]
"""


def test_good_inventory_merges_defaults_into_nodes():
    inv = inventory.parse(GOOD, "inv.toml")
    assert inv.poll_interval == 1.5
    assert [c.name for c in inv.clusters] == ["prod", "staging"]
    prod = inv.cluster("prod")
    assert prod.read_only and prod.color == "#ff0000"
    lb1, web1 = prod.nodes
    assert (lb1.user, lb1.port, lb1.sudo, lb1.known_hosts) == ("ops", 2222, True, "/etc/lbconsole/known_hosts")
    assert lb1.identity.endswith("/.ssh/lb_ed25519") and not lb1.identity.startswith("~")
    assert lb1.nginx_status_url == "http://127.0.0.1/nginx_status"
    assert (web1.user, web1.port, web1.sudo) == ("root", 22, False)
    assert web1.nginx_status_url == "http://127.0.0.1:8080/status"
    assert inv.cluster("staging").read_only is False
    assert inv.find_node("lb9").cluster == "staging"


@pytest.mark.parametrize("text, line, words", [
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['director'\n", 6, "invalid TOML"),
    ("[defaults]\nport = 'x'\n[[cluster]]\nname='a'\n", 2, "'port' must be a int"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['dircetor']\n", 6, "unknown 'dircetor'"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nroles = ['nginx']\n", 3, "has no 'host'"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['nginx']\nsudo = 'yes'\n", 7,
     "'sudo' must be a bool"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['nginx']\nhostname = 'q'\n", 7,
     "unknown key 'hostname'"),
    ("[[cluster]]\nname = 'a'\n", 1, "has no [[cluster.node]]"),
    ("[defaults]\nuser = 'x'\n", None, "no [[cluster]]"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['nginx']\n"
     "[[cluster.node]]\nname = 'x'\nhost = 'h2'\nroles = ['nginx']\n", 8, "defined twice"),
    ("[defaults]\npoll_interval = 0\n[[cluster]]\nname='a'\n", 2, "above 0"),
])
def test_invalid_inventory_names_file_and_line(text, line, words):
    with pytest.raises(InventoryError) as err:
        inventory.parse(text, "/etc/inv.toml")
    msg = str(err.value)
    assert words in msg
    assert msg.startswith(f"inventory /etc/inv.toml:{line}:" if line else "inventory /etc/inv.toml:")
    assert err.value.exit_code == 2


def test_lookup_order(tmp_path, monkeypatch):
    explicit, env, xdg = tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "cfg"
    monkeypatch.setenv("LBCONSOLE_INVENTORY", str(env))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert inventory.resolve_path(str(explicit)) == explicit
    assert inventory.resolve_path(None) == env
    monkeypatch.delenv("LBCONSOLE_INVENTORY")
    assert inventory.resolve_path(None) is None  # no file under XDG: the local host
    (xdg / "lbconsole").mkdir(parents=True)
    (xdg / "lbconsole" / "inventory.toml").write_text(GOOD)
    assert inventory.resolve_path(None) == xdg / "lbconsole" / "inventory.toml"
    assert inventory.load(None).cluster("prod") is not None


def test_no_inventory_watches_local_host(tmp_path, monkeypatch):
    monkeypatch.delenv("LBCONSOLE_INVENTORY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    inv = inventory.load(None)
    (node,) = inv.nodes
    assert node.is_local and node.has_role("director")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InventoryError, match="no such file"):
        inventory.load(str(tmp_path / "nope.toml"))
