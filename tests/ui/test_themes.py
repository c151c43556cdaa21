"""Themes: the shipped files load, the required ones exist, and styles use theme variables only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lbconsole import paths
from lbconsole.source.replay import ReplaySource
from lbconsole.ui import themes
from lbconsole.ui.themes import ThemeError
from ui import synth
from ui.helpers import lines_of, make_app, started

UI = Path(themes.__file__).resolve().parent
HEX = re.compile(r"(?<![\w-])#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3})(?![\w-])")  # not #feed, #badge


def test_the_required_themes_ship():
    loaded = themes.load_all()
    assert {"lbconsole-dark", "lbconsole-light", "noc", "ansi"} <= loaded.keys()
    assert not loaded["lbconsole-light"].dark
    ansi = loaded["ansi"]
    assert ansi.ansi
    colours = [getattr(ansi, f) for f in ("primary", "secondary", "accent", "success", "warning", "error",
                                          "foreground", "background", "surface", "panel")]
    assert all(c.startswith("ansi_") for c in colours)  # the terminal's palette, nothing else
    assert themes.DEFAULT in loaded and themes.NOC_DEFAULT in loaded


def test_no_hex_colours_outside_themes():
    offenders = []
    for path in list(UI.rglob("*.tcss")) + list(UI.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if HEX.search(line.split("  # ")[0]):
                offenders.append(f"{path.relative_to(UI)}:{n}: {line.strip()}")
    assert offenders == []


@pytest.mark.parametrize("text, complaint", [
    ('name = "x"\nprimary = "not-a-colour"\n', "not a colour"),
    ('name = "x"\n', "needs at least"),
    ('name = "x"\nprimary = "#fff"\nsparkle = true\n', "unknown key"),
    ('name = "x"\nprimary = "#fff"\ndark = "yes"\n', "t.toml:3: 'dark' must be true or false, not a string"),
    ('name = \n', "invalid TOML"),
    ('name = "x"\nprimary = "#fff"\naccent = "reddish"\n', "t.toml:3: accent: 'reddish' is not a colour"),
    ('name = "x"\nprimary = "#fff"\ntext_alpha = nan\n', "t.toml:3: 'text_alpha' must be a finite number"),
    ('name = "x"\nprimary = "#fff"\n[variables]\n"footer-key-foreground" = "blurple"\n', "t.toml:4: footer-key"),
])
def test_bad_theme_files_say_what_is_wrong(text, complaint):
    with pytest.raises(ThemeError, match=complaint):
        themes.parse(text, "t.toml")


def test_theme_names_are_lbconsoles_own():
    assert paths.theme_names() == sorted(themes.load_all()) == [
        "ansi", "lbconsole-256", "lbconsole-dark", "lbconsole-light", "noc",
    ]


def test_themes_dir_is_found_in_a_checkout():
    assert (paths.package_themes() / "noc.toml").is_file()


@pytest.mark.parametrize("name", sorted(themes.load_all()))
async def test_every_theme_renders(name):
    app = make_app(ReplaySource(lines_of([synth.lab()])), theme=name)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, app)
        assert app.theme == name


async def test_cluster_colour_becomes_the_accent():
    snap = synth.two_clusters()
    app = make_app(ReplaySource(lines_of([snap])))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(pilot, app)
        for cluster in snap.clusters:
            app.state.select_cluster(cluster.name)
            app.action_next_cluster()
            app.action_next_cluster()  # around and back: the accent follows the shown cluster
            await pilot.pause()
            assert app.get_css_variables()["cluster-accent"] == cluster.color


def test_unknown_theme_is_a_usage_error():
    from lbconsole.errors import UsageError

    with pytest.raises(UsageError, match="unknown theme"):
        make_app(ReplaySource(lines_of([synth.lab()])), theme="no-such-theme")


def test_textuals_own_themes_are_not_offered():
    from lbconsole.errors import UsageError

    match = "lbconsole's themes: ansi, lbconsole-256, lbconsole-dark, lbconsole-light, noc$"
    with pytest.raises(UsageError, match=match):
        make_app(ReplaySource(lines_of([synth.lab()])), theme="textual-dark")


def _grey(value: str) -> bool:
    from rich.color import ColorSystem
    from textual.color import Color

    rich = Color.parse(value).rich_color.downgrade(ColorSystem.EIGHT_BIT)
    r, g, b = rich.get_truecolor()
    return r == g == b


@pytest.mark.parametrize("env, noc, expect", [
    ({"COLORTERM": "truecolor", "TERM": "xterm-256color"}, False, "lbconsole-dark"),
    ({"TERM": "xterm-256color"}, False, "lbconsole-256"),  # SSH and tmux: no COLORTERM
    ({"TERM": "tmux-256color"}, True, "noc"),
    ({"TERM": "xterm"}, False, "ansi"),  # 8 colours
    ({"TERM": "linux"}, True, "ansi"),
    ({"COLORTERM": "truecolor", "NO_COLOR": "1"}, False, "ansi"),
])
def test_the_default_theme_follows_the_terminal(monkeypatch, env, noc, expect):
    for var in ("COLORTERM", "TERM", "NO_COLOR", "TEXTUAL_COLOR_SYSTEM"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    app = make_app(ReplaySource(lines_of([synth.lab()])), noc=noc)
    assert app.theme == expect


def test_256_colour_default_never_turns_the_panels_navy(monkeypatch):
    # Issue 9, item 9: the truecolor theme's dark blue-greys round to navy in the 256-colour palette.
    monkeypatch.delenv("COLORTERM", raising=False)
    app = make_app(ReplaySource(lines_of([synth.lab()])))
    variables = app.get_css_variables()
    for name in ("background", "surface", "panel", "boost"):
        assert _grey(variables[name]), (name, variables[name])


def test_states_and_severities_differ_by_glyph_and_word():
    from lbconsole.analyzers.summary import GLYPH, WORD
    from lbconsole.ui.widgets.directors import state_text

    states = [state_text(s) for s in ("MASTER", "BACKUP", "FAULT", "STOP", "INIT")]
    assert len({s.split()[0] for s in states}) == len(states)  # glyphs alone tell them apart
    assert len(set(GLYPH.values())) == len(GLYPH) and len(set(WORD.values())) == len(WORD)
