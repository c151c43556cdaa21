"""Split brain: two MASTERs for one VRID at once, or one VIP bound on two hosts at once.

"At once" is the whole rule. Two nodes are polled at different moments, so a
planned failover can show the old MASTER's last sample next to the new
MASTER's first. A pair is split brain when:
- both MASTER periods are known exactly (keepalived's last_transition up to
  the sample) and overlap by more than the clock slack; or else
- their samples are within one advert interval, or consecutive samples of
  both overlap (confirmed across polls);
- a VIP is bound (lo excluded: DR real servers carry it there) on two hosts
  that both say MASTER for it, by the same rule; or, where one does not, in
  runs of samples that overlap.

VRIDs are keyed by (vrid, address family) within a cluster, which stands for one L2 segment.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from lbconsole.analyzers import vips
from lbconsole.analyzers.samples import Run, Runs, overlap, sample_time
from lbconsole.analyzers.settings import Settings
from lbconsole.snapshot import Alert, ClusterSnapshot, NodeSnapshot, VrrpInstance


class SplitBrain:
    def __init__(self) -> None:
        self.masters = Runs()
        self.bound = Runs()

    def check(self, cluster: ClusterSnapshot, taken_at: float, settings: Settings) -> Iterator[Alert]:
        every_vip = {vips.vip_address(v) for n in cluster.nodes for i in n.vrrp for v in i.vips}
        mastering: dict[tuple[int, str], list[tuple[NodeSnapshot, VrrpInstance, Run]]] = {}
        holding: dict[str, list[tuple[NodeSnapshot, Run]]] = {}
        for node in cluster.nodes:
            at = sample_time(node, taken_at)
            insts = {(i.vrid, vips.family(i.vips)): i for i in node.vrrp
                     if i.state == "MASTER" and i.source != "addr"}
            runs = self.masters.observe(cluster.name, node.name, at, set(insts))
            up = vips.bound(node) & every_vip
            vip_runs = self.bound.observe(cluster.name, node.name, at, set(up))
            if not node.reachable:
                continue  # last known data says nothing about now
            for key, inst in insts.items():
                mastering.setdefault(key, []).append((node, inst, runs.get(key, (at, at))))
            for vip in up:
                holding.setdefault(vip, []).append((node, vip_runs.get(vip, (at, at))))
        for (vrid, _), masters in sorted(mastering.items()):
            pairs = [(a, b) for a, b in combinations(masters, 2) if _both_master(a, b, settings)]
            if pairs:
                names = sorted({f"{n.name}/{i.instance}" for p in pairs for n, i, _ in p})
                yield Alert("critical", "split_brain", f"split brain: VRID {vrid} is MASTER on {', '.join(names)}",
                            cluster.name)
        masters_of = {(n.name, v): (n, i, r) for ms in mastering.values() for n, i, r in ms
                      for v in (vips.vip_address(x) for x in i.vips)}
        for vip, holders in sorted(holding.items()):
            both = [(a, b) for a, b in combinations(holders, 2)
                    if _both_bound(a, b, masters_of.get((a[0].name, vip)), masters_of.get((b[0].name, vip)),
                                   settings)]
            if both:
                names = sorted({f"{n.name}:{_iface(n, vip)}" for p in both for n, _ in p})
                yield Alert("critical", "split_brain", f"split brain: VIP {vip} is up on {', '.join(names)}",
                            cluster.name)


def _both_master(a: tuple[NodeSnapshot, VrrpInstance, Run], b: tuple[NodeSnapshot, VrrpInstance, Run],
                 settings: Settings) -> bool:
    (_, ia, ra), (_, ib, rb) = a, b
    if ia.last_transition and ib.last_transition:
        exact_a, exact_b = (min(ra[0], ia.last_transition), ra[1]), (min(rb[0], ib.last_transition), rb[1])
        return overlap(exact_a, exact_b) > settings.clock_slack
    # Samples within one advert interval, or a later sample of one inside the other's run.
    return overlap(ra, rb) >= -settings.advert_int


def _both_bound(a: tuple[NodeSnapshot, Run], b: tuple[NodeSnapshot, Run],
                ma: tuple[NodeSnapshot, VrrpInstance, Run] | None, mb: tuple[NodeSnapshot, VrrpInstance, Run] | None,
                settings: Settings) -> bool:
    """A VIP bound on both, at once: as for MASTER when both say MASTER for it (exact times decide a
    handover); with one not MASTER for it (the address on its way in or out), only runs that overlap."""
    if ma is not None and mb is not None:
        return _both_master(ma, mb, settings)
    return overlap(a[1], b[1]) >= 0


def _iface(node: NodeSnapshot, vip: str) -> str:
    return next((a.interface for a in node.addresses if a.address == vip and a.interface != "lo"), "?")
