"""Addresses over rtnetlink, in plain socket + struct: the RTM_GETADDR dump (what `ip -j addr`
lists, without starting it) and the RTMGRP_IPV4_IFADDR / RTMGRP_IPV6_IFADDR events (what
`ip monitor address` prints), each the moment the kernel adds or removes an address."""

import errno
import socket
import struct
from typing import (
    Dict,
    Iterator,
    List,
    Optional,
    Tuple,
)

NETLINK_ROUTE = 0
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTMGRP_IPV4_IFADDR, RTMGRP_IPV6_IFADDR = 0x10, 0x100
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL = 1, 2, 3
_HDR = struct.Struct("=IHHII")  # nlmsghdr
_IFA = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index
_NLA = struct.Struct("=HH")
_FAMILY = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}


class RtnlError(OSError):
    pass


def _open(groups: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
    sock.bind((0, groups))
    return sock


def _names() -> Dict[int, str]:
    try:
        return dict(socket.if_nameindex())
    except OSError:
        return {}


def parse_addr(data: bytes, pos: int, size: int, names: Dict[int, str]) -> Optional[Tuple[int, Dict[str, str]]]:
    """(ifindex, {"interface", "address", "family"}) of one RTM_NEWADDR/DELADDR message, or None
    for a family other than IPv4/IPv6."""
    family, _plen, _flags, _scope, index = _IFA.unpack_from(data, pos + 16)
    if family not in _FAMILY:
        return None
    attrs, p, end = {}, pos + 16 + _IFA.size, pos + size
    while p + 4 <= end:
        ln, typ = _NLA.unpack_from(data, p)
        if ln < 4 or p + ln > end:
            break
        attrs[typ & 0x3FFF] = bytes(data[p + 4:p + ln])
        p += (ln + 3) & ~3
    raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)  # `ip` shows "local" when there is one
    if raw is None or len(raw) != (4 if family == socket.AF_INET else 16):
        return None
    name = names.get(index)
    if name is None:
        label = attrs.get(IFA_LABEL, b"").split(b"\0", 1)[0]
        name = label.decode("utf-8", "replace") if label else str(index)
    return index, {"interface": name, "address": socket.inet_ntop(family, raw), "family": _FAMILY[family]}


def _messages(data: bytes) -> Iterator[Tuple[int, int, int]]:
    pos = 0
    while pos + 16 <= len(data):
        size, typ = _HDR.unpack_from(data, pos)[:2]
        if size < 16 or pos + size > len(data):
            raise RtnlError(errno.EBADMSG, "rtnetlink message overruns its datagram")
        yield pos, size, typ
        pos += (size + 3) & ~3


def addresses() -> List[Dict[str, str]]:
    """Every IPv4/IPv6 address of every interface (lo included), by interface index, as
    `ip -j addr` lists them."""
    names = _names()
    found: List[Tuple[int, Dict[str, str]]] = []
    with _open() as sock:
        sock.settimeout(5)
        req = _HDR.pack(_HDR.size + _IFA.size, RTM_GETADDR, 0x301, 1, 0) + _IFA.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        sock.send(req)
        while True:
            data = sock.recv(65536)
            for pos, size, typ in _messages(data):
                if typ == NLMSG_DONE:
                    found.sort(key=lambda item: item[0])  # stable: dump order within an interface
                    return [entry for _, entry in found]
                if typ == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", data, pos + 16)[0]
                    raise RtnlError(code, f"rtnetlink address dump: error {code}")
                if typ == RTM_NEWADDR:
                    item = parse_addr(data, pos, size, names)
                    if item is not None:
                        found.append(item)


class AddrMonitor:
    """A socket subscribed to address events; read() returns [(action, entry)] as they come."""

    def __init__(self) -> None:
        self.sock = _open(RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    def fileno(self) -> int:
        return self.sock.fileno()

    def read(self) -> List[Tuple[str, Optional[Dict[str, str]]]]:
        """The events of one datagram (blocking). ENOBUFS (the kernel dropped events while we
        were slow) is reported as [("overrun", None)]: the reader should re-read the table."""
        try:
            data = self.sock.recv(65536)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:
                return [("overrun", None)]
            raise
        out: List[Tuple[str, Optional[Dict[str, str]]]] = []
        names: Optional[Dict[int, str]] = None
        for pos, size, typ in _messages(data):
            if typ not in (RTM_NEWADDR, RTM_DELADDR):
                continue
            if names is None:
                names = _names()
            item = parse_addr(data, pos, size, names)
            if item is not None:
                out.append(("add" if typ == RTM_NEWADDR else "del", item[1]))
        return out

    def close(self) -> None:
        self.sock.close()
