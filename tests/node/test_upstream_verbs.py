"""upstream_drain / upstream_undrain through the real agent (the installed program) on a node with a real
nginx at its default paths and two real backends: drained with the smallest edit, recorded, reloaded,
traffic only to the other backend; an op replayed is not applied twice; read-only refuses; nginx -t
failing after the edit is refused with the file put back and nginx still serving."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

from lbconsole.node.reload import workers
from node.nodeenv import NodeEnv, Session, children, start_bootstrap, start_installed

NGINX_CONF = """\
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /run/nginx-log/error.log;
events { worker_connections 64; }
http {
    access_log off;
    include /etc/nginx/conf.d/*.conf;
}
"""
UPSTREAMS = """\
upstream backend {
    server 127.0.0.1:9001 max_fails=2 fail_timeout=10s;   # app1
    server 127.0.0.1:9002 max_fails=2 fail_timeout=10s;   # app2
    keepalive 8;
}
upstream single { server 127.0.0.1:9001; }
server { listen 127.0.0.1:8080; location / { proxy_pass http://backend; } location /s { proxy_pass http://single; } }
"""
# An admin racing the drain: a broken file appears exactly when nginx -t runs (real nginx then checks it).
RACING_NGINX = """\
#!/bin/sh
if [ "$1" = "-t" ] && [ -e /etc/nginx/break-on-test ]; then
    echo 'upstream oops { server 127.0.0.1:1 wieght=2; }' > /etc/nginx/conf.d/zz-broken.conf
fi
exec /usr/sbin/nginx "$@"
"""
RECORDS = "/var/lib/lbconsole/upstream-drain"


def op(**kw) -> dict:
    return {"op_id": str(uuid.uuid4()), "by": "ops@console", **kw}


def start(node: NodeEnv, work) -> int:
    """nginx with the upstreams and two backends (app1 on 9001, app2 on 9002) in the node."""
    (node.etc_nginx / "nginx.conf").write_text(NGINX_CONF)
    conf_d = node.etc_nginx / "conf.d"
    conf_d.mkdir(exist_ok=True)
    for old in conf_d.iterdir():
        old.unlink()
    (conf_d / "upstreams.conf").write_text(UPSTREAMS)
    for name, port in (("app1", 9001), ("app2", 9002)):
        root = work / name
        root.mkdir()
        (root / "index.html").write_text(name)
        node.popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(root)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    for port in (9001, 9002):  # up before nginx: a refused connect marks a server failed for fail_timeout
        while node.run(["curl", "-s", f"http://127.0.0.1:{port}/"], check=False).returncode != 0:
            assert time.monotonic() < deadline, f"backend {port} did not start within 10 s"
            time.sleep(0.1)
    node.run(["nginx"])
    master = int(node.path("/run/nginx.pid").read_text().strip())
    while not children(node, master) or set(bodies(node, 2)) != {"app1", "app2"}:
        assert time.monotonic() < deadline, "nginx or the backends did not start within 10 s"
        time.sleep(0.1)
    return master


def bodies(node: NodeEnv, n: int = 10) -> list[str]:
    out = []
    for _ in range(n):
        r = node.run(["curl", "-s", "--max-time", "5", "http://127.0.0.1:8080/"], check=False)
        out.append(r.stdout.strip() if r.returncode == 0 else f"curl exit {r.returncode}")
    return out


def settled(node: NodeEnv, master: int, new: list[int]) -> None:
    """The old workers finish and exit; until then one may still take a connection."""
    deadline = time.monotonic() + 10
    while set(workers(master)) - set(new):
        assert time.monotonic() < deadline, "old workers did not exit"
        time.sleep(0.05)


def state_files(node: NodeEnv) -> list[str]:
    root = node.path("/var/lib/lbconsole")
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_drain_through_the_agent_replay_once_then_undrain(node, work, program_file, sessions):
    master = start(node, work)
    conf = node.etc_nginx / "conf.d" / "upstreams.conf"
    original = conf.read_bytes()
    s = start_installed(node, program_file)
    sessions.append(s)
    args = op(upstream="backend", server="127.0.0.1:9001", reason="kernel update", force=False)
    first = s.request("upstream_drain", args)["result"]
    assert first["verified"] and first["changed"] and first["replayed"] is False, first
    line = "    server 127.0.0.1:9001 max_fails=2 fail_timeout=10s;"
    i = original.index(line.encode()) + len(line) - 1
    assert conf.read_bytes() == original[:i] + b" down" + original[i:]
    recs = list(node.path(RECORDS).glob("*.json"))
    assert len(recs) == 1
    rec = json.loads(recs[0].read_text())
    assert (rec["upstream"], rec["server"], rec["reason"], rec["by"]) == (
        "backend", "127.0.0.1:9001", "kernel update", "ops@console")
    assert first["before"]["master_pid"] == master == int(node.path("/run/nginx.pid").read_text())
    settled(node, master, first["new_workers"])
    assert set(bodies(node)) == {"app2"}

    now = workers(master)
    again = start_bootstrap(node)  # another session, the same op: applied once
    sessions.append(again)
    replay = again.request("upstream_drain", args)["result"]
    assert replay == {**first, "replayed": True}
    time.sleep(0.3)
    assert set(workers(master)) <= set(now) and conf.read_bytes().count(b" down") == 1

    # A new drain op for a server already drained: nothing changes.
    same = s.request("upstream_drain", op(upstream="backend", server="127.0.0.1:9001", reason="again"))["result"]
    assert same["changed"] is False and "already drained" in same["detail"]

    back = s.request("upstream_undrain", op(upstream="backend", server="127.0.0.1:9001"))["result"]
    assert back["verified"] and back["changed"], back
    assert conf.read_bytes() == original and list(node.path(RECORDS).glob("*.json")) == []
    settled(node, master, back["new_workers"])
    assert set(bodies(node, 12)) == {"app1", "app2"}


def test_refusals_map_to_protocol_codes(node, work, program_file, sessions):
    start(node, work)
    conf = node.etc_nginx / "conf.d" / "upstreams.conf"
    original = conf.read_bytes()
    s = start_installed(node, program_file)
    sessions.append(s)
    last = s.request("upstream_drain", op(upstream="single", server="127.0.0.1:9001", reason="x"))
    assert last["error"]["code"] == "refused" and "last live server of upstream single" in last["error"]["message"]
    unknown = s.request("upstream_drain", op(upstream="nope", server="127.0.0.1:9001", reason="x"))
    assert unknown["error"]["code"] == "refused" and "backend, single" in unknown["error"]["message"]
    no_reason = s.request("upstream_drain", op(upstream="backend", server="127.0.0.1:9001", reason=" "))
    assert no_reason["error"]["code"] == "bad_request"
    no_op = s.request("upstream_undrain", {"upstream": "backend", "server": "127.0.0.1:9001", "by": "x"})
    assert no_op["error"]["code"] == "bad_request" and "op_id" in no_op["error"]["message"]
    assert conf.read_bytes() == original and list(node.path(RECORDS).glob("*.json")) == []
    forced = s.request("upstream_drain", op(upstream="single", server="127.0.0.1:9001", reason="x", force=True))
    assert forced["result"]["verified"] and forced["result"]["record"]["forced"] is True


def test_read_only_refuses_both_verbs_before_anything(node, work, program_file, sessions):
    master = start(node, work)
    conf = node.etc_nginx / "conf.d" / "upstreams.conf"
    original = conf.read_bytes()
    before = workers(master)
    for s in (start_installed(node, program_file, "--read-only"), start_bootstrap(node, read_only=True)):
        sessions.append(s)
        for verb in ("upstream_drain", "upstream_undrain"):
            r = s.request(verb, op(upstream="backend", server="127.0.0.1:9001", reason="x"))
            assert r["error"]["code"] == "read_only" and verb in r["error"]["message"]
    assert conf.read_bytes() == original and state_files(node) == [] and workers(master) == before


def test_nginx_t_failing_after_the_edit_is_refused_and_the_file_put_back(node, work, program_file, sessions):
    master = start(node, work)
    conf = node.etc_nginx / "conf.d" / "upstreams.conf"
    original = conf.read_bytes()
    before = workers(master)
    wrapper = work / "bin"
    wrapper.mkdir()
    (wrapper / "nginx").write_text(RACING_NGINX)
    (wrapper / "nginx").chmod(0o755)
    (node.etc_nginx / "break-on-test").write_text("")
    # The agent runs nginx with a fixed PATH (/usr/local/sbin first): the wrapper goes there, in the node only.
    node.run(["mount", "--bind", str(wrapper), "/usr/local/sbin"])
    proc = node.popen([str(program_file), "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                      stderr=subprocess.PIPE)
    s = Session(proc)
    sessions.append(s)
    r = s.request("upstream_drain", op(upstream="backend", server="127.0.0.1:9001", reason="x"))
    assert r["error"]["code"] == "refused", r
    msg = r["error"]["message"]
    assert "nginx -t failed after marking 127.0.0.1:9001 down" in msg and "was put back" in msg
    assert "zz-broken.conf" in msg and "invalid parameter" in msg  # nginx's own words
    assert conf.read_bytes() == original and list(node.path(RECORDS).glob("*.json")) == []
    assert workers(master) == before  # never reloaded
    assert set(bodies(node, 12)) == {"app1", "app2"}  # still serving both
