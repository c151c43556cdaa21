"""Confirmation of a mutating action: what will change and where, with Cancel focused.

No single key confirms (k9s's delete dialog): Enter on the focused Cancel
cancels; confirming takes moving to Confirm first.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape,n", "cancel", "Cancel", show=False),
        Binding("left,right,h,l", "switch", "Switch button", show=False),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical { width: 76; max-width: 100%; height: auto; max-height: 100%;
                               border: thick $error; background: $surface; padding: 0 1; }
    ConfirmScreen #confirm-body { height: auto; margin-bottom: 1; }
    ConfirmScreen #confirm-buttons { height: auto; align: center middle; }
    ConfirmScreen Button { margin: 0 2; min-width: 14; }
    """

    def __init__(self, title: str, body: str, confirm_label: str = "Confirm"):
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Static(self.body, id="confirm-body", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button("Cancel", id="cancel", variant="primary")
                yield Button(self.confirm_label, id="confirm", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    @on(Button.Pressed, "#confirm")
    def _confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_switch(self) -> None:
        self.focus_next()
