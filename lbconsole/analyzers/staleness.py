"""Blindness: nodes never reached, unreachable, or whose data is past its staleness budget.

A node whose first poll has not answered is not known to be down, but it is not
known to be up either: "waiting for lb1", a WARNING, and once the budget (or the
time its session may take to open, connect_timeout + command_timeout, if longer)
has passed without an answer, "never reached", CRITICAL. Nothing here is ever
covered by "no alerts".
"""

from __future__ import annotations

from collections.abc import Iterator

from lbconsole.analyzers.settings import Settings
from lbconsole.snapshot import PENDING, Alert, ClusterSnapshot, NodeSnapshot

STALE_POLLS = 3  # data older than this many poll intervals is stale...
STALE_MIN_S = 10.0  # ...but never sooner: a slow node's poll may itself take seconds


def budget(poll_interval: float) -> float:
    """How old a node's data may get before it is stale: the one definition the UI uses too."""
    return max(STALE_POLLS * poll_interval, STALE_MIN_S)


def is_stale(node: NodeSnapshot, age: float | None, poll_interval: float) -> bool:
    return not node.reachable or age is None or age > budget(poll_interval)


class Staleness:
    def __init__(self) -> None:
        self.waiting_since: dict[tuple[str, str], float] = {}

    def check(self, cluster: ClusterSnapshot, taken_at: float, settings: Settings,
              extra_age: float = 0.0) -> Iterator[Alert]:
        limit = budget(settings.poll_interval)
        for node in cluster.nodes:
            key = (cluster.name, node.name)
            if node.updated_at is None and (node.error == PENDING or not node.reachable):
                since = self.waiting_since.setdefault(key, taken_at)
                waited = taken_at - since + extra_age
                if node.error == PENDING and waited <= max(limit, node.first_answer_s or 0.0):
                    yield Alert("warning", "node_waiting", f"waiting for {node.name} (first poll)",
                                cluster.name, node.name)
                else:
                    why = "no answer yet" if node.error == PENDING else node.error
                    yield Alert("critical", "node_unreachable",
                                f"{node.name} unreachable: {why} (never reached, {waited:.0f} s)",
                                cluster.name, node.name)
                continue
            self.waiting_since.pop(key, None)
            age = node.age_s + extra_age
            if not node.reachable:
                yield Alert("critical", "node_unreachable",
                            f"{node.name} unreachable: {node.error} (last data {age:.0f} s old)",
                            cluster.name, node.name)
            elif age > limit:
                yield Alert("warning", "node_stale", f"{node.name} data is {age:.0f} s old", cluster.name,
                            node.name)
