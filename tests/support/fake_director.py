"""A fake LVS director for action unit tests: the real action scripts run under /bin/sh, with a
fake `ipvsadm` (state in a JSON file, every call logged) and a fake `logger` first on PATH, and
the director's fixed paths (/var/lib/lbconsole, keepalived.conf, /run) moved into a temp dir."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from lbconsole.inventory import NodeConfig
from lbconsole.transport.base import CommandResult, Transport
from lbconsole.transport.local import LocalTransport

FAKE_IPVSADM = r'''
import json, os, sys
d = os.path.dirname(os.path.abspath(__file__))
state_file = os.path.join(d, "..", "ipvs.json")
st = json.load(open(state_file))
args = sys.argv[1:]
with open(os.path.join(d, "..", "calls.log"), "a") as f:
    f.write(" ".join(args) + "\n")
def svc_of(a):
    for flag in ("-t", "-u", "--sctp-service", "-f"):
        if flag in a:
            return f"{flag} {a[a.index(flag) + 1]}"
    return None
if args[:1] == ["-Sn"]:
    for key, svc in st.items():
        print(f"-A {key} -s {svc['sched']}")
        for rs, r in svc["rs"].items():
            print(f"-a {key} -r {rs} {r['fwd']} -w {r['w']}")
    sys.exit(0)
if args[:1] == ["-Ln"]:
    key = svc_of(args)
    if key not in st:
        print("Service not defined"); sys.exit(255)
    svc = st[key]
    proto = {"-t": "TCP", "-u": "UDP", "-f": "FWM"}.get(key.split()[0], "SCTP")
    if "--thresholds" in args:
        print("Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn")
        print("  -> RemoteAddress:Port")
        print(f"{proto}  {key.split()[1]} {svc['sched']}")
        for rs, r in svc["rs"].items():
            print(f"  -> {rs:<28}{r['x']:<11}{r['y']:<11}{r['act']:<11}{r['inact']}")
    else:
        print("Prot LocalAddress:Port Scheduler Flags")
        print("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn")
        print(f"{proto}  {key.split()[1]} {svc['sched']}")
        for rs, r in svc["rs"].items():
            fwd = {"-g": "Route", "-m": "Masq", "-i": "Tunnel"}[r["fwd"]]
            print(f"  -> {rs:<28}{fwd:<8}{r['w']:<7}{r['act']:<11}{r['inact']}")
    sys.exit(0)
if args[:1] == ["-e"]:
    key, rs = svc_of(args), args[args.index("-r") + 1]
    if key not in st or rs not in st[key]["rs"]:
        print("No such destination"); sys.exit(255)
    r = st[key]["rs"][rs]
    r["fwd"] = next(a for a in args if a in ("-g", "-m", "-i"))
    r["w"] = int(args[args.index("-w") + 1])
    r["x"] = int(args[args.index("-x") + 1]) if "-x" in args else 0
    r["y"] = int(args[args.index("-y") + 1]) if "-y" in args else 0
    json.dump(st, open(state_file, "w"))
    sys.exit(0)
print("fake ipvsadm: unsupported " + " ".join(args)); sys.exit(2)
'''
FAKE_LOGGER = '#!/bin/sh\ncat >> "$(dirname "$0")/../syslog.log"\n'


class FakeDirector:
    """One director's files; `transport()` runs scripts against them."""

    def __init__(self, root: Path, name: str, services: dict, keepalived_conf: str = ""):
        self.root, self.name = root, name
        (root / "bin").mkdir(parents=True)
        (root / "var-lib-lbconsole").mkdir()
        (root / "run").mkdir()
        ipvsadm = root / "bin" / "ipvsadm"
        ipvsadm.write_text(f"#!{sys.executable}\n" + FAKE_IPVSADM)
        logger = root / "bin" / "logger"
        logger.write_text(FAKE_LOGGER)
        for tool in (ipvsadm, logger):
            os.chmod(tool, 0o755)
        self.set_services(services)
        (root / "keepalived.conf").write_text(keepalived_conf)

    def set_services(self, services: dict) -> None:
        """{"-t 10.0.0.100:80": {"sched": "wlc", "rs": {"10.0.0.21:80": {"fwd": "-g", "w": 100, ...}}}}"""
        for svc in services.values():
            for r in svc["rs"].values():
                for k, v in (("fwd", "-g"), ("x", 0), ("y", 0), ("act", 0), ("inact", 0)):
                    r.setdefault(k, v)
        (self.root / "ipvs.json").write_text(json.dumps(services))

    @property
    def services(self) -> dict:
        return json.loads((self.root / "ipvs.json").read_text())

    def weight(self, svc: str, rs: str) -> int:
        return self.services[svc]["rs"][rs]["w"]

    def calls(self) -> list[str]:
        path = self.root / "calls.log"
        return path.read_text().splitlines() if path.exists() else []

    def syslog(self) -> list[str]:
        path = self.root / "syslog.log"
        return path.read_text().splitlines() if path.exists() else []

    def drain_records(self) -> list[dict]:
        d = self.root / "var-lib-lbconsole" / "drain"
        return [json.loads(p.read_text()) for p in sorted(d.glob("*.json"))] if d.exists() else []

    def rewrite(self, script: str) -> str:
        out = script.replace("/var/lib/lbconsole", str(self.root / "var-lib-lbconsole"))
        out = out.replace("/etc/keepalived/keepalived.conf", str(self.root / "keepalived.conf"))
        out = out.replace("/run/", str(self.root / "run") + "/")
        return out.replace("PATH=/usr/local/sbin", f"PATH={self.root / 'bin'}:/usr/local/sbin")

    def transport(self) -> Transport:
        return FakeTransport(NodeConfig(name=self.name, host="local", roles=("director",), cluster="c"), self)


class FakeTransport(Transport):
    def __init__(self, node: NodeConfig, director: FakeDirector):
        super().__init__(node)
        self.director = director
        self.scripts: list[str] = []
        self._local = LocalTransport(node)

    async def run(self, script: str, timeout: float = 10.0, stdin: str | None = None) -> CommandResult:
        self.scripts.append(script)
        body = f"PATH={self.director.root / 'bin'}:$PATH\n" + self.director.rewrite(script)
        return await self._local.run(body, timeout, stdin)
