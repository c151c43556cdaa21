"""The top line: every cluster with its worst alert, feed state, snapshot time, and the [RO]/[RW] badge.

The badge is always visible: an operator must never wonder whether a key
will change production. Every cluster is listed with a glyph and a count for
its worst alert, so a CRITICAL in a cluster not shown is never hidden.

Labels are made in __init__ and updated directly, never looked up: an update
that lands before they are mounted (or after they are gone) cannot raise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.color import Color, ColorParseError
from textual.containers import Horizontal
from textual.widgets import Label

from lbconsole.analyzers.summary import GLYPH
from lbconsole.ui import fmt

if TYPE_CHECKING:
    from lbconsole.ui.app import LbConsole


class StatusBar(Horizontal):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    StatusBar Label { padding: 0 1; height: 1; }
    StatusBar #app-name { text-style: bold; color: $text-primary; }
    StatusBar #cluster { background: $cluster-accent; color: auto 90%; text-style: bold; }
    StatusBar #fleet { padding: 0 1 0 0; }
    StatusBar #feed { color: $text-muted; }
    StatusBar #feed.-paused { background: $warning; color: auto 90%; text-style: bold; }
    StatusBar #feed.-ended { background: $secondary; color: auto 90%; }
    StatusBar #feed.-error { background: $error; color: auto 90%; }
    StatusBar #spacer { width: 1fr; padding: 0; }
    StatusBar #updated { color: $text-muted; }
    StatusBar #updated.-stale { color: $text-warning; text-style: bold; }
    StatusBar #badge { text-style: bold; }
    StatusBar #badge.-ro { background: $success; color: auto 90%; }
    StatusBar #badge.-rw { background: $error; color: auto 90%; }
    StatusBar.-narrow #app-name { display: none; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cluster_label = Label("", id="cluster", markup=False)
        self.fleet_label = Label("", id="fleet", markup=False)
        self.feed_label = Label("", id="feed", markup=False)
        self.updated_label = Label("", id="updated", markup=False)
        self.badge_label = Label("", id="badge", markup=False)

    def compose(self) -> ComposeResult:
        yield Label("lbconsole", id="app-name", markup=False)
        yield self.cluster_label
        yield self.fleet_label
        yield self.feed_label
        yield Label("", id="spacer", markup=False)
        yield self.updated_label
        yield self.badge_label

    def update_from(self, app: LbConsole) -> None:
        state = app.state
        cluster = state.cluster
        counts = state.cluster_alerts()
        name = Text(cluster.name if cluster else "waiting for data")
        if cluster is not None:
            name.append(_badge(counts.get(cluster.name, {}), None))
        self.cluster_label.update(name)
        self.fleet_label.update(self._fleet(app, counts, cluster.name if cluster else None))

        self.feed_label.update(app.feed_label())
        self.feed_label.set_class(app.paused, "-paused")
        self.feed_label.set_class(app.ended, "-ended")
        self.feed_label.set_class(app.feed_error is not None and not app.paused, "-error")

        if state.snapshot is not None:
            ago = state.since_received()
            self.updated_label.update(f"{fmt.clock(state.snapshot.taken_at)} · {fmt.age(ago)} ago")
            self.updated_label.set_class(ago > state.stale_after and not app.paused and not app.ended, "-stale")
        else:
            self.updated_label.update("no snapshot yet")

        ro = app.is_read_only()
        self.badge_label.update("[RO]" if ro else "[RW]")
        self.badge_label.set_class(ro, "-ro")
        self.badge_label.set_class(not ro, "-rw")

    @staticmethod
    def _fleet(app: LbConsole, counts: dict[str, dict[str, int]], current: str | None) -> Text:
        """The other clusters, each with its worst alert: `staging ▲2 · prod ✓`."""
        colours = _colours(app)
        out = Text()
        for name, per in counts.items():
            if name == current:
                continue
            if out:
                out.append(" · ")
            out.append(name)
            out.append(_badge(per, colours))
        return out


def _badge(per: dict[str, int], colours: dict[str, Style] | None) -> Text:
    for severity in ("critical", "warning"):
        if per.get(severity):
            style = colours.get(severity) if colours else None
            return Text(f" {GLYPH[severity]}{per[severity]}", style=style or Style(bold=True))
    return Text(" ✓", style=(colours or {}).get("ok") or Style())


_COLOUR_CACHE: dict[str, dict[str, Style]] = {}


def _style(value: str | None, bold: bool) -> Style:
    try:
        return Style(color=Color.parse(value).rich_color if value else None, bold=bold)
    except ColorParseError:
        return Style(bold=bold)


def _colours(app: LbConsole) -> dict[str, Style]:
    theme = str(getattr(app, "theme", ""))
    if theme in _COLOUR_CACHE:
        return _COLOUR_CACHE[theme]
    variables = app.get_css_variables()
    colours = _COLOUR_CACHE[theme] = {"critical": _style(variables.get("text-error"), True),
                                      "warning": _style(variables.get("text-warning"), True),
                                      "ok": _style(variables.get("text-success"), False)}
    return colours
