"""Who holds a VIP: the one rule every view and the split-brain check use.

DR real servers carry the VIP on lo on purpose, so lo never counts.
"""

from __future__ import annotations

from lbconsole.snapshot import NodeSnapshot, VrrpInstance


def vip_address(vip: str) -> str:
    """keepalived writes '10.0.0.1/24 dev eth0 scope global'; the address is the first word."""
    return vip.split()[0].split("/")[0] if vip.strip() else vip


def bound(node: NodeSnapshot) -> set[str]:
    """Addresses up on the node, lo excluded."""
    return {a.address for a in node.addresses if a.interface != "lo"}


def held_vips(node: NodeSnapshot, inst: VrrpInstance | None = None) -> list[str]:
    """The VIPs `node` holds: from its addresses, else (no address data) from MASTER state."""
    instances = (inst,) if inst is not None else node.vrrp
    wanted = [vip_address(v) for i in instances for v in i.vips]
    if node.addresses:
        up = bound(node)
        return [v for v in wanted if v in up]
    return [vip_address(v) for i in instances if i.state == "MASTER" for v in i.vips]


def family(vips: tuple[str, ...]) -> str:
    return "inet6" if any(":" in vip_address(v) for v in vips) else "inet"
