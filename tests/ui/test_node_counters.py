"""The node screen's VRRP counters: only keepalived's JSON dump has them; a 0 from elsewhere is unknown, not calm."""

from __future__ import annotations

from lbconsole.snapshot import VrrpInstance
from lbconsole.ui.screens.node import NodeScreen


def test_counters_from_the_json_dump_are_shown_and_failures_stand_out() -> None:
    inst = VrrpInstance("VI_1", 51, "MASTER", adverts_rcvd=3, adverts_sent=120, auth_failures=2, source="json")
    assert NodeScreen._counters(inst) == [("3/120", "muted"), ("2", "bad")]


def test_counters_keepalived_did_not_give_are_unknown() -> None:
    for source in ("data", "addr"):
        inst = VrrpInstance("VI_1", 51, "BACKUP", source=source)  # the node sends 0 for what it could not read
        assert [text for text, _ in NodeScreen._counters(inst)] == ["?", "?"]
