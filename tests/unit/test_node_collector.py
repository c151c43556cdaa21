"""The node collector on real poll output captured from the lab, and on garbage."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lbconsole.collectors import node as collector
from lbconsole.collectors import script
from lbconsole.inventory import NodeConfig
from lbconsole.transport.base import CommandResult, Transport, TransportError

FIXTURES = Path(__file__).parents[1] / "fixtures"
LB1 = NodeConfig("lb1", "10.99.0.11", ("director",), "lab")
WEB1 = NodeConfig("web1", "10.99.0.21", ("nginx",), "lab")


class Canned(Transport):
    """Hands back one recorded output: the transport is not what these tests are about."""

    def __init__(self, node, stdout="", error=None, status=0):
        super().__init__(node)
        self.stdout, self.error, self.status = stdout, error, status

    async def run(self, script_text, timeout=10.0, stdin=None):
        if self.error:
            raise TransportError(self.error)
        return CommandResult(self.stdout, "", self.status)


async def collect(node, text):
    return await collector.collect(node, Canned(node, text))


async def test_director_poll_output_from_the_lab():
    snap = await collect(LB1, (FIXTURES / "poll_lb1.txt").read_text())
    assert snap.reachable and snap.error is None
    assert [s.key for s in snap.ipvs] == ["10.99.0.100:80", "10.99.0.100:8080"]
    assert [rs.key for rs in snap.ipvs[0].real_servers] == ["10.99.0.21:80", "10.99.0.22:80", "10.99.0.23:80"]
    assert snap.ipvs[1].persistent and snap.ipvs[1].persistence_timeout == 300
    (vi,) = snap.vrrp
    assert (vi.instance, vi.vrid, vi.state, vi.priority, vi.vips) == ("VI_1", 51, "MASTER", 150, ("10.99.0.100",))
    assert any(a.address == "10.99.0.100" and a.interface != "lo" for a in snap.addresses)
    assert snap.host_stats.mem_total > 0 and snap.nginx is None and snap.keepalived_running


async def test_nginx_poll_output_and_rates():
    text = (FIXTURES / "poll_web1.txt").read_text()
    first = await collect(WEB1, text)
    assert first.nginx is not None and first.ipvs == () and first.vrrp == ()
    # The same node 2 s later with 50 more requests: the rate comes from the counter delta.
    bumped = first.nginx.requests + 50
    later = await collect(WEB1, text.replace(f" {first.nginx.requests} \n", f" {bumped} \n"))
    second = collector.with_rates(replace(later, sampled_at=first.sampled_at + 2), first)
    assert second.nginx.requests == bumped and second.nginx.requests_per_s == 25.0
    # A counter that went down is a restart, not a negative rate.
    assert collector.with_rates(replace(first, sampled_at=first.sampled_at + 2), second).nginx.requests_per_s == 0


async def test_one_broken_section_does_not_hide_the_others():
    text = (FIXTURES / "poll_lb1.txt").read_text()
    sections = script.split(text)
    broken = text.replace(sections["ipvs"].text, "IP Virtual Server version 1.2.1\nTCP  garbage here\n")
    snap = await collect(LB1, broken)
    assert snap.reachable and snap.ipvs == () and snap.error.startswith("ipvs:")
    assert snap.vrrp and snap.vrrp[0].state == "MASTER"


async def test_unreachable_keeps_previous_data():
    good = await collect(LB1, (FIXTURES / "poll_lb1.txt").read_text())
    lost = await collector.collect(LB1, Canned(LB1, error="10.99.0.11:22: cannot connect: refused"), good)
    assert not lost.reachable and lost.ipvs == good.ipvs and "refused" in lost.error


async def test_sudo_failure_is_a_clear_error():
    snap = await collector.collect(LB1, Canned(LB1, "sudo: a password is required\n", status=1))
    assert not snap.reachable and "sudo: a password is required" in snap.error


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.sampled_from(["host", "addr", "ipvs", "vrrp", "nginx", "drains"]))
def test_garbage_in_any_section_never_raises(garbage, section):
    text = f"@@LBC {section}\n{garbage}\n@@LBC-RC 0\n"
    node = NodeConfig("n", "h", ("director", "nginx"), "c")
    snap = asyncio.run(collector.collect(node, Canned(node, text)))
    assert snap.reachable  # it answered; what it said is judged per section


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=4692))
def test_cut_off_output_never_raises(cut):
    text = (FIXTURES / "poll_lb1.txt").read_text()[:cut]
    snap = asyncio.run(collect(LB1, text))
    if "@@LBC-RC" not in text:
        assert snap.ipvs == () and snap.vrrp == ()
