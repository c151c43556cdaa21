"""The local IPVS table over generic netlink: the requests, the socket, and the replies handed to
the decoder (ipvs_decode).

Python 3.6+ standard library only: it runs in lbconsole-node, and the console imports it as
lbconsole.node.ipvs_netlink. The "IPVS" family id comes from the kernel's genetlink controller
(CTRL_CMD_GETFAMILY), once per process. The GET_SERVICE dump and one GET_DEST dump per service
are asked for on one socket; all GET_DEST replies are received back to back into one buffer,
which the decoder reads column-wise.
"""

import errno
import os
import socket
import struct
import threading
from typing import (
    Any,
    Dict,
    List,
    Optional,
    Tuple,
)

from .ipvs_decode import (
    _DONE_LEN,
    _HDR,
    _NLA,
    NLMSG_DONE,
    NLMSG_ERROR,
    DecodeError,
    IPVSUnavailable,
    NotLoaded,
    _check_end,
    _decoding,
    _service_rows,
    _table,
    decode,
)

__all__ = ["DecodeError", "IPVSUnavailable", "NotLoaded", "collect", "decode", "read_raw"]

GET_SERVICE, GET_DEST = 4, 8  # IPVS_CMD_*; the replies carry NEW_SERVICE (1) / NEW_DEST (5)
_CHUNK = 65536  # recv size; the kernel then fills dump datagrams of up to 32 KiB

_family = None
_lock, _local = threading.Lock(), threading.local()


_CTRL, _CTRL_GETFAMILY, _CTRL_FAMILY_ID, _CTRL_FAMILY_NAME = 16, 3, 1, 2  # GENL_ID_CTRL, CTRL_*


def _family_id() -> int:
    """The "IPVS" generic netlink family id, asked of the kernel's genetlink controller once per
    process (family ids are global, not per network namespace)."""
    global _family
    with _lock:
        if _family is None:
            try:
                with _open() as sock:
                    _family = _resolve_family(sock, b"IPVS")
            except TimeoutError:
                raise IPVSUnavailable("IPVS netlink: no reply from the genetlink controller in 10 s") from None
            except OSError as exc:
                raise IPVSUnavailable(f"IPVS netlink: {exc}") from None
        return _family


def forget_family() -> None:
    """ip_vs was unloaded: its family is resolved again next time (a reload may give a new id)."""
    global _family
    with _lock:
        _family = None


def _resolve_family(sock: socket.socket, name: bytes) -> int:
    """CTRL_CMD_GETFAMILY for `name`: the id from CTRL_ATTR_FAMILY_ID of the reply."""
    value = name + b"\0"
    attr = _NLA.pack(_NLA.size + len(value), _CTRL_FAMILY_NAME) + value
    attr += bytes(-len(attr) % 4)
    sock.send(_GET.pack(_GET.size + len(attr), _CTRL, 1, 1, 0, _CTRL_GETFAMILY, 1, 0) + attr)
    data = sock.recv(_CHUNK)
    with _decoding():
        length, typ = _HDR.unpack_from(data, 0)[:2]
        if typ == NLMSG_ERROR:
            code = -struct.unpack_from("=i", data, 16)[0]
            if code == errno.ENOENT:
                raise NotLoaded("IPVS not available: the ip_vs kernel module is not loaded")
            raise IPVSUnavailable(f"IPVS netlink: genetlink controller: {os.strerror(code)}")
        if typ != _CTRL or length > len(data):
            raise DecodeError(f"genetlink controller replied with message type {typ}")
        pos = 20  # nlmsghdr + genlmsghdr
        while pos + _NLA.size <= length:
            alen, atyp = _NLA.unpack_from(data, pos)
            if alen < _NLA.size:
                break
            if atyp & 0x3FFF == _CTRL_FAMILY_ID:
                return int(struct.unpack_from("=H", data, pos + _NLA.size)[0])
            pos += (alen + 3) & ~3
    raise DecodeError("genetlink controller reply has no family id")


# Dump requests (NLM_F_REQUEST | NLM_F_DUMP, IPVS generic netlink version 1); a GET_DEST one
# names its service in a nested IPVS_CMD_ATTR_SERVICE: family and fwmark, or family,
# protocol, address and port (the attributes GET_DEST looks a service up by).
_GET = struct.Struct("=IHHIIBBH")
_BY_ADDR = struct.Struct("=IHHIIBBH HH HH H2x HH H2x HH 4s12s HH 2s2x")
_BY_MARK = struct.Struct("=IHHIIBBH HH HH H2x HH I")


def _request(family: int, cmd: int, seq: int, row: Optional[Tuple[Any, ...]] = None) -> bytes:
    if row is None:
        return _GET.pack(_GET.size, family, 0x301, seq, 0, cmd, 1, 0)
    af, proto, a4, a12, port, fwmark = row[:6]
    if fwmark:
        return _BY_MARK.pack(_BY_MARK.size, family, 0x301, seq, 0, cmd, 1, 0, 20, 0x8001, 6, 1, af, 8, 5, fwmark)
    return _BY_ADDR.pack(_BY_ADDR.size, family, 0x301, seq, 0, cmd, 1, 0, 48, 0x8001, 6, 1, af, 6, 2, proto,
                         20, 3, a4, a12, 6, 4, port)


def _open() -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 16)  # NETLINK_GENERIC
    sock.settimeout(10)
    sock.bind((0, 0))
    return sock


def _recv_dump(sock: socket.socket, buf: bytearray, pos: int, keep_done: bool) -> int:
    """Receive one dump's datagrams into buf at pos; return where its messages end. Its
    NLMSG_DONE is checked and (unless keep_done) dropped, so that the next dump's messages
    follow directly and all real servers lie back to back."""
    while True:
        if len(buf) - pos < _CHUNK:
            buf.extend(bytes(max(len(buf), _CHUNK)))
        n = sock.recv_into(memoryview(buf)[pos:pos + _CHUNK], _CHUNK, socket.MSG_TRUNC)
        if not 16 <= n <= _CHUNK:
            raise DecodeError(f"netlink datagram of {n} bytes")
        if _HDR.unpack_from(buf, pos)[1] == NLMSG_ERROR:
            _check_end(buf, pos, NLMSG_ERROR)
        pos += n
        if n >= _DONE_LEN and _HDR.unpack_from(buf, pos - _DONE_LEN)[:2] == (_DONE_LEN, NLMSG_DONE):
            _check_end(buf, pos - _DONE_LEN, NLMSG_DONE)
            return pos if keep_done else pos - _DONE_LEN


def _read(keep_done: bool = False) -> Tuple[bytes, List[Tuple[Any, ...]], bytearray, List[Tuple[int, int]]]:
    """(GET_SERVICE reply, its rows, GET_DEST replies back to back in a buffer, their spans)."""
    family, buf = _family_id(), getattr(_local, "buf", None) or bytearray()
    _local.buf = None  # a buffer with memoryviews left (an exception's frames) cannot grow
    try:
        with _open() as sock:
            sock.send(_request(family, GET_SERVICE, 1))
            services = bytes(buf[:_recv_dump(sock, buf, 0, True)])
            rows, spans, pos = _service_rows(services), [], 0
            for seq, row in enumerate(rows, start=2):
                sock.send(_request(family, GET_DEST, seq, row))
                spans.append((pos, _recv_dump(sock, buf, pos, keep_done)))
                pos = spans[-1][1]
    except NotLoaded:
        forget_family()
        raise
    except TimeoutError:
        raise IPVSUnavailable("IPVS over netlink: no reply from the kernel in 10 s") from None
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EACCES):
            raise IPVSUnavailable("IPVS over netlink needs root or CAP_NET_ADMIN") from None
        raise IPVSUnavailable(f"IPVS over netlink: {exc}") from None
    return services, rows, buf, spans


def read_raw() -> Tuple[bytes, List[bytes]]:
    """The kernel's replies as they came (for fixtures and debugging); decode() reads them."""
    services, _, buf, spans = _read(keep_done=True)
    return services, [bytes(buf[b:e]) for b, e in spans]


def collect() -> List[Dict[str, Any]]:
    """The local kernel's IPVS table, in ipvsadm's order. Raises IPVSUnavailable (no ip_vs,
    no CAP_NET_ADMIN, no reply) or its subclass DecodeError (a reply that cannot be read)."""
    with _decoding():
        _, rows, buf, spans = _read()
        table = _table(rows, buf, spans)
    _local.buf = buf  # reused by this thread's next poll: no regrowing a 4 MB buffer each time
    return table
