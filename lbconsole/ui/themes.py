"""Theme files (themes/*.toml) turned into Textual themes.

A theme file is flat TOML: `name`, the Textual colour fields (primary,
secondary, accent, success, warning, error, foreground, background, surface,
panel, boost), `dark`, `ansi`, optional `luminosity_spread` / `text_alpha`,
and a `[variables]` table for any other Textual CSS variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import msgspec
from textual.color import Color, ColorParseError
from textual.theme import Theme

from lbconsole import paths
from lbconsole.errors import UsageError
from lbconsole.tomlcheck import TomlError, decode, line_of

DEFAULT = "lbconsole-dark"
NOC_DEFAULT = "noc"
DEFAULT_256 = "lbconsole-256"  # 256 colours, no truecolor: palette colours and pure greys
DEFAULT_ANSI = "ansi"  # 8 or 16 colours: the terminal's own palette
_COLOURS = ("primary", "secondary", "accent", "success", "warning", "error", "foreground", "background",
            "surface", "panel", "boost")
Fraction = Annotated[float, msgspec.Meta(ge=0, le=1)]


class ThemeFile(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """The schema of a theme file; colours are checked by Textual's own parser after this."""

    name: Annotated[str, msgspec.Meta(min_length=1)]
    primary: str
    secondary: str | None = None
    accent: str | None = None
    success: str | None = None
    warning: str | None = None
    error: str | None = None
    foreground: str | None = None
    background: str | None = None
    surface: str | None = None
    panel: str | None = None
    boost: str | None = None
    dark: bool = True
    ansi: bool = False
    luminosity_spread: Fraction | None = None
    text_alpha: Fraction | None = None
    variables: dict[str, str] = {}


class ThemeError(UsageError):
    pass


def parse(text: str, where: str) -> Theme:
    try:
        data, lines = decode(text, ThemeFile)
    except TomlError as exc:
        at = f"{where}:{exc.line}" if exc.line else where
        msg = exc.message.replace("missing ", "needs at least name and primary; missing ")
        raise ThemeError(f"theme {at}: {msg}") from None
    fields = msgspec.structs.asdict(data)
    variables = fields.pop("variables")
    for key in _COLOURS:
        if fields.get(key) is not None:
            _check_colour(fields[key], f"theme {where}:{line_of(lines, (key,))}: {key}")
    for key, value in variables.items():
        if key.endswith(("-background", "-foreground", "-color")) or value.startswith(("#", "ansi_")):
            _check_colour(value, f"theme {where}:{line_of(lines, ('variables', key))}: {key}")
    return Theme(variables=variables, **{k: v for k, v in fields.items() if v is not None})


def _check_colour(value: str, where: str) -> None:
    if value.startswith("ansi_"):
        return  # the terminal's own palette, resolved by the terminal
    try:
        Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{where}: {value!r} is not a colour") from None


def load_all(directory: Path | None = None) -> dict[str, Theme]:
    """Every theme in the directory, by name."""
    directory = directory or paths.package_themes()
    themes: dict[str, Theme] = {}
    for path in sorted(directory.glob("*.toml")):
        theme = parse(path.read_text(encoding="utf-8"), str(path))
        themes[theme.name] = theme
    return themes


def colour_depth(environ: Mapping[str, str]) -> str:
    """truecolor | 256 | 16, from the environment the way terminals announce themselves."""
    if "NO_COLOR" in environ:
        return "16"
    forced = environ.get("TEXTUAL_COLOR_SYSTEM", "").lower()
    if forced in ("truecolor", "256", "standard", "windows"):
        return {"standard": "16", "windows": "16"}.get(forced, forced)
    if environ.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return "truecolor"
    term = environ.get("TERM", "").lower()
    if "256" in term or "direct" in term:
        return "256"
    return "16"


def default_for(environ: Mapping[str, str], noc: bool = False) -> str:
    """The theme that works in the terminal found: truecolor, 256 colours without COLORTERM, or 8/16."""
    depth = colour_depth(environ)
    if depth == "16":
        return DEFAULT_ANSI
    if noc:
        return NOC_DEFAULT  # its colours are all in the 256-colour palette
    return DEFAULT if depth == "truecolor" else DEFAULT_256


def accent_colour(value: str | None) -> str | None:
    """A cluster's inventory colour if Textual can draw it, else None (the theme's accent then)."""
    if not value:
        return None
    try:
        Color.parse(value)
    except ColorParseError:
        return None
    return value
