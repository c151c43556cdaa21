"""Alerts on a full-width bar that cannot be missed: critical in the error colour, bold.

Shows the worst few; the count of the rest. With no alerts it says so in one
quiet line, so the layout does not jump when one appears.
"""

from __future__ import annotations

from textual.widgets import Static

from lbconsole.snapshot import Alert

_ICON = {"critical": "▲ CRITICAL", "warning": "● WARNING"}


class AlertBar(Static):
    DEFAULT_CSS = """
    AlertBar { height: auto; width: 100%; padding: 0 1; color: $text-success; background: $surface; }
    AlertBar.-critical { background: $error; color: auto 95%; text-style: bold; }
    AlertBar.-warning { background: $warning; color: auto 95%; text-style: bold; }
    """

    def __init__(self, max_lines: int = 3, **kwargs):
        super().__init__("", markup=False, **kwargs)
        self.max_lines = max_lines
        self._shown: tuple | None = None

    def show_alerts(self, alerts: tuple[Alert, ...], waiting: bool = False) -> None:
        if (alerts, waiting) == self._shown:
            return
        self._shown = (alerts, waiting)
        worst = "critical" if any(a.severity == "critical" for a in alerts) else ("warning" if alerts else None)
        self.set_class(worst == "critical", "-critical")
        self.set_class(worst == "warning", "-warning")
        self.set_class(worst is None and not waiting, "-ok")
        if not alerts:
            self.update("… waiting for the first snapshot" if waiting else "✓ no alerts")
            return
        lines = [f"{_ICON.get(a.severity, a.severity.upper())}  {_text(a)}" for a in alerts[: self.max_lines]]
        if len(alerts) > self.max_lines:
            lines[-1] += f"   (+{len(alerts) - self.max_lines} more)"
        self.update("\n".join(lines))


def _text(alert: Alert) -> str:
    kind = alert.kind.replace("_", " ")
    return alert.message if alert.message.lower().startswith(kind) else f"{kind}: {alert.message}"
