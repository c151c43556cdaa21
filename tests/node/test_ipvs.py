"""The node's IPVS readers on real kernel output: the netlink decoder on replies captured from
the lab's kernel (tests/fixtures/netlink/), equal to what ipvsadm printed for the same table,
and /proc/net/ip_vs as the lab's directors wrote it. (This kernel has no ip_vs: the live
netlink path is exercised in the lab VM.)"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from lbconsole.node import ipvs, ipvs_netlink

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NETLINK = FIXTURES / "netlink"
CAPTURES = sorted(p.stem for p in NETLINK.glob("*.dumps"))
EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "ipvs_expected.json").read_text())  # see its README


def load_dumps(name: str) -> list[bytes]:
    data, out, pos = (NETLINK / f"{name}.dumps").read_bytes(), [], 0
    while pos < len(data):
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(data[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def plain(obj) -> object:
    return json.loads(json.dumps(obj))


@pytest.mark.parametrize("name", ["lb1", "scratch", "empty"])
def test_netlink_capture_equals_ipvsadm(name):
    dumps = load_dumps(name)
    got = plain(ipvs_netlink.decode(dumps[0], dumps[1:]))
    want = EXPECTED["netlink:" + name]  # what ipvsadm printed for the same table
    for svc in got:  # ipvsadm -Ln does not show persistent connections
        for rs in svc["real_servers"]:
            rs["persist_conns"] = 0
    assert got == want
    assert got or name == "empty"


def test_netlink_garbage_is_a_decode_error():
    dumps = load_dumps("lb1")
    with pytest.raises(ipvs_netlink.DecodeError):
        ipvs_netlink.decode(dumps[0][:-30], dumps[1:])
    with pytest.raises(ipvs_netlink.IPVSUnavailable):
        ipvs_netlink.decode(dumps[0], [d[:40] for d in dumps[1:]])


@pytest.mark.parametrize("name", ["lb1", "lb2"])
def test_proc_net_ip_vs(name):
    got = ipvs.parse_proc((FIXTURES / f"{name}_proc_net_ip_vs.txt").read_text(), hz=250)
    assert plain(got) == EXPECTED["proc:" + name]  # what the console read from it
    assert {rs["address"] for svc in got for rs in svc["real_servers"]} == {"10.99.0.21", "10.99.0.22", "10.99.0.23"}
    assert [(svc["port"], svc["persistence_timeout"]) for svc in got] in ([(80, None), (8080, 300)],
                                                                          [(8080, 300), (80, None)])


def test_proc_net_ip_vs_garbage():
    with pytest.raises(ipvs.IPVSError, match="line 1: expected 'PROT HEXADDR:PORT SCHEDULER'"):
        ipvs.parse_proc('{"id": 1, "ok": true}\n')
    with pytest.raises(ipvs.IPVSError, match="expected a real server"):
        ipvs.parse_proc("  -> 0A630017:0050      Route   100    0          11\n")


def test_without_ip_vs_the_error_says_so():
    with pytest.raises(ipvs.IPVSError, match="^the ip_vs kernel module is not loaded$"):
        ipvs.collect([])


def test_drain_requests_name_the_service_as_the_proven_dump_requests_do():
    from lbconsole.node import ipvs_edit
    from lbconsole.node.keys import parse_service

    family = 37
    a4 = bytes([10, 99, 0, 100])
    row = (2, 6, a4, bytes(12), (80).to_bytes(2, "big"), 0)
    mine = ipvs_edit._message(family, ipvs_edit.GET_DEST, 0x301,
                              ipvs_edit._service_attr(parse_service("10.99.0.100:80")))
    assert mine == ipvs_netlink._request(family, ipvs_edit.GET_DEST, 1, row)
    mark = ipvs_edit._message(family, ipvs_edit.GET_DEST, 0x301, ipvs_edit._service_attr(parse_service("fwm:10")))
    assert mark == ipvs_netlink._request(family, ipvs_edit.GET_DEST, 1, (2, 0, bytes(4), bytes(12), bytes(2), 10))


@pytest.mark.parametrize("name", ["lb1", "scratch"])
def test_drain_reads_real_servers_as_the_decoder_does(name):
    from lbconsole.node import ipvs_edit
    from lbconsole.node.keys import parse_service
    from lbconsole.node.snapshot import service_key

    dumps = load_dumps(name)
    table = ipvs_netlink.decode(dumps[0], dumps[1:])
    assert table
    for svc, dump in zip(table, dumps[1:]):
        spec = parse_service(service_key(svc))
        got = ipvs_edit.parse(ipvs_edit.split(dump), spec)
        want = {f"{r['address']}:{r['port']}" if ":" not in r["address"] else f"[{r['address']}]:{r['port']}":
                (ipvs_edit.FORWARD.index(r["forward"]), r["weight"], r["active_conns"], r["inactive_conns"])
                for r in svc["real_servers"]}
        assert {k: (d.forward, d.weight, d.active, d.inactive) for k, d in got.items()} == want
