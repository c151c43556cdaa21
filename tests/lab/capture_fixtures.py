"""Capture real outputs from the lab into tests/fixtures/ for the parsers' tests.

    sudo .venv/bin/python tests/lab/capture_fixtures.py

Brings the lab up if needed, sends traffic so counters are non-zero, then saves what lbconsole
reads from the nodes (files named <node>_<what>.txt, JSON as .json). It ends with a split brain
(VRRP blocked) capture and restores the lab. Not a test (pytest does not collect it).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from lbconsole.lab import api
from lbconsole.lab import topology as t

OUT = Path(__file__).resolve().parents[1] / "fixtures"

DIRECTOR_COMMANDS = {
    "ipvsadm_ln.txt": "ipvsadm -Ln --exact",
    "ipvsadm_ln_stats.txt": "ipvsadm -Ln --stats --exact",
    "ipvsadm_ln_rate.txt": "ipvsadm -Ln --rate --exact",
    "ipvsadm_ln_noexact.txt": "ipvsadm -Ln",
    "ipvsadm_sn.txt": "ipvsadm -Sn",
    "proc_net_ip_vs.txt": "cat /proc/net/ip_vs",
    "proc_net_ip_vs_stats.txt": "cat /proc/net/ip_vs_stats",
}
HOST_COMMANDS = {
    "ip_addr.json": "ip -j addr",
    "proc_loadavg.txt": "cat /proc/loadavg",
    "proc_meminfo.txt": "cat /proc/meminfo",
    "proc_stat.txt": "head -n 12 /proc/stat",
}


def save(name: str, text: str) -> None:
    (OUT / name).write_text(text)
    print(f"  {name} ({len(text)} bytes)")


def states() -> dict[str, int]:
    return {d.name: json.loads(api.keepalived_dump(d.name))[0]["data"]["state"] for d in t.DIRECTORS}


def wait_states(want: dict[str, int], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while (got := states()) != want:
        if time.monotonic() > deadline:
            sys.exit(f"directors are {got}, wanted {want}")
        time.sleep(1)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    api.up(progress=print)
    wait_states({"lb1": 2, "lb2": 1})
    print("traffic: 30 requests to :80 and 10 to :8080 from client")
    api.run("client", f"for i in $(seq 30); do curl -s -o /dev/null http://{t.VIP}/; done; "
                      f"for i in $(seq 10); do curl -s -o /dev/null http://{t.VIP}:8080/; done", check=True)
    for d in t.DIRECTORS:
        for what, cmd in DIRECTOR_COMMANDS.items():
            save(f"{d.name}_{what}", api.run(d.name, cmd, check=True).stdout)
        save(f"keepalived_{d.name}.json", api.keepalived_dump(d.name, "json"))
        save(f"{d.name}_keepalived_data.txt", api.keepalived_dump(d.name, "data"))
        save(f"{d.name}_keepalived_stats.txt", api.keepalived_dump(d.name, "stats"))
    for name in ("lb1", "lb2", "web1"):
        for what, cmd in HOST_COMMANDS.items():
            save(f"{name}_{what}", api.run(name, cmd, check=True).stdout)
    save("web1_nginx_status.txt", api.run("web1", "curl -s http://127.0.0.1/nginx_status", check=True).stdout)

    print("split brain: VRRP blocked between lb1 and lb2")
    api.block_vrrp(True)
    try:
        wait_states({"lb1": 2, "lb2": 2})
        for d in t.DIRECTORS:
            save(f"keepalived_{d.name}_splitbrain.json", api.keepalived_dump(d.name, "json"))
            save(f"{d.name}_keepalived_data_splitbrain.txt", api.keepalived_dump(d.name, "data"))
            save(f"{d.name}_ip_addr_splitbrain.json", api.run(d.name, "ip -j addr", check=True).stdout)
    finally:
        api.block_vrrp(False)
    wait_states({"lb1": 2, "lb2": 1})
    print("done; the lab is as it was")


if __name__ == "__main__":
    main()
