"""/metrics: the hub's latest snapshot as Prometheus metrics, through prometheus_client.

Names follow what users already graph where the meaning is the same: node_exporter's IPVS
backend series, the keepalived exporters' `keepalived_vrrp_state`, nginx-prometheus-exporter's
`nginx_*`. Every node-level series carries `cluster` and `node`. The exposition (text 0.0.4 or
OpenMetrics, by the scraper's Accept header) and its escaping are the library's.

An unreachable node exports only `lbconsole_node_up 0` and its data age: its last data is not
presented as current.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    UnknownMetricFamily,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry

from lbconsole.serve.hub import Hub
from lbconsole.snapshot import (
    ClusterSnapshot,
    NodeSnapshot,
    RealServer,
    Service,
    Snapshot,
)

# keepalived's own numbers (its JSON dump and SNMP MIB), as the keepalived exporters report them.
VRRP_STATE_CODE = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 98}
NODE = ["cluster", "node"]
BACKEND = NODE + ["local_address", "local_port", "remote_address", "remote_port", "proto", "local_mark"]
VRRP = NODE + ["iname", "intf", "vrid", "ip_address"]
INSTANCE = NODE + ["iname", "intf", "vrid"]


def _text(value: object) -> str:
    """A label value from a node is data: any text, made valid UTF-8 (the library escapes the rest)."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def backend_labels(node: NodeSnapshot, cluster: str, svc: Service, rs: RealServer) -> list[str]:
    """node_exporter's labels: a fwmark service has no local address, port 0, and its mark in /proc's hex."""
    mark = f"{svc.fwmark:08X}" if svc.protocol == "FWM" and svc.fwmark is not None else ""
    return [_text(cluster), _text(node.name), _text(svc.address or ""), str(svc.port or 0), _text(rs.address),
            str(rs.port), _text(svc.protocol), mark]


class _Families:
    def __init__(self) -> None:
        self.all: list[Metric] = []

    def gauge(self, name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
        fam = GaugeMetricFamily(name, doc, labels=labels)
        self.all.append(fam)
        return fam

    def counter(self, name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
        fam = CounterMetricFamily(name, doc, labels=labels)
        self.all.append(fam)
        return fam

    def untyped(self, name: str, doc: str, labels: list[str]) -> UnknownMetricFamily:
        # nginx-prometheus-exporter's counters without _total: the client library would append it.
        fam = UnknownMetricFamily(name, doc, labels=labels)
        self.all.append(fam)
        return fam


class SnapshotCollector(Collector):
    def __init__(self, hub: Hub, clock: Callable[[], float] = time.time):
        self.hub = hub
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        f = _Families()
        now = self.clock()
        self._serve(f, now)
        snap = self.hub.snapshot
        if snap is not None:
            self._nodes(f, snap.clusters, now)
            self._alerts(f, snap)
        yield from f.all

    def _serve(self, f: _Families, now: float) -> None:
        f.gauge("lbconsole_serve_viewers", "Viewers attached to /events", []).add_metric([], len(self.hub.viewers))
        f.counter("lbconsole_serve_dropped_frames", "Frames replaced before a slow viewer read them",
                  []).add_metric([], self.hub.dropped_total)
        snap = self.hub.snapshot
        f.gauge("lbconsole_snapshot_timestamp_seconds", "When the newest snapshot was assembled", []).add_metric(
            [], snap.taken_at if snap else 0)

    def _nodes(self, f: _Families, clusters: tuple[ClusterSnapshot, ...], now: float) -> None:
        up = f.gauge("lbconsole_node_up", "1 if the node answered its last poll", NODE)
        age = f.gauge("lbconsole_node_data_age_seconds", "Age of the node's newest data (NaN: never reached)", NODE)
        role = f.gauge("lbconsole_node_role", "The node's roles in the inventory (always 1)", NODE + ["role"])
        for cluster in clusters:
            for node in cluster.nodes:
                labels = [_text(cluster.name), _text(node.name)]
                up.add_metric(labels, 1 if node.reachable else 0)
                for name in dict.fromkeys(node.roles):
                    role.add_metric(labels + [_text(name)], 1)
                age.add_metric(labels, max(0.0, now - node.updated_at) if node.updated_at else float("nan"))
        reachable = [(c.name, n) for c in clusters for n in c.nodes if n.reachable]
        self._ipvs(f, reachable)
        self._vrrp(f, reachable)
        self._nginx(f, reachable)

    def _ipvs(self, f: _Families, nodes: list[tuple[str, NodeSnapshot]]) -> None:
        weight = f.gauge("node_ipvs_backend_weight", "The current backend weight.", BACKEND)
        active = f.gauge("node_ipvs_backend_connections_active", "The current active connections by local and "
                         "remote address.", BACKEND)
        inactive = f.gauge("node_ipvs_backend_connections_inactive", "The current inactive connections by local "
                           "and remote address.", BACKEND)
        counters = {field: f.counter(f"lbconsole_ipvs_backend_{name}", f"IPVS {what} to this real server", BACKEND)
                    for field, name, what in (("conns", "connections", "connections scheduled"),
                                              ("inpkts", "incoming_packets", "incoming packets"),
                                              ("outpkts", "outgoing_packets", "outgoing packets"),
                                              ("inbytes", "incoming_bytes", "incoming bytes"),
                                              ("outbytes", "outgoing_bytes", "outgoing bytes"))}
        cps = f.gauge("lbconsole_ipvs_backend_connections_per_second", "IPVS's connection rate estimate", BACKEND)
        drain = f.gauge("lbconsole_drain", "A recorded drain; the value is when it began (unix seconds)",
                        BACKEND + ["reason", "by"])
        for cluster, node in nodes:
            for svc in node.ipvs:
                for rs in svc.real_servers:
                    labels = backend_labels(node, cluster, svc, rs)
                    weight.add_metric(labels, rs.weight)
                    active.add_metric(labels, rs.active_conns)
                    inactive.add_metric(labels, rs.inactive_conns)
                    for field, fam in counters.items():
                        fam.add_metric(labels, getattr(rs.stats, field))
                    cps.add_metric(labels, rs.rates.cps)
                    if rs.drain is not None:
                        drain.add_metric(labels + [_text(rs.drain.reason), _text(rs.drain.by)], rs.drain.since)

    def _vrrp(self, f: _Families, nodes: list[tuple[str, NodeSnapshot]]) -> None:
        kup = f.gauge("keepalived_up", "1 if keepalived runs on the director", NODE)
        state = f.gauge("keepalived_vrrp_state", "State of the VRRP instance: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, "
                        "98 STOP", VRRP)
        prio = f.gauge("lbconsole_vrrp_priority", "Configured VRRP priority", INSTANCE)
        eff = f.gauge("lbconsole_vrrp_effective_priority", "Effective VRRP priority (after tracking)", INSTANCE)
        rcvd = f.counter("keepalived_advertisements_received", "Advertisements received", INSTANCE)
        sent = f.counter("keepalived_advertisements_sent", "Advertisements sent", INSTANCE)
        became = f.counter("keepalived_become_master", "Times this instance became MASTER", INSTANCE)
        auth = f.counter("keepalived_authentication_failure", "VRRP authentication failures", INSTANCE)
        for cluster, node in nodes:
            base = [_text(cluster), _text(node.name)]
            if node.has_role("director") and node.keepalived_running is not None:
                kup.add_metric(base, 1 if node.keepalived_running else 0)
            seen: set[tuple[str, ...]] = set()
            for inst in node.vrrp:
                ilabels = base + [_text(inst.instance), _text(inst.interface), str(inst.vrid)]
                if tuple(ilabels) in seen:
                    continue
                seen.add(tuple(ilabels))
                for vip in dict.fromkeys(inst.vips or ("",)):
                    state.add_metric(ilabels + [_text(vip)], VRRP_STATE_CODE.get(inst.state, -1))
                if inst.source == "addr":
                    continue  # inferred from addresses: keepalived gave no numbers
                prio.add_metric(ilabels, inst.priority)
                eff.add_metric(ilabels, inst.effective_priority)
                if inst.source != "json":
                    continue  # keepalived's data dump has no counters: absent, not 0
                rcvd.add_metric(ilabels, inst.adverts_rcvd)
                sent.add_metric(ilabels, inst.adverts_sent)
                became.add_metric(ilabels, inst.become_master)
                auth.add_metric(ilabels, inst.auth_failures)

    def _nginx(self, f: _Families, nodes: list[tuple[str, NodeSnapshot]]) -> None:
        nup = f.gauge("nginx_up", "Status of the last stub_status fetch (1 answered)", NODE)
        accepted = f.untyped("nginx_connections_accepted", "Accepted client connections", NODE)
        handled = f.untyped("nginx_connections_handled", "Handled client connections", NODE)
        gauges = {name: f.gauge(f"nginx_connections_{name}", f"Client connections {name}", NODE)
                  for name in ("active", "reading", "writing", "waiting")}
        requests = f.counter("nginx_http_requests", "Total http requests", NODE)
        rps = f.gauge("lbconsole_nginx_requests_per_second", "Requests per second between two polls", NODE)
        for cluster, node in nodes:
            if not node.has_role("nginx"):
                continue
            labels = [_text(cluster), _text(node.name)]
            ng = node.nginx
            nup.add_metric(labels, 0 if ng is None else 1)
            if ng is None:
                continue
            accepted.add_metric(labels, ng.accepts)
            handled.add_metric(labels, ng.handled)
            for name, fam in gauges.items():
                fam.add_metric(labels, getattr(ng, name))
            requests.add_metric(labels, ng.requests)
            rps.add_metric(labels, ng.requests_per_s)

    def _alerts(self, f: _Families, snap: Snapshot) -> None:
        fam = f.gauge("lbconsole_alert", "Alerts raised by lbconsole's analyzers (value: how many)",
                      ["kind", "severity", "cluster", "node"])
        counts: dict[tuple[str, str, str, str], int] = {}
        for a in snap.alerts:
            key = (_text(a.kind), _text(a.severity), _text(a.cluster or ""), _text(a.node or ""))
            counts[key] = counts.get(key, 0) + 1
        for key, n in sorted(counts.items()):
            fam.add_metric(list(key), n)


def registry_for(hub: Hub, clock: Callable[[], float] = time.time) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(hub, clock))
    ProcessCollector(registry=registry)  # the serve's own CPU, memory and open files
    return registry


def exposition(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """The body and content type the scraper asked for (OpenMetrics or text 0.0.4)."""
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type
