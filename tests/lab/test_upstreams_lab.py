"""The third tier on the real lab (issue 11): web1-3 proxy to app1 and app2 through `upstream backend`.
A stopped backend is failing on every nginx node in one poll, both stopped raise the cross-tier alert, a
drain of app1 takes it out on every nginx node (traffic through the VIP only to app2) and undrain puts every
byte back, and a drain while one node's config is broken is refused with nothing changed anywhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lbconsole.lab import api, configs
from lbconsole.lab import topology as t
from support import lbconsole_in_ops
from support.lab_actions import audit_lines, cli

pytestmark = pytest.mark.lab

WEBS = [n.name for n in t.WEB_NODES]
APP1, APP2 = (f"{b.ip}:{t.BACKEND_PORT}" for b in t.BACKENDS)
SITE = "/etc/nginx/conf.d/lab.conf"
BROKEN = "/etc/nginx/conf.d/zz-broken.conf"
RECORDS = "/var/lib/lbconsole/upstream-drain"


def status(inventory: Path) -> dict:
    """One poll: `lbconsole status --json` from the ops namespace, as an operator runs it."""
    proc = lbconsole_in_ops("status", "--inventory", str(inventory), "--json", timeout=180)
    assert "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def backend_servers(snap: dict) -> dict[str, dict[str, dict]]:
    """{web node: {"address:port": server row}} of upstream backend, for every nginx node."""
    nodes = {n["name"]: n for c in snap["clusters"] for n in c["nodes"]}
    out = {}
    for web in WEBS:
        node = nodes[web]
        assert node["reachable"] and node["upstreams"] is not None, (web, node.get("error"), node.get("errors"))
        (backend,) = [u for u in node["upstreams"] if u["name"] == t.UPSTREAM]
        out[web] = {f"{s['address']}:{s['port']}": s for s in backend["servers"]}
    return out


def failing(s: dict) -> bool:
    """The snapshot's own rule (lbconsole.upstreams.UpstreamServer.failing) on a JSON row."""
    return not s["down"] and (s["probe_ok"] is False or (s["probe_ok"] is None and s["failures"] > 0))


def live(s: dict) -> bool:
    return not s["down"] and not failing(s)


def alerts(snap: dict, prefix: str = "upstream_") -> list[tuple[str, str, str | None]]:
    return sorted((a["severity"], a["kind"], a.get("node")) for a in snap["alerts"] if a["kind"].startswith(prefix))


def not_info(snap: dict) -> list[dict]:
    return [a for a in snap["alerts"] if a["severity"] != "info"]


def site_files() -> dict[str, str]:
    return {w: api.run(w, f"cat {SITE}", check=True).stdout for w in WEBS}


def records(web: str) -> list[dict]:
    text = api.run(web, f"for f in {RECORDS}/*.json; do [ -f \"$f\" ] && {{ cat \"$f\"; echo; }}; done; true",
                   check=True).stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def nginx_pids(web: str) -> str:
    """Master and worker PIDs: a reload changes the workers."""
    return api.run(web, "cat /run/nginx.pid; pgrep -P $(cat /run/nginx.pid) | sort", check=True).stdout


def through_vip(n: int = 30) -> list[str]:
    """Bodies of n fresh requests from the client namespace to the VIP ("FAILED" when none came)."""
    script = (f"for i in $(seq {n}); do curl -s -m 5 -H 'Connection: close' http://{t.VIP}/ "
              f"|| echo FAILED; done")
    return api.run("client", script, timeout=n * 6 + 10).stdout.splitlines()


def app_hits(app: str) -> int:
    return len(api.run(app, "cat /var/log/nginx/access.log", check=True).stdout.splitlines())


def restore() -> None:
    """The lab's own upstream state: both backends running, every web node's config as the lab wrote it, no
    drain record, nginx reloaded where anything had to be put back."""
    for b in t.BACKENDS:
        api.start_daemon(b.name, "nginx")
    for web in t.WEB_NODES:
        want = configs.nginx_site(web)
        changed = api.run(web.name, f"test -e {BROKEN}").returncode == 0
        if api.run(web.name, f"cat {SITE}", check=True).stdout != want:
            api.run(web.name, f"cat > {SITE}", input=want, check=True)
            changed = True
        api.run(web.name, f"rm -f {BROKEN} {RECORDS}/*.json", check=True)
        if changed:
            api.run(web.name, "nginx -t && nginx -s reload", check=True)


@pytest.fixture
def clean(lab: Path) -> Iterator[Path]:
    restore()
    yield lab
    restore()


def test_stopped_backends_are_failing_everywhere_in_one_poll_and_none_live_is_critical(clean):
    snap = status(clean)
    servers = backend_servers(snap)
    assert all(live(s) for web in WEBS for s in servers[web].values()), servers
    assert [(s["name"], s["max_fails"], s["fail_timeout"]) for s in servers["web1"].values()] == [
        ("app1", 2, 10), ("app2", 2, 10)]
    assert alerts(snap) == []

    api.stop_daemon("app2", "nginx")
    snap = status(clean)  # one poll
    servers = backend_servers(snap)
    for web in WEBS:
        assert failing(servers[web][APP2]) and live(servers[web][APP1]), (web, servers[web])
    assert alerts(snap) == [("warning", "upstream_failing", None)]
    assert any("app2" in a["message"] for a in snap["alerts"] if a["kind"] == "upstream_failing")

    api.stop_daemon("app1", "nginx")
    snap = status(clean)
    servers = backend_servers(snap)
    assert all(failing(s) for web in WEBS for s in servers[web].values()), servers
    # IPVS still sends each nginx node traffic (its own /health answers), and none has a live backend.
    no_live = [a for a in snap["alerts"] if a["kind"] == "upstream_no_live"]
    assert sorted((a["severity"], a["node"]) for a in no_live) == [("critical", web) for web in WEBS]
    assert all("backend" in a["message"] for a in no_live)

    api.start_daemon("app1", "nginx")
    api.start_daemon("app2", "nginx")
    snap = status(clean)
    servers = backend_servers(snap)
    assert all(live(s) for web in WEBS for s in servers[web].values()), servers
    assert alerts(snap) == []


def test_drain_takes_app1_out_on_every_nginx_node_and_undrain_restores_every_byte(clean, tmp_path):
    before = site_files()
    res = cli(clean, tmp_path, "upstream", "drain", t.UPSTREAM, "app1", "--reason", "lab upstream drain", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    line = f"server {APP1} max_fails=2 fail_timeout=10s"
    assert site_files() == {w: text.replace(f"{line};", f"{line} down;") for w, text in before.items()}
    for web in WEBS:
        [rec] = records(web)
        assert (rec["upstream"], rec["server"], rec["reason"]) == (t.UPSTREAM, APP1, "lab upstream drain")

    snap = status(clean)
    servers = backend_servers(snap)
    for web in WEBS:
        app1, app2 = servers[web][APP1], servers[web][APP2]
        assert app1["down"] and app1["drain"]["reason"] == "lab upstream drain" and app1["drain"]["by"], app1
        assert live(app2) and app2["drain"] is None
    assert not_info(snap) == []  # a drain is planned work, not an incident

    hits = app_hits("app1")
    assert set(through_vip()) == {"hello from app2"}
    assert app_hits("app1") == hits

    res = cli(clean, tmp_path, "upstream", "undrain", t.UPSTREAM, "app1", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert site_files() == before
    assert all(records(web) == [] for web in WEBS)
    snap = status(clean)
    assert all(live(s) and s["drain"] is None for web in WEBS for s in backend_servers(snap)[web].values())
    assert not_info(snap) == []
    assert set(through_vip()) == {"hello from app1", "hello from app2"}
    assert [r["result"] for r in audit_lines(tmp_path)] == ["done", "done"]


def test_a_drain_while_one_node_fails_nginx_t_is_refused_and_changes_nothing(clean, tmp_path):
    api.run("web2", f"printf 'server {{ listen 10.99.0.22:1 }}\\n' > {BROKEN}", check=True)  # no `;`
    test = api.run("web2", "nginx -t")
    assert test.returncode != 0 and "zz-broken.conf" in test.stdout, test.stdout
    before, pids = site_files(), {w: nginx_pids(w) for w in WEBS}

    res = cli(clean, tmp_path, "upstream", "drain", t.UPSTREAM, "app1", "--reason", "must not happen", "--yes")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "web2" in res.stderr
    assert site_files() == before and all(records(w) == [] for w in WEBS)
    assert {w: nginx_pids(w) for w in WEBS} == pids  # no node reloaded
    # nginx keeps serving on every node, web2 too, to both backends.
    for web in t.WEB_NODES:
        body = api.run("client", f"curl -s -m 5 http://{web.ip}/", check=True).stdout
        assert body in {"hello from app1\n", "hello from app2\n"}, (web.name, body)
    assert "hello from app1" in through_vip(12)
