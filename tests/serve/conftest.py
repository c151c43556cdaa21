"""A real `lbconsole serve` process on loopback, fed by a real poller.

The inventory: a local director (this kernel has no ip_vs, so it answers with an IPVS error),
a local nginx node whose stub_status is a real nginx on loopback, and an SSH node reached
through a real sshd on loopback.
"""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from integration.conftest import Sshd, sshd  # noqa: F401  (the real sshd fixture)
from integration.test_local_collector import nginx  # noqa: F401  (the real nginx fixture)

from support import free_port
from support.inventory import cluster_table, defaults_table, node_table
from support.inventory import write_inventory as write_toml

CHECKOUT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token-for-tests-0123456789"


@dataclass
class Serve:
    port: int
    args: list[str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    scheme: str = "http"
    extra_env: dict[str, str] = field(default_factory=dict)
    listen_host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> Serve:
        argv = [sys.executable, "-m", "lbconsole", "serve", "--listen", f"{self.listen_host}:{self.port}", *self.args]
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(argv, cwd=CHECKOUT, stdout=subprocess.DEVNULL, stderr=log,
                                         env={**os.environ, **self.extra_env})
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1, context=self._tls()) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve never became healthy: {self.log.read_text()}")

    def wait_all_reachable(self, timeout: float = 30, token: str | None = None) -> dict:  # type: ignore[type-arg]
        import json

        deadline = time.monotonic() + timeout
        doc: dict = {}  # type: ignore[type-arg]
        while time.monotonic() < deadline:
            code, body, _ = self.get("/snapshot", token)
            doc = json.loads(body) if code == 200 else {}
            if doc and all(n["reachable"] for c in doc["clusters"] for n in c["nodes"]):
                return doc
            time.sleep(0.2)
        raise AssertionError(f"not every node answered: {doc}")

    def _tls(self) -> ssl.SSLContext | None:
        return ssl._create_unverified_context() if self.scheme == "https" else None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def get(self, path: str, token: str | None = None, accept: str | None = None) -> tuple[int, bytes, dict[str, str]]:
        req = urllib.request.Request(f"{self.url}{path}")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if accept:
            req.add_header("Accept", accept)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self._tls()) as r:
                return r.status, r.read(), dict(r.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)


def write_inventory(path: Path, nginx_url: str, ssh: Sshd | None = None, interval: float = 1.0) -> Path:
    nodes = [node_table("lb-local", "local", "director"),
             node_table("web-local", "local", "nginx", nginx_status_url=nginx_url)]
    if ssh is not None:
        nodes.append(node_table("web-ssh", "127.0.0.1", "backend", port=ssh.port, user="root",
                                identity=str(ssh.client_key), known_hosts=str(ssh.known_hosts)))
    return Path(write_toml(path, defaults_table(poll_interval=interval),
                           cluster_table("site-a", *nodes, color="#bf616a")))


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory, nginx: str, sshd: Sshd) -> Path:  # noqa: F811
    return write_inventory(tmp_path_factory.mktemp("inv") / "inventory.toml", nginx, sshd)


@pytest.fixture(scope="module")
def token_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def served(inventory: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """An open loopback serve (no token), for the read-side tests."""
    serve = Serve(free_port(), ["--inventory", str(inventory)], tmp_path_factory.mktemp("serve") / "serve.log")
    serve.start()
    serve.wait_all_reachable()
    yield serve
    serve.stop()
