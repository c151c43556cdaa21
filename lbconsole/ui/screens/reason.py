"""The reason a drain asks for: recorded on the directors with who and when."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class ReasonScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]
    DEFAULT_CSS = """
    ReasonScreen { align: center middle; }
    ReasonScreen > Vertical { width: 76; max-width: 100%; height: auto; border: thick $warning;
                              background: $surface; padding: 0 1; }
    ReasonScreen Label { height: auto; }
    ReasonScreen #reason-error { color: $text-error; }
    """

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Reason"
            yield Label(f"Why drain {self.what}? (recorded with your name and the time; Esc cancels)")
            yield Input(placeholder="e.g. kernel upgrade, ticket OPS-123", id="reason")
            yield Label("", id="reason-error")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.query_one("#reason-error", Label).update("A drain needs a reason.")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
