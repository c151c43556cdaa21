"""The `/` filter: an input line above the footer, hidden until asked for.

Enter keeps the filter and returns to the table; Escape clears it.
"""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class FilterBar(Input):
    DEFAULT_CSS = """
    FilterBar { display: none; height: 1; border: none; padding: 0 1; background: $boost; }
    FilterBar.-open { display: block; }
    FilterBar:focus { border: none; }
    """
    BINDINGS = [Binding("escape", "clear", "Clear filter", show=False)]

    class Applied(Message):
        def __init__(self, text: str):
            super().__init__()
            self.text = text

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(placeholder="filter: address, port, scheduler, drain reason…", **kwargs)

    def open(self) -> None:
        self._return_to = self.screen.focused
        self.add_class("-open")
        self.focus()

    def _give_back_focus(self) -> None:
        target = getattr(self, "_return_to", None)
        if target is not None and target.is_attached:
            target.focus()
        else:
            self.screen.focus_next()

    def close(self) -> None:
        self.remove_class("-open")
        self._give_back_focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Applied(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not self.value:
            self.remove_class("-open")
        self._give_back_focus()

    def action_clear(self) -> None:
        self.value = ""
        self.post_message(self.Applied(""))
        self.close()
