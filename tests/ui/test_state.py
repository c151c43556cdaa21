"""ConsoleState: last known data for lost nodes, ages, and bounded memory for long NOC runs."""

from __future__ import annotations

import itertools

from lbconsole.ui.state import ConsoleState
from ui import synth

T = 1_700_000_000.0


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_unreachable_node_keeps_its_last_data_marked_stale():
    clock = Clock()
    state = ConsoleState(clock=clock, poll_interval=1.0)
    state.apply(synth.lab(T))
    state.apply(synth.lose(synth.lab(T + 1), "web2"))
    before = synth.lab(T).clusters[0].node("web2")
    web2 = state.cluster.node("web2")
    assert not web2.reachable and web2.error
    assert web2.nginx == before.nginx  # the last data, kept
    assert state.is_stale(web2)
    assert state.node_age(web2) >= before.age_s + 1  # its data got older by one snapshot


def test_ages_grow_between_snapshots_and_turn_stale():
    clock = Clock()
    state = ConsoleState(clock=clock, poll_interval=1.0)
    state.apply(synth.lab(T))
    web1 = state.cluster.node("web1")
    assert not state.is_stale(web1)
    clock.now += state.stale_after + 1
    assert state.node_age(web1) > state.stale_after
    assert state.is_stale(web1)


def test_memory_is_bounded_over_a_long_run():
    state = ConsoleState(clock=Clock(), event_cap=50, history_len=30)
    for i in range(400):  # a failover every snapshot: the worst case for the event log
        flip = i % 2
        state.apply(synth.lab(T + i, lb1="BACKUP" if flip else "MASTER", lb2="MASTER" if flip else "BACKUP"))
    assert len(state.events) == 50
    assert all(len(s) <= 30 for s in state.history.series.values())
    services = {s.key for n in state.cluster.directors for s in n.ipvs}
    per_service = 2 * len(services) * len(state.cluster.directors)  # cps + active each
    assert len(state.history.series) == per_service + 2  # + the cluster totals


def test_history_drops_services_that_went_away():
    state = ConsoleState(clock=Clock())
    state.apply(synth.big(services=5, per_service=2, t=T))
    assert len(state.history.series) > 4
    state.apply(synth.lab(T + 1))
    keys = {k[2] for k in state.history.series if len(k) == 4}
    assert keys == {s.key for n in state.cluster.directors for s in n.ipvs}


def test_cluster_cycling():
    state = ConsoleState(clock=Clock())
    snap = synth.two_clusters(T)
    state.apply(snap)
    names = [state.cluster.name]
    for _ in range(len(snap.clusters)):
        names.append(state.next_cluster().name)
    assert names == [c.name for c in snap.clusters] + [snap.clusters[0].name]


def test_a_replay_learns_the_poll_interval_from_the_recording(lab_snapshots):
    state = ConsoleState(clock=Clock(), poll_interval=None)
    for snap in lab_snapshots[:16]:
        state.apply(snap)
    gaps = sorted(b.taken_at - a.taken_at for a, b in itertools.pairwise(lab_snapshots))
    assert gaps[0] <= state.poll_interval <= gaps[-1]
    assert ConsoleState(poll_interval=5.0).poll_interval == 5.0


def test_drain_progress_records_when_connections_reached_zero():
    from lbconsole.snapshot import Drain

    state = ConsoleState(clock=Clock())
    drain = Drain("kernel upgrade", "ops@host", T, 100)
    state.apply(synth.lab(T + 1, drain=drain, weights=(0, 100, 100), active=(4, 2, 1)))
    assert state.drained_at == {}  # still 4 connections on it
    state.apply(synth.lab(T + 5, drain=drain, weights=(0, 100, 100), active=(0, 2, 1)))
    key = ("lab", f"{synth.VIP}:80", f"{synth.RS[0]}:80")
    assert state.drained_at == {key: T + 5}
    state.apply(synth.lab(T + 6, drain=drain, weights=(0, 100, 100), active=(0, 2, 1)))
    assert state.drained_at[key] == T + 5  # the first time it was seen at 0
    state.apply(synth.lab(T + 7))
    assert state.drained_at == {}  # undrained: forgotten
