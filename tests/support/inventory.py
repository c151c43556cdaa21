"""Small inventories for tests: the TOML of defaults, a cluster and its nodes, written where a command loads it.

    text = cluster_table("c", node_table("web1", "local", "nginx"), read_only=True)
    path = write_inventory(tmp_path / "inventory.toml", text)

A table is its lines with no blank line between them, so a test can count the line of a key.
"""

from __future__ import annotations

import json
from pathlib import Path


def toml_value(v: object) -> str:
    """JSON's strings, numbers, booleans and lists of them are TOML values too."""
    return json.dumps(v)


def table(header: str, keys: dict[str, object]) -> str:
    return "\n".join([header, *(f"{k} = {toml_value(v)}" for k, v in keys.items())]) + "\n"


def defaults_table(**keys: object) -> str:
    return table("[defaults]", keys)


def node_table(name: str, host: str, *roles: str, **keys: object) -> str:
    """One [[cluster.node]]; `keys` are further node keys (port, sudo, connect_timeout...)."""
    return table("[[cluster.node]]", {"name": name, "host": host, "roles": list(roles), **keys})


def cluster_table(name: str, *nodes: str, read_only: bool = False, **keys: object) -> str:
    """One [[cluster]] (read_only only when set), then its nodes."""
    head = table("[[cluster]]", {"name": name, **({"read_only": True} if read_only else {}), **keys})
    return head + "".join(nodes)


def write_inventory(path: Path, *tables: str) -> str:
    """The tables written to `path`; returns it as the string `--inventory` takes."""
    path.write_text("".join(tables))
    return str(path)
