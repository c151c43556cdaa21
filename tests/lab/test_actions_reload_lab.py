"""nginx reload on the real lab: refused on a broken config with nothing touched and nginx still
serving; applied on a good one (same master, new workers); an apply-time failure is reported."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from lbconsole.lab import api
from support.lab_actions import audit_lines, cli, reset_lab

pytestmark = pytest.mark.lab
BROKEN = "/etc/nginx/conf.d/zz-lbconsole-test.conf"


@dataclass
class NginxState:
    master: int
    workers: set[int] = field(default_factory=set)


def nginx_state(web: str) -> NginxState:
    """nginx's master and workers, read on the node with ps (not the way the agent reads them)."""
    out = api.run(web, "cat /run/nginx.pid; ps -o pid= --ppid $(cat /run/nginx.pid)", check=True).stdout.split()
    return NginxState(int(out[0]), {int(p) for p in out[1:]})


def serves(web: str) -> bool:
    ip = {"web1": "10.99.0.21", "web2": "10.99.0.22", "web3": "10.99.0.23"}[web]
    return api.run("client", f"curl -sf -m 3 http://{ip}/health").stdout == "ok\n"


@pytest.fixture
def web3(lab):
    reset_lab()
    yield lab
    api.run("web3", f"rm -f {BROKEN}", check=True)
    api.run("web3", "nginx -t && nginx -s reload")
    reset_lab()


def test_broken_config_is_refused_and_nothing_is_touched(web3, tmp_path):
    before = nginx_state("web3")
    api.run("web3", f"echo 'server {{ listen 81; this_is_not_a_directive; }}' > {BROKEN}", check=True)
    res = cli(web3, tmp_path, "reload", "web3", "--yes")
    assert res.returncode == 3, res.stdout + res.stderr
    assert "reload on web3" in res.stderr and "nginx -t failed" in res.stderr
    assert "this_is_not_a_directive" in res.stderr and "nothing was touched" in res.stderr
    assert nginx_state("web3") == before and serves("web3")
    api.run("web3", f"rm -f {BROKEN}", check=True)
    res = cli(web3, tmp_path, "reload", "web3", "--yes")
    assert res.returncode == 0, res.stderr
    after = nginx_state("web3")
    assert after.master == before.master and after.workers - before.workers and serves("web3")
    assert f"master {before.master} kept" in res.stdout
    assert [(r["what"], r["result"]) for r in audit_lines(tmp_path)] == [("reload", "refused"), ("reload", "done")]
    assert audit_lines(tmp_path)[1]["before"]["master_pid"] == before.master


def test_apply_time_failure_is_reported_with_the_emerg_lines(web3, tmp_path):
    # Port 8181 taken in web3's namespace: `nginx -t` passes, the reload cannot bind it.
    squatter = subprocess.Popen(["ip", "netns", "exec", "lbc-web3", sys.executable, "-c",
                                 "import socket, time; s = socket.socket(); s.bind(('0.0.0.0', 8181)); s.listen(); "
                                 "print('up', flush=True); time.sleep(120)"], stdout=subprocess.PIPE, text=True)
    try:
        assert squatter.stdout.readline().strip() == "up"
        api.run("web3", f"echo 'server {{ listen 8181; return 200; }}' > {BROKEN}", check=True)
        before = nginx_state("web3")
        res = cli(web3, tmp_path, "reload", "web3", "--yes")
        assert res.returncode == 1, res.stdout + res.stderr
        # The agent quotes the last [emerg] line ("still could not bind()") and counts the others.
        assert "NOT verified" in res.stderr and "[emerg]" in res.stderr and "bind()" in res.stderr
        assert nginx_state("web3").master == before.master and serves("web3")
    finally:
        squatter.kill()
        squatter.wait()
