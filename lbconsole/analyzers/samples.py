"""When each node's data was taken, and runs of consecutive samples in which something held.

A run is (first, last): the sample times of the first and the latest of the
consecutive samples of one node in which a condition held (MASTER for a VRID,
a VIP bound). Rules that must know whether two nodes held something *at once*
compare runs instead of trusting one pair of samples taken seconds apart.
"""

from __future__ import annotations

from collections.abc import Hashable

from lbconsole.snapshot import NodeSnapshot

Run = tuple[float, float]


def sample_time(node: NodeSnapshot, taken_at: float) -> float:
    """The exact time of the node's data when the collector gave it, else its age's best guess."""
    if node.sampled_at:
        return node.sampled_at
    if node.updated_at:
        return node.updated_at
    return taken_at - node.age_s


class Runs:
    """Per (cluster, node, key) the current run; a sample without the key ends it."""

    def __init__(self) -> None:
        self._runs: dict[tuple[str, str], dict[Hashable, Run]] = {}
        self._last: dict[tuple[str, str], float] = {}

    def observe(self, cluster: str, node: str, at: float, keys: set[Hashable]) -> dict[Hashable, Run]:
        """Take one sample of the node (a repeat of the same sample changes nothing)."""
        where = (cluster, node)
        runs = self._runs.get(where, {})
        if self._last.get(where) == at:
            return runs
        new = {k: (runs[k][0], at) if k in runs else (at, at) for k in keys}
        self._runs[where], self._last[where] = new, at
        return new

    def current(self, cluster: str, node: str) -> dict[Hashable, Run]:
        return self._runs.get((cluster, node), {})

    def forget_except(self, live: set[tuple[str, str]]) -> None:
        for where in set(self._runs) - live:
            del self._runs[where]
            self._last.pop(where, None)


def overlap(a: Run, b: Run) -> float:
    """How long both runs held together (negative: the gap between them)."""
    return min(a[1], b[1]) - max(a[0], b[0])
