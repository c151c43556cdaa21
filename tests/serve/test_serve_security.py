"""Safety: loopback by default, TLS and a token anywhere else, 401 for a bad token (and logged)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from serve.conftest import CHECKOUT, TOKEN, Serve

from lbconsole.errors import UsageError
from lbconsole.source.remote import Endpoint, RemoteSource, probe
from support import free_port


@pytest.fixture(scope="module")
def guarded(inventory: Path, token_file: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    serve = Serve(free_port(), ["--inventory", str(inventory), "--token-file", str(token_file)],
                  tmp_path_factory.mktemp("guarded") / "serve.log")
    serve.start()
    yield serve
    serve.stop()


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")], check=True, capture_output=True)
    return d / "cert.pem", d / "key.pem"


def test_a_bad_token_gets_401_and_is_logged(guarded: Serve) -> None:
    for path in ("/snapshot", "/events", "/web/"):
        assert guarded.get(path)[0] == 401
        code, body, headers = guarded.get(path, token="wrong-token-but-long-enough")
        assert code == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    code, body, _ = guarded.get("/snapshot", token=TOKEN)
    assert code == 200 and json.loads(body)["clusters"]
    log = guarded.log.read_text()
    assert "401 GET '/snapshot' from 127.0.0.1: no token" in log
    assert "401 GET '/events' from 127.0.0.1: bad token" in log
    assert "wrong-token-but-long-enough" not in log and TOKEN not in log


def test_metrics_and_healthz_stay_open_unless_asked(guarded: Serve, inventory: Path, token_file: Path,
                                                    tmp_path: Path) -> None:
    assert guarded.get("/metrics")[0] == 200
    assert guarded.get("/healthz")[0] == 200
    closed = Serve(free_port(), ["--inventory", str(inventory), "--token-file", str(token_file),
                                 "--protect-metrics"], tmp_path / "serve.log").start()
    try:
        assert closed.get("/metrics")[0] == 401
        assert closed.get("/metrics", token=TOKEN)[0] == 200
        assert closed.get("/healthz")[0] == 200
    finally:
        closed.stop()


def serve_exit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "lbconsole", "serve", *args], cwd=CHECKOUT, capture_output=True,
                          text=True, timeout=30, check=False)


@pytest.mark.parametrize("listen", ["0.0.0.0:9810", "[::]:9810", "lb.example.org:9810"])
def test_not_loopback_needs_tls_and_a_token(listen: str, inventory: Path, token_file: Path,
                                            tls_pair: tuple[Path, Path]) -> None:
    cert, key = tls_pair
    for extra in ([], ["--token-file", str(token_file)], ["--tls-cert", str(cert), "--tls-key", str(key)]):
        out = serve_exit("--inventory", str(inventory), "--listen", listen, *extra)
        assert out.returncode == 2 and "needs --tls-cert, --tls-key and --token-file" in out.stderr
        assert "Traceback" not in out.stderr


def test_bad_options_are_one_clear_line(inventory: Path, tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("abc\n")
    for args, says in ((["--listen", "nonsense"], "expected HOST:PORT"),
                       (["--token-file", str(short)], "at least 16 characters"),
                       (["--token-file", str(tmp_path / "missing")], "No such file"),
                       (["--protect-metrics"], "--protect-metrics needs --token-file"),
                       (["--tls-cert", str(short)], "go together")):
        out = serve_exit("--inventory", str(inventory), *args)
        assert out.returncode == 2 and says in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr


def test_tls_with_a_token_on_any_address(inventory: Path, token_file: Path, tls_pair: tuple[Path, Path],
                                         tmp_path: Path) -> None:
    cert, key = tls_pair
    serve = Serve(free_port(), ["--inventory", str(inventory), "--token-file", str(token_file),
                                "--tls-cert", str(cert), "--tls-key", str(key)], tmp_path / "serve.log",
                  scheme="https", listen_host="0.0.0.0")  # reached only over loopback
    serve.start()
    try:
        assert serve.get("/snapshot")[0] == 401
        assert serve.get("/snapshot", token=TOKEN)[0] == 200

        async def view() -> None:
            endpoint = Endpoint.parse(serve.url, str(token_file), str(cert))
            assert await probe(endpoint) == 1.0
            source = RemoteSource(endpoint)
            try:
                snap = await asyncio.wait_for(source.next(), 20)
                assert [c.name for c in snap.clusters] == ["site-a"]
            finally:
                await source.close()

        asyncio.run(view())
        with pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):  # no --ca-file: not trusted
            asyncio.run(probe(Endpoint.parse(serve.url, str(token_file))))
        with pytest.raises(UsageError, match="refused the token"):
            asyncio.run(probe(Endpoint.parse(serve.url, None, str(cert))))
    finally:
        serve.stop()
