"""Per-node state: directories, keys and configs under nodes/NAME, starting a host node's
holder process, and starting/stopping a node's daemons from the host (out of band, no SSH)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from lbconsole.lab import configs, vm
from lbconsole.lab import topology as t
from lbconsole.lab.errors import LabError
from lbconsole.lab.proc import alive, read_pid, record_pid, sh
from lbconsole.lab.scripts import BINDS, NODE_BOOT
from lbconsole.lab.topology import Node

DAEMONS = ("sshd", "nginx", "keepalived")
# Shell run inside a node (its /run is private) to start each daemon the way its boot did.
START = {
    "sshd": "/usr/sbin/sshd -E /var/log/sshd.log",
    "nginx": "/usr/sbin/nginx",
    "keepalived": "setsid /usr/sbin/keepalived -n -l -D </dev/null >>/var/log/keepalived.log 2>&1 &",
}
# Prints "NAME up" or "NAME down" for each daemon, judged by its pidfile and a live, non-zombie
# pid, and "vip up" if the node holds the VIP on eth0 (a director that is MASTER).
PROBE = f"""for d in {" ".join(DAEMONS)}; do
  p=$(cat /run/$d.pid 2>/dev/null); s=down
  if [ -n "$p" ] && [ -r /proc/$p/stat ] && [ "$(cut -d' ' -f3 /proc/$p/stat)" != Z ]; then s=up; fi
  echo "$d $s"
done
ip -o -4 addr show dev eth0 | grep -q ' {t.VIP}/' && echo 'vip up'; true"""


def keygen(path: Path, comment: str) -> None:
    """An ed25519 key at path unless one is there (keys survive down/up so known_hosts stays valid)."""
    if not path.exists():
        sh(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path])


def prepare_ops() -> str:
    """The ops key; returns its public half."""
    t.OPS_DIR.mkdir(parents=True, exist_ok=True)
    os.chmod(t.OPS_DIR, 0o700)
    keygen(t.IDENTITY, "lbconsole-lab-ops")
    return t.IDENTITY.with_suffix(".pub").read_text()


def prepare_node(node: Node, ops_pub: str) -> str:
    """Fresh runtime state plus persistent host key for node; returns its known_hosts line."""
    d = node.dir
    d.mkdir(parents=True, exist_ok=True)
    for name in ("holder.pid", "booted", "boot.log"):
        (d / name).unlink(missing_ok=True)
    for src, _ in BINDS:
        if src != "etc-ssh":  # configs are rewritten each up; the host key is kept
            shutil.rmtree(d / src, ignore_errors=True)
        (d / src).mkdir(parents=True, exist_ok=True)
    ssh_dir = d / "etc-ssh"
    keygen(ssh_dir / "ssh_host_ed25519_key", f"root@{node.name}")
    (ssh_dir / "sshd_config").write_text(configs.sshd_config(node))
    shutil.copy2("/etc/ssh/ssh_config", ssh_dir / "ssh_config")
    os.chmod(d / "root", 0o700)
    for rc in (".bashrc", ".profile"):  # this machine's root start-up files, as a real host has them
        src = f"/root/{rc}" if os.path.exists(f"/root/{rc}") else f"/etc/skel/{rc}"
        if os.path.exists(src):
            shutil.copy2(src, d / "root" / rc)
    if node.name == t.SLOW_NODE:
        with open(d / "root" / ".bashrc", "a") as f:
            f.write(f"\n# lbconsole lab: this node's shell start-up is slow on purpose\nsleep {t.SLOW_START_S:g}\n")
    os.chmod(d / "usr-local-lib-lbconsole", 0o755)
    os.chmod(d / "etc-sudoers-d", 0o750)
    if os.path.exists("/etc/sudoers.d/README"):
        shutil.copy2("/etc/sudoers.d/README", d / "etc-sudoers-d" / "README")
    root_ssh = d / "root" / ".ssh"
    root_ssh.mkdir(mode=0o700)
    (root_ssh / "authorized_keys").write_text(ops_pub)
    os.chmod(root_ssh / "authorized_keys", 0o600)
    if node.runs_nginx:
        nginx = d / "etc-nginx"
        shutil.rmtree(nginx)
        shutil.copytree("/etc/nginx", nginx, symlinks=True)
        shutil.rmtree(nginx / "sites-enabled", ignore_errors=True)
        (nginx / "nginx.conf").write_text(configs.nginx_conf(node))
        (nginx / "conf.d").mkdir(exist_ok=True)
        (nginx / "conf.d" / "lab.conf").write_text(configs.nginx_site(node))
    if node.is_director:
        conf = d / "etc-keepalived" / "keepalived.conf"
        conf.write_text(configs.keepalived_conf(node))
        os.chmod(conf, 0o600)  # it holds the VRRP password
    key = (ssh_dir / "ssh_host_ed25519_key.pub").read_text().split()
    return f"{node.ip} {key[0]} {key[1]}\n"


def ensure_ops_user(ops_pub: str) -> None:
    """The non-root account (t.SUDO_USER) some directors are reached by: before the VM boots, so it sees it."""
    import pwd

    try:
        pwd.getpwnam(t.SUDO_USER)
    except KeyError:
        sh(["useradd", "-m", "-s", "/bin/bash", t.SUDO_USER])
    user = pwd.getpwnam(t.SUDO_USER)
    ssh_dir = os.path.join(user.pw_dir, ".ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    keys = os.path.join(ssh_dir, "authorized_keys")
    with open(keys, "w") as f:
        f.write(ops_pub)
    for path in (ssh_dir, keys):
        os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(keys, 0o600)


def write_boot_script() -> None:
    t.BIN_DIR.mkdir(parents=True, exist_ok=True)
    path = t.BIN_DIR / "node-boot.sh"
    path.write_text(NODE_BOOT)
    os.chmod(path, 0o755)


def mountpoints() -> None:
    """Bind mounts need their targets on the host root (e.g. /var/lib/lbconsole on a fresh machine)."""
    for _, dst in BINDS:
        os.makedirs(dst, exist_ok=True)


def start_host_node(node: Node) -> int:
    """The node's holder: boots the node in a fresh mount+UTS namespace and keeps it alive."""
    log = open(node.dir / "boot.log", "wb")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", node.netns, "unshare", "--mount", "--uts", "--propagation", "private",
         "--", "/bin/sh", str(t.BIN_DIR / "node-boot.sh"), node.name],
        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    record_pid(f"holder-{node.name}", proc.pid)
    return proc.pid


def holder(node: Node) -> int | None:
    """The live holder pid of a host node (for VM nodes the pid is the VM's own)."""
    pid = read_pid(node.dir / "holder.pid")
    return pid if pid and (node.in_vm or alive(pid)) else None


def node_shell(node: Node, script: str, timeout: float = 30) -> tuple[int, str]:
    """Run script inside node's namespaces from outside it: nsenter on the host, the VM's queue."""
    if node.in_vm:
        return vm.exec_node(node, script, timeout)
    pid = holder(node)
    if pid is None:
        raise LabError(f"{node.name} is not running")
    # -r -w: take the node's root too (in the VM, nodes live in a chroot inside their mount ns).
    res = sh(["nsenter", "-t", pid, "-n", "-m", "-u", "-r", "-w", "--", "sh", "-c", script],
             check=False, timeout=timeout)
    return res.returncode, res.stdout + res.stderr


def daemon_states(node: Node) -> dict[str, bool]:
    """{"sshd": bool, "nginx": bool, "keepalived": bool, "vip": bool} seen from inside node."""
    try:
        rc, out = node_shell(node, PROBE, timeout=15)
    except LabError:
        out = ""
    states = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
    return {d: states.get(d) == "up" for d in DAEMONS + ("vip",)}


def _check_daemon(daemon: str) -> None:
    if daemon not in DAEMONS:
        raise LabError(f"unknown daemon {daemon!r}: one of {', '.join(DAEMONS)}")


def stop_daemon(node: Node, daemon: str, timeout: float = 15) -> None:
    """Stop daemon as `kill $(cat /run/D.pid)` would, and wait until it is gone."""
    _check_daemon(daemon)
    script = (f"p=$(cat /run/{daemon}.pid 2>/dev/null) || exit 0; kill $p 2>/dev/null || exit 0; "
              f"i=0; while kill -0 $p 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
              f"rm -f /run/{daemon}.pid; ! kill -0 $p 2>/dev/null")
    rc, out = node_shell(node, script, timeout)
    if rc != 0:
        raise LabError(f"could not stop {daemon} on {node.name}: {out.strip()}")


def start_daemon(node: Node, daemon: str, timeout: float = 30) -> None:
    """Start daemon on node (no-op if it runs), with the node's own config."""
    _check_daemon(daemon)
    if daemon_states(node).get(daemon):
        return
    rc, out = node_shell(node, START[daemon], timeout)
    if rc != 0:
        raise LabError(f"could not start {daemon} on {node.name}: {out.strip()}")
