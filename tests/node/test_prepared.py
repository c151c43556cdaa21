"""Prepared snapshots on a real node (namespaces made here, the installed program over a session):
a poll answered from a sample taken ahead on the console's cadence, never older than the request
accepts, and retaken after a watch event."""

from __future__ import annotations

import time

from node.nodeenv import start_installed


def _snap(s, **extra) -> tuple[dict, float, float]:
    """(result, when sent, when answered)."""
    sent = time.time()
    r = s.request("snapshot", {"roles": [], **extra})
    assert r["ok"], r
    return r["result"], sent, time.time()


def test_a_prepared_sample_is_shared_and_never_older_than_asked(node, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    first, _, _ = _snap(s, interval=30, max_age=5)
    again, _, _ = _snap(s, interval=30, max_age=5)
    assert again["sampled_at"] == first["sampled_at"]  # the ready sample, not a new reading
    assert again["sample_age"] >= first["sample_age"] >= 0
    fresh, sent, answered = _snap(s, interval=30, max_age=0)
    assert fresh["sampled_at"] >= sent - 0.001  # max_age 0: a reading started after the request
    time.sleep(0.05)
    event_at = time.time()
    after, _, _ = _snap(s, interval=30, max_age=5, after=event_at)
    assert after["sampled_at"] >= event_at  # nothing from before the time asked for (an event's)
    plain1, _, _ = _snap(s)
    plain2, sent, _ = _snap(s)
    assert "sample_age" not in plain2 and plain2["sampled_at"] >= sent - 0.001  # no max_age: sampled now


def test_samples_are_taken_ahead_on_the_cadence(node, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    interval, max_age = 0.5, 0.4
    ahead = 0
    previous = None
    for _ in range(12):
        result, sent, answered = _snap(s, interval=interval, max_age=max_age)
        # The tolerance: the reading started at most max_age before the request arrived.
        assert result["sampled_at"] >= sent - max_age - 0.01
        assert result["sample_age"] <= max_age + (answered - sent) + 0.01
        assert abs((answered - result["sample_age"]) - result["sampled_at"]) < 0.2
        if previous is not None and result["sampled_at"] < sent and result["sampled_at"] > previous:
            ahead += 1  # a new sample, read before this request was sent: prepared on the cadence
        previous = result["sampled_at"]
        time.sleep(max(0.0, interval - (time.time() - sent)))
    assert ahead >= 6, f"only {ahead} of 11 polls had a sample prepared ahead"


def test_a_watch_event_makes_the_agent_retake(node, program_file, sessions):
    node.add_link()
    s = start_installed(node, program_file)
    sessions.append(s)
    s.request("watch")
    before, _, _ = _snap(s, interval=60, max_age=60)
    node.run(["ip", "addr", "add", "10.98.0.100/32", "dev", "eth0"])
    ev = s.event(where=lambda e: e["event"] == "addr" and e["data"]["address"] == "10.98.0.100")
    # Same args, a huge max_age and no `after`: the node itself knows its ready sample is out of date.
    got, _, _ = _snap(s, interval=60, max_age=60)
    assert got["sampled_at"] >= ev["at"] > before["sampled_at"]
    assert any(a["address"] == "10.98.0.100" for a in got["addresses"])


def test_bad_cadence_args_are_refused(node, program_file, sessions):
    s = start_installed(node, program_file)
    sessions.append(s)
    for args in ({"max_age": -1}, {"max_age": "1"}, {"interval": 0}, {"interval": True, "max_age": 1},
                 {"after": "now", "max_age": 1}, {"after": time.time() + 60, "max_age": 1}):
        r = s.request("snapshot", {"roles": [], **args})
        assert not r["ok"] and r["error"]["code"] == "bad_request", (args, r)
