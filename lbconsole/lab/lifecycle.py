"""Bringing the whole lab up and down, and telling what is up."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lbconsole.lab import access, configs, netns, nodes, prereqs, scripts, vm
from lbconsole.lab import topology as t
from lbconsole.lab.errors import LabError, LabNeedsRoot
from lbconsole.lab.proc import alive, kill_pids, netns_pids, recorded_pids, sh

STATE = t.LAB_DIR / "state"  # exists while the lab is (meant to be) up
UP_TIMEOUT = 90.0
INSTALL_TIMEOUT = 180.0  # root sessions to the VM run pyenv init under TCG: 10-20 s each
Say = Callable[[str], None]


def _quiet(msg: str) -> None:
    pass


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabNeedsRoot()


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """One lab operation at a time on this machine (tests of several sessions may share it)."""
    t.LAB_DIR.mkdir(parents=True, exist_ok=True)
    with open(t.LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def lab_namespaces() -> list[str]:
    """The lab's namespaces that exist now: the fixed ones and extra sshN ones, nothing else."""
    ours = {t.SWITCH_NS} | {n.netns for n in t.HOST_NODES + t.LOCAL_NODES}
    return [ns for ns in netns.existing()
            if ns in ours or (ns.startswith("lbc-ssh") and ns[7:].isdigit())]


def fingerprint() -> str:
    """What the lab is made of (configs, scripts, qemu's command line): a lab left up by other
    code is not taken as up."""
    parts = [configs.inventory_toml(), scripts.NODE_BOOT, scripts.VM_INIT, scripts.INITRAMFS_INIT,
             " ".join(vm.qemu_argv("", ""))]
    for n in t.NODES:
        parts += [configs.sshd_config(n), configs.keepalived_conf(n) if n.is_director else "",
                  configs.nginx_conf(n) + configs.nginx_site(n) if n.runs_nginx else ""]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def is_up() -> bool:
    """Cheap: this lab was brought up and its VM, holders and namespaces are all still there."""
    try:
        if STATE.read_text().split()[0] != fingerprint():
            return False
    except (OSError, IndexError):
        return False
    if vm.pid() is None:
        return False
    if not all(nodes.holder(n) for n in t.HOST_NODES):
        return False
    have = set(netns.existing())
    return all(ns in have for ns in [t.SWITCH_NS] + [n.netns for n in t.HOST_NODES + t.LOCAL_NODES])


def leftovers() -> bool:
    return bool(lab_namespaces()) or any(_ours(pid) for pid in recorded_pids().values())


def _ours(pid: int) -> bool:
    """A recorded pid is killed only if it still runs something of the lab (pids get reused)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return alive(pid) and str(t.LAB_DIR).encode() in f.read()
    except OSError:
        return False


def down(say: Say = _quiet) -> None:
    """Kill every process the lab started, then remove its taps and namespaces. Idempotent."""
    require_root()
    with locked():
        _down(say)


def _down(say: Say) -> None:
    STATE.unlink(missing_ok=True)
    namespaces = lab_namespaces()
    pids = [pid for pid in recorded_pids().values() if _ours(pid)]
    for ns in namespaces:
        pids += netns_pids(ns)  # the namespace is the lab's, so is everything in it
    if pids:
        say(f"stopping {len(set(pids))} processes")
        kill_pids(sorted(set(pids)))
    netns.delete_taps([n.tap for n in t.DIRECTORS])
    for ns in namespaces:
        netns.delete(ns)
    netns.guard_host_routes(False)
    if namespaces:
        say(f"removed {len(namespaces)} namespaces")
    for p in t.PIDS_DIR.glob("*.pid") if t.PIDS_DIR.is_dir() else ():
        p.unlink()
    (t.VM_DIR / "qemu.pid").unlink(missing_ok=True)
    t.EXTRA_INVENTORY.unlink(missing_ok=True)
    left = lab_namespaces()
    if left:
        raise LabError(f"could not remove namespaces: {', '.join(left)}")


def up(say: Say = _quiet) -> tuple[bool, float]:
    """Bring the lab up unless it is; (True if it was already up, seconds taken)."""
    require_root()
    start = time.monotonic()
    with locked():
        if is_up():
            return True, 0.0
        prereqs.ensure(say)  # before anything is made: a missing package is named, not a traceback
        if leftovers():
            say("cleaning up what a previous lab left")
            _down(say)
        try:
            _up(say, start)
        except BaseException as exc:
            say(f"FAILED: {exc}" if isinstance(exc, LabError) else f"FAILED: {exc!r}")
            say("cleaning up")
            _down(say)
            raise
    return False, time.monotonic() - start


def _up(say: Say, start: float) -> None:
    say("preparing nodes, keys and configs in " + str(t.LAB_DIR))
    for d in (t.NODES_DIR, t.PIDS_DIR, t.VM_DIR, t.CACHE_DIR, t.BIN_DIR):
        d.mkdir(parents=True, exist_ok=True)
    ops_pub = nodes.prepare_ops()
    nodes.ensure_ops_user(ops_pub)  # before the VM boots: it sees the host's /home as it was then
    known = "".join(nodes.prepare_node(n, ops_pub) for n in t.NODES)
    t.KNOWN_HOSTS.write_text(known)
    t.INVENTORY.write_text(configs.inventory_toml())
    nodes.write_boot_script()
    nodes.mountpoints()

    say("creating namespaces, bridge br0 and taps")
    netns.guard_host_routes(True)
    netns.create_switch([n.tap for n in t.DIRECTORS])
    for n in t.LOCAL_NODES + t.HOST_NODES:
        extra = (f"{t.EXTRA_PREFIX}254/{t.EXTRA_PREFIXLEN}",) if n is t.OPS else ()
        netns.create_node(n, extra)
    for n in t.WEB_NODES:
        netns.make_real_server(n, t.VIP)

    say("booting the director VM (qemu, TCG)")
    vm.start(say)
    say("starting sshd and nginx on " + ", ".join(n.name for n in t.HOST_NODES))
    for n in t.HOST_NODES:
        nodes.start_host_node(n)
    deadline = time.monotonic() + UP_TIMEOUT  # after the (first-time) kernel download
    _wait("host nodes to boot", deadline, lambda: all((n.dir / "booted").exists() for n in t.HOST_NODES),
          lambda: _boot_failures(t.HOST_NODES))
    vm.wait_ready(max(1.0, deadline - time.monotonic()))
    say(f"VM booted after {time.monotonic() - start:.1f} s; waiting for sshd on every node")
    pending = list(t.NODES)

    def all_sshd() -> bool:  # each node is asked until it has answered once
        pending[:] = [n for n in pending if not access.sshd_answers(n)]
        return not pending

    _wait("every sshd to answer", deadline, all_sshd, lambda: "no sshd on " + ", ".join(n.name for n in pending))
    # Over SSH as an operator would, while the directors settle: it also proves SSH works end to end.
    say("installing the node agent with `lbconsole node install` (SSH, as root)")
    with ThreadPoolExecutor(1) as pool:
        installed = pool.submit(_node_install, INSTALL_TIMEOUT)
        say("waiting for lb1 to be MASTER with the VIP and IPVS to have its real servers")
        _wait("lb1 MASTER with the VIP and 2 services x 3 real servers", deadline, _directors_ready,
              _director_report)
        say("checking a request from client to the VIP")
        _wait("a request from client to the VIP", deadline, _client_request, lambda: "")
        installed.result()
    STATE.write_text(f"{fingerprint()} {time.time():.0f}\n")
    say(f"lab is up after {time.monotonic() - start:.1f} s; inventory: {t.INVENTORY}")


def _wait(what: str, deadline: float, ready: Callable[[], bool], explain: Callable[[], str]) -> None:
    while not ready():
        if time.monotonic() > deadline:
            detail = explain()
            raise LabError(f"timed out waiting for {what}" + (f": {detail}" if detail else ""))
        if vm.pid() is None:
            raise LabError("the VM stopped; its console ends:\n" + vm.console_tail())
        time.sleep(0.3)


def _boot_failures(group: Sequence[t.Node]) -> str:
    bad = [n for n in group if not (n.dir / "booted").exists()]
    return "; ".join(f"{n.name}: {(n.dir / 'boot.log').read_text(errors='replace').strip()[-300:]}"
                     for n in bad if (n.dir / "boot.log").exists())


def _node_install(timeout: float) -> None:
    """`lbconsole node install` of this checkout, from the ops namespace, to every node."""
    import subprocess
    import sys

    checkout = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": checkout}
    try:
        res = subprocess.run(["ip", "netns", "exec", t.OPS_NS, sys.executable, "-m", "lbconsole", "node", "install",
                              "--inventory", str(t.INVENTORY), "--ssh-user", "root"],
                             capture_output=True, text=True, timeout=timeout, env=env, cwd=checkout, check=False)
    except subprocess.TimeoutExpired:
        raise LabError(f"lbconsole node install took over {timeout:.0f} s") from None
    if res.returncode != 0:
        raise LabError(f"lbconsole node install failed:\n{res.stdout}{res.stderr}")


def _director_view(name: str) -> str:
    # From outside the node (no SSH): a session pays the node's shell start-up, seconds in the VM.
    rc, out = nodes.node_shell(t.node(name), "ip -o -4 addr show dev eth0; ipvsadm -Ln", timeout=20)
    return out if rc == 0 else ""


def _directors_ready() -> bool:
    lb1 = _director_view(t.MASTER.name)
    if f"inet {t.VIP}/" not in lb1 or lb1.count(" Route ") != len(t.SERVICES) * len(t.WEB_NODES):
        return False
    return f"inet {t.VIP}/" not in _director_view(t.BACKUP.name)


def _director_report() -> str:
    return " | ".join(f"{n.name}: {_director_view(n.name).strip() or '(no answer)'}" for n in t.DIRECTORS)


def _client_request() -> bool:
    res = sh(["curl", "-s", "-m", "3", f"http://{t.VIP}/"], ns=t.CLIENT_NS, check=False, timeout=10)
    return res.returncode == 0 and res.stdout.startswith("hello from app")
