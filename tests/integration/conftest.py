"""A real sshd on loopback, with its own host key and an authorized client key."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from support import free_port, keygen


@dataclass
class Sshd:
    port: int
    dir: Path
    client_key: Path
    known_hosts: Path
    host_pub: str
    proc: subprocess.Popen

    def known_hosts_line(self) -> str:
        key_type, key = self.host_pub.split()[:2]
        return f"[127.0.0.1]:{self.port} {key_type} {key}\n"


@pytest.fixture(scope="session")
def sshd(tmp_path_factory) -> Sshd:
    sshd_bin = shutil.which("sshd") or "/usr/sbin/sshd"
    d = tmp_path_factory.mktemp("sshd")
    os.chmod(d, 0o700)
    host_pub = keygen(d / "host_ed25519")
    client_pub = keygen(d / "client_ed25519")
    (d / "authorized_keys").write_text(client_pub + "\n")
    port = free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_ed25519\n"
        f"AuthorizedKeysFile {d}/authorized_keys\nPidFile {d}/sshd.pid\nStrictModes no\nUsePAM no\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n")
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege separation directory
    proc = subprocess.Popen([sshd_bin, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "w"))
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"sshd did not start: {(d / 'sshd.log').read_text()}")
    server = Sshd(port, d, d / "client_ed25519", d / "known_hosts", host_pub, proc)
    server.known_hosts.write_text(server.known_hosts_line())
    yield server
    proc.terminate()
    proc.wait(5)
