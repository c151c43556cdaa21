"""The `snapshot` verb: everything the console shows about this node, read on the node.

Each part that fails is null (or empty) with its message in "errors" under its name; the
other parts still count. Steady state starts no process: IPVS and addresses over netlink,
host stats from /proc, nginx with urllib, VRRP from the shared dump cache (a new dump is a
signal, not a process; only the first lookup of keepalived's signal numbers starts one).
"""

import threading
import time
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Tuple,
)

from . import host, ipvs, kdump, nginx, records, rtnl, upstream_snapshot, vrrp
from .nginx_reload import Nginx
from .protocol import BAD_REQUEST, NodeError

DEFAULT_STATUS_URL = "http://127.0.0.1/nginx_status"
DEFAULT_DUMP_MAX_AGE = 1.0
ROLES = ("director", "nginx", "backend")
# How long a snapshot waits for the probe round after its other parts: a slower round is
# reported from the last complete one (probes_stale), never holding the snapshot up.
UPSTREAM_MAX_WAIT_S = 2.5


def join_host_port(host_: str, port: int) -> str:
    return f"[{host_}]:{port}" if ":" in host_ else f"{host_}:{port}"


def service_key(svc: Dict[str, Any]) -> str:
    """The CLI's SERVICE spelling: VIP:PORT, udp:VIP:PORT, sctp:VIP:PORT, fwm:MARK[:6]."""
    if svc["protocol"] == "FWM":
        return "fwm:{}".format(svc["fwmark"]) + (":6" if svc["family"] == "inet6" else "")
    hp = join_host_port(svc["address"] or "", svc["port"] or 0)
    return hp if svc["protocol"] == "TCP" else "{}:{}".format(svc["protocol"].lower(), hp)


def parse_args(args: Dict[str, Any]) -> Tuple[List[str], str, float]:
    roles = args.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise NodeError(BAD_REQUEST, "roles must be a list of strings")
    url = args.get("nginx_status_url", DEFAULT_STATUS_URL)
    if not isinstance(url, str):
        raise NodeError(BAD_REQUEST, "nginx_status_url must be a string")
    age = args.get("dump_max_age", DEFAULT_DUMP_MAX_AGE)
    if isinstance(age, bool) or not isinstance(age, (int, float)) or not 0 <= age <= 3600:
        raise NodeError(BAD_REQUEST, "dump_max_age must be a number of seconds from 0 to 3600")
    return roles, url, float(age)


def parse_upstream_health(args: Dict[str, Any]) -> Dict[str, str]:
    """{"<upstream name>": "<health path>"}: an HTTP GET of that path from this node, else a TCP connect."""
    health = args.get("upstream_health", {})
    if not isinstance(health, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in health.items()):
        raise NodeError(BAD_REQUEST, "upstream_health must be an object of upstream name -> health path (strings)")
    for name, path in health.items():
        if not path.startswith("/") or any(c in path for c in " \r\n\t"):
            raise NodeError(BAD_REQUEST, f"upstream_health[{name[:60]!r}]: the health path must start with / "
                                         "and hold no space or line break")
    return health


def upstream_watcher(state: Dict[str, Any]) -> upstream_snapshot.UpstreamWatcher:
    """The agent's one watcher (config cache, error-log offsets, probe pool), made on first use.
    The offsets live in memory for the agent's life (one session per console): a poll writes no
    file on the node, and a new agent starts at the logs' ends (nothing rescanned)."""
    watcher = state.get("upstreams")
    if watcher is None:
        watcher = state["upstreams"] = upstream_snapshot.UpstreamWatcher(Nginx())
    return watcher


def _upstreams_part(watcher: upstream_snapshot.UpstreamWatcher, errors: Dict[str, str],
                    warnings: List[str]) -> Optional[Dict[str, Any]]:
    try:
        part = watcher.finish(UPSTREAM_MAX_WAIT_S)
    except Exception as exc:  # noqa: BLE001 - a failed probe round is this part's error, not the snapshot's
        errors["upstreams"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        return None
    warnings.extend("upstreams: " + str(w) for w in part["warnings"])
    if part["error"] is not None:
        errors["upstreams"] = str(part["error"])
        return None
    if part["probes_stale"]:
        when = time.strftime("%H:%M:%S", time.localtime(part["probed_at"])) if part["probed_at"] else "none yet"
        warnings.append(f"upstreams: the probe round did not finish within {UPSTREAM_MAX_WAIT_S:g} s: the probes "
                        f"shown are the last complete round's ({when})")
    return {"read": {"upstreams": part["upstreams"], "error_logs": part["error_logs"]},
            "failures": part["failures"], "probes": part["probes"], "probed_at": part["probed_at"],
            "probes_stale": part["probes_stale"], "drains": part["drains"]}


def _attach_drains(services: List[Dict[str, Any]], drains: List[Dict[str, Any]]) -> None:
    by_key = {}
    for rec in drains:
        try:
            by_key[(str(rec["service"]), str(rec["real_server"]))] = {
                "reason": str(rec["reason"]), "by": str(rec["by"]), "since": float(rec["since"]),
                "weight": int(rec["weight"]) if rec.get("weight") is not None else None}
        except (KeyError, TypeError, ValueError):
            continue
    if not by_key:
        return
    for svc in services:
        skey = service_key(svc)
        for rs in svc["real_servers"]:
            d = by_key.get((skey, join_host_port(rs["address"], rs["port"])))
            if d is not None:
                rs["drain"] = d


def take(args: Dict[str, Any], state: Dict[str, Any]) -> Dict[str, Any]:
    """state: a dict the Agent keeps between calls (the last CPU sample, the upstream watcher)."""
    roles, url, max_age = parse_args(args)
    health = parse_upstream_health(args)
    if "nginx" not in roles:
        return _take(roles, url, max_age, state, None)
    # One snapshot at a time reads the upstreams: the watcher's error-log offsets are shared.
    with state.setdefault("upstreams_lock", threading.Lock()):
        watcher = upstream_watcher(state)
        watcher.start(health)  # first: the probes run while the other parts are read
        return _take(roles, url, max_age, state, watcher)


def _take(roles: List[str], url: str, max_age: float, state: Dict[str, Any],
          watcher: Optional[upstream_snapshot.UpstreamWatcher]) -> Dict[str, Any]:
    warnings: List[str] = []
    errors: Dict[str, str] = {}
    out: Dict[str, Any] = {"sampled_at": time.time(),
           "ipvs": [], "vrrp": None, "keepalived_running": None, "nginx": None, "upstreams": None,
           "host_stats": None, "addresses": [], "drains": [], "forced": [], "warnings": warnings, "errors": errors}
    try:
        stats = host.collect(state.get("cpu"))
        state["cpu"] = (stats["cpu_busy"], stats["cpu_total"])
        out["host_stats"] = stats
    except (OSError, ValueError) as exc:
        errors["host"] = str(exc)
    try:
        out["addresses"] = rtnl.addresses()
    except OSError as exc:
        errors["addr"] = f"rtnetlink address dump: {exc}"
    if "director" in roles:
        out["drains"] = records.read_dir(records.DRAIN_DIR, warnings)
        out["forced"] = records.read_dir(records.FORCED_DIR, warnings)
        try:
            out["ipvs"] = ipvs.collect(warnings)
            _attach_drains(out["ipvs"], out["drains"])
        except ipvs.IPVSError as exc:
            out["ipvs"] = None
            errors["ipvs"] = str(exc)
    try:
        out["vrrp"], warning = kdump.read(max_age, None if "addr" in errors else out["addresses"])
        out["keepalived_running"] = True
        if warning:
            warnings.append(warning)
    except kdump.NotRunning as exc:
        out["keepalived_running"] = False
        if "director" in roles:
            errors["vrrp"] = str(exc)
        else:
            out["vrrp"] = []  # no keepalived on this tier is normal
    except (kdump.DumpError, vrrp.VrrpError, OSError) as exc:
        out["keepalived_running"] = True
        errors["vrrp"] = str(exc)
    if "nginx" in roles:
        try:
            out["nginx"] = nginx.fetch(url)
        except nginx.NginxError as exc:
            errors["nginx"] = str(exc)
    if watcher is not None:
        out["upstreams"] = _upstreams_part(watcher, errors, warnings)
    return out
