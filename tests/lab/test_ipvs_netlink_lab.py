"""collect() on a real kernel (the lab VM's) equals what ipvsadm shows there.

collect() has to run where ip_vs is: inside the VM, on a director. `run_python` sends the
working tree's lbconsole package (and pyroute2 where a script needs it) over the lab's ssh
and runs it with the VM's python3.

Two tables: lb1's own (read only), and a scratch network namespace inside lb1 holding
every kind of service (TCP/UDP/SCTP/FWM, IPv4/IPv6, persistence, every forward method)
with traffic through it, deleted afterwards. lb1's and lb2's own tables are never changed.
"""

from __future__ import annotations

import json

from lbconsole.lab import api
from lbconsole.lab.remote_python import run_python
from lbconsole.snapshot import Service, Snapshot
from support import ipvsadm_text

SCRATCH_NS = "lbcnlfix"

# A table of every kind, in a scratch netns, plus local-client traffic through it (IPVS
# schedules locally generated packets too; DR/masq/tunnel send them out of a veth whose
# peer drops them). TEST-NET addresses only; nothing leaves the namespace.
TABLE_SCRIPT = r"""
set -e
ns=%(ns)s
ip netns del $ns 2>/dev/null || true
ip netns add $ns
x() { ip netns exec $ns "$@"; }
x ip link set lo up
x ip link add v0 type veth peer name v1
x ip link set v0 up; x ip link set v1 up
x ip addr add 192.0.2.1/24 dev v0
x ip addr add 2001:db8:1::1/64 dev v0 nodad
x ip route add 198.51.100.0/24 dev v0
x ip route add 2001:db8::/64 dev v0
x ip route add default dev v0
for i in 10 11 12 13; do
  x ip neigh replace 192.0.2.$i lladdr 02:00:00:00:00:$i dev v0
  x ip neigh replace 2001:db8:1::$i lladdr 02:00:00:00:01:$i dev v0
done
x ipvsadm -A -t 198.51.100.10:80 -s wlc
x ipvsadm -a -t 198.51.100.10:80 -r 192.0.2.10:80 -g -w 100
x ipvsadm -a -t 198.51.100.10:80 -r 192.0.2.11:80 -g -w 50 -x 1000 -y 10
x ipvsadm -a -t 198.51.100.10:80 -r 192.0.2.12:80 -g -w 0
x ipvsadm -A -u 198.51.100.10:53 -s rr -o
x ipvsadm -a -u 198.51.100.10:53 -r 192.0.2.11:5353 -m -w 1
x ipvsadm -a -u 198.51.100.10:53 -r 192.0.2.13:53 -i -w 2
x ipvsadm -A --sctp-service 198.51.100.11:3868 -s sh
x ipvsadm -a --sctp-service 198.51.100.11:3868 -r 192.0.2.12:3868 -i
x ipvsadm -A -t 198.51.100.12:443 -s wrr -p 300
x ipvsadm -a -t 198.51.100.12:443 -r 192.0.2.13:443 -g -w 7
x ipvsadm -A -f 10 -s rr -p 60 -M 255.255.255.0
x ipvsadm -a -f 10 -r 192.0.2.10 -g
x ipvsadm -A -f 20 -6 -s lc
x ipvsadm -a -f 20 -6 -r 2001:db8:1::12 -g -w 3
x ipvsadm -A -t [2001:db8::100]:443 -s wlc -p 120
x ipvsadm -a -t [2001:db8::100]:443 -r [2001:db8:1::10]:443 -g -w 10
x ipvsadm -a -t [2001:db8::100]:443 -r [2001:db8:1::11]:8443 -m -w 20
# Where libipvs's `int r = ntohl(a) - ntohl(b)` wraps: 10.255.0.9 is listed after 198.51.100.x,
# and 10.255 < 100.64 < 203.0 < 10.255 is a cycle (glibc's merge sort decides).
x ipvsadm -A -t 10.255.0.9:80 -s rr
for a in 203.0.113.5 10.255.0.1 100.64.0.1 198.51.100.30 10.255.0.2 100.64.0.2; do
  x ipvsadm -a -t 10.255.0.9:80 -r $a:80 -g
done
x ipvsadm -A -t 203.0.113.1:8080 -s rr
for h in $(seq 1 250); do echo "-a -t 203.0.113.1:8080 -r 203.0.113.$h:8080 -g -w $((h %% 7))"; done | x ipvsadm -R
"""

# ipvsadm cannot ask for the "local" forward method (1); netlink can (pyroute2, shipped along).
LOCAL_DEST_MAIN = r"""
from pyroute2 import IPVS, IPVSDest, IPVSService
IPVS().dest("add", service=IPVSService(addr="198.51.100.12", port=443, protocol=6),
            dest=IPVSDest(addr="127.0.0.1", port=443, fwd_method=1, weight=5))
"""

# Local-client traffic through every kind of service.
TRAFFIC_SCRIPT = r"""
x() { ip netns exec %(ns)s "$@"; }
x python3 - <<'EOF'
import socket, time
socks = []
for i in range(40):
    for fam, addr in ((socket.AF_INET, ("198.51.100.10", 80)), (socket.AF_INET, ("198.51.100.12", 443)),
                      (socket.AF_INET6, ("2001:db8::100", 443))):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex(addr)
        socks.append(s)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"x" * (i + 1), ("198.51.100.10", 53))
    u.close()
time.sleep(1.5)
for s in socks:
    s.close()
EOF
"""

# Marks of 2^31 and more: ipvsadm prints them negative (%d) and its comparison wraps, which
# makes a cycle with the services of mark 0 and the small marks.
BIG_MARK_SCRIPT = r"""
set -e
ip netns del %(ns)s 2>/dev/null || true
ip netns add %(ns)s
x() { ip netns exec %(ns)s "$@"; }
x ipvsadm -A -t 198.51.100.10:80 -s wlc
x ipvsadm -A -t 10.255.0.9:80 -s rr
x ipvsadm -A -f 10 -s rr
x ipvsadm -A -f 2147483653 -s rr
x ipvsadm -A -f 4294967295 -s rr
x ipvsadm -A -f 20 -6 -s lc
"""


def ipvsadm_keys(ln: str) -> list[str]:
    """Service keys from `ipvsadm -Ln` (a mark of 2^31 or more is printed negative there)."""
    keys = []
    for line in ln.splitlines()[3:]:
        w = line.split()
        if line[:1].strip() and w[0] == "FWM":
            keys.append(f"fwm:{int(w[1]) & 0xFFFFFFFF}" + (":6" if w[2] == "IPv6" else ""))
        elif line[:1].strip():
            keys.append(w[1] if w[0] == "TCP" else f"{w[0].lower()}:{w[1]}")
    return keys


# Reads the table both ways; retried until two --rate listings around the netlink read agree
# (the kernel's estimator updates rates every 2 s).
READ_MAIN = r"""
import base64, dataclasses, json, subprocess, sys
from lbconsole.node import ipvs_netlink
def ipvsadm(*a):
    return subprocess.run(["ipvsadm", "-Ln", "--exact", *a], capture_output=True, text=True, check=True).stdout
for attempt in range(10):
    rate0 = ipvsadm("--rate")
    ln, stats = ipvsadm(), ipvsadm("--stats")
    services, dests = ipvs_netlink.read_raw()
    ln2, stats2, rate = ipvsadm(), ipvsadm("--stats"), ipvsadm("--rate")
    if (ln, stats, rate0) == (ln2, stats2, rate):
        break
table = ipvs_netlink.decode(services, dests)
json.dump({"ln": ln, "stats": stats, "rate": rate, "services": table,
           "dumps": [base64.b64encode(d).decode() for d in [services, *dests]]}, sys.stdout)
"""


def make_scratch_table(node: str = "lb1") -> None:
    try:
        api.run(node, TABLE_SCRIPT % {"ns": SCRATCH_NS}, check=True, timeout=300)
        run_python(node, LOCAL_DEST_MAIN, netns=SCRATCH_NS,
                   packages=("pyroute2",))
        api.run(node, TRAFFIC_SCRIPT % {"ns": SCRATCH_NS}, check=True, timeout=300)
    except Exception:
        drop_scratch_table(node)
        raise


def drop_scratch_table(node: str = "lb1") -> None:
    api.run(node, f"ip netns del {SCRATCH_NS}", timeout=60)


def read_both(node: str, netns: str | None = None) -> dict:
    return json.loads(run_python(node, READ_MAIN, netns=netns))


def services_of(dicts: list[dict]) -> tuple[Service, ...]:
    snap = Snapshot.from_dict({"taken_at": 0, "clusters": [{"name": "c", "nodes": [
        {"name": "n", "host": "h", "roles": [], "ipvs": dicts}]}]})
    return snap.clusters[0].nodes[0].ipvs


def assert_same(got: tuple[Service, ...], text: dict) -> None:
    want = services_of(ipvsadm_text.read(text["ln"], text["stats"], text["rate"]))  # the witness
    assert [s.key for s in got] == [s.key for s in want]
    for g, w in zip(got, want):
        assert [r.key for r in g.real_servers] == [r.key for r in w.real_servers], g.key
        # ipvsadm -Ln does not show persistent connections; everything else must match.
        g_rs = tuple(r.__class__(**{**_fields(r), "persist_conns": 0}) for r in g.real_servers)
        assert g.__class__(**{**_fields(g), "real_servers": g_rs}) == w, g.key


def by_key(table: tuple[Service, ...], key: str) -> Service:
    return next(s for s in table if s.key == key)


def _fields(obj) -> dict:
    return {f: getattr(obj, f) for f in obj.__dataclass_fields__}


def test_lb1_table_equals_ipvsadm(lab):
    # Other lab tests restart keepalived on lb1, which can leave its table empty for a while:
    # then both sides must be empty. The scratch table below is the one with every kind.
    got = read_both("lb1")
    assert_same(services_of(got["services"]), got)


def test_every_kind_of_service_equals_ipvsadm(lab):
    make_scratch_table()
    try:
        got = read_both("lb1", SCRATCH_NS)
    finally:
        drop_scratch_table()
    table = services_of(got["services"])
    assert_same(table, got)
    kinds = {(s.protocol, s.family) for s in table}
    assert kinds >= {("TCP", "inet"), ("UDP", "inet"), ("SCTP", "inet"), ("FWM", "inet"), ("FWM", "inet6"),
                     ("TCP", "inet6")}
    assert {r.forward for s in table for r in s.real_servers} == {"route", "masq", "tunnel", "local"}
    assert any(s.persistent and s.persistence_timeout == 300 for s in table)
    assert sum(len(s.real_servers) for s in table) >= 250
    assert table.index(by_key(table, "10.255.0.9:80")) > table.index(by_key(table, "203.0.113.1:8080"))
    assert sum(s.stats.conns for s in table) > 0 and sum(s.stats.inbytes for s in table) > 0


def test_big_marks_sort_like_ipvsadm(lab):
    api.run("lb1", BIG_MARK_SCRIPT % {"ns": "lbcnlmark"}, check=True)
    try:
        got = read_both("lb1", "lbcnlmark")
    finally:
        api.run("lb1", "ip netns del lbcnlmark")
    assert [s.key for s in services_of(got["services"])] == ipvsadm_keys(got["ln"])
    assert "fwm:4294967295" in ipvsadm_keys(got["ln"])


def test_without_cap_net_admin_the_error_says_so(lab):
    main = ("from lbconsole.node import ipvs_netlink\n"
            "try:\n    ipvs_netlink.collect()\nexcept ipvs_netlink.IPVSUnavailable as e:\n    print(e)\n")
    res = run_python("lb1", "import os; os.setgid(65534); os.setgroups([]); os.setuid(65534)\n" + main)
    assert res.strip() == "IPVS over netlink needs root or CAP_NET_ADMIN"
