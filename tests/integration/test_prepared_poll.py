"""The console's side of prepared samples, with the real agent in-process (host = "local"): a poll on
a cadence is answered from a sample taken ahead, and the node's age counts from when that sample
was read, not from when it arrived (staleness never shows an old sample as fresh)."""

from __future__ import annotations

import time

from lbconsole.analyzers.staleness import is_stale
from lbconsole.collectors import node as collector
from lbconsole.inventory import NodeConfig
from lbconsole.source.cadence import cadence, max_age
from lbconsole.transport import session_for

NODE = NodeConfig("here", "local", ("nginx",), "local", nginx_status_url="http://127.0.0.1:9/nginx_status")


async def test_a_reused_sample_keeps_its_age():
    session = session_for(NODE)
    try:
        first = await collector.collect(NODE, session, cadence=cadence(60.0))
        time.sleep(0.3)
        asked = time.time()
        second = await collector.collect(NODE, session, first, cadence=cadence(60.0))
    finally:
        await session.close()
    assert second.sampled_at == first.sampled_at  # the same prepared sample
    # Its age counts from the reading, not from this answer: >= the 0.3 s waited.
    assert second.updated_at <= asked - 0.3 + 0.01
    assert second.updated_at <= second.sampled_at + 0.01  # one clock here: never newer than the reading
    assert not is_stale(second, time.time() - second.updated_at, 1.0)
    # The same sample again gives the same rates, not zero.
    assert second.host_stats == first.host_stats


async def test_after_an_event_only_a_newer_sample_is_taken():
    session = session_for(NODE)
    try:
        first = await collector.collect(NODE, session, cadence=cadence(60.0))
        event_at = time.time()
        second = await collector.collect(NODE, session, first, cadence=cadence(60.0, after=event_at))
    finally:
        await session.close()
    assert second.sampled_at >= event_at > first.sampled_at


def test_the_tolerance_is_half_an_interval_at_most_the_dump_age():
    assert max_age(1.0) == 0.5 and max_age(10.0) == collector.DUMP_MAX_AGE_S
    assert cadence(None) is None and cadence(0) is None
    assert cadence(2.0, after=5.0) == {"interval": 2.0, "max_age": 1.0, "after": 5.0}
