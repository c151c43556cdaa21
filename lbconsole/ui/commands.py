"""The command palette, generated from the action registry.

It lists what the keys do, minus what `check_action` hides (mutating actions
in read-only mode), so the palette can never reach what a key cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from lbconsole.actions.registry import ACTIONS
from lbconsole.ui.keys import action_string, key_display

if TYPE_CHECKING:
    from lbconsole.ui.app import LbConsole


class RegistryCommands(Provider):
    def _commands(self) -> Iterator[tuple[str, Callable[[], Any], str]]:
        app = cast("LbConsole", self.app)
        for spec in ACTIONS:
            if spec.name == "command_palette" or not app.action_allowed(spec):
                continue
            key = key_display(spec.key)
            help_text = spec.description + (f"  [{key}]" if key else "")
            yield spec.title, partial(app.run_action, action_string(spec)), help_text

    async def discover(self) -> Hits:
        for title, run, help_text in self._commands():
            yield DiscoveryHit(title, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, run, help_text in self._commands():
            score = max(matcher.match(title), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(title), run, help=help_text)
