"""Status tiles for the wall display: one coloured block per node, readable across a room."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from textual.containers import Horizontal
from textual.widgets import Static

_STATE_CLASS = {"good": "-good", "info": "-info", "bad": "-bad", "warn": "-warn", "stale": "-stale"}


#: A tile: its key, its text and its kind (good bad warn stale ...).
TileSpec = tuple[Hashable, str, str | None]


class Tile(Static):
    DEFAULT_CSS = """
    Tile { width: 1fr; height: 1fr; min-height: 3; padding: 0 1; margin: 0 1 0 0; content-align: center middle;
           text-align: center; text-style: bold; background: $panel; color: $foreground; }
    Tile.-good { background: $success; color: auto 95%; }
    Tile.-info { background: $primary; color: auto 95%; }
    Tile.-bad { background: $error; color: auto 95%; }
    Tile.-warn { background: $warning; color: auto 95%; }
    Tile.-stale { background: $panel; color: $text-disabled; text-style: bold italic; }
    """

    def set_tile(self, text: str, kind: str | None) -> None:
        self.update(text)
        for name, cls in _STATE_CLASS.items():
            self.set_class(name == kind, cls)


class TileRow(Horizontal):
    """A row of tiles, re-mounted only when the set of keys changes."""

    DEFAULT_CSS = "TileRow { height: 3; margin-bottom: 1; }"  # the NOC stylesheet lets it grow

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.keys: tuple[Hashable, ...] = ()

    def set_tiles(self, tiles: list[TileSpec]) -> None:
        """tiles: (key, text, kind)."""
        keys = tuple(k for k, _, _ in tiles)
        if not self.is_attached:
            return
        if keys != self.keys:
            self.keys = keys
            self.remove_children()
            self.mount_all([Tile(markup=False) for _ in tiles])
            self.call_after_refresh(self.set_tiles, tiles)
            return
        for tile, (_, text, kind) in zip(self.query(Tile), tiles):
            tile.set_tile(text, kind)
