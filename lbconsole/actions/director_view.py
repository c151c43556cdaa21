"""What one director says about a service before an action: its rows, drain records and config."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lbconsole.actions import drain_script, ipvs_state, kconf, nodescript
from lbconsole.actions.context import ActionContext
from lbconsole.actions.ipvs_state import RsState
from lbconsole.actions.prepared import Prep, drain_prep
from lbconsole.actions.targets import ServiceSpec
from lbconsole.inventory import ClusterConfig, NodeConfig


@dataclass
class DirectorView:
    node: NodeConfig
    error: str | None = None  # unreachable, or ipvsadm unusable
    service_missing: bool = False
    rows: dict[str, RsState] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # by real-server key
    conf: kconf.Config | None = None
    conf_error: str | None = None

    @property
    def usable(self) -> bool:
        return self.error is None and not self.service_missing

    def prep(self, service: ServiceSpec, rs_key: str) -> Prep:
        if self.conf is None:
            return Prep(False, why=self.conf_error or "keepalived config not readable")
        return drain_prep(self.conf, service.key, rs_key)

    def configured_weight(self, service: ServiceSpec, rs_key: str) -> int | None:
        found = kconf.find_real_server(self.conf, service.key, rs_key) if self.conf else None
        return kconf.int_arg(found[1].child("weight"), 1) if found else None


def directors(cluster: ClusterConfig) -> list[NodeConfig]:
    """Every director of the cluster, each exactly once."""
    return list({n.name: n for n in cluster.directors}.values())


def from_reply(node: NodeConfig, reply: nodescript.NodeReply) -> DirectorView:
    view = DirectorView(node)
    if reply.error:
        view.error = reply.error
        return view
    rows = reply.get("rows")
    if rows is None or rows.status == -1:
        view.error = f"{node.name}: no answer about the IPVS table"
    elif rows.status == 4:
        view.service_missing = True
    elif not rows.ok:
        view.error = f"{node.name}: {rows.first_line()}"
    else:
        view.rows = ipvs_state.parse_rows(rows.text)
    records = reply.get("records")
    for line in (records.text.splitlines() if records else ()):
        try:
            rec = json.loads(line)
            view.records[str(rec["real_server"])] = rec
        except (ValueError, KeyError, TypeError):
            continue
    conf = reply.get("conf")
    if conf is not None and conf.ok:
        view.conf = kconf.parse(conf.text)
    else:
        view.conf_error = f"keepalived config: {conf.first_line() if conf else 'not read'}"
    return view


async def inspect(ctx: ActionContext, nodes: list[NodeConfig], service: ServiceSpec,
                  rs_keys: list[str]) -> dict[str, DirectorView]:
    script = drain_script.inspect(service, rs_keys)
    replies = await nodescript.run_all(ctx, [(n, script) for n in nodes])
    return {n.name: from_reply(n, replies[n.name]) for n in nodes}
