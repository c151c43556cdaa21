"""drain / undrain on this director: weight 0 for real servers of a service, recorded; the
recorded weight back. Check, apply, read back, all on the node.

Drain: the record first (an existing one is kept: re-draining never loses the weight to
restore), then the track file when keepalived.conf is prepared for it (keepalived then holds
the weight at 0 itself), then the weight over netlink (IPVS_CMD_SET_DEST, everything else as it
was: the kernel takes the whole entry), read back over netlink: no process is started.
Undrain: the record goes first (a console polling in between must never see a drain whose
weight is back: it would take it for a revert), then the track file is reset (keepalived
restores the weight once its check passes: waited for) or the weight is set.
The last real server in service is refused unless "force". Ported from lbconsole/actions/
drain*.py and ipvs_state.py.
"""

import os
import time
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Tuple,
)

from . import ipvs_edit, ipvs_netlink, kconf, kdump, keys, records
from .ipvs import NOT_LOADED
from .protocol import BAD_REQUEST, REFUSED, UNAVAILABLE, NodeError

MAX_REASON = 1 << 20
UNDRAIN_WAIT_S = 4.0


def read_rows(svc: keys.Service) -> Dict[str, ipvs_edit.Dest]:
    """The service's real servers on this director, over netlink."""
    try:
        return ipvs_edit.read(svc)
    except ipvs_edit.NoService:
        raise NodeError(REFUSED, f"this director has no service {svc.key}; nothing was touched") from None
    except ipvs_netlink.IPVSUnavailable as exc:
        raise NodeError(UNAVAILABLE, NOT_LOADED if "not loaded" in str(exc) else str(exc)) from None


def _set(svc: keys.Service, row: ipvs_edit.Dest, weight: int) -> Optional[str]:
    """None, or what went wrong setting the weight."""
    try:
        ipvs_edit.set_weight(svc, row, weight)
    except (ipvs_edit.NoService, ipvs_netlink.IPVSUnavailable, OSError) as exc:
        return f"setting the weight of {row.key} to {weight}: {exc or type(exc).__name__}"
    return None


def _conf() -> Tuple[Optional[List[kconf.Stmt]], Optional[str]]:
    """keepalived's config, or (None, why)."""
    try:
        pid = kdump.keepalived_pid()
    except kdump.NotRunning as exc:
        return None, str(exc)
    try:
        return kconf.load(pid)[0], None
    except OSError as exc:
        return None, f"keepalived config not readable: {exc}"


def _targets(args: Dict[str, Any]) -> Tuple[keys.Service, List[str]]:
    svc = keys.parse_service(args.get("service"))
    return svc, keys.parse_real_servers(args.get("real_servers"))


def _check_present(svc: keys.Service, wanted: List[str], rows: Dict[str, ipvs_edit.Dest]) -> None:
    missing = [k for k in wanted if k not in rows]
    if missing:
        raise NodeError(REFUSED, "no real server {} in service {} on this director (it has {}); nothing was "
                                 "touched".format(", ".join(missing), svc.key, ", ".join(sorted(rows)) or "none"))


def _write_track(path: str, value: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(value + "\n")


def drain(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    svc, wanted = _targets(args)
    reason = args.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise NodeError(BAD_REQUEST, "a drain needs a reason (a non-empty string up to 1 MiB)")
    rows = read_rows(svc)
    _check_present(svc, wanted, rows)
    if not args.get("force") and not [k for k, r in rows.items() if r.weight > 0 and k not in wanted]:
        raise NodeError(REFUSED, "{} would leave {} with no real server in service on this director (force to go "
                                 "ahead); nothing was touched".format(", ".join(wanted), svc.key))
    conf, conf_why = _conf()
    before = {k: rows[k].weight for k in wanted}
    since, problems, how = round(time.time(), 3), [], {}
    for key in wanted:
        path = records.drain_path(svc.key, key)
        if records.read_one(path) is None:
            weight = rows[key].weight if rows[key].weight > 0 else (
                kconf.configured_weight(conf, svc.key, key) if conf is not None else None) or 1
            records.write(path, {"service": svc.key, "real_server": key, "weight": weight, "reason": reason,
                                 "by": args["by"], "since": since})
        track, why = kconf.drain_track(conf, svc.key, key) if conf is not None else (None, conf_why)
        if track:
            _write_track(track, "1")
        how[key] = f"keepalived-safe (track file {track})" if track else f"set directly ({why})"
        failed = _set(svc, rows[key], 0)
        if failed:
            problems.append(failed)
    now = read_rows(svc)
    after = {k: now[k].weight if k in now else None for k in wanted}
    problems += [f"{k} has weight {w}" for k, w in after.items() if w != 0]
    verified = not problems
    detail = ("drained {} of {}: weight 0".format(", ".join(wanted), svc.key) if verified else
              "drain NOT verified: " + "; ".join(problems))
    return {"before": before, "after": after, "verified": verified, "detail": detail, "how": how,
            "active_conns": {k: now[k].active for k in wanted if k in now}}


def undrain(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    svc, wanted = _targets(args)
    fallback = args.get("weights") or {}
    if not isinstance(fallback, dict):
        raise NodeError(BAD_REQUEST, "weights must be an object {real server: weight}")
    rows = read_rows(svc)
    _check_present(svc, wanted, rows)
    conf, conf_why = _conf()
    recs = {k: records.read_one(records.drain_path(svc.key, k)) for k in wanted}
    drained = [k for k in wanted if recs[k] is not None or rows[k].weight == 0]
    if not drained:
        raise NodeError(REFUSED, "{} of {} is not drained here (no drain record and a weight above 0); nothing was "
                                 "touched".format(", ".join(wanted), svc.key))
    before = {k: rows[k].weight for k in wanted}
    expect, waits, problems = {}, [], []
    for key in drained:
        rec = recs[key] or {}
        weight = rec.get("weight") or fallback.get(key) or (
            kconf.configured_weight(conf, svc.key, key) if conf is not None else None) or 1
        try:
            weight = int(weight)
        except (TypeError, ValueError):
            raise NodeError(BAD_REQUEST, f"weight for {key} is not a number")
        records.remove(records.drain_path(svc.key, key))
        track, _ = kconf.drain_track(conf, svc.key, key) if conf is not None else (None, conf_why)
        if track:
            _write_track(track, "0")
            waits.append(key)
        else:
            failed = _set(svc, rows[key], weight)
            if failed:
                problems.append(failed)
        expect[key] = weight
    deadline = time.monotonic() + UNDRAIN_WAIT_S
    now = read_rows(svc)
    while waits and time.monotonic() < deadline and any(now.get(k) and now[k].weight == 0 for k in waits):
        time.sleep(0.1)
        now = read_rows(svc)
    after = {k: now[k].weight if k in now else None for k in wanted}
    for key in drained:
        if after[key] == 0:
            problems.append(f"{key} still has weight 0 (keepalived keeps it down: its health check fails, or a drain "
                            "was set by hand)")
        elif key not in waits and after[key] != expect[key]:
            problems.append(f"{key} has weight {after[key]}, recorded {expect[key]}")
    verified = not problems
    skipped = [k for k in wanted if k not in drained]
    detail = ("undrained {} of {}".format(", ".join(drained), svc.key) if verified else
              "undrain NOT verified: " + "; ".join(problems))
    if skipped:
        detail += "; {} was not drained here".format(", ".join(skipped))
    return {"before": before, "after": after, "verified": verified, "detail": detail}


