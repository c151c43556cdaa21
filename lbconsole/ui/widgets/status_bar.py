"""The top line: cluster (in its accent colour), feed state, snapshot time, and the [RO]/[RW] badge.

The badge is always visible: an operator must never wonder whether a key
will change production.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Label

from lbconsole.ui import fmt


class StatusBar(Horizontal):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    StatusBar Label { padding: 0 1; height: 1; }
    StatusBar #app-name { text-style: bold; color: $text-primary; }
    StatusBar #cluster { background: $cluster-accent; color: auto 90%; text-style: bold; }
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
    """

    def compose(self) -> ComposeResult:
        yield Label("lbconsole", id="app-name", markup=False)
        yield Label("", id="cluster", markup=False)
        yield Label("", id="feed", markup=False)
        yield Label("", id="spacer", markup=False)
        yield Label("", id="updated", markup=False)
        yield Label("", id="badge", markup=False)

    def update_from(self, app) -> None:
        state = app.state
        cluster = state.cluster
        clusters = len(state.clusters)
        name = cluster.name if cluster else "waiting for data"
        if clusters > 1:
            name += f" {state.cluster_index % clusters + 1}/{clusters}"
        self.query_one("#cluster", Label).update(name)

        feed = self.query_one("#feed", Label)
        feed.update(app.feed_label())
        feed.set_class(app.paused, "-paused")
        feed.set_class(app.ended, "-ended")
        feed.set_class(app.feed_error is not None and not app.paused, "-error")

        updated = self.query_one("#updated", Label)
        if state.snapshot is not None:
            ago = state.since_received()
            updated.update(f"{fmt.clock(state.snapshot.taken_at)} · {fmt.age(ago)} ago")
            updated.set_class(ago > state.stale_after and not app.paused and not app.ended, "-stale")
        else:
            updated.update("no snapshot yet")

        ro = app.is_read_only()
        badge = self.query_one("#badge", Label)
        badge.update("[RO]" if ro else "[RW]")
        badge.set_class(ro, "-ro")
        badge.set_class(not ro, "-rw")
