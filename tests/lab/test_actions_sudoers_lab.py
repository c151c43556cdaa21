"""The sudoers lines `lbconsole doctor` prints are exactly enough: a non-root SSH user with them (and
sudo = true in the inventory) reloads nginx on a lab node, and doctor reports root by sudo."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lbconsole.commands.doctor import sudoers_lines
from support import keygen
from support.lab_actions import cli

pytestmark = pytest.mark.lab
USER = "lbcop"
SUDOERS = Path("/etc/sudoers.d/lbconsole-lab-test")


@pytest.fixture
def operator_account(lab, tmp_path):
    # web1 shares /etc/passwd and /home with this host (only /etc/ssh and /root are its own).
    home = Path("/home") / USER
    # Password "*": no password login, but not "!" (locked), which sshd refuses even for keys without PAM.
    subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/sh", "-p", "*", USER], check=True)
    try:
        pub = keygen(tmp_path / "id_ed25519")
        (home / ".ssh").mkdir(mode=0o700)
        (home / ".ssh" / "authorized_keys").write_text(pub + "\n")
        subprocess.run(["chown", "-R", f"{USER}:{USER}", str(home / ".ssh")], check=True)
        SUDOERS.write_text("\n".join(sudoers_lines(USER)) + "\n")
        os.chmod(SUDOERS, 0o440)
        assert subprocess.run(["visudo", "-cf", str(SUDOERS)], capture_output=True).returncode == 0
        text = Path(lab).read_text().split("[[cluster.node]]")[0]  # defaults and the cluster header
        inventory = tmp_path / "inventory.toml"
        inventory.write_text(text + f'[[cluster.node]]\nname = "web1"\nhost = "10.99.0.21"\nroles = ["nginx"]\n'
                                    f'user = "{USER}"\nidentity = "{tmp_path / "id_ed25519"}"\nsudo = true\n')
        yield inventory
    finally:
        SUDOERS.unlink(missing_ok=True)
        subprocess.run(["userdel", USER], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_printed_sudoers_lines_let_a_non_root_user_act(operator_account, tmp_path):
    res = cli(operator_account, tmp_path, "reload", "web1", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "reloaded nginx on web1" in res.stdout
    res = cli(operator_account, tmp_path, "doctor")
    assert "commands run as root (sudo -n)" in res.stdout, res.stdout
    SUDOERS.unlink()
    res = cli(operator_account, tmp_path, "reload", "web1", "--yes")
    assert res.returncode == 1 and "sudo" in (res.stdout + res.stderr)
    res = cli(operator_account, tmp_path, "doctor")
    assert res.returncode == 1 and f"{USER} ALL=(root) NOPASSWD: /usr/bin/sh -c *, /bin/sh -c *" in res.stdout
