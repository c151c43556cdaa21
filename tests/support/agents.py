"""Real node agents in-process for action tests, with every request each one received written down."""

from __future__ import annotations

import json

from lbconsole.node.agent import Agent
from lbconsole.transport import AgentSession
from lbconsole.transport.local import LocalChannel


class RecordingChannel(LocalChannel):
    def __init__(self, agent, sent: list[dict]):
        super().__init__(agent)
        self.sent = sent

    async def send(self, line: str) -> None:
        self.sent.append(json.loads(line))
        await super().send(line)


def session(name: str, read_only: bool = False, expected: tuple[str, str] | None = None) -> AgentSession:
    """An in-process agent session; `session.sent` lists the requests it got (hello included)."""
    sent: list[dict] = []

    async def opener():
        return RecordingChannel(Agent(read_only=read_only, mode="local"), sent)

    s = AgentSession(name, opener, connect_timeout=10, command_timeout=10, expected=expected)
    s.sent = sent  # type: ignore[attr-defined]
    return s


def verbs(s: AgentSession) -> list[str]:
    return [r["verb"] for r in s.sent if r["verb"] != "hello"]  # type: ignore[attr-defined]
