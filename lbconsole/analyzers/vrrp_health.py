"""VRRP instances in FAULT, and VRIDs that no node is MASTER for.

"No MASTER" is only said when every node of that VRID answered: an unreachable
node may be the MASTER, and its own alert already says it cannot be seen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from lbconsole.snapshot import Alert, ClusterSnapshot


def check(cluster: ClusterSnapshot) -> Iterator[Alert]:
    states: dict[int, list[str]] = defaultdict(list)
    blind: set[int] = set()  # VRIDs with a node we cannot see now: it may well be the MASTER
    for node in cluster.nodes:
        for inst in node.vrrp:
            if node.reachable:
                states[inst.vrid].append(inst.state)
            else:
                blind.add(inst.vrid)
            if inst.state == "FAULT" and node.reachable:
                yield Alert("critical", "vrrp_fault", f"{node.name}/{inst.instance} (VRID {inst.vrid}) is in FAULT",
                            cluster.name, node.name)
    # A director never reached (or reached with no VRRP data kept) may be the MASTER of any VRID.
    unknown = any(not n.reachable and not n.vrrp for n in cluster.directors)
    for vrid, seen in sorted(states.items()):
        if "MASTER" not in seen and vrid not in blind and not unknown:  # unreachable nodes have their own alert
            yield Alert("critical", "no_master", f"no node is MASTER for VRID {vrid}", cluster.name)
