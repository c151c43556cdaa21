"""`lbconsole serve` on the real lab, scraped by a real Prometheus, both in the ops namespace.

/metrics parses with prometheus_client's parser and agrees with `status --json` and with the
daemons; a real Prometheus scrapes it; a query of lbconsole_alert returns the lab's split brain
while one is caused (VRRP blocked between the directors).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lbconsole.lab import api
from support import free_port, lbconsole_in_ops, wait_for

pytestmark = pytest.mark.lab
CHECKOUT = Path(__file__).resolve().parents[2]
STATE_CODES = {"INIT": 0, "BACKUP": 1, "MASTER": 2, "FAULT": 3, "STOP": 98}


def ops_get(url: str, accept: str = "") -> str:
    args = ["ip", "netns", "exec", "lbc-ops", "curl", "-sS", "--max-time", "20"]
    if accept:
        args += ["-H", f"Accept: {accept}"]
    return subprocess.run([*args, url], capture_output=True, text=True, timeout=30, check=True).stdout


def start_in_ops(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "w") as out:  # `ip netns exec` execs: the PID is the program's
        return subprocess.Popen(["ip", "netns", "exec", "lbc-ops", *argv], cwd=CHECKOUT,
                                stdout=subprocess.DEVNULL, stderr=out)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def serve(lab: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    proc = start_in_ops([sys.executable, "-m", "lbconsole", "serve", "--inventory", str(lab), "--listen",
                         f"127.0.0.1:{port}"], log)
    url = f"http://127.0.0.1:{port}"

    def every_node_answered() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            doc = json.loads(ops_get(url + "/snapshot"))
        except (subprocess.CalledProcessError, ValueError):
            return False
        return all(n["reachable"] for c in doc["clusters"] for n in c["nodes"])

    try:
        wait_for(every_node_answered, 120, what="serve to see every lab node")
        yield url
    finally:
        stop(proc)


def scrape(url: str) -> dict[str, list]:
    found: dict[str, list] = {}
    for fam in text_string_to_metric_families(ops_get(url + "/metrics")):
        for s in fam.samples:
            found.setdefault(s.name, []).append(s)
    return found


def by_node(found: dict[str, list], name: str, node: str) -> list:
    return [s for s in found.get(name, []) if s.labels.get("node") == node]


def same_poll(url: str) -> tuple[dict, dict[str, list]]:
    """/snapshot and /metrics of one and the same poll."""
    for _ in range(30):
        doc = json.loads(ops_get(url + "/snapshot"))
        found = scrape(url)
        if found["lbconsole_snapshot_timestamp_seconds"][0].value == doc["taken_at"]:
            return doc, found
    raise AssertionError("never caught a scrape and a snapshot of the same poll")


def weights_of(node: dict) -> dict[tuple[str, str], int]:
    return {(f"{svc['address']}:{svc['port']}", f"{rs['address']}:{rs['port']}"): rs["weight"]
            for svc in node["ipvs"] for rs in svc["real_servers"]}


def test_metrics_agree_with_status_json_and_the_daemons(serve: str, lab: Path) -> None:
    doc, found = same_poll(serve)
    nodes = {n["name"]: n for c in doc["clusters"] for n in c["nodes"]}
    for name, node in nodes.items():
        assert node["reachable"], (name, node["error"])
        assert [s.value for s in by_node(found, "lbconsole_node_up", name)] == [1], name
    # `status --json` is the same document: its own poll (a new session per node) must agree where it answered.
    status = json.loads(lbconsole_in_ops("status", "--inventory", str(lab), "--json").stdout)
    direct = {n["name"]: n for c in status["clusters"] for n in c["nodes"]}
    assert direct.keys() == nodes.keys()
    for director in ("lb1", "lb2"):
        weights = {(s.labels["local_address"] + ":" + s.labels["local_port"],
                    s.labels["remote_address"] + ":" + s.labels["remote_port"]): s.value
                   for s in by_node(found, "node_ipvs_backend_weight", director)}
        daemon = {}
        for line in api.run(director, "ipvsadm -Sn", check=True).stdout.splitlines():
            words = line.split()
            if words[:1] == ["-a"]:
                daemon[(words[2], words[4])] = int(words[words.index("-w") + 1])
        assert weights == weights_of(nodes[director]) == daemon and len(daemon) == 6
        if direct[director]["reachable"] and direct[director]["ipvs"]:
            assert weights_of(direct[director]) == daemon
        dump = json.loads(api.keepalived_dump(director, "json"))
        states = {s.labels["iname"]: s.value for s in by_node(found, "keepalived_vrrp_state", director)}
        assert states == {i["data"]["iname"]: i["data"]["state"] for i in dump}
        assert states == {i["instance"]: STATE_CODES[i["state"]] for i in nodes[director]["vrrp"]}
    for web in ("web1", "web2", "web3"):
        assert [s.value for s in by_node(found, "nginx_up", web)] == [1]
        assert by_node(found, "nginx_http_requests_total", web)[0].value == nodes[web]["nginx"]["requests"]
        assert by_node(found, "nginx_connections_accepted", web)[0].value == nodes[web]["nginx"]["accepts"]
        if direct[web]["reachable"]:
            assert direct[web]["nginx"]["requests"] >= nodes[web]["nginx"]["requests"]  # polled after it
    assert api.VRRP_PASSWORD not in ops_get(serve + "/metrics") + ops_get(serve + "/snapshot")


def prometheus_query(prom: str, query: str) -> list:
    body = json.loads(ops_get(f"{prom}/api/v1/query?query={urllib.parse.quote(query)}"))
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_a_real_prometheus_sees_the_split_brain(serve: str, tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: apt-get install prometheus (see .ci/run)"
    port = free_port()
    target = serve.removeprefix("http://")
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"scrape_configs:\n  - job_name: lbconsole\n    static_configs: [{{targets: ['{target}']}}]\n")
    prom_proc = start_in_ops([binary, f"--config.file={tmp_path / 'prometheus.yml'}",
                              f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
                             tmp_path / "prometheus.log")
    prom = f"http://127.0.0.1:{port}"

    def query(q: str) -> list:
        assert prom_proc.poll() is None, (tmp_path / "prometheus.log").read_text()
        try:
            return prometheus_query(prom, q)
        except (subprocess.CalledProcessError, ValueError):
            return []

    try:
        wait_for(lambda: [r for r in query('up{job="lbconsole"}') if r["value"][1] == "1"], 60,
                 what="Prometheus to scrape serve")
        assert not query('lbconsole_alert{kind="split_brain"}')
        api.block_vrrp(True)
        try:
            hits = wait_for(lambda: query('lbconsole_alert{kind="split_brain"} > 0'), 90,
                            what="the split brain in Prometheus")
            assert {r["metric"]["cluster"] for r in hits} == {"lab"}
            masters = query('keepalived_vrrp_state{iname="VI_1"} == 2')
            assert {r["metric"]["node"] for r in masters} == {"lb1", "lb2"}
        finally:
            api.block_vrrp(False)
        wait_for(lambda: not query('lbconsole_alert{kind="split_brain"} > 0'), 120,
                 what="the split brain to end after VRRP is restored")
    finally:
        stop(prom_proc)


def test_viewers_cost_the_nodes_nothing(serve: str, lab: Path) -> None:
    """Viewers attached or not, the ops side holds one SSH session per node (serve's own)."""
    from lbconsole import inventory

    ssh_nodes = [n for n in inventory.load(str(lab)).nodes if not n.is_local]
    count = "ss -Htn state established '( dport = :22 )' | wc -l"
    assert int(api.run("ops", count).stdout.strip()) == len(ssh_nodes)
    viewers = [subprocess.Popen(["ip", "netns", "exec", "lbc-ops", "curl", "-sN", "-o", "/dev/null",
                                 serve + "/events"]) for _ in range(10)]
    try:
        wait_for(lambda: json.loads(ops_get(serve + "/healthz"))["viewers"] == 10, 30, what="10 viewers")
        time.sleep(3)  # a few polls with them attached
        assert int(api.run("ops", count).stdout.strip()) == len(ssh_nodes)
    finally:
        for v in viewers:
            v.terminate()
            v.wait(5)
