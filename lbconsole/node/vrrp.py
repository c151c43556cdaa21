"""keepalived VRRP state from its dumps, and the removal of the VRRP password.

keepalived writes its dumps (keepalived --signum=JSON|DATA) to $TMPDIR or /tmp, with the VRRP
password (auth_data / "Password =") in clear. redact() removes it on the node, before the text
is cached or parsed; nothing with a password ever leaves the node.
The instance objects have exactly the fields of `status --json`. No reader of the stats dump:
the JSON dump has the counters, and the data dump (builds without JSON) is read without them.
"""

import json
import math
import re
from typing import (
    Any,
    Dict,
    List,
    Optional,
)

from .protocol import quote

REDACTED = "<redacted>"
JSON_STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "STOP", 98: "STOP"}
_TEXT_STATES = {"INIT": "INIT", "BACKUP": "BACKUP", "MASTER": "MASTER", "FAULT": "FAULT",
                "STOP": "STOP", "DELETED": "STOP"}
# JSON: "auth_data":"<password>" (a dump cut off inside the value has no closing quote).
# Data dump: "   Password = <password>"; checker SSL: " Password : x", "  SSL password:x".
_JSON_AUTH = re.compile(r'("auth_data"\s*:\s*")(?:[^"\\\n]|\\.)*"?')
_PASSWORD_LINE = re.compile(r"^(\s*(?:SSL )?[Pp]assword\s*[=:]).*$", re.MULTILINE)


class VrrpError(ValueError):
    pass


def redact(text: str) -> str:
    """`text` (a keepalived JSON, data or stats dump, or its config) without any password."""
    text = _JSON_AUTH.sub(lambda m: m.group(1) + REDACTED + '"', text)
    return _PASSWORD_LINE.sub(lambda m: m.group(1) + " " + REDACTED, text)


def _vip(entry: Any, where: str) -> str:
    if not isinstance(entry, str) or not entry.split():
        raise VrrpError(f"{where}: expected a VIP string, got {quote(repr(entry))}")
    return entry.split()[0].partition("/")[0]


_MISSING = object()


def _seconds(value: Any, where: str) -> float:
    """A time stamp as a finite float: JSON ints can be too big for one, and Python's json reads NaN."""
    try:
        out = float(value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out):
        raise VrrpError(f"{where}: last_transition out of range: {quote(str(value))}")
    return out


def _get(obj: Dict[str, Any], key: str, kind: Any, where: str, default: Any = _MISSING) -> Any:
    if key not in obj:
        if default is _MISSING:
            raise VrrpError(f"{where}: no field {key!r}")
        return default
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise VrrpError(f"{where}: field {key!r} has the wrong type: {quote(repr(value))}")
    return value


def parse_json(text: str) -> List[Dict[str, Any]]:
    """Instances from keepalived.json: json_version 1 (a list of {"data", "stats"}) or 2
    (keepalived >= 2.2.8: {"vrrp": [...]})."""
    source = "keepalived.json"
    if not text.strip():
        raise VrrpError(source + ": empty")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise VrrpError(f"{source}: not JSON (cut off while being written?): {str(exc)[:80]}")
    if isinstance(doc, dict) and "vrrp" in doc:
        doc = doc["vrrp"]
    if not isinstance(doc, list):
        raise VrrpError(f"{source}: expected a list of instances, got {type(doc).__name__}")
    out = []
    for i, item in enumerate(doc):
        where = f"{source}: instance {i}"
        if not isinstance(item, dict) or not isinstance(item.get("data"), dict):
            raise VrrpError(where + ': expected {"data": {...}, "stats": {...}}')
        d, s = item["data"], item.get("stats") or {}
        if not isinstance(s, dict):
            raise VrrpError(where + ': "stats" is not an object')
        state = _get(d, "state", int, where)
        if state not in JSON_STATES:
            raise VrrpError(f"{where}: unknown state {state}")
        vips = [_vip(v, where) for v in _get(d, "vips", list, where, [])]
        vips += [_vip(v, where) for v in _get(d, "evips", list, where, [])]
        out.append({
            "instance": _get(d, "iname", str, where), "vrid": _get(d, "vrid", int, where),
            "state": JSON_STATES[state], "priority": _get(d, "base_priority", int, where, 0),
            "effective_priority": _get(d, "effective_priority", int, where, 0),
            "interface": _get(d, "ifp_ifname", str, where, ""), "vips": vips,
            "last_transition": _seconds(_get(d, "last_transition", (int, float), where, 0.0), where),
            "adverts_rcvd": _get(s, "advert_rcvd", int, where, 0),
            "adverts_sent": _get(s, "advert_sent", int, where, 0),
            "auth_failures": _get(s, "auth_failure", int, where, 0),
            "become_master": _get(s, "become_master", int, where, 0), "source": "json"})
    return out


_DATA_FIELDS = {"State": "state", "Virtual Router ID": "vrid", "Priority": "priority",
                "Effective priority": "effective_priority", "Interface": "interface",
                "Last transition": "last_transition"}


def _data_value(key: str, value: str, line: int) -> Any:
    try:
        if key == "state":
            return _TEXT_STATES[value]
        if key in ("vrid", "priority", "effective_priority"):
            return int(value)
        if key == "last_transition":  # "1795509843.809959 (Tue Nov 24 08:44:03.809959 2026)"
            return _seconds(value.split()[0], f"keepalived.data: line {line}")
    except (KeyError, ValueError, IndexError):
        raise VrrpError(f"keepalived.data: line {line}: bad {key}: {quote(value)}")
    return value


def parse_data(text: str) -> List[Dict[str, Any]]:
    """Instances from keepalived.data (2.2.x "Virtual IP (N):", 2.0.x "Virtual IP = N")."""
    found: List[Dict[str, Any]] = []
    cur: Optional[Dict[str, Any]] = None
    in_vips = False
    for no, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if line.startswith("------<"):
            cur, in_vips = None, False
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
            in_vips = True
            continue
        key, sep, value = body.partition(" = ")
        if sep and indent == 3 and key in _DATA_FIELDS:
            cur[_DATA_FIELDS[key]] = _data_value(_DATA_FIELDS[key], value.strip(), no)
    out = []
    for f in found:
        if "state" not in f or "vrid" not in f:
            raise VrrpError("keepalived.data: line {}: instance {} has no State or Virtual Router ID".format(
                f["line"], quote(f["instance"])))
        out.append({"instance": f["instance"], "vrid": f["vrid"], "state": f["state"],
                    "priority": f.get("priority", 0), "effective_priority": f.get("effective_priority", 0),
                    "interface": f.get("interface", ""), "vips": f["vips"],
                    "last_transition": f.get("last_transition", 0.0), "adverts_rcvd": 0, "adverts_sent": 0,
                    "auth_failures": 0, "become_master": 0, "source": "data"})
    if not out and text.strip() and "VRRP" not in text:
        raise VrrpError("keepalived.data: not a keepalived data dump: {}".format(
            quote(text.strip().split("\n")[0])))
    return out
