"""keepalived VRRP state from its dumps, `ip -j addr`, and the password redaction.

keepalived writes three dumps on signal (keepalived --signum=JSON|DATA|STATS) into $TMPDIR
or /tmp. The JSON dump is preferred; the data dump (plus the stats dump for counters) is the
fallback for builds without JSON. All of them contain the VRRP password in clear, so the
collector pipes them through REDACT_SED on the node and the parsers only ever see the
redacted text; redact_keepalived() is the same thing in Python (tests prove they agree).
"""

from __future__ import annotations

import json
import re
from typing import Any

from lbconsole.collectors.errors import ParseError, quote
from lbconsole.snapshot import Address, VrrpInstance

__all__ = [
    "parse_keepalived_json", "parse_keepalived_data", "parse_keepalived_stats",
    "parse_ip_addr", "redact_keepalived", "REDACT_SED", "REDACTED", "JSON_STATES",
]

REDACTED = "<redacted>"
# vrrp_t.state values (keepalived/include/vrrp.h). The snapshot has no DELETED: an instance
# removed by a reload is as good as stopped.
JSON_STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "STOP", 98: "STOP"}
_TEXT_STATES = {"INIT": "INIT", "BACKUP": "BACKUP", "MASTER": "MASTER", "FAULT": "FAULT",
                "STOP": "STOP", "DELETED": "STOP"}

# --- redaction ------------------------------------------------------------------------------
# JSON: "auth_data":"<password>" (escapes allowed; a dump cut off inside the value has no
# closing quote, so that is optional and the value then runs to the end of the line).
# Data dump: "   Password = <password>" (vrrp_data.c); the checker dump's SSL section has
# " Password : <password>" and "  SSL password:<password>". Whole rest of line goes.
_JSON_AUTH = re.compile(r'("auth_data"\s*:\s*")(?:[^"\\\n]|\\.)*"?')
_PASSWORD_LINE = re.compile(r"^(\s*(?:SSL )?[Pp]assword\s*[=:]).*$", re.M)

# The same two substitutions for `sed -E` on the node (POSIX ERE: no \s, and inside a
# bracket expression a backslash is literal). Kept in one line for shell quoting.
REDACT_SED = (
    r's/("auth_data"[[:space:]]*:[[:space:]]*")([^"\\]|\\.)*"?/\1' + REDACTED + '"/g;'
    r's/^([[:space:]]*(SSL )?[Pp]assword[[:space:]]*[=:]).*/\1 ' + REDACTED + '/'
)


def redact_keepalived(text: str) -> str:
    """`text` (a keepalived JSON, data or stats dump) without any VRRP or SSL password."""
    text = _JSON_AUTH.sub(lambda m: m.group(1) + REDACTED + '"', text)
    return _PASSWORD_LINE.sub(lambda m: m.group(1) + " " + REDACTED, text)


# --- JSON dump ------------------------------------------------------------------------------

def _vip(entry: Any, source: str) -> str:
    """"10.98.0.100/24 dev eth0 scope global set" -> "10.98.0.100" (address only)."""
    if not isinstance(entry, str) or not entry.split():
        raise ParseError(source, f"expected a VIP string, got {quote(repr(entry))}")
    return entry.split()[0].partition("/")[0]


_MISSING = object()


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], source: str, default: Any = _MISSING) -> Any:
    """obj[key] checked against `kind` (never a bool: no field read here is one)."""
    if key not in obj:
        if default is _MISSING:
            raise ParseError(source, f"no field {key!r}")
        return default
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ParseError(source, f"field {key!r} has the wrong type: {quote(repr(value))}")
    return value


def parse_keepalived_json(text: str) -> tuple[VrrpInstance, ...]:
    """Instances from keepalived.json: json_version 1 (a top-level array of
    {"data": {...}, "stats": {...}}) or 2 (keepalived >= 2.2.8: {"vrrp": [...], ...})."""
    source = "keepalived.json"
    if not isinstance(text, str) or not text.strip():
        raise ParseError(source, "empty")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        # keepalived < 2.4 writes the file in place: a reader can catch it half written.
        raise ParseError(source, f"not JSON (cut off while being written?): {str(e)[:80]}") from None
    if isinstance(doc, dict) and "vrrp" in doc:
        doc = doc["vrrp"]
    if not isinstance(doc, list):
        raise ParseError(source, f"expected a list of instances, got {type(doc).__name__}")
    out = []
    for i, item in enumerate(doc):
        where = f"{source}: instance {i}"
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            raise ParseError(where, "expected {\"data\": {...}, \"stats\": {...}}")
        d = item["data"]
        s = item.get("stats") or {}
        if not isinstance(s, dict):
            raise ParseError(where, "\"stats\" is not an object")
        state = _get(d, "state", int, where)
        if state not in JSON_STATES:
            raise ParseError(where, f"unknown state {state}")
        vips = [_vip(v, where) for v in _get(d, "vips", list, where, [])]
        vips += [_vip(v, where) for v in _get(d, "evips", list, where, [])]
        num = (int, float)
        out.append(VrrpInstance(
            instance=_get(d, "iname", str, where),
            vrid=_get(d, "vrid", int, where),
            state=JSON_STATES[state],
            priority=_get(d, "base_priority", int, where, 0),
            effective_priority=_get(d, "effective_priority", int, where, 0),
            interface=_get(d, "ifp_ifname", str, where, ""),
            vips=tuple(vips),
            last_transition=float(_get(d, "last_transition", num, where, 0.0)),
            adverts_rcvd=_get(s, "advert_rcvd", int, where, 0),
            adverts_sent=_get(s, "advert_sent", int, where, 0),
            auth_failures=_get(s, "auth_failure", int, where, 0),
            become_master=_get(s, "become_master", int, where, 0),
            source="json",
        ))
    return tuple(out)


# --- data and stats dumps -------------------------------------------------------------------

_DATA_FIELDS = {"State": "state", "Virtual Router ID": "vrid", "Priority": "priority",
                "Effective priority": "effective_priority", "Interface": "interface",
                "Last transition": "last_transition"}


def _data_value(key: str, value: str, source: str, line: int) -> Any:
    try:
        if key == "state":
            return _TEXT_STATES[value]
        if key in ("vrid", "priority", "effective_priority"):
            return int(value)
        if key == "last_transition":  # "1795509843.809959 (Tue Nov 24 08:44:03.809959 2026)"
            return float(value.split()[0])
    except (KeyError, ValueError, IndexError):
        raise ParseError(source, f"bad {key}: {quote(value)}", line) from None
    return value


def parse_keepalived_data(text: str, stats: str | None = None) -> tuple[VrrpInstance, ...]:
    """Instances from keepalived.data (2.2.x "Virtual IP (N):" and 2.0.x "Virtual IP = N"),
    with adverts and errors from keepalived.stats when given (the data dump has none)."""
    source = "keepalived.data"
    if not isinstance(text, str):
        raise ParseError(source, "no text")
    counters = parse_keepalived_stats(stats) if stats is not None else {}
    found: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    in_vips = False
    for no, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if line.startswith("------<"):
            cur, in_vips = None, False  # another section (sync groups, interfaces, ...)
            continue
        if line.startswith(" VRRP Instance = "):
            cur = {"instance": line[17:].strip(), "vips": [], "line": no}
            found.append(cur)
            in_vips = False
            continue
        if cur is None:
            continue
        indent = len(line) - len(line.lstrip(" "))
        if in_vips and indent >= 5 and line.strip():
            cur["vips"].append(line.split()[0].partition("/")[0])
            continue
        in_vips = False
        body = line.strip()
        if body.startswith("Virtual IP") and indent == 3:
            in_vips = True  # "Virtual IP (2):", "Virtual IP = 2", "Virtual IP Excluded :"
            continue
        key, sep, value = body.partition(" = ")
        if sep and indent == 3 and key in _DATA_FIELDS:
            cur[_DATA_FIELDS[key]] = _data_value(_DATA_FIELDS[key], value.strip(), source, no)
    out = []
    for f in found:
        if "state" not in f or "vrid" not in f:
            raise ParseError(source, f"instance {quote(f['instance'])} has no State or Virtual Router ID",
                             f["line"])
        c = counters.get(f["instance"], {})
        out.append(VrrpInstance(
            instance=f["instance"], vrid=f["vrid"], state=f["state"],
            priority=f.get("priority", 0), effective_priority=f.get("effective_priority", 0),
            interface=f.get("interface", ""), vips=tuple(f["vips"]),
            last_transition=f.get("last_transition", 0.0),
            adverts_rcvd=c.get("adverts_rcvd", 0), adverts_sent=c.get("adverts_sent", 0),
            auth_failures=c.get("auth_failures", 0), become_master=c.get("become_master", 0),
            source="data",
        ))
    if not out and text.strip() and "VRRP" not in text:
        raise ParseError(source, f"not a keepalived data dump: {quote(text.strip().split(chr(10))[0])}", 1)
    return tuple(out)


_STATS_KEYS = {("Advertisements", "Received"): "adverts_rcvd", ("Advertisements", "Sent"): "adverts_sent",
               ("", "Became master"): "become_master",
               ("Authentication Errors", "Failure"): "auth_failures"}


def parse_keepalived_stats(text: str) -> dict[str, dict[str, int]]:
    """keepalived.stats -> {instance: {"adverts_rcvd", "adverts_sent", "become_master",
    "auth_failures"}}."""
    source = "keepalived.stats"
    if not isinstance(text, str):
        raise ParseError(source, "no text")
    out: dict[str, dict[str, int]] = {}
    cur: dict[str, int] | None = None
    group = ""
    for no, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith("VRRP Instance: "):
            cur = out.setdefault(line[15:].strip(), {})
            group = ""
            continue
        if cur is None:
            raise ParseError(source, f"expected 'VRRP Instance: NAME', got {quote(line)}", no)
        key, _, value = line.strip().partition(":")
        if line.startswith("  ") and not line.startswith("    "):
            if not value.strip():
                group = key  # "  Advertisements:" opens a group
                continue
            group = ""
        name = _STATS_KEYS.get((group if line.startswith("    ") else "", key))
        if name:
            try:
                cur[name] = int(value)
            except ValueError:
                raise ParseError(source, f"expected a number, got {quote(value.strip())}", no) from None
    return out


# --- ip -j addr -----------------------------------------------------------------------------

def parse_ip_addr(text: str) -> tuple[Address, ...]:
    """Every IPv4/IPv6 address from `ip -j addr` (lo included: callers exclude it, because DR
    real servers hold the VIPs on lo)."""
    source = "ip -j addr"
    try:
        doc = json.loads(text)
    except (TypeError, ValueError, RecursionError) as e:
        raise ParseError(source, f"not JSON: {str(e)[:80]}") from None
    if not isinstance(doc, list):
        raise ParseError(source, f"expected a list of interfaces, got {type(doc).__name__}")
    out = []
    for link in doc:
        # Older iproute2 prints {} for links the filter dropped.
        if not isinstance(link, dict) or "ifname" not in link:
            continue
        ifname = link["ifname"]
        infos = link.get("addr_info", [])
        if not isinstance(ifname, str) or not isinstance(infos, list):
            raise ParseError(source, f"bad interface entry {quote(repr(link))}")
        for info in infos:
            if not isinstance(info, dict):
                raise ParseError(source, f"bad address entry {quote(repr(info))}")
            family, local = info.get("family"), info.get("local")
            if family in ("inet", "inet6") and isinstance(local, str):
                out.append(Address(interface=ifname, address=local, family=family))
    return tuple(out)
