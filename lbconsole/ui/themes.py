"""Theme files (themes/*.toml) turned into Textual themes.

A theme file is flat TOML: `name`, the Textual colour fields (primary,
secondary, accent, success, warning, error, foreground, background, surface,
panel, boost), `dark`, `ansi`, optional `luminosity_spread` / `text_alpha`,
and a `[variables]` table for any other Textual CSS variable.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

from lbconsole import paths
from lbconsole.errors import UsageError

DEFAULT = "lbconsole-dark"
NOC_DEFAULT = "noc"
DEFAULT_256 = "lbconsole-256"  # 256 colours, no truecolor: palette colours and pure greys
DEFAULT_ANSI = "ansi"  # 8 or 16 colours: the terminal's own palette
_COLOURS = ("primary", "secondary", "accent", "success", "warning", "error", "foreground", "background",
            "surface", "panel", "boost")
_OTHER = {"name": str, "dark": bool, "ansi": bool, "luminosity_spread": float, "text_alpha": float,
          "variables": dict}


class ThemeError(UsageError):
    pass


def parse(text: str, where: str) -> Theme:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"theme {where}: invalid TOML: {exc}") from None
    for key, value in data.items():
        if key in _COLOURS:
            _check_colour(value, f"theme {where}: {key}")
        elif key in _OTHER:
            want = _OTHER[key]
            if not isinstance(value, want) and not (want is float and isinstance(value, int)):
                raise ThemeError(f"theme {where}: {key} must be a {want.__name__}")
        else:
            raise ThemeError(f"theme {where}: unknown key {key!r}")
    if "name" not in data or "primary" not in data:
        raise ThemeError(f"theme {where}: needs at least name and primary")
    variables = {str(k): str(v) for k, v in data.pop("variables", {}).items()}
    return Theme(variables=variables, **data)


def _check_colour(value: object, where: str) -> None:
    if not isinstance(value, str):
        raise ThemeError(f"{where} must be a colour string")
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
