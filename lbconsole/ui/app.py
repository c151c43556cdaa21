"""The console App: themes, the snapshot worker, read-only, and registry-generated keys.

One worker pulls snapshots from the source: it asks for the next one only
after the previous was applied, so polls never overlap and the UI never waits
on the network. Mutating actions all pass through `action_act`, which refuses
in read-only mode whoever calls it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from textual import work
from textual.app import App
from textual.notifications import SeverityLevel
from textual.screen import Screen

from lbconsole import safetext
from lbconsole.actions.registry import BY_NAME, ActionSpec
from lbconsole.analyzers.transitions import Event
from lbconsole.errors import UsageError
from lbconsole.inventory import Inventory
from lbconsole.snapshot import Snapshot
from lbconsole.source.assemble import settings_for
from lbconsole.source.base import SnapshotSource
from lbconsole.source.recording import RecordingError
from lbconsole.source.replay import EndOfRecording
from lbconsole.ui import keys, operate, themes
from lbconsole.ui.commands import RegistryCommands
from lbconsole.ui.screens.base import ConsoleScreen
from lbconsole.ui.state import ConsoleState

TOAST_KINDS = {"vrrp_state": 10, "node_lost": 10, "node_back": 6}  # kind -> seconds shown
NOC_CYCLE_S = 15.0
ERROR_BACKOFF_S = (1, 2, 5, 10, 30)
_TOAST_SEVERITY: dict[str, SeverityLevel] = {"critical": "error", "warning": "warning"}


class LbConsole(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "lbconsole"
    BINDINGS = keys.bindings()
    COMMANDS = {RegistryCommands}
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

    def __init__(self, source: SnapshotSource, *, inventory: Inventory | None = None, read_only: bool = False,
                 noc: bool = False, theme: str | None = None, poll_interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic, start_paused: bool = False,
                 noc_cycle_s: float = NOC_CYCLE_S):
        self._accent: str | None = None  # before super(): get_css_variables may run early
        super().__init__()
        self.source = source
        self.inventory = inventory
        self.noc = noc
        self.forced_read_only = bool(read_only or noc or source.replay or source.read_only)
        interval = poll_interval or (inventory.poll_interval if inventory else None)  # None: learn it
        settings = replace(settings_for(inventory), poll_interval=interval or 2.0) if inventory else None
        self.state = ConsoleState(clock=clock, poll_interval=interval, settings=settings)
        self.paused = start_paused
        self.ended = False
        self.feed_error: str | None = None
        self.noc_cycle_s = noc_cycle_s
        self._step = False
        self._resume = asyncio.Event()
        self.runner = operate.ActionRunner(self)
        self.reapply_job = operate.ReapplyJob(self)
        own = themes.load_all()
        for t in own.values():
            self.register_theme(t)
        name = theme or themes.default_for(os.environ, noc)  # a palette the terminal can show
        if name not in own:  # lbconsole's themes only: Textual's others do not style alerts and badges
            raise UsageError(f"unknown theme {name!r}; lbconsole's themes: {', '.join(sorted(own))}")
        self.theme = name

    # -- screens and theme ---------------------------------------------------------------
    def get_default_screen(self) -> Screen[None]:
        from lbconsole.ui.screens.main import MainScreen
        from lbconsole.ui.screens.noc import NocScreen

        return NocScreen() if self.noc else MainScreen()

    def get_css_variables(self) -> dict[str, str]:
        variables = super().get_css_variables()
        variables["cluster-accent"] = getattr(self, "_accent", None) or variables.get("accent", "ansi_magenta")
        return variables

    def _update_accent(self) -> None:
        cluster = self.state.cluster
        colour = themes.accent_colour(cluster.color if cluster else None)
        if colour is None and cluster is not None and self.inventory is not None:
            cfg = self.inventory.cluster(cluster.name)
            colour = themes.accent_colour(cfg.color if cfg else None)
        if colour != self._accent:
            self._accent = colour
            self.refresh_css(animate=False)

    def on_mount(self) -> None:
        self.pump()
        if not self.forced_read_only:
            self.run_worker(self.reapply_job.run(), group="reapply", exit_on_error=False)
        self.set_interval(1.0, self._tick)
        if self.noc:
            self.set_interval(self.noc_cycle_s, self._cycle)
        if not self.is_headless:
            self._catch_hangup()

    def _catch_hangup(self) -> None:
        """Leave when the terminal goes away (SSH dropped) instead of spinning on a dead tty."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._hangup, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass

    def _hangup(self, sig: int) -> None:
        self.runner.interrupt_all(signal.Signals(sig).name)  # the terminal is gone: nobody can wait
        self.exit(return_code=128 + sig)
        # The terminal may be gone: if restoring it hangs, leave anyway.
        timer = threading.Timer(5.0, os._exit, args=(128 + sig,))
        timer.daemon = True
        timer.start()

    async def on_unmount(self) -> None:
        self.runner.interrupt_all("the console closing (terminal lost)")
        try:
            await asyncio.wait_for(self.source.close(), 5)
        except Exception:  # leaving anyway; a close that fails must not turn q into a traceback
            pass

    # -- the feed ---------------------------------------------------------------------------
    @work(exclusive=True, group="source")
    async def pump(self) -> None:
        failures = 0
        while True:
            try:
                snapshot = await self.source.next()
            except EndOfRecording:
                self.ended = True
                self.notify("End of the recording: showing its last snapshot.", title="Replay")
                self.redraw()
                return
            except RecordingError as exc:  # a replay cannot get better by retrying
                self.ended = True
                self.notify(str(exc), title="Replay stopped", severity="error", markup=False)
                self.redraw()
                return
            except Exception as exc:  # a broken poll must not end the console: keep the last data
                self.feed_error = f"{type(exc).__name__}: {exc}"
                self.log.error("snapshot source failed", exc)
                if failures == 0:
                    self.notify(self.feed_error, title="Polling failed; retrying", severity="error", markup=False)
                self.redraw()
                await asyncio.sleep(ERROR_BACKOFF_S[min(failures, len(ERROR_BACKOFF_S) - 1)])
                failures += 1
                continue
            failures = 0
            while self.paused and not self._step and self.state.count:  # the first one always shows
                self._resume.clear()
                await self._resume.wait()
            self._step = False
            self.take(snapshot)

    def take(self, snapshot: Snapshot) -> list[Event]:
        """Apply a snapshot now: state, toasts, then the visible screen."""
        events = self.state.apply(snapshot)
        self.feed_error = None
        self._update_accent()
        if not self.forced_read_only and operate.has_reverted_drains(snapshot):
            self.reapply_job.offer(snapshot)  # serial: a new snapshot never cancels a re-apply
        for event in events:
            timeout = TOAST_KINDS.get(event.kind)
            if timeout:
                severity = _TOAST_SEVERITY.get(event.severity, "information")
                self.notify(safetext.clean(event.message), title=event.kind.replace("_", " "), severity=severity,
                            timeout=timeout, markup=False)
        self.redraw()
        return events

    def _console_screen(self) -> ConsoleScreen | None:
        for screen in reversed(self.screen_stack):
            if isinstance(screen, ConsoleScreen):
                return screen
        return None

    def redraw(self) -> None:
        screen = self._console_screen()
        if screen is not None:
            screen.show(self.state)  # draws only if that screen is ready and not closing
        self.refresh_bindings()

    def _tick(self) -> None:
        if self.source.replay or self.paused or self.ended:
            aged = False  # a replay's or a paused feed's data is not getting older in the world
        else:
            aged = self.state.age_alerts()  # no snapshot for a while: blindness must still show
        screen = self._console_screen()
        if screen is not None:
            if aged:
                screen.show(self.state)
            else:
                screen.tick(self.state)

    def _cycle(self) -> None:
        if len(self.state.clusters) > 1 and self.state.next_cluster() is not None:
            self._update_accent()
            self.redraw()

    def feed_label(self) -> str:
        if self.ended:
            return "END OF RECORDING"
        label = "REPLAY" if self.source.replay else "LIVE"
        speed = getattr(self.source, "speed", 1.0)
        if self.source.replay and speed != 1.0:
            label += f" ×{speed:g}"
        if self.paused:
            label = "PAUSED · " + label
        if self.feed_error:
            label += " · POLL FAILING"
        return label

    # -- read-only and which actions apply -------------------------------------------------
    def read_only_reason(self, cluster: str | None = None) -> str:
        """Why keys that change nodes cannot act here, in the operator's words."""
        if self.source.replay:
            return "this is a replay of a recording; nothing can change"
        if self.noc:
            return "the --noc wall display is read-only"
        if self.forced_read_only:
            return "started with --read-only"
        c = self.state.cluster if cluster is None else (self.state.snapshot.cluster(cluster)
                                                        if self.state.snapshot else None)
        name = c.name if c else cluster
        return f"cluster {name} is read_only in the inventory"

    def is_read_only(self, cluster: str | None = None) -> bool:
        if self.forced_read_only:
            return True
        c = self.state.cluster if cluster is None else (self.state.snapshot.cluster(cluster)
                                                        if self.state.snapshot else None)
        if c is not None and c.read_only:
            return True
        name = cluster or (c.name if c else None)
        cfg = self.inventory.cluster(name) if self.inventory and name else None
        return bool(cfg and cfg.read_only)

    def action_allowed(self, spec: ActionSpec) -> bool:
        return bool(self._allowed(spec))

    def _allowed(self, spec: ActionSpec) -> bool | None:
        screen = self.screen
        if spec.mutating:
            if self.is_read_only():
                return False  # hidden, not greyed: read-only never offers them
            if not isinstance(screen, ConsoleScreen) or screen.target(spec.target) is None:
                return None
            return True
        if spec.name == "back":
            return len(self.screen_stack) > 1 or (isinstance(screen, ConsoleScreen) and screen.has_filter)
        if spec.name == "filter":
            return not self.noc and isinstance(screen, ConsoleScreen) and screen.filterable
        if spec.name == "open":
            return isinstance(screen, ConsoleScreen) and screen.openable
        if spec.name == "next_cluster":
            return len(self.state.clusters) > 1
        if spec.name in ("faster", "slower"):
            return self.source.replay and not self.ended
        return True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        spec = keys.spec_for(action, parameters)
        return True if spec is None else self._allowed(spec)

    # -- actions from the registry ----------------------------------------------------------
    def action_refresh(self) -> None:
        if self.ended:
            self.notify("The recording has ended.")
            return
        if self.paused:
            self._step = True  # paused: refresh steps one snapshot
            self._resume.set()
        self.source.refresh_now()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self._resume.set()
        self.redraw()

    def action_filter(self) -> None:
        screen = self.screen
        if isinstance(screen, ConsoleScreen) and screen.filterable:
            screen.open_filter()

    def action_next_cluster(self) -> None:
        """`c`: the next cluster that has an alert (warning or worse), else simply the next one."""
        if self.state.next_cluster_with_alert() is not None or self.state.next_cluster() is not None:
            self._update_accent()
            self.redraw()

    def action_help(self) -> None:
        from lbconsole.ui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self))

    def action_open(self) -> None:
        if isinstance(self.screen, ConsoleScreen):
            self.screen.open_selected()

    def action_back(self) -> None:  # type: ignore[override]  # Textual runs sync and async actions alike
        screen = self.screen
        if isinstance(screen, ConsoleScreen) and screen.clear_filter():
            return  # Escape clears an active filter first
        if len(self.screen_stack) > 1:
            self.pop_screen()

    def action_faster(self) -> None:
        self._speed(2.0)

    def action_slower(self) -> None:
        self._speed(0.5)

    def _speed(self, factor: float) -> None:
        speed = getattr(self.source, "speed", 1.0) * factor
        self.source.set_speed(max(0.125, min(64.0, speed)))
        self.redraw()

    def action_act(self, name: str) -> None:
        """Every mutating action: refused in read-only mode, whoever invokes it."""
        spec = BY_NAME.get(name)
        if spec is None or not spec.mutating:
            return
        screen = self.screen
        target = screen.target(spec.target) if isinstance(screen, ConsoleScreen) else None
        if self.is_read_only():
            self.refuse(spec, "read-only", target)
            return
        if target is None:
            self.notify(keys.select_hint(spec), severity="warning")
            return
        self.runner.start(spec, target)  # one per cluster; runs to its end, never cancelled from here

    async def action_quit(self) -> None:
        """Leave, but never in the middle of an action: wait for it (q again: leave, recorded as interrupted)."""
        if self.runner.before_quit():
            self.exit()

    def refuse(self, spec: ActionSpec, why: str, target: dict[str, object] | None = None) -> None:
        self.notify(safetext.clean(f"{spec.title} refused: {why}"), title="Refused", severity="error", markup=False)
        cluster = self.state.cluster
        self.runner.audit_refusal(spec, target or {"kind": spec.target, "cluster": cluster.name if cluster else None},
                                  why)  # locally only: a read-only console contacts no node to act
        self.state.events.append(Event(self.state.snapshot.taken_at if self.state.snapshot else time.time(),
                                       "action_refused", f"{spec.title} refused: {why}",
                                       cluster.name if cluster else "", severity="warning"))
