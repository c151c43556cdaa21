"""VRRP instances in FAULT, and VRIDs that no node is MASTER for.

"No MASTER" is only said when every node of that VRID answered: an unreachable
node may be the MASTER, and its own alert already says it cannot be seen. Nor is it
an incident while an election may still be under way: a BACKUP takes over up to
3 advert intervals plus its skew after the MASTER went quiet (at once, after the skew,
when the MASTER stepped down), so within that time of a node's last transition it is
INFO, "election under way" (a VIP removal pushed by the node shows that moment).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from lbconsole.analyzers.settings import Settings
from lbconsole.snapshot import Alert, ClusterSnapshot


def election_s(settings: Settings) -> float:
    """How long a VRID may rightly have no MASTER after a transition: keepalived's takeover, the node clocks'
    slack and one poll (the peer is seen up to a poll later than the node that stepped down)."""
    return settings.takeover_s + settings.clock_slack + settings.poll_interval


def check(cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> Iterator[Alert]:
    states: dict[int, list[str]] = defaultdict(list)
    moved: dict[int, float] = defaultdict(float)  # VRID -> the latest transition of its reachable nodes
    blind: set[int] = set()  # VRIDs with a node we cannot see now: it may well be the MASTER
    for node in cluster.nodes:
        for inst in node.vrrp:
            if node.reachable:
                states[inst.vrid].append(inst.state)
                moved[inst.vrid] = max(moved[inst.vrid], inst.last_transition)
            else:
                blind.add(inst.vrid)
            if inst.state == "FAULT" and node.reachable:
                yield Alert("critical", "vrrp_fault", f"{node.name}/{inst.instance} (VRID {inst.vrid}) is in FAULT",
                            cluster.name, node.name)
    # A director never reached (or reached with no VRRP data kept) may be the MASTER of any VRID.
    unknown = any(not n.reachable and not n.vrrp for n in cluster.directors)
    for vrid, seen in sorted(states.items()):
        if "MASTER" not in seen and vrid not in blind and not unknown:  # unreachable nodes have their own alert
            since = taken_at - moved[vrid]
            if moved[vrid] and since <= election_s(settings):
                yield Alert("info", "no_master", f"no node is MASTER for VRID {vrid} yet: an election is under way "
                                                 f"(a transition {max(since, 0.0):.1f} s ago)", cluster.name)
            else:
                yield Alert("critical", "no_master", f"no node is MASTER for VRID {vrid}", cluster.name)
