"""SERVICE and REALSERVER keys as the console spells them (Service.key, RealServer.key):
`VIP:PORT` (TCP), `udp:VIP:PORT`, `sctp:VIP:PORT`, `fwm:MARK` (`fwm:MARK:6`), IPv6 in brackets.
Anything else is a bad request."""

import ipaddress
import re
from typing import (
    Any,
    List,
    Optional,
    Tuple,
)

from .protocol import BAD_REQUEST, NodeError

_HOSTPORT = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<v4>[^:\[\]]+)):(?P<port>\d{1,5})$")


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _host_port(text: Any, what: str) -> Tuple[str, int, str]:
    m = _HOSTPORT.match(text) if isinstance(text, str) else None
    if not m:
        raise NodeError(BAD_REQUEST, f"{what} {str(text)[:80]!r}: expected IP:PORT")
    raw = m.group("v6") or m.group("v4")
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        raise NodeError(BAD_REQUEST, f"{what} {text[:80]!r}: not an IP address")
    if bool(m.group("v6")) != (ip.version == 6) or int(m.group("port")) > 65535:
        raise NodeError(BAD_REQUEST, f"{what} {text[:80]!r}: IPv6 in brackets, ports up to 65535")
    return str(ip), int(m.group("port")), "inet6" if ip.version == 6 else "inet"


class Service:
    def __init__(self, protocol: str, address: Optional[str] = None, port: Optional[int] = None, fwmark: Optional[int] = None, family: str = "inet") -> None:
        self.protocol, self.address, self.port, self.fwmark, self.family = protocol, address, port, fwmark, family

    @property
    def key(self) -> str:
        if self.protocol == "FWM":
            return f"fwm:{self.fwmark}" + (":6" if self.family == "inet6" else "")
        hp = join_host_port(self.address or "", self.port or 0)
        return hp if self.protocol == "TCP" else f"{self.protocol.lower()}:{hp}"


def parse_service(text: Any) -> Service:
    if not isinstance(text, str) or len(text) > 100:
        raise NodeError(BAD_REQUEST, "service must be a string such as 10.0.0.1:80, udp:..., fwm:MARK")
    spec = text.strip()
    if spec.lower().startswith("fwm:"):
        parts = spec[4:].split(":")
        if not parts[0].isdigit() or not 0 < int(parts[0]) < 2 ** 32 or parts[1:] not in ([], ["6"]):
            raise NodeError(BAD_REQUEST, f"service {text!r}: expected fwm:MARK or fwm:MARK:6")
        return Service("FWM", fwmark=int(parts[0]), family="inet6" if parts[1:] else "inet")
    protocol = "TCP"
    for prefix in ("tcp:", "udp:", "sctp:"):
        if spec.lower().startswith(prefix):
            protocol, spec = prefix[:-1].upper(), spec[len(prefix):]
            break
    address, port, family = _host_port(spec, "service")
    return Service(protocol, address, port, family=family)


def parse_real_server(text: Any) -> str:
    address, port, _ = _host_port(text, "real server")
    return join_host_port(address, port)


def parse_real_servers(value: Any) -> List[str]:
    if not isinstance(value, list) or not value or len(value) > 1000:
        raise NodeError(BAD_REQUEST, "real_servers must be a non-empty list of IP:PORT")
    out = []
    for item in value:
        key = parse_real_server(item)
        if key not in out:  # each real server once, whatever the request repeats
            out.append(key)
    return out
