"""The inventory contract: keys, defaults, lookup order, and one clear error per problem, at its line."""

import textwrap

import pytest

from lbconsole import inventory
from lbconsole.errors import InventoryError

GOOD = """
[defaults]
user = "ops"
port = 2222
identity = "~/.ssh/lb_ed25519"
known_hosts = "/KH"
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
connect_timeout = 40
command_timeout = 90.5

[[cluster]]
name = "staging"

[[cluster.node]]
name = "lb9"
host = "10.1.0.11"
roles = ["director", "nginx"]
"""


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A HOME with the files the inventories name, and no ssh config unless a test writes one."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "lb_ed25519").write_text("key")
    (tmp_path / "kh").write_text("")
    return tmp_path


def good(home) -> str:
    return GOOD.replace("/KH", str(home / "kh"))


def test_good_inventory_merges_defaults_into_nodes(home):
    inv = inventory.parse(good(home), "inv.toml")
    assert inv.poll_interval == 1.5
    assert [c.name for c in inv.clusters] == ["prod", "staging"]
    prod = inv.cluster("prod")
    assert prod.read_only and prod.color == "#ff0000"
    lb1, web1 = prod.nodes
    assert (lb1.user, lb1.port, lb1.sudo, lb1.known_hosts) == ("ops", 2222, True, str(home / "kh"))
    assert lb1.identity == str(home / ".ssh" / "lb_ed25519")
    assert lb1.nginx_status_url == "http://127.0.0.1/nginx_status"
    assert (lb1.connect_timeout, lb1.command_timeout) == (30.0, 20.0)  # suited to slow nodes
    assert (web1.user, web1.port, web1.sudo) == ("root", 22, False)
    assert (web1.connect_timeout, web1.command_timeout) == (40.0, 90.5)
    assert web1.nginx_status_url == "http://127.0.0.1:8080/status"
    assert inv.cluster("staging").read_only is False
    assert inv.find_node("lb9").cluster == "staging"


NODE = "[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['nginx']\n"


@pytest.mark.parametrize("text, line, words", [
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['director'\n", 6, "invalid TOML"),
    ("[defaults]\nport = 'x'\n[[cluster]]\nname='a'\n", 2, "'port' must be an integer, not a string"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['dircetor']\n", 6,
     "unknown role 'dircetor' (roles: director, nginx, backend)"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nroles = ['nginx']\n", 3, "has no 'host'"),
    (NODE + "sudo = 'yes'\n", 7, "'sudo' must be true or false, not a string"),
    (NODE + "hostname = 'q'\n", 7, "unknown key 'hostname'"),
    ("[[cluster]]\nname = 'a'\n", 1, "has no [[cluster.node]]"),
    ("[defaults]\nuser = 'x'\n", None, "no [[cluster]]"),
    (NODE + "[[cluster.node]]\nname = 'x'\nhost = 'h2'\nroles = ['nginx']\n", 8, "defined twice"),
    ("[defaults]\npoll_interval = 0\n" + NODE, 2, "'poll_interval' must be above 0"),
    ("[defaults]\npoll_interval = nan\n" + NODE, 2, "'poll_interval' must be a finite number"),
    ("[defaults]\npoll_interval = inf\n" + NODE, 2, "'poll_interval' must be a finite number"),
    ("[defaults]\ncommand_timeout = -1\n" + NODE, 2, "'command_timeout' must be above 0"),
    (NODE + "connect_timeout = 0\n", 7, "'connect_timeout' must be above 0"),
    ("cluster = [1]\n", 1, "each [[cluster]] must be a table, not an integer (write a [[cluster]] table"),
    ("cluster = 'x'\n", 1, "'cluster' must be a list, not a string (write a [[cluster]] table"),
    ("[[cluster]]\nname = 'a'\ncolor = 'reddish'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['nginx']\n",
     3, "color 'reddish' is not a colour"),
    (NODE + "port = 70000\n", 7, "'port' must be at most 65535"),
    (NODE + "[[cluster.node]]\nname = 'y'\nhost = 'h'\nroles = []\n", 10, "'roles' must not be empty"),
    (NODE + "identity = '/nonexistent/id'\n", 7, "identity file /nonexistent/id does not exist"),
    ("[[cluster]]\nname = 'a' # the # is a comment\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = [\n  'nginx',\n"
     "  'dircetor',\n]\nport = 'p'\n", 6, "unknown role 'dircetor'"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = [\n  'nginx',\n]\nport = 'p'\n", 9,
     "'port' must be an integer"),
    ("[defaults]\nknown_hosts = '/nonexistent/kh'\n" + NODE, 2, "known_hosts file /nonexistent/kh does not exist"),
    ("[[cluster]]\nname = 'a'\n[[cluster.node]]\nname = 'x'\nhost = 'h'\nroles = ['nginx']\n"
     "[[cluster]]\nname = 'b'\n[[cluster.node]]\nname = 'y'\nhost = 'h'\nroles = ['nginx']\nport = true\n", 13,
     "node #1 of cluster #2: 'port' must be an integer, not a boolean"),
])
def test_invalid_inventory_names_file_and_line(home, text, line, words):
    with pytest.raises(InventoryError) as err:
        inventory.parse(text, "/etc/inv.toml")
    msg = str(err.value)
    assert words in msg
    assert msg.startswith(f"inventory /etc/inv.toml:{line}:" if line else "inventory /etc/inv.toml:")
    assert " a int" not in msg and "at at" not in msg
    assert err.value.exit_code == 2


def test_ssh_config_gives_user_and_port_unless_the_inventory_sets_them(home):
    (home / ".ssh" / "config").write_text(textwrap.dedent("""\
        Host 10.0.0.*
            User deploy
            Port 2200
        """))
    inv = inventory.parse(NODE.replace("'h'", "'10.0.0.5'") + "[[cluster.node]]\nname = 'y'\nhost = '10.0.0.6'\n"
                          "roles = ['nginx']\nport = 2022\nuser = 'me'\n[[cluster.node]]\nname = 'z'\n"
                          "host = '10.9.0.1'\nroles = ['nginx']\n", "i.toml")
    x, y, z = inv.nodes
    assert (x.user, x.port) == ("deploy", 2200)  # no default of 22 overrides the ssh config
    assert (y.user, y.port) == ("me", 2022)
    assert (z.user, z.port) == (None, 22)


def test_lookup_order(home, tmp_path, monkeypatch):
    explicit, env, xdg = tmp_path / "a.toml", tmp_path / "b.toml", tmp_path / "cfg"
    monkeypatch.setenv("LBCONSOLE_INVENTORY", str(env))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    assert inventory.resolve_path(str(explicit)) == explicit
    assert inventory.resolve_path(None) == env
    monkeypatch.delenv("LBCONSOLE_INVENTORY")
    assert inventory.resolve_path(None) is None  # no file under XDG: the local host
    (xdg / "lbconsole").mkdir(parents=True)
    (xdg / "lbconsole" / "inventory.toml").write_text(good(home))
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
