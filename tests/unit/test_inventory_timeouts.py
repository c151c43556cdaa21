"""connect_timeout and command_timeout: optional, in [defaults] or per node, generous by default."""

import pytest

from lbconsole import inventory
from lbconsole.errors import InventoryError

BASE = """
[defaults]
{defaults}

[[cluster]]
name = "prod"

[[cluster.node]]
name = "lb1"
host = "10.0.0.11"
roles = ["director"]
{node}

[[cluster.node]]
name = "lb2"
host = "10.0.0.12"
roles = ["director"]
"""


def load(defaults: str = "", node: str = "") -> inventory.Inventory:
    return inventory.parse(BASE.format(defaults=defaults, node=node))


def test_defaults_suit_a_slow_node():
    lb1 = load().find_node("lb1")
    # A session that takes 10 s to open is slow, not unreachable.
    assert lb1.connect_timeout > 10
    assert lb1.command_timeout > 10


def test_defaults_then_node_override():
    inv = load("connect_timeout = 45\ncommand_timeout = 12.5", "command_timeout = 3")
    lb1, lb2 = inv.find_node("lb1"), inv.find_node("lb2")
    assert (lb1.connect_timeout, lb1.command_timeout) == (45.0, 3.0)
    assert (lb2.connect_timeout, lb2.command_timeout) == (45.0, 12.5)


@pytest.mark.parametrize("text, want", [
    ('connect_timeout = "10"', "'connect_timeout' must be a number"),
    ("command_timeout = 0", "'command_timeout' must be above 0"),
    ("connect_timeout = -1", "'connect_timeout' must be above 0"),
])
def test_bad_timeouts_are_clear_errors(text, want):
    with pytest.raises(InventoryError, match=want) as err:
        load(node=text)
    assert "<inventory>:12:" in str(err.value)  # the line of the key
