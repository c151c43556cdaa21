"""The directors tier: VRRP state per node and instance, priorities, and who holds which VIP."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lbconsole.snapshot import PENDING, NodeSnapshot, VrrpInstance
from lbconsole.ui import fmt
from lbconsole.ui.model import ClusterView
from lbconsole.ui.widgets.grid import Cell, Column, Grid, Row

if TYPE_CHECKING:
    from lbconsole.ui.state import ConsoleState

#: A director's row: (node, instance), instance None when the node shows no VRRP.
DirectorRowKey = tuple[str, str | None]

STATE_STYLE = {"MASTER": "good", "BACKUP": "info", "FAULT": "bad", "STOP": "bad", "INIT": "warn"}
# A glyph as well as a word and a colour: 8-colour terminals and colour-blind eyes still tell them apart.
STATE_GLYPH = {"MASTER": "●", "BACKUP": "○", "FAULT": "✗", "STOP": "■", "INIT": "…"}


def state_text(state: str) -> str:
    return f"{STATE_GLYPH.get(state, '?')} {state}"

COLUMNS = (
    Column("Director", 8, grow=True),
    Column("Age", 4, align="right"),
    Column("Instance", 8, drop=2),
    Column("VRID", 4, align="right", drop=3),
    Column("State", 8),
    Column("Prio", 7, align="right", drop=1),
    Column("Holds VIP", 12, grow=True),
)


def node_cell(node: NodeSnapshot, state: ConsoleState) -> tuple[str, str | None]:
    if node.error == PENDING:
        return (f"… {node.name}", "muted")  # its first poll is still running: not a fault
    if not node.reachable:
        return (f"✗ {node.name}", "bad")
    return (node.name, "warn" if state.is_stale(node) else None)


def age_cell(node: NodeSnapshot, state: ConsoleState) -> tuple[str, str | None]:
    age = state.node_age(node)
    if age is None:
        return ("–", "muted")
    return (fmt.age(age), "bad" if not node.reachable else ("warn" if state.is_stale(node) else "muted"))


def prio_text(inst: VrrpInstance) -> str:
    if inst.source == "addr":
        return "–"  # inferred from addresses: keepalived gave no priorities
    if inst.effective_priority and inst.effective_priority != inst.priority:
        return f"{inst.effective_priority}/{inst.priority}"
    return str(inst.priority)


class DirectorsTable(Grid[DirectorRowKey]):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(COLUMNS, self._row, empty="no directors in this cluster", **kwargs)
        self.state: ConsoleState | None = None
        self.view: ClusterView | None = None

    def show(self, state: ConsoleState, view: ClusterView) -> None:
        self.state, self.view = state, view
        keys: list[DirectorRowKey] = []
        for node in view.directors:
            if node.vrrp:
                keys.extend((node.name, inst.instance) for inst in node.vrrp)
            else:
                keys.append((node.name, None))
        self.set_rows(keys)

    def _row(self, key: DirectorRowKey) -> Row:
        name, instance = key
        assert self.view is not None and self.state is not None  # set by show() before any row is asked for
        node = self.view.node(name)
        assert node is not None  # the keys are this view's directors
        state = self.state
        row_style = "stale" if state.is_stale(node) else None
        inst = next((i for i in node.vrrp if i.instance == instance), None)
        if inst is None:
            what = node.error or ("keepalived not answering" if node.reachable else "unreachable")
            if node.forced and node.keepalived_running is False:
                what = f"keepalived stopped: failover forced by {node.forced[0].by}"  # planned, says who
            style = "muted" if node.error == PENDING else "bad"
            cells: list[Cell] = [node_cell(node, state), age_cell(node, state), ("", None), ("", None),
                                 ("–", style), ("", None), (what, style)]
            return cells, row_style
        held = ClusterView.held_vips(node, inst)
        forced = next((r for r in node.forced if r.instance == inst.instance), None)
        if forced is not None and not held:  # why this director is not MASTER: planned, by whom, since when
            return [node_cell(node, state), age_cell(node, state), (inst.instance, None), (str(inst.vrid), "muted"),
                    (state_text(inst.state), "info"), (prio_text(inst), None),
                    (f"forced by {forced.by} since {fmt.clock(forced.since)}", "muted")], row_style
        return [
            node_cell(node, state),
            age_cell(node, state),
            (inst.instance, None),
            (str(inst.vrid), "muted"),
            (state_text(inst.state), STATE_STYLE.get(inst.state, "warn")),
            (prio_text(inst), None),
            (" ".join(held) if held else "–", "accent" if held else "muted"),
        ], row_style

    def target(self) -> dict[str, Any] | None:
        key = self.cursor_key
        if key is None or key[1] is None or self.view is None:
            return None
        return {"kind": "vrrp_instance", "cluster": self.view.name, "instance": key[1], "node": key[0]}
