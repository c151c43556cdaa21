"""A real serve process on loopback, fed by a real poller: /snapshot, /metrics, /events, /healthz."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text
from serve.conftest import CHECKOUT, Serve


def shape(doc: object) -> object:
    """The document's structure: keys and nesting, not the values that change between polls."""
    if isinstance(doc, dict):
        return {k: shape(v) for k, v in doc.items() if k not in ("alerts",)}
    if isinstance(doc, list):
        return [shape(doc[0])] if doc else []
    return type(doc).__name__ if doc is not None else None


def status_json(inventory: Path) -> dict:
    out = subprocess.run([sys.executable, "-m", "lbconsole", "status", "--json", "--inventory", str(inventory)],
                         cwd=CHECKOUT, capture_output=True, text=True, timeout=60, check=False)
    return json.loads(out.stdout)


def samples(text: str, parse=parse_text) -> dict[str, list]:
    out: dict[str, list] = {}
    for fam in parse(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s)
    return out


def one(found: dict[str, list], name: str, **labels: str) -> float:
    hits = [s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def test_snapshot_is_the_status_json_document(served: Serve, inventory: Path) -> None:
    code, body, headers = served.get("/snapshot")
    assert code == 200 and headers["Content-Type"].startswith("application/json")
    served_doc = json.loads(body)
    direct = status_json(inventory)
    assert shape(served_doc) == shape(direct)
    names = [[n["name"] for n in c["nodes"]] for c in served_doc["clusters"]]
    assert names == [[n["name"] for n in c["nodes"]] for c in direct["clusters"]] == [
        ["lb-local", "web-local", "web-ssh"]]
    nodes = {n["name"]: n for n in served_doc["clusters"][0]["nodes"]}
    assert all(n["reachable"] for n in nodes.values()), {k: n["error"] for k, n in nodes.items()}
    assert nodes["web-local"]["nginx"]["accepts"] >= 1


def test_metrics_parse_and_agree_with_the_snapshot(served: Serve) -> None:
    for _ in range(20):  # a snapshot and a scrape of the same poll
        _, body, _ = served.get("/snapshot")
        doc = json.loads(body)
        code, text, headers = served.get("/metrics")
        found = samples(text.decode())
        if one(found, "lbconsole_snapshot_timestamp_seconds") == doc["taken_at"]:
            break
    else:
        raise AssertionError("never caught a scrape and a snapshot of the same poll")
    assert code == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    nodes = {n["name"]: n for n in doc["clusters"][0]["nodes"]}
    for name, node in nodes.items():
        assert one(found, "lbconsole_node_up", cluster="site-a", node=name) == (1 if node["reachable"] else 0)
        assert 0 <= one(found, "lbconsole_node_data_age_seconds", cluster="site-a", node=name) < 30
    ng = nodes["web-local"]["nginx"]
    labels = {"cluster": "site-a", "node": "web-local"}
    assert one(found, "nginx_up", **labels) == 1
    assert one(found, "nginx_http_requests_total", **labels) == ng["requests"]
    assert one(found, "nginx_connections_accepted", **labels) == ng["accepts"]
    assert one(found, "nginx_connections_active", **labels) == ng["active"]
    # The local director answers without IPVS (no ip_vs in this kernel) and without keepalived.
    assert one(found, "keepalived_up", cluster="site-a", node="lb-local") == 0
    assert "node_ipvs_backend_weight" not in found
    for alert in doc["alerts"]:
        assert one(found, "lbconsole_alert", kind=alert["kind"], severity=alert["severity"],
                   cluster=alert["cluster"] or "", node=alert["node"] or "") >= 1
    assert sum(s.value for s in found["lbconsole_alert"]) == len(doc["alerts"])


def test_openmetrics_when_the_scraper_asks(served: Serve) -> None:
    code, text, headers = served.get("/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert code == 200 and headers["Content-Type"].startswith("application/openmetrics-text")
    assert text.endswith(b"# EOF\n")
    found = samples(text.decode(), parse_openmetrics)
    assert one(found, "nginx_http_requests_total", cluster="site-a", node="web-local") > 0


def test_events_start_with_the_newest_state(served: Serve) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    conn.request("GET", "/events")
    started = time.monotonic()
    response = conn.getresponse()
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    lines = []
    while b"event: snapshot" not in lines or not lines[-1].startswith(b"data: {"):
        lines.append(response.readline().rstrip(b"\n"))
    took = time.monotonic() - started
    conn.close()
    events = [line for line in lines if line.startswith(b"event: ")]
    assert events == [b"event: hello", b"event: snapshot"]
    assert took < 0.5  # not after the next poll: at once
    assert [c["name"] for c in json.loads(lines[-1][6:])["clusters"]] == ["site-a"]


def test_one_session_per_ssh_node(served: Serve, sshd) -> None:  # type: ignore[no-untyped-def]
    """However many polls and viewers: one SSH connection from the serve process to the node."""
    import psutil

    assert served.proc is not None
    time.sleep(2.5)  # a few polls
    conns = [c for c in psutil.Process(served.proc.pid).net_connections("tcp")
             if c.raddr and c.raddr.port == sshd.port and c.status == psutil.CONN_ESTABLISHED]
    assert len(conns) == 1


def test_healthz_is_open_and_small(served: Serve) -> None:
    code, body, _ = served.get("/healthz")
    health = json.loads(body)
    assert code == 200 and health["ok"] is True and health["poll_interval"] == 1.0
    assert set(health) == {"ok", "snapshot_age_s", "poll_interval", "viewers"}


def test_serve_runs_no_actions(served: Serve) -> None:
    """Nothing but reads: no route takes a write, whatever the path."""
    import urllib.error
    import urllib.request

    for method, path in (("POST", "/snapshot"), ("PUT", "/events"), ("DELETE", "/metrics"), ("POST", "/drain"),
                         ("GET", "/actions")):
        req = urllib.request.Request(f"{served.url}{path}", method=method, data=b"{}" if method != "GET" else None)
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError(f"{method} {path} was accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code in (404, 405), (method, path, exc.code)
