"""A reference reader of `ipvsadm -Ln --exact` (+ `--stats --exact`, `--rate --exact`), for tests only.

The product never parses ipvsadm's text (the node reads IPVS over netlink, else /proc/net/ip_vs); the
tests use ipvsadm, the kernel's own tool, as the independent witness of what the table holds. Plain
and strict on purpose: one line at a time, --exact numbers only, any line it does not know is an
error naming it. Results are `status --json` service objects, as the node's readers return them.
"""

from __future__ import annotations

import socket
from typing import Any

PROTOCOLS = ("TCP", "UDP", "SCTP", "FWM")
FORWARD = {"Route": "route", "Masq": "masq", "Tunnel": "tunnel", "Local": "local"}
HEADERS = ("IP Virtual Server", "Prot ", "  -> RemoteAddress")
COUNTERS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes")
RATES = ("cps", "inpps", "outpps", "inbps", "outbps")


def _addr(token: str) -> tuple[str, int, str]:
    """'10.0.0.1:80' or '[2001:db8::1]:80' -> (host, port, family), the host as ipvsadm printed it."""
    host, _, port = token.rpartition(":")
    family, af = ("inet6", socket.AF_INET6) if host.startswith("[") else ("inet", socket.AF_INET)
    host = host[1:-1] if family == "inet6" else host
    socket.inet_pton(af, host)  # OSError on a bad address
    if not port.isdecimal() or int(port) > 65535:
        raise ValueError(f"bad port in {token!r}")
    return host, int(port), family


def _name_len(tokens: list[str]) -> int:
    """How many tokens name the service: 'TCP ADDR:PORT', 'FWM 10' or 'FWM 10 IPv6'."""
    return 3 if tokens[0] == "FWM" and len(tokens) > 2 and tokens[2] == "IPv6" else 2


def _rows(text: str) -> list[tuple[int, list[str], bool]]:
    """(line number, tokens, is a real-server line) of each line after the headers."""
    out = []
    for no, line in enumerate(text.split("\n"), start=1):
        if not line.strip() or line.startswith(HEADERS):
            continue
        tokens = line.split()
        is_dest = tokens[0] == "->"
        if is_dest != line[:1].isspace() or (not out and is_dest) or (not is_dest and tokens[0] not in PROTOCOLS):
            raise ValueError(f"line {no}: not an ipvsadm -Ln line: {line!r}")
        out.append((no, tokens, is_dest))
    return out


def _numbers(text: str, fields: tuple[str, ...]) -> dict[str, tuple[dict[str, int], dict[str, dict[str, int]]]]:
    """--stats / --rate: {service name: (its numbers, {real-server ADDR:PORT: numbers})}."""
    out: dict[str, tuple[dict[str, int], dict[str, dict[str, int]]]] = {}
    name = ""
    for no, tokens, is_dest in _rows(text):
        head = 2 if is_dest else _name_len(tokens)
        if len(tokens) != head + 5:
            raise ValueError(f"line {no}: expected a name and 5 numbers: {tokens!r}")
        nums = dict(zip(fields, map(int, tokens[head:])))  # --exact: plain integers only
        if is_dest:
            out[name][1][tokens[1]] = nums
        else:
            name = " ".join(tokens[:head])
            out[name] = (nums, {})
    return out


def read(ln: str, stats: str | None = None, rate: str | None = None) -> list[dict[str, Any]]:
    """The services of `ipvsadm -Ln --exact`, with the numbers of the --stats/--rate listings (zeros for
    what those do not list). Raises ValueError on anything else."""
    st = _numbers(stats, COUNTERS) if stats is not None else {}
    rt = _numbers(rate, RATES) if rate is not None else {}
    zero_c, zero_r = dict.fromkeys(COUNTERS, 0), dict.fromkeys(RATES, 0)
    services: list[dict[str, Any]] = []
    svc_st: tuple[dict[str, int], dict[str, dict[str, int]]] = (zero_c, {})
    svc_rt: tuple[dict[str, int], dict[str, dict[str, int]]] = (zero_r, {})
    for no, tokens, is_dest in _rows(ln):
        if is_dest:
            if len(tokens) != 6 or tokens[2] not in FORWARD:
                raise ValueError(f"line {no}: expected '-> ADDR:PORT FORWARD WEIGHT ACTIVE INACTIVE': {tokens!r}")
            host, port, _ = _addr(tokens[1])
            services[-1]["real_servers"].append({
                "address": host, "port": port, "forward": FORWARD[tokens[2]], "weight": int(tokens[3]),
                "active_conns": int(tokens[4]), "inactive_conns": int(tokens[5]), "persist_conns": 0,
                "stats": svc_st[1].get(tokens[1], zero_c), "rates": svc_rt[1].get(tokens[1], zero_r), "drain": None})
            continue
        k = _name_len(tokens)
        if len(tokens) <= k:
            raise ValueError(f"line {no}: no scheduler: {tokens!r}")
        name = " ".join(tokens[:k])
        svc_st, svc_rt = st.get(name, (zero_c, {})), rt.get(name, (zero_r, {}))
        svc: dict[str, Any] = {"protocol": tokens[0], "address": None, "port": None, "fwmark": None,
                               "scheduler": tokens[k], "persistent": False, "persistence_timeout": None,
                               "family": "inet6" if k == 3 else "inet", "stats": svc_st[0], "rates": svc_rt[0],
                               "real_servers": []}
        if tokens[0] == "FWM":
            svc["fwmark"] = int(tokens[1]) & 0xFFFFFFFF  # ipvsadm prints marks of 2^31 and more negative
        else:
            svc["address"], svc["port"], svc["family"] = _addr(tokens[1])
        flags = tokens[k + 1:]
        if "persistent" in flags:
            svc["persistent"], svc["persistence_timeout"] = True, int(flags[flags.index("persistent") + 1])
        services.append(svc)
    return services
