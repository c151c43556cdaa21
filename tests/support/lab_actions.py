"""Helpers for the action lab tests: state of the real lab, client traffic, and reversible setups
(a syslog receiver, an ipvsadm call counter, a prepared keepalived.conf) that leave the lab as found."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from lbconsole.actions import prepare_conf
from lbconsole.lab import api
from support import lbconsole_in_ops, wait_for

VIP = "10.99.0.100"
SVC = f"{VIP}:80"
WEB = {"web1": "10.99.0.21", "web2": "10.99.0.22", "web3": "10.99.0.23"}
DIRECTORS = ("lb1", "lb2")
LAB_TRACK_DIR = "/run/lbconsole/track"  # not /var/lib/lbconsole: 9p there, no inotify for keepalived
LAB_FAILOVER_FILE = "/run/lbconsole/failover"


def rs(web: str, port: int = 80) -> str:
    return f"{WEB[web]}:{port}"


def weights(rs_key: str, service: str = SVC) -> dict[str, int | None]:
    out = {}
    for d in DIRECTORS:
        text = api.run(d, "ipvsadm -Sn", check=True).stdout
        m = re.search(rf"^-a -t {re.escape(service)} -r {re.escape(rs_key)} -\w -w (\d+)", text, re.MULTILINE)
        out[d] = int(m.group(1)) if m else None
    return out


def drain_records(director: str) -> list[dict]:
    text = api.run(director, "cat /var/lib/lbconsole/drain/*.json 2>/dev/null; true").stdout
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def served_by(n: int = 30, port: int = 80) -> list[str]:
    """X-Served-By of n fresh connections from the client namespace to the VIP ("FAILED" if none)."""
    script = (f"for i in $(seq {n}); do curl -s -m 3 -o /dev/null -D - -H 'Connection: close' "
              f"http://{VIP}:{port}/ | tr -d '\\r' | grep -i '^x-served-by:' || echo 'x-served-by: FAILED'; done")
    text = api.run("client", script, timeout=n * 4 + 10).stdout
    return [line.split(":", 1)[1].strip() for line in text.splitlines() if ":" in line]


def cli(inventory, state_dir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real CLI from the ops namespace, with its audit log in state_dir."""
    return lbconsole_in_ops(*args, "--inventory", str(inventory), timeout=timeout,
                            env={"XDG_STATE_HOME": str(state_dir)})


def audit_lines(state_dir: Path) -> list[dict]:
    path = state_dir / "lbconsole" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def master() -> str | None:
    found = [n.node.name for n in api.status().nodes if n.node.name in DIRECTORS and n.vip]
    return found[0] if len(found) == 1 else None


def reset_lab() -> None:
    """Back to the lab's own state: keepalived and nginx running, no drain or force, weights 100,
    lb1 MASTER holding the VIP."""
    for d in DIRECTORS:
        api.start_daemon(d, "keepalived")
        api.run(d, "rm -rf /var/lib/lbconsole/drain /var/lib/lbconsole/forced /run/lbconsole", check=True)
    for web in WEB:
        try:
            api.start_daemon(web, "nginx")
        except api.LabError:  # its pidfile may be gone while it still serves (another test's doing)
            if api.run("client", f"curl -sf -m 3 http://{WEB[web]}/health").returncode != 0:
                raise
    for d in DIRECTORS:
        api.run(d, "ipvsadm -Sn | awk '$1 == \"-a\" && $8 != 100 {print $2, $3, $5, $6}' | "
                   "while read f s r m; do ipvsadm -e $f $s -r $r $m -w 100; done", check=True)
    wait_for(lambda: master() == "lb1", 30, 1, "lb1 to be MASTER holding the VIP again")


@contextlib.contextmanager
def syslog_capture():
    """A /dev/log receiver in the directors' VM (lb1 and lb2 share its /dev); yields a reader of the
    lbconsole lines received."""
    recv = ("import os, socket, sys\np = '/dev/log'\ntry: os.unlink(p)\nexcept FileNotFoundError: pass\n"
            "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(p); os.chmod(p, 0o666)\n"
            "out = open(sys.argv[1], 'ab', buffering=0)\n"
            "while True: out.write(s.recv(65536).rstrip(b'\\n') + b'\\n')\n")
    start = api.run("lb1", "cat > /tmp/lbc-syslogd.py; rm -f /tmp/lbc-syslog.log; setsid python3 "
                           "/tmp/lbc-syslogd.py /tmp/lbc-syslog.log </dev/null >/dev/null 2>&1 & echo $!",
                    input=recv, check=True)
    pid = int(start.stdout.strip())
    wait_for(lambda: api.run("lb1", "test -S /dev/log").returncode == 0, 10, 0.2, "/dev/log")

    def lines() -> list[str]:
        text = api.run("lb1", "cat /tmp/lbc-syslog.log 2>/dev/null; true").stdout
        # The agents log with the stdlib (ident lbconsole, with its PID): "lbconsole[123]: ..."
        return [ln for ln in text.splitlines() if re.search(r" lbconsole(\[\d+\])?: ", ln)]
    try:
        yield lines
    finally:
        api.run("lb1", f"kill {pid}; rm -f /dev/log /tmp/lbc-syslogd.py")


@contextlib.contextmanager
def ipvsadm_counter():
    """Every ipvsadm call on the directors logged per node (a wrapper first on PATH in the VM)."""
    wrapper = '#!/bin/sh\necho "$*" >> /tmp/lbc-ipvsadm.calls\nexec /usr/sbin/ipvsadm "$@"\n'
    api.run("lb1", "cat > /usr/local/sbin/ipvsadm && chmod 755 /usr/local/sbin/ipvsadm", input=wrapper, check=True)
    for d in DIRECTORS:
        api.run(d, "rm -f /tmp/lbc-ipvsadm.calls", check=True)

    def calls(director: str) -> list[str]:
        return api.run(director, "cat /tmp/lbc-ipvsadm.calls 2>/dev/null; true").stdout.splitlines()
    try:
        yield calls
    finally:
        api.run("lb1", "rm -f /usr/local/sbin/ipvsadm")


def _keepalived_reloads(d: str) -> int:
    return int(api.run(d, "grep -c 'Reload complete' /var/log/keepalived.log; true").stdout.strip() or 0)


def reload_keepalived(d: str) -> None:
    before = _keepalived_reloads(d)
    api.run(d, "kill -HUP $(cat /run/keepalived.pid)", check=True)
    wait_for(lambda: _keepalived_reloads(d) > before, 30, 0.5, f"keepalived on {d} to reload")


@contextlib.contextmanager
def prepared_cluster():
    """keepalived.conf on lb1 and lb2 with the prepared-cluster lines (docs/prepared-cluster.md), then
    the original back."""
    originals = {d: api.run(d, "cat /etc/keepalived/keepalived.conf", check=True).stdout for d in DIRECTORS}
    try:
        for d, text in originals.items():
            new = prepare_conf.prepare(text, track_dir=LAB_TRACK_DIR, failover_file=LAB_FAILOVER_FILE)
            # keepalived watches the track files' directories: they must exist when it loads the config.
            api.run(d, f"mkdir -p {LAB_TRACK_DIR} && cat > /tmp/k.conf && keepalived -t -f /tmp/k.conf && "
                       "cat /tmp/k.conf > /etc/keepalived/keepalived.conf", input=new, check=True)
            reload_keepalived(d)
        yield
    finally:
        for d, text in originals.items():
            api.run(d, "cat > /etc/keepalived/keepalived.conf", input=text, check=True)
            if api.daemon_running(d, "keepalived"):
                reload_keepalived(d)
            api.run(d, "rm -rf /run/lbconsole")


class Traffic:
    """Requests to the VIP from the client namespace every `interval` s, in the background."""

    def __init__(self, interval: float = 0.25, port: int = 80):
        script = (f"while :; do t=$(date +%s.%N); h=$(curl -s -m 2 -o /dev/null -D - -H 'Connection: close' "
                  f"http://{VIP}:{port}/ | tr -d '\\r' | grep -i '^x-served-by:' | cut -d' ' -f2); "
                  f"echo \"$t ${{h:-FAILED}}\"; sleep {interval}; done")
        self.proc = subprocess.Popen(["ip", "netns", "exec", "lbc-client", "sh", "-c", script],
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)

    def stop(self) -> list[tuple[float, str]]:
        import os
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=10)
        return [(float(a), b) for a, b in (ln.split(" ", 1) for ln in out.splitlines() if " " in ln)]


def longest_outage(samples: list[tuple[float, str]]) -> float:
    """The longest run of failed requests, in seconds (from the last success before to the first after)."""
    worst, last_ok, failing = 0.0, None, False
    for t, who in samples:
        if who == "FAILED":
            failing = True
        else:
            if failing and last_ok is not None:
                worst = max(worst, t - last_ok)
            failing, last_ok = False, t
    return worst


HOLDER = r'''
import socket, sys, time
vip, n, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
conns = []
for _ in range(n):
    s = socket.create_connection((vip, 80), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    who = [l.split(b":", 1)[1].strip().decode() for l in head.split(b"\r\n") if l.lower().startswith(b"x-served-by")]
    conns.append((s, who[0] if who else "?"))
print(" ".join(w for _, w in conns), flush=True)
time.sleep(hold)
for s, _ in conns:
    s.close()
print("closed", flush=True)
'''


def hold_connections(n: int, hold_s: float) -> subprocess.Popen:
    """n keep-alive connections to the VIP held open for hold_s; its first output line says who serves each."""
    return subprocess.Popen(["ip", "netns", "exec", "lbc-client", sys.executable, "-c", HOLDER, VIP, str(n),
                             str(hold_s)], stdout=subprocess.PIPE, text=True)


def wait_weights(rs_key: str, want: int, timeout: float = 30) -> dict:
    def check():
        found = weights(rs_key)
        return found if all(v == want for v in found.values()) else None
    return wait_for(check, timeout, 0.5, f"{rs_key} weight {want} on both directors")


def flap_nginx(*webs: str) -> None:
    """Health check down then up on each web node: keepalived acts on its real server twice (delay_loop 2,
    retry 1); on an unprepared cluster that writes the configured weight back."""
    for web in webs:
        api.stop_daemon(web, "nginx")
    time.sleep(6)
    for web in webs:
        api.start_daemon(web, "nginx")
    time.sleep(8)


@contextlib.contextmanager
def unreachable(node: str):
    """node's sshd stopped (connections refused, as from a host that is down for SSH), then started again
    and answering, whatever the test did."""
    from lbconsole.lab import access
    from lbconsole.lab import topology as t

    api.stop_daemon(node, "sshd")
    try:
        yield
    finally:
        api.start_daemon(node, "sshd")
        wait_for(lambda: access.sshd_answers(t.node(node)), 30, 0.5, f"sshd on {node} to answer again")


def sleep(s: float) -> None:
    time.sleep(s)
