"""Why an agent would not start, from what real shells and sudo print: one message that names the fix."""

from __future__ import annotations

import subprocess

import pytest

from lbconsole.transport import diagnose

AGENT = diagnose.AGENT_PATH


def run(argv: list[str]) -> tuple[int, str]:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return res.returncode, res.stderr


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_agent_not_installed(shell):
    # What sshd runs: the login shell with the command line (the program is not on this machine).
    status, err = run([shell, "-c", f"{AGENT}-missing serve"])
    err = err.replace(f"{AGENT}-missing", AGENT)
    assert diagnose.kind(status, err) == "missing"
    msg = diagnose.message("lb1", status, err)
    assert "not installed on lb1" in msg and "lbconsole node install lb1" in msg


def test_sudo_refused_names_the_drop_in():
    status, err = run(["su", "-s", "/bin/sh", "nobody", "-c", f"sudo -n {AGENT} serve"])
    assert status != 0 and diagnose.kind(status, err) == "sudo_refused", err
    msg = diagnose.message("lb2", status, err, user="noc")
    assert "sudo refused" in msg and "noc" in msg and "lbconsole node install lb2" in msg


@pytest.mark.parametrize("argv", [
    ["bash", "-c", "PATH=/nonexistent; python3 -I -c pass serve"],
    ["sh", "-c", "PATH=/nonexistent; python3 -I -c pass serve"],
    ["env", "PATH=/nonexistent", "/usr/bin/env", "python3-missing"],
])
def test_no_python3(argv):
    status, err = run(argv)
    err = err.replace("python3-missing", "python3")
    assert diagnose.kind(status, err) == "no_python", err
    assert "no python3 on web1" in diagnose.message("web1", status, err)


def test_anything_else_is_the_agents_last_words():
    status, err = run(["sh", "-c", "echo 'Traceback: boom' >&2; exit 1"])
    msg = diagnose.message("web1", status, err)
    assert diagnose.kind(status, err) == "other" and "exit status 1" in msg and "boom" in msg
