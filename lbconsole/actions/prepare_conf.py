"""The keepalived.conf lines a prepared cluster needs, as text: per real server, and for failover.

`prepare()` adds them to a whole config (used by doctor's advice and the lab
tests' fixture); `drain_snippet()` / `failover_snippet()` are what doctor prints.
"""

from __future__ import annotations

from lbconsole.actions import kconf
from lbconsole.actions.prepared import (
    FAILOVER_FILE,
    FAILOVER_TRACK,
    TRACK_DIR,
    drain_prep,
    drain_track_name,
    failover_prep,
)

FAILOVER_WEIGHT = -100


def track_definition(name: str, path: str, weight: int) -> list[str]:
    # init_file without overwrite: 0 for a new file, an existing drain survives a keepalived restart.
    return [f"track_file {name} {{", f'    file "{path}"', f"    weight {weight}", "    init_file 0", "}"]


def real_server_lines(name: str, inhibit: bool = True) -> list[str]:
    lines = ["inhibit_on_failure"] if inhibit else []
    return lines + ["FILE_CHECK {", f"    track_file {name}", "}"]


def instance_lines(name: str = FAILOVER_TRACK) -> list[str]:
    return ["track_file {", f"    {name}", "}"]


def drain_snippet(service_key: str, rs_key: str, track_dir: str = TRACK_DIR) -> str:
    name = drain_track_name(service_key, rs_key)
    rs = "\n".join("        " + line for line in real_server_lines(name))
    return ("\n".join(track_definition(name, f"{track_dir}/{name}", 0))
            + f"\n# inside virtual_server {service_key} -> real_server {rs_key} {{ ... }}:\n{rs}\n")


def failover_snippet(instance: str, path: str = FAILOVER_FILE, weight: int = FAILOVER_WEIGHT) -> str:
    inner = "\n".join("    " + line for line in instance_lines())
    return ("\n".join(track_definition(FAILOVER_TRACK, path, weight))
            + f"\n# inside vrrp_instance {instance} {{ ... }}:\n{inner}\n")


def _indent(lines: list[str], text_line: str) -> list[str]:
    base = text_line[:len(text_line) - len(text_line.lstrip())] + "    "
    return [base + line for line in lines]


def prepare(text: str, track_dir: str = TRACK_DIR, failover_file: str = FAILOVER_FILE,
            failover_weight: int = FAILOVER_WEIGHT) -> str:
    """`text` with every real server and vrrp_instance prepared; already-prepared ones untouched."""
    conf = kconf.parse(text)
    lines = text.splitlines()
    inserts: list[tuple[int, list[str]]] = []  # (insert after this 1-based line, lines)
    defs: list[str] = []
    have = kconf.track_files(conf)
    for vs in conf.top("virtual_server"):
        svc = kconf.service_key(vs)
        for rs in vs.children("real_server"):
            rs_key = kconf.real_server_key(vs, rs)
            if svc is None or rs_key is None or rs.open_line is None or rs.open_line == rs.close_line:
                continue
            if drain_prep(conf, svc, rs_key).prepared:
                continue
            name = drain_track_name(svc, rs_key)
            inhibit = not (kconf.flag(rs.child("inhibit_on_failure")) or kconf.flag(vs.child("inhibit_on_failure")))
            inserts.append((rs.open_line, _indent(real_server_lines(name, inhibit), lines[rs.line - 1])))
            if name not in have:
                defs += track_definition(name, f"{track_dir}/{name}", 0) + [""]
    needs_failover_def = False
    for inst in conf.top("vrrp_instance"):
        if not inst.args or inst.open_line is None or failover_prep(conf, inst.args[0]).prepared:
            continue
        inserts.append((inst.open_line, _indent(instance_lines(), lines[inst.line - 1])))
        needs_failover_def = FAILOVER_TRACK not in have
    if needs_failover_def:
        defs = track_definition(FAILOVER_TRACK, failover_file, failover_weight) + [""] + defs
    first = next((s.line for s in conf.stmts
                  if s.keyword in ("vrrp_instance", "vrrp_sync_group", "virtual_server", "virtual_server_group")),
                 len(lines) + 1)
    if defs:
        inserts.append((first - 1, ["# lbconsole: keepalived-safe drain and graceful failover"] + defs))
    for after, new in sorted(inserts, key=lambda item: item[0], reverse=True):
        lines[after:after] = new
    return "\n".join(lines) + "\n"
