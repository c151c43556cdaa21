"""One service's real servers, and a real server's weight set, over generic netlink: what a
drain needs, without `ipvsadm` (a process costs 0.1-0.2 s on a slow or emulated director).

IPVS_CMD_GET_DEST for the service gives every real server with its forward method, weight,
thresholds and connections; IPVS_CMD_SET_DEST changes one, and is given everything ipvsadm -e
is given (forward method, weight, upper and lower thresholds), the current values but the
weight, since the kernel takes the whole entry. The family id and the socket come from
ipvs_netlink, the replies read with ipvs_decode.
"""

import errno
import os
import socket
import struct
from typing import Dict, List, Tuple

from . import ipvs_decode as wire
from . import ipvs_netlink as nl
from .keys import Service, join_host_port

GET_DEST, SET_DEST = 8, 6  # IPVS_CMD_*
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
_GENL = struct.Struct("=BBH")
_PROTO = {"TCP": 6, "UDP": 17, "SCTP": 132}
FORWARD = ("masq", "local", "tunnel", "route")  # IP_VS_CONN_F_* & IP_VS_CONN_F_FWD_MASK
_FIELDS = {3: "forward", 4: "weight", 5: "u_thresh", 6: "l_thresh", 7: "active", 8: "inactive"}


class NoService(Exception):
    pass


class Dest:
    __slots__ = ("active", "address", "af", "forward", "inactive", "l_thresh", "port", "u_thresh", "weight")

    def __init__(self) -> None:
        self.address, self.port, self.af = "", 0, 0
        self.forward = self.weight = self.u_thresh = self.l_thresh = self.active = self.inactive = 0

    @property
    def key(self) -> str:
        return join_host_port(self.address, self.port)


def _nla(typ: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, typ) + payload + bytes(-size % 4)


def _af(family: str) -> int:
    return socket.AF_INET6 if family == "inet6" else socket.AF_INET


def _service_attr(svc: Service) -> bytes:
    """IPVS_CMD_ATTR_SERVICE (nested): the attributes the kernel looks a service up by."""
    af = _af(svc.family)
    body = _nla(1, struct.pack("=H", af))
    if svc.protocol == "FWM":
        body += _nla(5, struct.pack("=I", svc.fwmark or 0))
    else:
        addr = socket.inet_pton(af, svc.address or "").ljust(16, b"\0")
        body += _nla(2, struct.pack("=H", _PROTO[svc.protocol])) + _nla(3, addr) + \
            _nla(4, struct.pack(">H", svc.port or 0))
    return _nla(0x8001, body)


def _message(family: int, cmd: int, flags: int, body: bytes) -> bytes:
    payload = _GENL.pack(cmd, 1, 0) + body
    return wire._HDR.pack(wire._HDR.size + len(payload), family, flags, 1, 0) + payload


def _error(code: int, what: str) -> Exception:
    if code in (errno.EPERM, errno.EACCES):
        return wire.IPVSUnavailable("IPVS over netlink needs root or CAP_NET_ADMIN")
    if code == errno.ESRCH:
        return NoService(what)
    return wire.IPVSUnavailable(f"IPVS netlink: {what}: {os.strerror(code) if 0 < code < 4096 else code}")


def _exchange(msg: bytes, what: str) -> List[Tuple[bytes, int]]:
    """Send one request; [(message, offset)] of the replies up to NLMSG_DONE or the ack."""
    out: List[Tuple[bytes, int]] = []
    with nl._open() as sock:
        sock.send(msg)
        while True:
            data = sock.recv(nl._CHUNK)
            pos = 0
            while pos + 16 <= len(data):
                size, typ = wire._HDR.unpack_from(data, pos)[:2]
                if size < 16 or pos + size > len(data):
                    raise wire.DecodeError(f"IPVS {what}: a netlink message overruns its datagram")
                if typ == wire.NLMSG_DONE:
                    return out
                if typ == wire.NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, pos + 16)[0]
                    if code:
                        raise _error(code, what)
                    return out  # the ack of a request without a dump
                out.append((data, pos))
                pos += (size + 3) & ~3


def read(svc: Service) -> Dict[str, Dest]:
    """The service's real servers by key (IP:PORT). Raises NoService, or IPVSUnavailable."""
    msg = _message(nl._family_id(), GET_DEST, NLM_F_REQUEST | NLM_F_DUMP, _service_attr(svc))
    return parse(_exchange(msg, f"real servers of {svc.key}"), svc)


def split(dump: bytes) -> List[Tuple[bytes, int]]:
    """[(data, offset)] of the messages of one dump as received (a capture), before NLMSG_DONE."""
    out, pos = [], 0
    while pos + 16 <= len(dump):
        size, typ = wire._HDR.unpack_from(dump, pos)[:2]
        if typ in (wire.NLMSG_DONE, wire.NLMSG_ERROR) or size < 16:
            break
        out.append((dump, pos))
        pos += (size + 3) & ~3
    return out


def parse(messages: List[Tuple[bytes, int]], svc: Service) -> Dict[str, Dest]:
    found = {}
    for data, pos in messages:
        size = wire._HDR.unpack_from(data, pos)[0]
        for typ, p, ln in wire._attrs(data, pos + 20, pos + size, "dest"):
            if typ != 2:  # IPVS_CMD_ATTR_DEST
                continue
            d, raw = Dest(), b""
            for t, q, qlen in wire._attrs(data, p, p + ln, "dest"):
                if t == 1:
                    raw = bytes(data[q:q + qlen])
                elif t == 2 and qlen == 2:
                    d.port = struct.unpack_from(">H", data, q)[0]
                elif t == 11 and qlen == 2:
                    d.af = struct.unpack_from("=H", data, q)[0]
                elif t in _FIELDS and qlen == 4:
                    setattr(d, _FIELDS[t], struct.unpack_from("=I", data, q)[0])
            d.af = d.af or _af(svc.family)
            if len(raw) != 16 or d.forward >= len(FORWARD):
                raise wire.DecodeError(f"IPVS real server of {svc.key} without a usable address or forward method")
            d.address = socket.inet_ntop(d.af, raw[:4] if d.af == socket.AF_INET else raw)
            found[d.key] = d
    return found


def set_weight(svc: Service, dest: Dest, weight: int) -> None:
    """IPVS_CMD_SET_DEST: dest as it is, but for its weight. Raises NoService, IPVSUnavailable."""
    addr = socket.inet_pton(dest.af, dest.address).ljust(16, b"\0")
    body = _nla(1, addr) + _nla(2, struct.pack(">H", dest.port)) + _nla(3, struct.pack("=I", dest.forward)) + \
        _nla(4, struct.pack("=I", weight)) + _nla(5, struct.pack("=I", dest.u_thresh)) + \
        _nla(6, struct.pack("=I", dest.l_thresh))
    if dest.af != _af(svc.family):
        body += _nla(11, struct.pack("=H", dest.af))
    msg = _message(nl._family_id(), SET_DEST, NLM_F_REQUEST | NLM_F_ACK, _service_attr(svc) + _nla(0x8002, body))
    _exchange(msg, f"weight of {dest.key} in {svc.key}")
