"""Alerts on a full-width bar that cannot be missed: critical in the error colour, bold.

Shows the worst few, grouped (analyzers.summary.banner), with the count of
the rest. Each line carries a glyph and a word as well as a colour, so 8-colour
terminals tell them apart. With no incident it says so in one quiet line, and
planned work (INFO) is listed under it; it never says "no alerts" while a node
has not answered, because that is an alert.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from lbconsole import safetext
from lbconsole.analyzers.summary import GLYPH, WORD, banner, worst
from lbconsole.snapshot import Alert


class AlertBar(Static):
    DEFAULT_CSS = """
    AlertBar { height: auto; width: 100%; padding: 0 1; color: $text-success; background: $surface; }
    AlertBar.-critical { background: $error; color: auto 95%; text-style: bold; }
    AlertBar.-warning { background: $warning; color: auto 95%; text-style: bold; }
    AlertBar.-waiting { color: $text-muted; }
    """

    def __init__(self, max_lines: int = 3, **kwargs: Any) -> None:
        super().__init__("", markup=False, **kwargs)
        self.max_lines = max_lines
        self._shown: tuple[tuple[Alert, ...], bool] | None = None

    def show_alerts(self, alerts: tuple[Alert, ...], waiting: bool = False) -> None:
        if (alerts, waiting) == self._shown:
            return
        self._shown = (alerts, waiting)
        level = worst(alerts)
        self.set_class(level == "critical", "-critical")
        self.set_class(level == "warning", "-warning")
        self.set_class(level is None and not waiting, "-ok")
        self.set_class(waiting, "-waiting")
        if waiting:
            self.update(Text("… waiting for the first snapshot"))
            return
        lines = banner(alerts)
        out = Text()
        if level is None:
            out.append("✓ no incidents" if lines else "✓ no alerts")
        shown = lines[: self.max_lines - (1 if level is None else 0)]
        for severity, line in shown:
            if out:
                out.append("\n")
            out.append(f"{GLYPH.get(severity, '?')} {WORD.get(severity, severity.upper())}  ")
            out.append(safetext.line(line))  # node and user text: plain text, never markup nor escapes
        rest = len(lines) - len(shown)
        if rest > 0:
            out.append(f"   (+{rest} more)")
        self.update(out)
