"""/metrics from real lab snapshots (the demo recording): names, labels, values; hostile label values."""

from __future__ import annotations

from dataclasses import replace

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from lbconsole.serve.hub import Hub
from lbconsole.serve.metrics import exposition, registry_for
from lbconsole.snapshot import Alert, Drain, Snapshot
from lbconsole.source import recording
from lbconsole.ui.run import demo_recording

OPENMETRICS = "application/openmetrics-text; version=1.0.0"
HOSTILE = ('"}\n# EOF\nfake_metric{a="b"} 1', "back\\slash\\", "\x1b[31mred\x1b[0m", "snow☃ \t tab", "{}=,")


def scrape(snapshot: Snapshot, accept: str = "") -> tuple[str, list]:
    hub = Hub(2.0)
    hub.publish(snapshot)
    body, content_type = exposition(registry_for(hub, clock=lambda: snapshot.taken_at + 1), accept)
    text = body.decode()
    parse = parse_openmetrics if "openmetrics" in content_type else parse_text
    return text, [s for fam in parse(text) for s in fam.samples]


@pytest.fixture(scope="module")
def lab_snapshots() -> list[Snapshot]:
    return recording.read_all(demo_recording())


@pytest.mark.parametrize("accept", ["", OPENMETRICS])
def test_every_real_server_vrrp_instance_and_nginx_node(lab_snapshots: list[Snapshot], accept: str) -> None:
    for snap in lab_snapshots[::10]:
        _, found = scrape(snap, accept)
        keys = [(s.name, tuple(sorted(s.labels.items()))) for s in found]
        assert len(keys) == len(set(keys)), "a series is exposed twice"
        by_name: dict[str, list] = {}
        for s in found:
            by_name.setdefault(s.name, []).append(s)
        nodes = [(c.name, n) for c in snap.clusters for n in c.nodes if n.reachable]
        rs = [(c, n, svc, r) for c, n in nodes for svc in n.ipvs for r in svc.real_servers]
        assert len(by_name.get("node_ipvs_backend_weight", [])) == len(rs)
        for cluster, node, svc, r in rs:
            labels = {"cluster": cluster, "node": node.name, "local_address": svc.address, "local_port": str(svc.port),
                      "remote_address": r.address, "remote_port": str(r.port), "proto": svc.protocol,
                      "local_mark": ""}
            for name, value in (("node_ipvs_backend_weight", r.weight),
                                ("node_ipvs_backend_connections_active", r.active_conns),
                                ("node_ipvs_backend_connections_inactive", r.inactive_conns),
                                ("lbconsole_ipvs_backend_connections_total", r.stats.conns),
                                ("lbconsole_ipvs_backend_incoming_bytes_total", r.stats.inbytes),
                                ("lbconsole_ipvs_backend_connections_per_second", r.rates.cps)):
                assert [s.value for s in by_name[name] if s.labels == labels] == [value], (name, labels)
            drains = [s for s in by_name.get("lbconsole_drain", []) if s.labels["remote_address"] == r.address
                      and s.labels["node"] == node.name and s.labels["local_port"] == str(svc.port)]
            assert [s.value for s in drains] == ([r.drain.since] if r.drain else [])
        codes = {"MASTER": 2, "BACKUP": 1, "FAULT": 3, "STOP": 98, "INIT": 0}
        for _cluster, node in nodes:
            for inst in node.vrrp:
                got = [s for s in by_name["keepalived_vrrp_state"]
                       if s.labels["node"] == node.name and s.labels["iname"] == inst.instance]
                assert got and {s.value for s in got} == {codes[inst.state]}
                assert {s.labels["ip_address"] for s in got} == set(inst.vips)
            if node.nginx is not None:
                req = [s.value for s in by_name["nginx_http_requests_total"] if s.labels["node"] == node.name]
                assert req == [node.nginx.requests]


def test_drained_real_server_carries_its_reason(lab_snapshots: list[Snapshot]) -> None:
    drained = next(s for s in lab_snapshots if any(r.drain for c in s.clusters for n in c.nodes for v in n.ipvs
                                                   for r in v.real_servers))
    _, found = scrape(drained)
    drains = [s for s in found if s.name == "lbconsole_drain"]
    assert drains and {s.labels["reason"] for s in drains} == {"kernel upgrade (OPS-1234)"}


def test_an_unreachable_node_exports_up_0_and_no_stale_data(lab_snapshots: list[Snapshot]) -> None:
    snap = lab_snapshots[0]
    cluster = snap.clusters[0]
    lost = replace(snap, clusters=(replace(cluster, nodes=tuple(
        replace(n, reachable=False, error="timeout") if n.name == "lb1" else n for n in cluster.nodes)),))
    _, found = scrape(lost)
    assert [s.value for s in found if s.name == "lbconsole_node_up" and s.labels["node"] == "lb1"] == [0]
    assert not [s for s in found if s.name.startswith(("node_ipvs", "keepalived")) and s.labels["node"] == "lb1"]
    assert [s for s in found if s.name == "node_ipvs_backend_weight" and s.labels["node"] == "lb2"]


@pytest.mark.parametrize("accept", ["", OPENMETRICS])
@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_strings_from_nodes_stay_label_values(lab_snapshots: list[Snapshot], accept: str, evil: str) -> None:
    snap = next(s for s in lab_snapshots if any(r.drain for c in s.clusters for n in c.nodes for v in n.ipvs
                                                for r in v.real_servers))
    cluster = snap.clusters[0]
    bad_drain = Drain(reason=evil, by=evil, since=1.0)
    nodes = []
    for n in cluster.nodes:
        ipvs = tuple(replace(v, real_servers=tuple(replace(r, drain=bad_drain) for r in v.real_servers))
                     for v in n.ipvs)
        vrrp = tuple(replace(i, instance=evil, interface=evil, vips=(evil,)) for i in n.vrrp)
        nodes.append(replace(n, ipvs=ipvs, vrrp=vrrp))
    hostile = replace(snap, clusters=(replace(cluster, name=evil, nodes=tuple(nodes)),),
                      alerts=(Alert("critical", evil, evil, evil, evil),))
    text, found = scrape(hostile, accept)
    assert not [s for s in found if s.name.startswith("fake_metric")]
    if accept:
        assert text.splitlines().count("# EOF") == 1 and text.endswith("\n# EOF\n")
    assert all(line.startswith(("# HELP", "# TYPE", "# EOF")) or line[:1].isalpha() for line in text.splitlines())
    assert {s.labels["cluster"] for s in found if "cluster" in s.labels} == {evil}
    assert {s.labels["reason"] for s in found if s.name == "lbconsole_drain"} == {evil}
    assert {s.labels["iname"] for s in found if s.name == "keepalived_vrrp_state"} == {evil}
    assert [s.labels["kind"] for s in found if s.name == "lbconsole_alert"] == [evil]


def test_text_that_is_not_utf8_cannot_break_a_scrape(lab_snapshots: list[Snapshot]) -> None:
    snap = lab_snapshots[0]
    cluster = snap.clusters[0]
    broken = replace(snap, clusters=(replace(cluster, name="bad\udcffname"),))
    _, found = scrape(broken)
    assert {s.labels["cluster"] for s in found if "cluster" in s.labels} == {"bad?name"}


def test_counters_keepalived_did_not_give_are_absent_not_zero(lab_snapshots: list[Snapshot]) -> None:
    """keepalived's data dump (a build without JSON) has no advert or auth-failure counters: no series, not 0."""
    snap = lab_snapshots[0]
    cluster = snap.clusters[0]
    lb1 = next(n for n in cluster.nodes if n.name == "lb1")
    assert lb1.vrrp and all(i.source == "json" for i in lb1.vrrp)
    from_data = replace(lb1, vrrp=tuple(replace(i, source="data", adverts_rcvd=0, auth_failures=0) for i in lb1.vrrp))
    _, found = scrape(replace(snap, clusters=(replace(cluster, nodes=tuple(
        from_data if n.name == "lb1" else n for n in cluster.nodes)),)))

    def series(name: str, node: str) -> list:
        return [s for s in found if s.name.startswith(name) and s.labels.get("node") == node]
    assert series("keepalived_vrrp_state", "lb1") and series("keepalived_vrrp_state", "lb2")
    for name in ("keepalived_advertisements_received", "keepalived_authentication_failure"):
        assert not series(name, "lb1"), name
        assert series(name, "lb2"), name
