"""The sudoers drop-in `lbconsole node install` writes is exactly enough: a non-root SSH user with it (and
sudo = true in the inventory) reloads nginx on a lab node and doctor says how; without it, both say
"sudo refused" and name the fix."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lbconsole.lab import api
from support import keygen
from support.lab_actions import cli

pytestmark = pytest.mark.lab
USER = "lbcop"
AGENT = "/usr/local/lib/lbconsole/lbconsole-node"


@pytest.fixture
def operator_account(lab, tmp_path):
    # web1 shares /etc/passwd and /home with this host (its /etc/ssh, /root and /etc/sudoers.d are its own).
    home = Path("/home") / USER
    # Password "*": no password login, but not "!" (locked), which sshd refuses even for keys.
    subprocess.run(["useradd", "-m", "-d", str(home), "-s", "/bin/sh", "-p", "*", USER], check=True)
    try:
        pub = keygen(tmp_path / "id_ed25519")
        (home / ".ssh").mkdir(mode=0o700)
        (home / ".ssh" / "authorized_keys").write_text(pub + "\n")
        subprocess.run(["chown", "-R", f"{USER}:{USER}", str(home / ".ssh")], check=True)
        text = Path(lab).read_text().split("[[cluster.node]]")[0]  # defaults and the cluster header
        inventory = tmp_path / "inventory.toml"
        inventory.write_text(text + f'[[cluster.node]]\nname = "web1"\nhost = "10.99.0.21"\nroles = ["nginx"]\n'
                                    f'user = "{USER}"\nidentity = "{tmp_path / "id_ed25519"}"\nsudo = true\n')
        yield inventory
    finally:
        api.run("web1", "rm -f /etc/sudoers.d/lbconsole")
        subprocess.run(["userdel", USER], check=False)
        shutil.rmtree(home, ignore_errors=True)


def test_the_installed_drop_in_lets_a_non_root_user_act_and_nothing_else(operator_account, tmp_path):
    lab_identity = ["--ssh-user", "root"]
    # node install logs in as root (the lab key is root's), and writes the drop-in for the inventory's user.
    inv = operator_account.read_text().replace(f'identity = "{tmp_path / "id_ed25519"}"\n', "")
    install_inv = tmp_path / "install.toml"
    install_inv.write_text(inv)
    res = cli(install_inv, tmp_path, "node", "install", "web1", *lab_identity)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"sudoers drop-in for {USER} checked with visudo" in res.stdout
    drop_in = api.run("web1", "cat /etc/sudoers.d/lbconsole", check=True).stdout
    assert f"{USER} ALL=(root) NOPASSWD: {AGENT} serve, {AGENT} serve --read-only" in drop_in
    res = cli(operator_account, tmp_path, "reload", "web1", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "reloaded nginx" in res.stdout
    res = cli(operator_account, tmp_path, "doctor")
    assert f"agent installed as {USER} via sudo" in res.stdout, res.stdout
    api.run("web1", "rm -f /etc/sudoers.d/lbconsole", check=True)
    res = cli(operator_account, tmp_path, "reload", "web1", "--yes")
    assert res.returncode == 1 and "sudo refused" in (res.stdout + res.stderr), res.stdout + res.stderr
    res = cli(operator_account, tmp_path, "doctor")
    assert res.returncode == 1 and "sudo refused" in res.stdout and "lbconsole node install web1" in res.stdout
    assert f"{USER} ALL=(root) NOPASSWD: {AGENT} serve, {AGENT} serve --read-only" in res.stdout
