"""Helpers: real nodes for the node agent's tests: a network namespace plus a private mount namespace
(tmpfs on /run, /tmp, /var/lib/lbconsole, a private /etc/nginx), where real keepalived and
nginx run at their default paths and the agent runs as the installed program. Everything
started here is stopped by PID, and every namespace is removed."""

from __future__ import annotations

import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from lbconsole.node import program

PYTHON = "/usr/bin/python3"
_seq = itertools.count()


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30, **kw)


class NodeEnv:
    """One throwaway node. `root` is its mount namespace seen from outside (/proc/PID/root)."""

    def __init__(self, work: Path, pid_ns: bool = False):
        self.work = work
        self.netns = f"lbcn{os.getpid()}x{next(_seq)}"
        self.procs: list[subprocess.Popen] = []
        _run(["ip", "netns", "add", self.netns])
        _run(["ip", "-n", self.netns, "link", "set", "lo", "up"])
        os.makedirs("/var/lib/lbconsole", exist_ok=True)  # a mount point, empty on this machine
        etc_nginx = work / "etc-nginx"
        shutil.copytree("/etc/nginx", etc_nginx, symlinks=True)
        # A /dev of its own too: the few devices daemons need, and /dev/log a socket the test may bind
        # (/run/syslog.sock), so that nothing reaches this machine's syslog.
        devices = "null zero full random urandom tty"
        setup = ("mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /tmp && "
                 "mount -t tmpfs tmpfs /var/lib/lbconsole && mkdir -p /run/nginx-log /run/.dev && "
                 "mount -t tmpfs -o mode=755 tmpfs /run/.dev && "
                 f"for d in {devices}; do touch /run/.dev/$d && mount --bind /dev/$d /run/.dev/$d || exit 1; done && "
                 "mkdir /run/.dev/shm && ln -s /proc/self/fd /run/.dev/fd && ln -s /run/syslog.sock /run/.dev/log && "
                 "mount --move /run/.dev /dev && "
                 f"mount --bind {etc_nginx} /etc/nginx && echo ready && exec sleep 100000")
        # With pid_ns, a PID namespace of its own too: its /proc/loadavg then counts only the
        # processes created on this node (bench_node_poll.py).
        unshare = ["unshare", "--mount", "--propagation", "private"] + (
            ["--pid", "--fork", "--kill-child", "--mount-proc"] if pid_ns else [])
        self.holder = subprocess.Popen(["ip", "netns", "exec", self.netns, *unshare, "sh", "-c", setup],
                                       stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None and self.holder.stdout.readline().strip() == "ready"
        self.pid = self.holder.pid  # a process inside the node's namespaces
        if pid_ns:
            self.pid = int(Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children").read_text().split()[0])
        self.nsenter = ["-n", "-m"] + (["-p"] if pid_ns else [])
        self.root = Path(f"/proc/{self.pid}/root")
        self.etc_nginx = etc_nginx

    def argv(self, argv: list[str]) -> list[str]:
        return ["nsenter", "-t", str(self.pid), *self.nsenter, "--"] + argv

    def run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(argv), check=check, capture_output=True, text=True, timeout=30)

    def popen(self, argv: list[str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(self.argv(argv), **kw)
        self.procs.append(proc)
        return proc

    def add_link(self, name: str = "eth0") -> None:
        """An Ethernet interface (a veth pair inside the node: this kernel has no dummy)."""
        self.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name + "p"])
        for link in (name, name + "p"):  # no IPv6 link-local appearing later (it would move the address set)
            self.run(["ip", "link", "set", link, "addrgenmode", "none"])
        self.run(["ip", "link", "set", name + "p", "up"])
        self.run(["ip", "link", "set", name, "up"])

    def path(self, inside: str) -> Path:
        """A path of the node, from outside."""
        return self.root / inside.lstrip("/")

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
        if self.pid == self.holder.pid:  # else the PID namespace ends with its first process
            self._kill_pidfile("run/keepalived.pid", "keepalived")
            self._kill_pidfile("run/nginx.pid", "nginx")
        self.holder.kill()
        self.holder.wait(10)
        subprocess.run(["ip", "netns", "del", self.netns], check=False, capture_output=True, timeout=30)

    def _kill_pidfile(self, pidfile: str, comm: str) -> None:
        """Stop the daemon of a PID file, if that PID is still that daemon (a test may have
        written another PID there)."""
        try:
            pid = int(self.path(pidfile).read_text().strip())
            if Path(f"/proc/{pid}/comm").read_text().strip() != comm:
                return
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)


class Session:
    """The console's side of one agent session: requests out, responses and events in."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: queue.Queue = queue.Queue()
        self.events: queue.Queue = queue.Queue()
        self.raw: list[bytes] = []
        self._ids = itertools.count(1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.raw.append(line)
            msg = json.loads(line)
            (self.events if "event" in msg else self.lines).put(msg)
        self.lines.put(None)

    def send_raw(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def request(self, verb: str, args: dict | None = None, timeout: float = 30) -> dict:
        req_id = next(self._ids)
        msg: dict = {"id": req_id, "verb": verb}
        if args is not None:
            msg["args"] = args
        self.send_raw(json.dumps(msg).encode() + b"\n")
        return self.response(req_id, timeout)

    def response(self, req_id, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            assert msg is not None, "the agent closed its stdout"
            if msg.get("id") == req_id:
                return msg
            raise AssertionError(f"unexpected response {msg!r} while waiting for id {req_id}")

    def event(self, timeout: float = 10, where=lambda e: True) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            ev = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if where(ev):
                return ev

    def close(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(30)


def start_installed(env: NodeEnv | None, program_path: Path, *args: str) -> Session:
    argv = [str(program_path), "serve", *args]
    kw = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    proc = env.popen(argv, **kw) if env else subprocess.Popen(argv, **kw)
    return Session(proc)


def start_bootstrap(env: NodeEnv | None, read_only: bool = False) -> Session:
    argv = program.bootstrap_argv(read_only=read_only, python=PYTHON)
    kw = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    proc = env.popen(argv, **kw) if env else subprocess.Popen(argv, **kw)
    s = Session(proc)
    s.send_raw(program.bootstrap_payload())
    return s




NGINX_CONF = """\
user www-data;
worker_processes 1;
pid /run/nginx.pid;
error_log /run/nginx-log/error.log;
include /etc/nginx/modules-enabled/*.conf;
events {{ worker_connections 64; }}
http {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        location = /nginx_status {{ stub_status; }}
        location = /hostile {{ default_type text/plain; return 200 '{hostile}'; }}
    }}
}}
"""
# A status page followed by protocol-looking lines: a response, an event, the old markers.
HOSTILE_BODY = ("Active connections: 1 \\nserver accepts handled requests\\n 1 1 1 \\n"
                "Reading: 0 Writing: 1 Waiting: 0 \\n"
                '{\\"id\\": 1, \\"ok\\": true, \\"result\\": {\\"vrrp\\": [{\\"state\\": \\"MASTER\\"}]}}\\n'
                '{\\"event\\": \\"addr\\", \\"at\\": 0, \\"data\\": {}}\\n'
                "@@LBC vrrp\\n@@LBC-RC 0\\n\\u001b]0;owned\\u0007\\n")


def children(env: NodeEnv, pid: int) -> list[int]:
    """PIDs whose parent is pid, as the node sees them (its own /proc)."""
    out = []
    for stat in env.path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_bytes()
        except OSError:
            continue
        fields = text[text.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return sorted(out)


def start_nginx(env: NodeEnv, port: int = 8080) -> int:
    """nginx at its default paths in the node, stub_status and the hostile page on loopback."""
    (env.etc_nginx / "nginx.conf").write_text(NGINX_CONF.format(port=port, hostile=HOSTILE_BODY))
    env.run(["nginx"])
    master = int(env.path("/run/nginx.pid").read_text().strip())
    deadline = time.monotonic() + 10
    while not children(env, master):  # started: its worker is there too
        assert time.monotonic() < deadline, "nginx started no worker within 10 s"
        time.sleep(0.02)
    return master


VRRP_PASSWORD = "s3cr3tPw"
KEEPALIVED_CONF = """\
global_defs {{
    router_id {router_id}
    vrrp_garp_master_delay 1
}}

vrrp_instance {instance} {{
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {{
        auth_type PASS
        auth_pass {password}
    }}
    virtual_ipaddress {{
        10.98.0.100/32 dev eth0
    }}
}}
"""


def keepalived_conf(work: Path, instance: str = "VI_1", router_id: str = "node1") -> Path:
    path = work / "keepalived.conf"
    path.write_text(KEEPALIVED_CONF.format(instance=instance, router_id=router_id, password=VRRP_PASSWORD))
    return path


def start_keepalived(env: NodeEnv, conf: Path, wait_master: bool = True) -> int:
    """keepalived (VRRP only: this kernel has no ip_vs) at its default paths in the node."""
    if not env.path("/sys/class/net/eth0").exists():
        env.add_link()
        env.run(["ip", "addr", "add", "10.98.0.11/24", "dev", "eth0"])
    env.run(["keepalived", "-P", "-f", str(conf)])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            pid = int(env.path("/run/keepalived.pid").read_text().strip())
        except (OSError, ValueError):
            time.sleep(0.05)
            continue
        addrs = env.run(["ip", "-o", "addr", "show", "dev", "eth0"]).stdout
        if not wait_master or "10.98.0.100/32" in addrs:
            return pid
        time.sleep(0.1)
    raise AssertionError("keepalived did not start (or hold the VIP) within 15 s")


def stop_keepalived(env: NodeEnv) -> None:
    env._kill_pidfile("run/keepalived.pid", "keepalived")


class FileCreations:
    """Counts files of one name created in a directory (inotify IN_CREATE | IN_MOVED_TO): how
    many dumps keepalived wrote, seen from outside the node."""

    IN_CREATE, IN_MOVED_TO = 0x100, 0x80

    def __init__(self, directory: Path, name: str):
        import ctypes
        import ctypes.util

        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        assert self.fd >= 0
        wd = self._libc.inotify_add_watch(self.fd, str(directory).encode(), self.IN_CREATE | self.IN_MOVED_TO)
        assert wd >= 0, os.strerror(ctypes.get_errno())
        self.name = name.encode()
        self.count = 0

    def poll(self) -> int:
        import struct

        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return self.count
            pos = 0
            while pos < len(data):
                _wd, _mask, _cookie, ln = struct.unpack_from("iIII", data, pos)
                if data[pos + 16:pos + 16 + ln].rstrip(b"\0") == self.name:
                    self.count += 1
                pos += 16 + ln

    def close(self) -> None:
        os.close(self.fd)
