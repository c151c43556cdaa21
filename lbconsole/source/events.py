"""A pushed event applied to a node's last snapshot at once, before the re-read it also triggers.

A VIP added or removed (`addr`) and keepalived stopped (`keepalived`) change the node's addresses
and, by the same rule `assemble.infer_vrrp` uses for a director without a dump (holding a VIP on a
non-lo interface: MASTER, else BACKUP; keepalived stopped: STOP), its VRRP instances' state, marked
`source = "addr"` (learnt from addresses: the split-brain rule does not count such a MASTER, only
the VIP bound, by overlapping runs). The result is a sample at the event's time (node clock); the
re-read that follows replaces it. Anything malformed is ignored: the re-read still comes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lbconsole.analyzers import vips
from lbconsole.snapshot import Address, NodeSnapshot, VrrpInstance

FAMILIES = ("inet", "inet6")


def apply(snap: NodeSnapshot, event: dict[str, Any]) -> NodeSnapshot | None:
    """The snapshot with the event applied, or None (nothing to apply, or not trusted to)."""
    at, data = event.get("at"), event.get("data")
    if not snap.reachable or snap.updated_at is None or not isinstance(data, dict):
        return None
    if isinstance(at, bool) or not isinstance(at, (int, float)) or (snap.sampled_at and at <= snap.sampled_at):
        return None  # the sample already has it
    kind = event.get("event")
    if kind == "addr":
        got = _addr(snap, data, float(at))
    elif kind == "keepalived" and data.get("running") is False:
        got = replace(snap, keepalived_running=False,
                      vrrp=tuple(replace(i, state="STOP", source="addr", last_transition=float(at)) for i in snap.vrrp))
    else:
        return None
    return None if got is None else replace(got, sampled_at=float(at))


def _addr(snap: NodeSnapshot, data: dict[str, Any], at: float) -> NodeSnapshot | None:
    action, iface, address, family = (data.get(k) for k in ("action", "interface", "address", "family"))
    if action not in ("add", "del") or family not in FAMILIES or not isinstance(iface, str) \
            or not isinstance(address, str) or not iface or not address:
        return None
    kept = tuple(a for a in snap.addresses if not (a.interface == iface and a.address == address))
    addresses = (*kept, Address(iface, address, str(family))) if action == "add" else kept
    node = replace(snap, addresses=addresses)
    if node.keepalived_running is False:
        return node
    up = vips.bound(node)
    return replace(node, vrrp=tuple(_state(i, up, address, at) for i in snap.vrrp))


def _state(inst: VrrpInstance, up: set[str], changed: str, at: float) -> VrrpInstance:
    mine = {vips.vip_address(v) for v in inst.vips}
    if changed not in mine:
        return inst  # not this instance's VIP
    state = "MASTER" if up & mine else "BACKUP"
    return inst if state == inst.state else replace(inst, state=state, source="addr", last_transition=at)
