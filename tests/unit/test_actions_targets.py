"""SERVICE and REALSERVER specs: the CLI spelling, canonical keys, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lbconsole.actions import targets
from lbconsole.actions.targets import parse_real_server, parse_service
from lbconsole.errors import UsageError
from lbconsole.snapshot import RealServer, Service


@pytest.mark.parametrize("spec, key", [
    ("10.99.0.100:80", "10.99.0.100:80"),
    ("tcp:10.99.0.100:80", "10.99.0.100:80"),
    ("udp:10.99.0.100:53", "udp:10.99.0.100:53"),
    ("sctp:10.99.0.100:3868", "sctp:10.99.0.100:3868"),
    ("fwm:10", "fwm:10"),
    ("fwm:10:6", "fwm:10:6"),
    ("[2001:db8::100]:443", "[2001:db8::100]:443"),
    ("[2001:DB8:0::100]:443", "[2001:db8::100]:443"),
    ("UDP:10.0.0.1:53", "udp:10.0.0.1:53"),
])
def test_service_specs(spec, key):
    assert parse_service(spec).key == key


@pytest.mark.parametrize("spec, words", [
    ("10.99.0.100", "expected VIP:PORT"),
    ("10.99.0.300:80", "not an IP address"),
    ("10.99.0.100:70000", "out of range"),
    ("2001:db8::1:80", "expected VIP:PORT"),
    ("[10.0.0.1]:80", "brackets are for IPv6"),
    ("fwm:abc", "firewall mark"),
    ("fwm:0", "firewall mark"),
    ("fwm:1:2:3", "fwm:MARK"),
    ("icmp:10.0.0.1:1", "unknown protocol"),
    ("udp:", "expected"),
    ("", "expected"),
])
def test_bad_service_specs_say_what_was_expected(spec, words):
    with pytest.raises(UsageError) as err:
        parse_service(spec)
    assert words in str(err.value) and err.value.exit_code == 2


@pytest.mark.parametrize("spec, words", [
    ("10.99.0.21", "expected IP:PORT"), ("web1:80", "not an IP address"), ("10.99.0.21:99999", "out of range"),
    ("::1:80", "expected IP:PORT"),
])
def test_bad_real_server_specs(spec, words):
    with pytest.raises(UsageError) as err:
        parse_real_server(spec)
    assert words in str(err.value)


def test_keys_match_the_snapshot_spelling():
    svc = Service("UDP", "10.0.0.1", 53, None, "rr")
    assert parse_service(svc.key).key == svc.key
    assert parse_service(Service("FWM", None, None, 7, "rr", family="inet6").key).key == "fwm:7:6"
    rs = RealServer("2001:db8::21", 80, "route", 1)
    assert parse_real_server(rs.key).key == rs.key


@given(st.ip_addresses(), st.integers(0, 65535), st.sampled_from(["", "udp:", "sctp:"]))
def test_round_trip(ip, port, prefix):
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    svc = parse_service(f"{prefix}{host}:{port}")
    assert parse_service(svc.key) == svc
    assert parse_real_server(f"{host}:{port}").key == f"{host}:{port}"


def test_targets_from_the_tui_dict_dedupe_real_servers():
    t = targets.from_dict("real_server", {"cluster": "c", "service": "10.0.0.1:80",
                                          "real_server": ["10.0.0.21:80", "10.0.0.22:80", "10.0.0.21:80"]})
    assert [rs.key for rs in t.real_servers] == ["10.0.0.21:80", "10.0.0.22:80"]
    one = targets.from_dict("real_server", {"cluster": "c", "service": "10.0.0.1:80", "real_server": "10.0.0.21:80"})
    assert one.to_dict()["real_server"] == "10.0.0.21:80"
    assert targets.from_dict("vrrp_instance", {"instance": "VI_1", "node": "lb1"}, "c").node == "lb1"
    assert targets.from_dict("nginx_node", {"cluster": "c", "node": "web1"}).label == "web1"


@pytest.mark.parametrize("kind, data", [
    ("real_server", {"cluster": "c", "service": "10.0.0.1:80"}),
    ("vrrp_instance", {"cluster": "c"}),
    ("nginx_node", {"cluster": "c"}),
    ("real_server", {"service": "10.0.0.1:80", "real_server": "10.0.0.2:80"}),
    ("bogus", {"cluster": "c"}),
])
def test_incomplete_targets_are_usage_errors(kind, data):
    with pytest.raises(UsageError):
        targets.from_dict(kind, data)
