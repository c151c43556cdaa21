"""The virtual grid formats only what is on screen, keeps the cursor on its row, drops columns when narrow."""

from __future__ import annotations

from textual.app import App, ComposeResult

from lbconsole.ui.widgets.grid import Column, Grid


class GridApp(App):
    def __init__(self, keys, columns=None):
        super().__init__()
        self.keys = keys
        self.rendered: list = []
        self.columns = columns or [Column("Name", 10, grow=True), Column("Value", 6, align="right", drop=1)]

    def compose(self) -> ComposeResult:
        yield Grid(self.columns, self.render_row)

    def render_row(self, key):
        self.rendered.append(key)
        return [(f"row {key}", None), (str(key * 2), "muted")], None


async def test_only_visible_rows_are_formatted():
    keys = list(range(10_000))
    app = GridApp(keys)
    async with app.run_test(size=(60, 20)) as pilot:
        grid = app.query_one(Grid)
        grid.set_rows(keys)
        await pilot.pause()
        app.rendered.clear()
        grid.set_rows(list(keys))  # same rows, new numbers: a repaint of what is visible
        await pilot.pause()
        assert 0 < len(app.rendered) <= grid.size.height
        await pilot.press("end")
        await pilot.pause()
        assert grid.cursor_key == keys[-1]
        assert keys[-1] in app.rendered  # scrolled to the cursor


async def test_cursor_follows_its_key_when_rows_change():
    app = GridApp(list(range(10)))
    async with app.run_test(size=(60, 20)) as pilot:
        grid = app.query_one(Grid)
        grid.set_rows(list(range(10)))
        grid.cursor = 5
        grid.set_rows([100, 101] + list(range(10)))  # two rows appear above
        await pilot.pause()
        assert grid.cursor_key == 5
        index = grid.cursor
        remaining = [k for k in range(10) if k != 5]
        grid.set_rows(remaining)  # its row goes: the cursor keeps its place, on the row that slid in
        assert grid.cursor == index and grid.cursor_key == remaining[index]


async def test_narrow_terminals_drop_columns_by_priority():
    cols = [Column("Name", 10, grow=True), Column("Keep", 6), Column("Drop", 6, drop=1)]
    app = GridApp([1], cols)
    async with app.run_test(size=(20, 10)) as pilot:
        grid = app.query_one(Grid)
        grid.set_rows([1])
        await pilot.pause()
        labels = [c.label for c, _, _ in grid._columns_for(grid.scrollable_content_region.width)]
        assert labels == ["Name", "Keep"]
