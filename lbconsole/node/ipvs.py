"""The node's IPVS table: over netlink (ipvs_netlink), else from /proc/net/ip_vs.

/proc/net/ip_vs is world-readable but has weights and connections only (no counters), and
prints the persistence timeout in jiffies: the kernel's HZ is read from its build config
when the node has it, else 250 (Debian's) is assumed and said.
"""

import ipaddress
import os
import platform
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Tuple,
)

from . import ipvs_netlink
from .protocol import quote

PROC = "/proc/net/ip_vs"
DEFAULT_HZ = 250
NOT_LOADED = "the ip_vs kernel module is not loaded"
_FORWARD = {"Route": "route", "Masq": "masq", "Tunnel": "tunnel", "Local": "local"}
_PROTOCOLS = ("TCP", "UDP", "SCTP", "FWM")
_ZERO_COUNTERS = {"conns": 0, "inpkts": 0, "outpkts": 0, "inbytes": 0, "outbytes": 0}
_ZERO_RATES = {"cps": 0, "inpps": 0, "outpps": 0, "inbps": 0, "outbps": 0}
_hz = None


class IPVSError(Exception):
    pass


def kernel_hz() -> Tuple[int, bool]:
    """(HZ, known): CONFIG_HZ from /boot/config-$(uname -r) or /proc/config.gz."""
    global _hz
    if _hz is None:
        _hz = (DEFAULT_HZ, False)
        try:
            with open("/boot/config-" + platform.release(), "r", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("CONFIG_HZ=") and line[10:].strip().isdigit():
                        _hz = (int(line[10:].strip()), True)
                        break
        except OSError:
            pass
    return _hz


def _hex_addr(token: str, line: int) -> Tuple[str, int, str]:
    host, sep, port = token.rpartition(":")
    try:
        if not sep or len(port) != 4:
            raise ValueError
        p = int(port, 16)
        if host.startswith("[") and host.endswith("]"):
            return str(ipaddress.IPv6Address(host[1:-1])), p, "inet6"
        if len(host) != 8:
            raise ValueError
        v = int(host, 16)
    except ValueError:
        raise IPVSError(f"{PROC}: line {line}: expected HEXADDR:HEXPORT, got {quote(token)}")
    return f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}", p, "inet"


def parse_proc(text: str, hz: int = DEFAULT_HZ) -> List[Dict[str, Any]]:
    """Services (dicts of `status --json`) from /proc/net/ip_vs, counters and rates zero."""
    services: List[Dict[str, Any]] = []
    svc: Optional[Dict[str, Any]] = None
    for no, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith(("IP Virtual Server", "Prot ", "  -> RemoteAddress")):
            continue
        tokens = line.split()
        if line[:1].isspace():
            if svc is None or len(tokens) != 6 or tokens[0] != "->" or tokens[2] not in _FORWARD:
                raise IPVSError(f"{PROC}: line {no}: expected a real server, got {quote(line.strip())}")
            address, port, family = _hex_addr(tokens[1], no)
            try:
                weight, active, inactive = int(tokens[3]), int(tokens[4]), int(tokens[5])
            except ValueError:
                raise IPVSError(f"{PROC}: line {no}: bad numbers in {quote(line.strip())}")
            svc["real_servers"].append({
                "address": address, "port": port, "forward": _FORWARD[tokens[2]], "weight": weight,
                "active_conns": active, "inactive_conns": inactive, "persist_conns": 0,
                "stats": _ZERO_COUNTERS, "rates": _ZERO_RATES, "drain": None})
            if svc["protocol"] == "FWM" and family == "inet6":
                svc["family"] = "inet6"  # the kernel does not print a fwmark service's family
            continue
        if tokens[0] not in _PROTOCOLS or len(tokens) < 3:
            raise IPVSError(f"{PROC}: line {no}: expected 'PROT HEXADDR:PORT SCHEDULER', got {quote(line)}")
        svc = {"protocol": tokens[0], "address": None, "port": None, "fwmark": None, "scheduler": tokens[2],
               "persistent": False, "persistence_timeout": None, "family": "inet",
               "stats": _ZERO_COUNTERS, "rates": _ZERO_RATES, "real_servers": []}
        if tokens[0] == "FWM":
            try:
                svc["fwmark"] = int(tokens[1], 16)
            except ValueError:
                raise IPVSError(f"{PROC}: line {no}: bad firewall mark {quote(tokens[1])}")
        else:
            svc["address"], svc["port"], svc["family"] = _hex_addr(tokens[1], no)
        if "persistent" in tokens:
            i = tokens.index("persistent")
            try:
                svc["persistent"], svc["persistence_timeout"] = True, int(tokens[i + 1]) // max(hz, 1)
            except (ValueError, IndexError):
                raise IPVSError(f"{PROC}: line {no}: bad persistence in {quote(line)}")
        services.append(svc)
    return services


def collect(warnings: List[str]) -> List[Dict[str, Any]]:
    """The table; raises IPVSError with the reason it cannot be read."""
    try:
        return ipvs_netlink.collect()
    except ipvs_netlink.DecodeError as exc:
        raise IPVSError(str(exc))
    except ipvs_netlink.IPVSUnavailable as exc:
        if "not loaded" in str(exc) or not os.path.exists(PROC):
            raise IPVSError(NOT_LOADED)
        why = str(exc)
    try:
        with open(PROC, "r", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        raise IPVSError(f"{why} (and {PROC}: {exc.strerror})")
    hz, known = kernel_hz()
    warnings.append("IPVS over netlink failed ({}): weights and connections from {}, no counters{}".format(
        why, PROC, "" if known else f"; persistence timeouts assume HZ={hz}"))
    return parse_proc(text, hz)
