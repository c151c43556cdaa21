"""Split brain: two MASTERs for one VRID, or one VIP up on two nodes.

VRIDs are keyed by (vrid, address family) within a cluster, which stands for
one L2 segment. DR real servers carry the VIP on lo on purpose, so lo is never
counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from lbconsole.snapshot import Alert, ClusterSnapshot


def _family(vips: tuple[str, ...]) -> str:
    return "inet6" if any(":" in v for v in vips) else "inet"


def check(cluster: ClusterSnapshot, poll_interval: float) -> Iterator[Alert]:
    masters: dict[tuple[int, str], list[str]] = defaultdict(list)
    vips: set[str] = set()
    for node in cluster.nodes:
        if not node.reachable:
            continue
        for inst in node.vrrp:
            vips.update(inst.vips)
            if inst.state == "MASTER" and inst.source != "addr":
                masters[(inst.vrid, _family(inst.vips))].append(f"{node.name}/{inst.instance}")
    for (vrid, _), holders in sorted(masters.items()):
        if len(holders) > 1:
            yield Alert("critical", "split_brain",
                        f"split brain: VRID {vrid} is MASTER on {', '.join(holders)}", cluster.name)
    holders_by_vip: dict[str, list[str]] = defaultdict(list)
    for node in cluster.nodes:
        if not node.reachable:
            continue
        for addr in node.addresses:
            if addr.interface != "lo" and addr.address in vips:
                holders_by_vip[addr.address].append(f"{node.name}:{addr.interface}")
    for vip, holders in sorted(holders_by_vip.items()):
        if len(holders) > 1:
            yield Alert("critical", "split_brain",
                        f"split brain: VIP {vip} is up on {', '.join(holders)}", cluster.name)
