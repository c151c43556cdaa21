"""The console in a real terminal (tmux, 256 colours, no COLORTERM) against the lab.

It must show each director's VRRP state as keepalived itself reports it (lb1
MASTER and lb2 BACKUP in the lab's resting state) and the real servers as
ipvsadm lists them; `q` must leave cleanly, and closing the terminal must end it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lbconsole.lab import api
from support import wait_for

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 98: "STOP"}


def tmux(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check)


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session).stdout


def vrrp_states() -> dict[str, str]:
    """node -> state of its first instance, from keepalived's own JSON dump."""
    states = {}
    for node in ("lb1", "lb2"):
        out = api.run(node, "kill -$(keepalived --signum=JSON) $(cat /run/keepalived.pid); sleep 0.7; "
                            "cat /tmp/keepalived.json", check=True).stdout
        states[node] = STATES[json.loads(out)[0]["data"]["state"]]
    return states


def real_servers(service: str) -> set[str]:
    """The real servers of `service` as `ipvsadm -Sn` (a format the console never reads) lists them."""
    out = api.run("lb1", "ipvsadm -Sn", check=True).stdout
    return {w[4] for w in map(str.split, out.splitlines()) if w[:1] == ["-a"] and w[2] == service}


def console_pid(session: str) -> int | None:
    """The python process under the pane's shell (ip netns exec execs into it)."""
    shell = tmux("display", "-p", "-t", session, "#{pane_pid}", check=False).stdout.strip()
    out = subprocess.run(["pgrep", "-P", shell], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def row(screen: str, node: str) -> str:
    return next((line for line in screen.splitlines() if re.search(rf"(^|\W){node}\W", line)), "")


@pytest.fixture
def console(lab, tmp_path):
    session = f"lbc-console-{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k != "COLORTERM"}  # as over SSH
    # Textual draws on stderr, so only the exit status is captured, by the shell around it.
    cmd = (f"ip netns exec lbc-ops env TERM=xterm-256color {sys.executable} -m lbconsole --inventory {lab}; "
           f"echo lbconsole exited $? >{tmp_path}/exit")
    subprocess.run(["tmux", "-f", "/dev/null", "new-session", "-d", "-s", session, "-x", "120", "-y", "36",
                    "-c", str(ROOT), "sh", "-c", cmd], check=True, env=env)
    pid = wait_for(lambda: console_pid(session), timeout=10, interval=0.2, what="the console process")
    yield session, pid, tmp_path
    tmux("kill-session", "-t", session, check=False)


def test_console_shows_the_labs_vrrp_states_and_real_servers_and_q_quits(console):
    session, _, tmp = console
    wanted = real_servers(f"{api.VIP}:80")
    assert {rs.split(":")[0] for rs in wanted} == {"10.99.0.21", "10.99.0.22", "10.99.0.23"}  # the lab's layout

    def shown():
        screen = capture(session)
        try:
            states = vrrp_states()
        except (ValueError, KeyError, IndexError, subprocess.SubprocessError, api.LabError):
            return None  # keepalived writes its dump non-atomically: read it again next round
        ok = all(states[n] in row(screen, n) for n in states) and all(rs in screen for rs in wanted)
        return screen if ok else None

    screen = wait_for(shown, timeout=60, interval=1, what="VRRP states and real servers on screen")
    assert "[RW]" in screen
    tmux("send-keys", "-t", session, "q")
    exit_file = tmp / "exit"
    said = wait_for(lambda: exit_file.exists() and exit_file.read_text().strip(), timeout=15, interval=0.2,
                    what="the console to exit after q")
    assert said == "lbconsole exited 0"


def test_console_ends_when_the_terminal_goes_away(console):
    session, pid, _ = console
    wait_for(lambda: "lb1" in capture(session), timeout=60, interval=1, what="the console to start")
    tmux("kill-session", "-t", session)  # the terminal is gone: SIGHUP

    def gone():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, timeout=10, interval=0.2, what="the console to exit on SIGHUP")
