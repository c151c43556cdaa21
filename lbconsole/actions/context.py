"""Everything an action needs besides its target: where, who, how to reach nodes, where to audit.

The TUI passes the poller's agent sessions so an action reuses them; the CLI
lets the context open its own and close them at the end. Any object with the
same attribute names (the TUI's own context) is accepted by
`ActionContext.from_any`.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lbconsole.actions.audit import AuditLog
from lbconsole.errors import RefusedError, UsageError
from lbconsole.inventory import ClusterConfig, Inventory, NodeConfig
from lbconsole.transport import AgentSession, TransportError, session_for


def operator() -> str:
    """"$USER@hostname" of whoever runs the console (not of the node)."""
    user = os.environ.get("USER") or getpass.getuser()
    return f"{user}@{socket.gethostname()}"


@dataclass
class ActionContext:
    inventory: Inventory | None
    cluster: str | None = None
    read_only: bool = False
    operator: str = field(default_factory=operator)
    progress: Callable[[str], None] = field(default=lambda text: None)
    transports: dict[str, AgentSession] | None = None  # shared (the poller's sessions): never closed here
    audit: AuditLog = field(default_factory=AuditLog)
    origin: str = "cli"  # cli | tui | reapply
    snapshot: Any = None
    wait_s: float = 30.0  # how long a drain waits for active connections to reach 0
    records_interruptions: bool = False  # the caller audits an interrupted action itself (the TUI)
    said: list[str] = field(default_factory=list)  # the progress reported so far
    partial: Any = None  # an ActionResult already verified, while the action goes on (a drain's wait)
    _own: dict[str, AgentSession] = field(default_factory=dict, repr=False)

    @classmethod
    def from_any(cls, obj: Any) -> ActionContext:
        """Our own context, or one built from an object with the same attribute names."""
        if isinstance(obj, ActionContext):
            return obj
        extra = getattr(obj, "extra", None) or {}
        transports = getattr(obj, "transports", None) or extra.get("transports")
        ctx = cls(inventory=getattr(obj, "inventory", None), cluster=getattr(obj, "cluster", None),
                  read_only=bool(getattr(obj, "read_only", False)), transports=transports,
                  origin=getattr(obj, "origin", "tui"), snapshot=getattr(obj, "snapshot", None))
        progress = getattr(obj, "progress", None)
        if callable(progress):
            ctx.progress = progress
        for name in ("operator", "audit", "wait_s"):
            value = getattr(obj, name, None) or extra.get(name)
            if value is not None:
                setattr(ctx, name, value)
        ctx.records_interruptions = bool(getattr(obj, "records_interruptions", False))
        return ctx

    def cluster_config(self) -> ClusterConfig:
        if self.inventory is None:
            raise RefusedError("no inventory: actions need a live cluster (not a replay or the demo)")
        if self.cluster is None:
            if len(self.inventory.clusters) == 1:
                self.cluster = self.inventory.clusters[0].name
            else:
                names = ", ".join(c.name for c in self.inventory.clusters)
                raise UsageError(f"several clusters in the inventory ({names}): say which with --cluster")
        found = self.inventory.cluster(self.cluster)
        if found is None:
            names = ", ".join(c.name for c in self.inventory.clusters)
            raise UsageError(f"no cluster {self.cluster!r} in the inventory (have: {names})")
        return found

    def inventory_path(self) -> str:
        return (self.inventory.path if self.inventory is not None else None) or "the inventory"

    @property
    def cluster_read_only(self) -> bool:
        """Read-only from the flag or from the inventory's cluster."""
        if self.read_only:
            return True
        if self.inventory is not None and self.cluster is not None:
            found = self.inventory.cluster(self.cluster)
            return bool(found and found.read_only)
        return False

    def session(self, node: NodeConfig) -> AgentSession:
        """The node's agent session: the console's own if it has one, else one opened for this action."""
        shared = self.transports.get(node.name) if self.transports else None
        if isinstance(shared, AgentSession):
            shared.reset_backoff()  # an operator's action tries at once
            return shared
        if node.name not in self._own:
            self._own[node.name] = session_for(node, self.cluster_read_only)
        return self._own[node.name]

    transport = session  # the name the TUI's context and older callers use

    async def agent_ready(self, node: NodeConfig) -> str | None:
        """None when the node's agent is the console's own version; else why not, naming the fix."""
        session = self.session(node)
        try:
            await session.greeting()
        except TransportError as exc:
            return str(exc)
        return session.version_problem

    def say(self, text: str) -> None:
        self.said.append(text)
        try:
            self.progress(text)
        except Exception:  # a broken progress display must never break an action
            pass

    async def close(self) -> None:
        own, self._own = self._own, {}
        for transport in own.values():
            try:
                await transport.close()
            except Exception:
                pass
