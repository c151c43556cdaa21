"""The agent's reload verb (node/reload.py) on a real loopback nginx: the rules of nginx_reload, with the pid
file and error log read from the config nginx runs (here in a temporary prefix, not /run/nginx.pid)."""

from __future__ import annotations

import socket

import pytest

from lbconsole.node import reload
from lbconsole.node.nginx_reload import Nginx
from lbconsole.node.protocol import REFUSED, UNAVAILABLE, NodeError
from support import free_port
from support.loopback_nginx import LoopbackNginx


@pytest.fixture
def ngx(tmp_path):
    port = free_port()
    n = LoopbackNginx(tmp_path / "ngx", {"site.conf": f"server {{ listen 127.0.0.1:{port}; return 200; }}\n"})
    n.start(port)
    yield n
    n.stop()


def test_a_reload_is_verified_with_the_config_s_own_pid_file_and_error_log(ngx):
    old = ngx.workers()
    res = reload.reload_nginx(Nginx(ngx.argv))
    assert res["verified"] is True, res["detail"]
    assert res["before"] == {"master_pid": ngx.master, "worker_pids": sorted(old)}
    assert res["after"]["master_pid"] == ngx.master and set(res["after"]["worker_pids"]) - old
    assert res["detail"].startswith(f"reloaded nginx: master {ngx.master} kept, new worker(s) ")
    assert res["detail"].endswith(f"no [emerg]/[alert] in {ngx.error_log}")


def test_nginx_t_failing_is_refused_and_nothing_is_touched(ngx):
    old = ngx.workers()
    (ngx.dir / "conf.d" / "bad.conf").write_text("bogus_directive 1;\n")
    with pytest.raises(NodeError) as err:
        reload.reload_nginx(Nginx(ngx.argv))
    assert err.value.code == REFUSED and err.value.message.startswith("nginx -t failed; nothing was touched:")
    assert 'unknown directive "bogus_directive"' in err.value.message
    assert ngx.workers() == old


def test_an_apply_time_failure_is_not_verified_and_quotes_the_emerg_line(ngx):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        (ngx.dir / "conf.d" / "bind.conf").write_text(
            f"server {{ listen 127.0.0.1:{taken.getsockname()[1]}; return 200; }}\n")
        res = reload.reload_nginx(Nginx(ngx.argv), wait_s=1.5)
    finally:
        taken.close()
    assert res["verified"] is False and res["detail"].startswith("reload of nginx NOT verified: ")
    assert "no new worker within 1.5 s" in res["detail"]
    assert "[emerg]" in res["detail"] and "bind()" in res["detail"]
    assert res["before"]["master_pid"] == res["after"]["master_pid"] == ngx.master


def test_no_nginx_is_unavailable(ngx):
    with pytest.raises(NodeError) as err:
        reload.reload_nginx(Nginx(["/nonexistent/nginx"]))
    assert err.value.code == UNAVAILABLE and "not installed" in err.value.message
