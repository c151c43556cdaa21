"""The shell each director runs for a drain: inspect, apply (+ read back), undrain, connections.

Drain records live in DRAIN_DIR, one JSON object per file, named from the
service and real-server keys; the poll script shows them as RealServer.drain.
"""

from __future__ import annotations

import json

from lbconsole.actions import ipvs_state
from lbconsole.actions.ipvs_state import RsState
from lbconsole.actions.nodescript import q
from lbconsole.actions.prepared import CONF_SH, _slug
from lbconsole.actions.targets import ServiceSpec
from lbconsole.collectors.script import DRAIN_DIR

UNDRAIN_WAIT_S = 4.0  # keepalived restores a prepared server's weight at once; its check may lag


def record_path(service_key: str, rs_key: str) -> str:
    return f"{DRAIN_DIR}/{_slug(service_key)}_{_slug(rs_key)}.json"


def record_json(service_key: str, rs_key: str, weight: int, reason: str, by: str, since: float) -> str:
    return json.dumps({"service": service_key, "real_server": rs_key, "weight": weight, "reason": reason,
                       "by": by, "since": round(since, 3)}, sort_keys=True)


def inspect(service: ServiceSpec, rs_keys: list[str]) -> str:
    """Rows of the service, the drain records of rs_keys, and keepalived's config."""
    cats = " ".join(q(record_path(service.key, k)) for k in rs_keys)
    # Read with the shell's own `read`: no process per file.
    return (ipvs_state.ROWS_SH + CONF_SH
            + f"records() {{ for f in {cats}; do [ -f \"$f\" ] && while IFS= read -r _l || [ -n \"$_l\" ]; "
              "do printf '%s\\n' \"$_l\"; done < \"$f\"; done; return 0; }\n"
            # ipvsadm runs in the background while awk reads the config (two CPUs, ~0.1 s per process).
            + f"_rf=/tmp/lbc-rows.$$; {{ {ipvs_state.rows_call(service)}; echo \"@@RC $?\"; }} > \"$_rf\" 2>&1 &\n"
            + "_rp=$!\n"
            + "sec records records\n"
            + "sec conf kconf_cat\n"
            + "wait $_rp; printf '@@LBA rows\\n'; _rc=4\n"
            + "while IFS= read -r _l || [ -n \"$_l\" ]; do case $_l in '@@RC '*) _rc=${_l#@@RC } ;; "
              "*) printf '%s\\n' \"$_l\" ;; esac; done < \"$_rf\"\n"
            + "printf '\\n@@LBA-RC %s\\n' \"$_rc\"; rm -f \"$_rf\" </dev/null >/dev/null 2>&1 &\n")


def _edit(service: ServiceSpec, state: RsState, weight: int) -> str:
    flag, addr = service.ipvsadm_args
    return " ".join(["ipvsadm", "-e", flag, q(addr), "-r", q(state.key)] + state.edit_args(weight))


def apply_drain(service: ServiceSpec, items: list[tuple[RsState, str, str | None]], reapply: bool = False) -> str:
    """items: (current state, record JSON, track file or None) per real server.

    An existing record is kept: re-draining never loses the weight to restore.
    `reapply` acts only where the record still exists (an undrain may have just removed it).
    """
    # Builtins only, but for ipvsadm: a process costs ~0.1 s on a slow VM. One write() is atomic
    # enough for the poll that reads the record (it skips an empty file).
    lines = [f"[ -d {q(DRAIN_DIR)} ] || mkdir -p {q(DRAIN_DIR)}", "drain_one() {"]
    if reapply:
        lines.append('  [ -f "$1" ] || { echo "no drain record any more: skipped"; return 7; }')
    lines.append('  [ -f "$1" ] || printf "%s\\n" "$2" > "$1" || return 5')
    lines.append('  if [ -n "$3" ]; then { [ -d "${3%/*}" ] || mkdir -p "${3%/*}"; } && echo 1 > "$3" || return 6; fi')
    lines.append("}")
    for state, record, track in items:
        rec = record_path(service.key, state.key)
        lines.append(f"sec rec:{state.key} drain_one {q(rec)} {q(record)} {q(track or '')} && "
                     f"sec set:{state.key} {_edit(service, state, 0)}")
    lines.append(f"sec rows {_listing(service)}")
    return "\n".join(lines) + "\n"


def _listing(service: ServiceSpec) -> str:
    """The read-back: weights and connections only (one ipvsadm)."""
    flag, addr = service.ipvsadm_args
    return f"ipvsadm -Ln --exact {flag} {q(addr)}"


def apply_undrain(service: ServiceSpec, items: list[tuple[RsState, int, str | None]]) -> str:
    """items: (current state, weight to restore, track file or None) per real server.

    With a track file keepalived restores the weight itself, and only if its
    health check passes; we wait for it instead of overriding it.
    """
    flag, addr = service.ipvsadm_args
    lines: list[str] = []
    waits = []
    for state, weight, track in items:
        # The record goes first: a console polling in between must never see a drain whose weight
        # is back (it would take it for a revert and re-apply it).
        lines.append(f"sec rec:{state.key} rm -f {q(record_path(service.key, state.key))}")
        if track:
            lines.append(f"sec set:{state.key} sh -c {q('echo 0 > ' + q(track))}")
            waits.append(state.key)
        else:
            lines.append(f"sec set:{state.key} {_edit(service, state, weight)}")
    if waits:
        # Until every keepalived-restored server has a weight again, or the bound.
        keys = " ".join(q(k) for k in waits)
        lines.append(f"""_i=0; while [ $_i -lt {int(UNDRAIN_WAIT_S * 10)} ]; do
  _z=$(ipvsadm -Sn | awk -v f={flag} -v s={q(addr)} '$1 == "-a" && $2 == f && $3 == s && $8 == 0 {{print $5}}')
  _left=0; for k in {keys}; do printf '%s\\n' "$_z" | grep -qxF "$k" && _left=1; done
  [ $_left -eq 0 ] && break; sleep 0.1; _i=$((_i + 1)); done""")
    lines.append(f"sec rows {_listing(service)}")
    return "\n".join(lines) + "\n"


def conns(service: ServiceSpec) -> str:
    return f"sec rows {_listing(service)}\n"
