"""A real Prometheus (Debian's package) scrapes a real serve on loopback and answers queries of it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

from serve.conftest import Serve

from support import free_port


def query(prom: str, q: str) -> list[dict]:  # type: ignore[type-arg]
    url = f"{prom}/api/v1/query?query={urllib.parse.quote(q)}"
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.loads(r.read())
    except OSError:
        return []
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def until(fn, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_prometheus_scrapes_serve_and_sees_its_alerts(served: Serve, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: apt-get install prometheus (see .ci/run)"
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: lbconsole\n    static_configs: [{{targets: ['127.0.0.1:{served.port}']}}]\n"
        f"rule_files: ['{Path(__file__).resolve().parents[2] / 'docs/prometheus/lbconsole-alerts.yml'}']\n")
    with open(tmp_path / "prometheus.log", "w") as log:
        proc = subprocess.Popen([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=log)
    prom = f"http://127.0.0.1:{port}"
    try:
        up = until(lambda: [r for r in query(prom, 'up{job="lbconsole"}') if r["value"][1] == "1"], 60,
                   "Prometheus to scrape serve")
        assert up
        # The local director has no keepalived here: lbconsole's alert, as Prometheus stores it.
        alerts = until(lambda: query(prom, 'lbconsole_alert{kind="keepalived_down"}'), 30, "the alert series")
        assert {(r["metric"]["cluster"], r["metric"]["node"], r["metric"]["severity"]) for r in alerts} == {
            ("site-a", "lb-local", "critical")}
        nodes = until(lambda: query(prom, "lbconsole_node_up == 1"), 30, "node_up")
        assert {r["metric"]["node"] for r in nodes} == {"lb-local", "web-local", "web-ssh"}
        # Each poll fetches stub_status, so nginx's request counter rises between scrapes.
        rate = until(lambda: query(prom, 'increase(nginx_http_requests_total{node="web-local"}[20s]) > 0'), 40,
                     "nginx requests to rise")
        assert rate
        rules = json.loads(urllib.request.urlopen(f"{prom}/api/v1/rules", timeout=5).read())
        names = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
        assert "LbconsoleSplitBrain" in names and "LbconsoleDirectorDown" in names
    finally:
        proc.terminate()
        proc.wait(15)
    assert proc.returncode == 0, (tmp_path / "prometheus.log").read_text()[-2000:]
