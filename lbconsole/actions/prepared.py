"""Is a cluster prepared for keepalived-safe drain and graceful failover? Read from its real config.

Prepared drain: the real server's block in keepalived.conf has
`inhibit_on_failure` and a `FILE_CHECK { track_file NAME }`, NAME being a
top-level `track_file` with `weight 0`. Writing 1 to its file makes keepalived
itself hold the weight at 0 through health flaps and reloads.

Prepared failover: the vrrp_instance lists a track_file with a negative weight
(`lbc_failover`); writing 1 lowers the master's priority below its peer's.

The file paths come from the config itself; docs/prepared-cluster.md has the lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lbconsole.actions import kconf

DRAIN_TRACK_PREFIX = "lbc_drain_"
FAILOVER_TRACK = "lbc_failover"
TRACK_DIR = "/var/lib/lbconsole/track"
FAILOVER_FILE = "/var/lib/lbconsole/failover"

def _slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", key)


def drain_track_name(service_key: str, rs_key: str) -> str:
    """The predictable track_file name for a real server of a service."""
    return f"{DRAIN_TRACK_PREFIX}{_slug(service_key)}_{_slug(rs_key)}"


@dataclass(frozen=True, slots=True)
class Prep:
    prepared: bool
    name: str | None = None  # the track_file's name
    path: str | None = None  # the file to write
    weight: int | None = None  # the effective track weight
    why: str = ""  # what is missing, when not prepared


def _track_weight(definition: kconf.Stmt, override: int | None) -> int:
    # An explicit non-zero weight where the file is used wins; else the definition's (default 1).
    if override:
        return override
    return kconf.int_arg(definition.child("weight"), 1)


def _file_of(definition: kconf.Stmt) -> str | None:
    stmt = definition.child("file")
    return stmt.args[0] if stmt and stmt.args else None


def drain_prep(conf: kconf.Config, service_key: str, rs_key: str) -> Prep:
    found = kconf.find_real_server(conf, service_key, rs_key)
    if found is None:
        return Prep(False, why=f"no real_server {rs_key} in virtual_server {service_key} of keepalived.conf")
    vs, rs = found
    defs = kconf.track_files(conf)
    for check in rs.children("FILE_CHECK"):
        ref = check.child("track_file")
        if not ref or not ref.args or ref.args[0] not in defs:
            continue
        name = ref.args[0]
        definition = defs[name]
        weight = _track_weight(definition, kconf.int_arg(check.child("weight")))
        path = _file_of(definition)
        if weight != 0:
            return Prep(False, name, path, weight, f"track_file {name} needs weight 0 (has {weight})")
        if not path:
            return Prep(False, name, None, weight, f"track_file {name} has no file")
        inhibit = rs.child("inhibit_on_failure") or vs.child("inhibit_on_failure")
        if not kconf.flag(inhibit):
            return Prep(False, name, path, weight,
                        f"real_server {rs_key} needs inhibit_on_failure (else a drain removes it)")
        return Prep(True, name, path, weight)
    return Prep(False, why=f"real_server {rs_key} of {service_key} has no FILE_CHECK with a track_file")


def failover_prep(conf: kconf.Config, instance: str) -> Prep:
    inst = kconf.instance(conf, instance)
    if inst is None:
        return Prep(False, why=f"no vrrp_instance {instance} in keepalived.conf")
    defs = kconf.track_files(conf)
    for block in inst.children("track_file"):
        for entry in block.block or ():
            if entry.keyword not in defs:
                continue
            override = int(entry.args[1]) if entry.args[:1] == ["weight"] and len(entry.args) > 1 \
                and entry.args[1].lstrip("-").isdigit() else None
            weight = _track_weight(defs[entry.keyword], override)
            path = _file_of(defs[entry.keyword])
            if weight < 0 and path:
                return Prep(True, entry.keyword, path, weight)
    return Prep(False, why=f"vrrp_instance {instance} tracks no track_file with a negative weight "
                           f"(e.g. {FAILOVER_TRACK})")


def instance_priority(conf: kconf.Config, instance: str) -> int | None:
    inst = kconf.instance(conf, instance)
    return kconf.int_arg(inst.child("priority")) if inst else None


def preempts(conf: kconf.Config, instance: str) -> bool:
    """False with nopreempt; a preempt_delay still flaps back, only later."""
    inst = kconf.instance(conf, instance)
    return not (inst and inst.has("nopreempt"))
