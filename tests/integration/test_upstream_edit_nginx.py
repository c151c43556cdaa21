"""Drain and undrain an upstream server on a real loopback nginx: the smallest edit, nginx -t, reload, verify."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from lbconsole.node import nginx_reload, upstream_edit
from lbconsole.node.nginx_reload import Nginx
from lbconsole.node.upstream_edit import Refused
from support import free_port
from support.loopback_nginx import HttpServer, LoopbackNginx

UPSTREAMS = """\
# app1 and app2 behind one upstream; a second upstream with a backup
upstream backend {{
    server 127.0.0.1:{a} max_fails=2 fail_timeout=10s;   # app1
    server localhost:{b};                               # app2, by name
    keepalive 8;
}}
upstream single {{ server 127.0.0.1:{a}; server 127.0.0.1:{b} backup; }}
"""
SITE = """\
server {{
    listen 127.0.0.1:{port};
    location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    location /s {{ proxy_pass http://single; }}
}}
"""


class Node:
    def __init__(self, root: Path):
        self.app1, self.app2 = HttpServer(200, b"app1"), HttpServer(200, b"app2")
        self.port = free_port()
        self.ngx = LoopbackNginx(root / "ngx", {
            "upstreams.conf": UPSTREAMS.format(a=self.app1.port, b=self.app2.port),
            "site.conf": SITE.format(port=self.port)})
        self.ngx.start(self.port)
        self.nginx = Nginx(self.ngx.argv)
        self.records = str(root / "records")
        self.file = self.ngx.dir / "conf.d" / "upstreams.conf"
        self.app1_key, self.app2_key = f"127.0.0.1:{self.app1.port}", f"127.0.0.1:{self.app2.port}"

    def bodies(self, n: int = 12, path: str = "/") -> set[bytes]:
        out = set()
        for _ in range(n):
            with socket.create_connection(("127.0.0.1", self.port), 5) as s:
                s.sendall(f"GET {path} HTTP/1.0\r\nHost: t\r\n\r\n".encode())
                data = b""
                while chunk := s.recv(4096):
                    data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            out.add(body)
        return out

    def settled(self, res: dict) -> None:
        """The old workers finish what they hold and exit; until then one may still take a connection."""
        deadline = time.monotonic() + 10
        while self.ngx.workers() - set(res["new_workers"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not self.ngx.workers() - set(res["new_workers"]), "old workers did not exit"

    def record_files(self) -> list[str]:
        return sorted(p.name for p in Path(self.records).glob("*.json"))

    def close(self) -> None:
        self.ngx.stop()
        self.app1.close()
        self.app2.close()


@pytest.fixture
def node(tmp_path):
    n = Node(tmp_path)
    yield n
    n.close()


def test_drain_adds_only_down_reloads_and_undrain_restores_every_byte(node):
    original = node.file.read_bytes()
    assert node.bodies() == {b"app1", b"app2"}
    master, workers = node.ngx.master, node.ngx.workers()
    res = upstream_edit.drain(node.nginx, "backend", node.app1_key, "kernel update", "ops@console",
                              record_dir=node.records, now=lambda: 1764480000.0)
    assert res["verified"] and res["changed"]
    assert res["before"]["master_pid"] == master and set(res["new_workers"]).isdisjoint(workers)
    line = f"    server 127.0.0.1:{node.app1.port} max_fails=2 fail_timeout=10s;"
    i = original.index(line.encode()) + len(line) - 1
    assert node.file.read_bytes() == original[:i] + b" down" + original[i:]  # nothing else moved
    node.settled(res)
    assert node.bodies() == {b"app2"}  # app1 gets no request
    rec = json.loads((Path(node.records) / node.record_files()[0]).read_text())
    assert rec["reason"] == "kernel update" and rec["by"] == "ops@console" and rec["since"] == 1764480000.0
    assert (rec["upstream"], rec["server"], rec["peers"]) == ("backend", node.app1_key, [node.app1_key])
    assert rec["file"] == str(node.file) and rec["line"] == 3
    assert rec["after"] == rec["before"][:-1] + " down;"
    assert node.ngx.master == master  # a reload, not a restart

    again = upstream_edit.drain(node.nginx, "backend", node.app1_key, "twice", "ops", record_dir=node.records)
    assert not again["changed"] and "already drained" in again["detail"]

    res = upstream_edit.undrain(node.nginx, "backend", node.app1_key, record_dir=node.records)
    assert res["verified"] and res["changed"]
    assert node.file.read_bytes() == original
    assert node.record_files() == []
    node.settled(res)
    assert node.bodies() == {b"app1", b"app2"}


def test_a_server_given_by_name_is_drained_by_its_address(node):
    original = node.file.read_bytes()
    res = upstream_edit.drain(node.nginx, "backend", node.app2_key, "deploy", "ops", record_dir=node.records)
    assert res["record"]["server"] == f"localhost:{node.app2.port}"
    node.settled(res)
    assert node.bodies() == {b"app1"}
    upstream_edit.undrain(node.nginx, "backend", f"localhost:{node.app2.port}", record_dir=node.records)
    assert node.file.read_bytes() == original


def test_the_last_live_server_is_refused_unless_forced(node):
    original = node.file.read_bytes()
    with pytest.raises(Refused, match="last live server of upstream single"):
        upstream_edit.drain(node.nginx, "single", node.app1_key, "x", "ops", record_dir=node.records)
    assert node.file.read_bytes() == original and node.record_files() == []
    res = upstream_edit.drain(node.nginx, "single", node.app1_key, "x", "ops", force=True, record_dir=node.records)
    assert res["verified"] and res["record"]["forced"] is True
    node.settled(res)
    assert node.bodies(4, "/s") == {b"app2"}  # the backup takes over
    upstream_edit.undrain(node.nginx, "single", node.app1_key, record_dir=node.records)
    assert node.file.read_bytes() == original


def test_nginx_t_failing_after_the_edit_restores_the_file_and_refuses(node):
    """Another admin breaks a file between our read and our test: nginx -t says so; we put ours back."""
    original = node.file.read_bytes()
    broken = node.ngx.dir / "conf.d" / "zz-broken.conf"

    class Racing(Nginx):
        def test(self):
            broken.write_text("upstream oops { server 127.0.0.1:1 wieght=2; }\n")
            return super().test()

    workers = node.ngx.workers()
    with pytest.raises(Refused) as err:
        upstream_edit.drain(Racing(node.ngx.argv), "backend", node.app1_key, "x", "ops", record_dir=node.records)
    assert "nginx -t failed" in str(err.value) and "zz-broken.conf" in str(err.value)
    assert "invalid parameter" in str(err.value)  # nginx's own message
    assert node.file.read_bytes() == original and node.record_files() == []
    assert node.ngx.workers() == workers  # never reloaded
    assert node.bodies() == {b"app1", b"app2"}  # and still serving


def test_a_config_already_broken_on_disk_is_refused_before_any_edit(node):
    original = node.file.read_bytes()
    (node.ngx.dir / "conf.d" / "zz-broken.conf").write_text("server { listen 127.0.0.1:1 }\n")
    with pytest.raises(Refused, match="nginx -T failed"):
        upstream_edit.drain(node.nginx, "backend", node.app1_key, "x", "ops", record_dir=node.records)
    assert node.file.read_bytes() == original and node.record_files() == []
    assert node.bodies() == {b"app1", b"app2"}


def test_undrain_refuses_a_line_edited_since_and_hand_marked_down_servers(node):
    upstream_edit.drain(node.nginx, "backend", node.app1_key, "x", "ops", record_dir=node.records)
    text = node.file.read_text()
    node.file.write_text(text.replace("fail_timeout=10s down;", "fail_timeout=20s down;"))
    edited = node.file.read_bytes()
    with pytest.raises(Refused, match="cannot find the `server"):
        upstream_edit.undrain(node.nginx, "backend", node.app1_key, record_dir=node.records)
    assert node.file.read_bytes() == edited
    node.file.write_text(text)  # back as the drain left it
    upstream_edit.undrain(node.nginx, "backend", node.app1_key, record_dir=node.records)
    # a `down` written by hand is not lbconsole's to take off, nor to drain again
    node.file.write_text(node.file.read_text().replace(f"server localhost:{node.app2.port};",
                                                       f"server localhost:{node.app2.port} down;"))
    with pytest.raises(Refused, match="by hand"):
        upstream_edit.undrain(node.nginx, "backend", node.app2_key, record_dir=node.records)
    with pytest.raises(Refused, match="by hand"):
        upstream_edit.drain(node.nginx, "backend", node.app2_key, "x", "ops", record_dir=node.records)


def test_unknown_upstream_or_server_and_an_empty_reason_are_refused(node):
    with pytest.raises(Refused, match="no upstream 'nope'.*backend, single"):
        upstream_edit.drain(node.nginx, "nope", node.app1_key, "x", "ops", record_dir=node.records)
    with pytest.raises(Refused, match="has no server 10.9.9.9:80"):
        upstream_edit.drain(node.nginx, "backend", "10.9.9.9:80", "x", "ops", record_dir=node.records)
    with pytest.raises(Refused, match="needs a reason"):
        upstream_edit.drain(node.nginx, "backend", node.app1_key, " ", "ops", record_dir=node.records)


def test_a_reload_that_fails_to_apply_is_not_verified(node):
    """bind() in use: nginx -s reload exits 0, the old workers stay, [emerg] in the log."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        (node.ngx.dir / "conf.d" / "bind.conf").write_text(
            f"server {{ listen 127.0.0.1:{taken.getsockname()[1]}; return 200; }}\n")
        pid_file, logs = str(node.ngx.pid_file), [str(node.ngx.error_log)]
        before = nginx_reload.state(pid_file, logs)
        res = nginx_reload.reload_verified(node.nginx, pid_file, logs, before, wait_s=1.5)
    finally:
        taken.close()
    assert not res["verified"]
    assert any("no new worker" in p for p in res["problems"])
    assert any("[emerg]" in ln and "Address already in use" in ln for ln in res["bad_lines"])
    assert res["before"]["master_pid"] == res["after"]["master_pid"]


def test_records_are_listed_for_the_snapshot(node):
    assert upstream_edit.read_records(node.records) == []
    upstream_edit.drain(node.nginx, "backend", node.app1_key, "why", "who", record_dir=node.records)
    recs = upstream_edit.read_records(node.records)
    assert [(r["upstream"], r["server"], r["reason"], r["by"]) for r in recs] == [
        ("backend", node.app1_key, "why", "who")]
    assert time.time() - recs[0]["since"] < 60


def test_a_server_line_shared_by_two_upstreams_is_refused(node):
    shared = node.ngx.dir / "shared.servers"
    shared.write_text(f"server 127.0.0.1:{node.app1.port};\nserver 127.0.0.1:{node.app2.port};\n")
    (node.ngx.dir / "conf.d" / "two.conf").write_text(
        f"upstream one {{ include {shared}; }}\nupstream two {{ include {shared}; }}\n")
    before = shared.read_bytes()
    with pytest.raises(Refused, match="also in upstream two: the file is included more than once"):
        upstream_edit.drain(node.nginx, "one", node.app1_key, "x", "ops", record_dir=node.records)
    assert shared.read_bytes() == before and node.record_files() == []


def test_a_symlinked_config_file_is_edited_where_it_lives_and_stays_a_link(node):
    avail = node.ngx.dir / "available"
    avail.mkdir()
    target = avail / "linked.conf"
    target.write_text(f"upstream linked {{\n    server 127.0.0.1:{node.app1.port};\n"
                      f"    server 127.0.0.1:{node.app2.port};\n}}\n")
    target.chmod(0o640)
    link = node.ngx.dir / "conf.d" / "linked.conf"
    link.symlink_to(target)
    original = target.read_bytes()
    upstream_edit.drain(node.nginx, "linked", node.app1_key, "x", "ops", record_dir=node.records)
    assert link.is_symlink() and link.resolve() == target
    assert target.read_bytes() == original.replace(f"{node.app1.port};".encode(), f"{node.app1.port} down;".encode())
    assert target.stat().st_mode & 0o777 == 0o640
    assert not list(avail.glob(".*")) and not list((node.ngx.dir / "conf.d").glob(".*"))  # no temporary left
    upstream_edit.undrain(node.nginx, "linked", node.app1_key, record_dir=node.records)
    assert target.read_bytes() == original and link.is_symlink()
