"""`lbconsole upstream drain|undrain` end to end: the CLI, the registry's executor, the agent in-process
(host = "local") and a real nginx on loopback with two real backends. Exit codes, the verified result,
the audit record and the node's syslog line.

The nginx node's `upstreams` snapshot part is the agent's UpstreamWatcher on this loopback nginx (the
agent's own snapshot reads the host's nginx at its default paths): the same node code, pointed here.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import replace
from pathlib import Path

import pytest

from lbconsole import cli, upstreams
from lbconsole import inventory as inventory_mod
from lbconsole.actions.audit import AuditLog
from lbconsole.actions.context import ActionContext
from lbconsole.actions.execute import execute
from lbconsole.collectors import node as collector
from lbconsole.node import agent as agent_mod
from lbconsole.node import audit as node_audit
from lbconsole.node import ops, upstream_edit, upstream_verbs
from lbconsole.node.nginx_reload import Nginx
from lbconsole.node.upstream_snapshot import UpstreamWatcher
from lbconsole.transport import AgentSession
from lbconsole.transport.local import LocalChannel
from support import free_port
from support.inventory import cluster_table, node_table, write_inventory
from support.loopback_nginx import HttpServer, LoopbackNginx

UPSTREAMS = """\
upstream backend {{
    server 127.0.0.1:{a} max_fails=2 fail_timeout=10s;
    server {hb}:{b} max_fails=2 fail_timeout=10s;
}}
upstream single {{ server 127.0.0.1:{a}; }}
server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://backend; }} }}
"""
WEB1 = node_table("web1", "local", "nginx")
RACING = """#!/bin/sh
# An admin racing the drain: a broken file appears exactly when nginx -t runs.
if [ "$1" = "-t" ] || [ "$3" = "-t" ] || [ "$5" = "-t" ]; then
    echo 'upstream oops {{ server 127.0.0.1:1 wieght=2; }}' > {dir}/conf.d/zz-broken.conf
fi
exec nginx "$@"
"""


class Site:
    """A loopback nginx proxying to two backends (its own, or another site's: two nginx nodes, one backend tier)."""

    def __init__(self, root: Path, apps: tuple[HttpServer, HttpServer] | None = None):
        self.own_apps = apps is None
        self.app1, self.app2 = apps or (HttpServer(200, b"app1"), HttpServer(200, b"app2"))
        self.port = free_port()
        self.ngx = LoopbackNginx(root / "ngx", {"upstreams.conf": UPSTREAMS.format(
            a=self.app1.port, b=self.app2.port, hb=getattr(self.app2, "host", "127.0.0.1"), port=self.port)})
        self.ngx.start(self.port)
        self.file = self.ngx.dir / "conf.d" / "upstreams.conf"
        self.app1_key = f"127.0.0.1:{self.app1.port}"
        self.app2_key = f"{getattr(self.app2, 'host', '127.0.0.1')}:{self.app2.port}"
        self.records = root / "records"
        self.watcher = UpstreamWatcher(Nginx(self.ngx.argv), record_dir=str(self.records))
        self.syslog: list[str] = []

    def bodies(self, n: int = 12) -> set[bytes]:
        out = set()
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", self.port), 5) as s:
                s.sendall(b"GET / HTTP/1.0\r\nHost: t\r\n\r\n")
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            out.add(data.partition(b"\r\n\r\n")[2])
        return out

    def settled(self, workers_before: set[int]) -> None:
        """The old workers finish and exit; until then one may still take a connection."""
        deadline = time.monotonic() + 10
        while self.ngx.workers() & workers_before:
            assert time.monotonic() < deadline, "old workers did not exit"
            time.sleep(0.05)

    def racing(self, tmp_path: Path) -> tuple[str, ...]:
        """This nginx's argv behind a wrapper that breaks a file exactly when nginx -t runs."""
        wrapper = tmp_path / f"racing-nginx-{self.port}"
        wrapper.write_text(RACING.format(dir=self.ngx.dir))
        wrapper.chmod(0o755)
        return (str(wrapper), *self.ngx.argv[1:])

    def close(self) -> None:
        self.watcher.close()
        self.ngx.stop()
        if self.own_apps:
            self.app1.close()
            self.app2.close()


class Env:
    def __init__(self, tmp_path: Path):
        self.tmp_path, self.sites, self.syslog = tmp_path, [], []

    def make(self, name: str, apps: tuple[HttpServer, HttpServer] | None = None) -> Site:
        site = Site(self.tmp_path / name, apps)
        site.syslog = self.syslog
        self.sites.append(site)
        return site


@pytest.fixture
def env(tmp_path, monkeypatch):
    e = Env(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - not a terminal
    monkeypatch.setattr(ops, "OPS_DIR", str(tmp_path / "ops"))
    monkeypatch.setattr(ops, "LOCK_FILE", str(tmp_path / "run" / "actions.lock"))
    agent_snapshot, from_result = agent_mod.Agent.snapshot, collector.from_result

    def snapshot(agent, args):
        out = agent_snapshot(agent, args)
        watcher = getattr(agent, "watcher", None) or e.sites[0].watcher
        out["upstreams"] = watcher.snapshot(max_wait=5)
        return out

    def with_upstreams(node, result, now):
        snap = from_result(node, result, now)
        part = result.get("upstreams") or {}
        if part.get("upstreams") is None:
            return replace(snap, upstreams=None)
        return replace(snap, upstreams=upstreams.from_node(part, part["failures"], part["probes"], part["drains"]))

    monkeypatch.setitem(agent_mod._VERBS, "snapshot", snapshot)
    monkeypatch.setattr(collector, "from_result", with_upstreams)
    real_log = node_audit.log

    def log(args):
        e.syslog.append(args.get("line"))
        return real_log(args)

    monkeypatch.setattr(node_audit, "log", log)
    yield e
    for site in reversed(e.sites):
        site.close()


@pytest.fixture
def site(env, monkeypatch):
    s = env.make("ngx1")
    monkeypatch.setattr(upstream_verbs, "NGINX_ARGV", tuple(s.ngx.argv))
    monkeypatch.setattr(upstream_edit, "RECORD_DIR", str(s.records))
    return s


def inventory(tmp_path: Path, read_only: bool = False) -> str:
    path = tmp_path / ("inventory-ro.toml" if read_only else "inventory.toml")
    return write_inventory(path, cluster_table("c", WEB1, read_only=read_only))


def test_drain_then_undrain_end_to_end(site, tmp_path, capsys):
    original = site.file.read_bytes()
    assert site.bodies() == {b"app1", b"app2"}
    workers = site.ngx.workers()
    code = cli.main(["upstream", "drain", "backend", site.app1_key, "--reason", "kernel update", "--yes",
                     "-i", inventory(tmp_path)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert f"drained {site.app1_key} of upstream backend: down (drained, recorded) on every nginx node" in out.out
    assert site.file.read_bytes().count(b" down;") == 1
    rec = json.loads(next(site.records.glob("*.json")).read_text())
    assert (rec["server"], rec["reason"]) == (site.app1_key, "kernel update") and "@" in rec["by"]
    site.settled(workers)
    assert site.bodies() == {b"app2"}
    (record,) = AuditLog().read()
    assert (record["what"], record["result"], record["exit_code"]) == ("upstream_drain", "done", 0)
    assert record["target"] == {"kind": "upstream_server", "cluster": "c", "upstream": "backend",
                                "server": site.app1_key}
    assert record["params"] == {"reason": "kernel update", "force": False}
    assert record["before"] == {"web1": "up"} and record["after"] == {"web1": "drained"}
    (line,) = site.syslog
    assert f"action=upstream_drain upstream=backend server={site.app1_key} result=done" in line
    assert 'reason="kernel update"' in line and line.endswith("node=web1")

    again = cli.main(["upstream", "drain", "backend", site.app1_key, "--reason", "x", "--yes",
                      "-i", inventory(tmp_path)])
    assert again == 0 and "already drained on every nginx node (web1)" in capsys.readouterr().out

    workers = site.ngx.workers()
    code = cli.main(["upstream", "undrain", "backend", site.app1_key, "--yes", "-i", inventory(tmp_path)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "back in rotation on every nginx node" in out.out
    assert site.file.read_bytes() == original and list(site.records.glob("*.json")) == []
    site.settled(workers)
    assert site.bodies() == {b"app1", b"app2"}
    assert [r["after"] for r in AuditLog().read()][-1] == {"web1": "up"}


def test_refusals_and_usage_exit_codes(site, tmp_path, capsys):
    original = site.file.read_bytes()
    inv = inventory(tmp_path)
    assert cli.main(["upstream", "drain", "single", site.app1_key, "--reason", "r", "--yes", "-i", inv]) == 3
    assert "last live server of upstream single" in capsys.readouterr().err
    assert cli.main(["upstream", "drain", "nope", site.app1_key, "--reason", "r", "--yes", "-i", inv]) == 2
    assert "has no upstream 'nope'" in capsys.readouterr().err
    assert cli.main(["upstream", "drain", "backend", "10.9.9.9:80", "--reason", "r", "--yes", "-i", inv]) == 2
    assert "has no server '10.9.9.9:80'" in capsys.readouterr().err
    assert cli.main(["upstream", "undrain", "backend", site.app1_key, "--yes", "-i", inv]) == 0  # not drained
    assert "already undrained" in capsys.readouterr().out
    assert cli.main(["upstream", "drain", "backend", site.app1_key, "--reason", "r", "-i", inv]) == 3  # no --yes
    assert "pass --yes" in capsys.readouterr().err
    ro = inventory(tmp_path, read_only=True)
    assert cli.main(["upstream", "drain", "backend", site.app1_key, "--reason", "r", "--yes", "-i", ro]) == 3
    assert "read-only" in capsys.readouterr().err
    assert site.file.read_bytes() == original and list(site.records.glob("*.json")) == []
    assert [r["exit_code"] for r in AuditLog().read()] == [3, 2, 2, 0, 3, 3]
    # Forced, the last live server goes: the plan says so, and the node records it.
    assert cli.main(["upstream", "drain", "single", site.app1_key, "--reason", "r", "--yes", "--force",
                     "-i", inv]) == 0
    assert json.loads(next(site.records.glob("single_*.json")).read_text())["forced"] is True


def test_nginx_t_failing_on_the_node_is_refused_and_put_back(site, tmp_path, monkeypatch, capsys):
    original = site.file.read_bytes()
    monkeypatch.setattr(upstream_verbs, "NGINX_ARGV", site.racing(tmp_path))
    workers = site.ngx.workers()
    code = cli.main(["upstream", "drain", "backend", site.app1_key, "--reason", "r", "--yes",
                     "-i", inventory(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "web1: nginx -t failed after marking" in err and "was put back" in err and "invalid parameter" in err
    assert site.file.read_bytes() == original and list(site.records.glob("*.json")) == []
    assert site.ngx.workers() == workers and site.bodies() == {b"app1", b"app2"}


def agent_session(name: str, site: Site, argv: tuple[str, ...] | None = None) -> AgentSession:
    """An in-process agent for one of two nginx nodes in this process: its own nginx and record directory."""
    agent = agent_mod.Agent(mode="local")
    agent.nginx_argv, agent.upstream_record_dir, agent.watcher = argv or tuple(site.ngx.argv), str(site.records), \
        site.watcher

    async def opener():
        return LocalChannel(agent)

    return AgentSession(name, opener, connect_timeout=10, command_timeout=20)


async def test_two_nginx_nodes_one_fails_it_is_named_and_the_other_keeps_the_drain(env, tmp_path):
    web1 = env.make("web1")
    web2 = env.make("web2", (web1.app1, web1.app2))  # the same backends behind both
    path = write_inventory(tmp_path / "two.toml", cluster_table("c", WEB1, node_table("web2", "local", "nginx")))
    sessions = {"web1": agent_session("web1", web1), "web2": agent_session("web2", web2, web2.racing(tmp_path))}
    ctx = ActionContext(inventory=inventory_mod.load(path), cluster="c", transports=sessions)
    original2 = web2.file.read_bytes()
    target = {"kind": "upstream_server", "cluster": "c", "upstream": "backend", "server": web1.app1_key}
    try:
        res = await execute(ctx, "upstream_drain", target, {"reason": "deploy"})
        (web2.ngx.dir / "conf.d" / "zz-broken.conf").unlink()  # the racing admin is done
        sessions["web2"] = agent_session("web2", web2)
        ctx.transports = sessions
        again = await execute(ctx, "upstream_drain", target, {"reason": "deploy"})
        back = await execute(ctx, "upstream_undrain", target)
    finally:
        for s in sessions.values():
            await s.close()
    assert res.exit_code == 1, res.message
    assert res.message.startswith(f"drain of {web1.app1_key} of upstream backend NOT verified on every nginx node "
                                  "(done on web1)")
    assert any(d.startswith("web2: nginx -t failed after marking") for d in res.details), res.details
    assert res.after == {"web1": "drained", "web2": None}  # web2's config is still broken: not read back
    assert web2.file.read_bytes() == original2
    # Drained again: only web2 is acted on, web1 already is.
    assert again.exit_code == 0, again.message
    assert again.before == {"web1": "drained", "web2": "up"} and again.after == {"web1": "drained", "web2": "drained"}
    assert "already drained on web1" in again.details
    assert back.exit_code == 0 and back.after == {"web1": "up", "web2": "up"}
    assert web2.file.read_bytes() == original2
    assert [r["exit_code"] for r in AuditLog().read()] == [1, 0, 0]
    assert sorted(line.rsplit("node=", 1)[1] for line in env.syslog) == ["web1", "web1", "web1", "web2", "web2",
                                                                         "web2"]


def test_an_nginx_node_that_does_not_answer_refuses_the_whole_drain(site, tmp_path, capsys):
    web2 = node_table("web2", "127.0.0.1", "nginx", port=1, connect_timeout=5)
    path = write_inventory(tmp_path / "down.toml", cluster_table("c", WEB1, web2))
    original = site.file.read_bytes()
    code = cli.main(["upstream", "drain", "backend", site.app1_key, "--reason", "r", "--yes", "-i", path])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "web2 did not answer" in err and "must reach every nginx node of c; nothing was touched" in err
    assert site.file.read_bytes() == original and list(site.records.glob("*.json")) == []
    (record,) = AuditLog().read()
    assert record["result"] == "refused" and record["after"] == {}


class OtherAddressApp:
    """A live backend on 127.0.0.2: the only server of the upstream at that address, so its inventory name is
    unambiguous."""

    host = "127.0.0.2"

    def __init__(self) -> None:
        import http.server
        import threading

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "4")
                self.end_headers()
                self.wfile.write(b"app2")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer((self.host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_server_named_by_its_inventory_node(env, tmp_path, monkeypatch, capsys):
    app1, app2 = HttpServer(200, b"app1"), OtherAddressApp()
    try:
        site = env.make("named", (app1, app2))
        monkeypatch.setattr(upstream_verbs, "NGINX_ARGV", tuple(site.ngx.argv))
        monkeypatch.setattr(upstream_edit, "RECORD_DIR", str(site.records))
        path = write_inventory(tmp_path / "named.toml", cluster_table(
            "c", WEB1, node_table("app2", "127.0.0.2", "backend"), node_table("app1", "127.0.0.1", "backend")))
        assert site.bodies() == {b"app1", b"app2"}
        workers = site.ngx.workers()
        code = cli.main(["upstream", "drain", "backend", "app2", "--reason", "r", "--yes", "-i", path])
        assert code == 0, capsys.readouterr().err
        assert f"drained {site.app2_key} of upstream backend" in capsys.readouterr().out
        site.settled(workers)
        assert site.bodies() == {b"app1"}
        # app1 (127.0.0.1) has one port in `backend`, so its name resolves too: now the last live server, refused.
        assert cli.main(["upstream", "drain", "backend", "app1", "--reason", "r", "--yes", "-i", path]) == 3
        assert "last live server of upstream backend" in capsys.readouterr().err
        assert cli.main(["upstream", "undrain", "backend", "app2", "--yes", "-i", path]) == 0
        assert "backend" in capsys.readouterr().out and list(site.records.glob("*.json")) == []
    finally:
        app1.close()
        app2.close()


@pytest.mark.parametrize("tui", [False, True])
async def test_an_action_cancelled_midway_is_audited_as_interrupted_once(site, tmp_path, tui):
    """ctrl+c, SIGTERM or a closed SSH session cancel the CLI's action: the executor audits it as interrupted, with
    what it had reported. The TUI audits its own interrupted actions (operate.interrupt_all): not twice."""
    from lbconsole.ui import operate

    sessions = {"web1": agent_session("web1", site)}
    task = asyncio.current_task()
    said: list[str] = []

    def progress(text: str) -> None:
        said.append(text)
        task.cancel()  # as the signal handler does, while the action is under way

    inv = inventory_mod.load(inventory(tmp_path))
    ctx = (operate.ActionContext(inventory=inv, snapshot=None, cluster="c", read_only=False, transports=sessions,
                                 progress=progress) if tui else
           ActionContext(inventory=inv, cluster="c", transports=sessions, progress=progress))
    target = {"kind": "upstream_server", "cluster": "c", "upstream": "backend", "server": site.app1_key}
    try:
        with pytest.raises(asyncio.CancelledError):
            await execute(ctx, "upstream_drain", target, {"reason": "deploy"})
        task.uncancel()
    finally:
        for s in sessions.values():
            await s.close()
    assert said and said[0].startswith(f"draining {site.app1_key} of upstream backend on web1")
    if tui:
        assert AuditLog().read() == []
        return
    (record,) = AuditLog().read()
    assert (record["what"], record["result"], record["exit_code"]) == ("upstream_drain", "interrupted", 1)
    assert record["details"] == said and record["params"] == {"reason": "deploy"}
    assert record["message"] == f"Upstream drain: interrupted before it finished; applied so far: {said[0]}"


async def test_an_interruption_record_holds_only_that_actions_progress(site, tmp_path):
    sessions = {"web1": agent_session("web1", site)}
    task = asyncio.current_task()
    cancel = []
    ctx = ActionContext(inventory=inventory_mod.load(inventory(tmp_path)), cluster="c", transports=sessions,
                        progress=lambda text: cancel and task.cancel())
    target = {"kind": "upstream_server", "cluster": "c", "upstream": "backend", "server": site.app1_key}
    try:
        assert (await execute(ctx, "upstream_drain", target, {"reason": "deploy"})).exit_code == 0
        cancel.append(True)  # the same context's next action is stopped midway
        with pytest.raises(asyncio.CancelledError):
            await execute(ctx, "upstream_undrain", target)
        task.uncancel()
    finally:
        for s in sessions.values():
            await s.close()
    done, stopped = AuditLog().read()
    assert (done["what"], done["result"], stopped["what"], stopped["result"]) == (
        "upstream_drain", "done", "upstream_undrain", "interrupted")
    assert stopped["details"] and all(line.startswith("undraining") for line in stopped["details"])
    assert stopped["message"].endswith(f"interrupted before it finished; applied so far: {stopped['details'][0]}")
