"""XDG locations for the inventory, the audit log and recordings."""

from __future__ import annotations

import os
from pathlib import Path


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def config_dir() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / "lbconsole"


def state_dir() -> Path:
    return _xdg("XDG_STATE_HOME", ".local/state") / "lbconsole"


def default_inventory() -> Path:
    return config_dir() / "inventory.toml"


def audit_log() -> Path:
    return state_dir() / "audit.jsonl"


def package_themes() -> Path:
    """themes/ ships inside the wheel as lbconsole/themes; in a checkout it is at the top."""
    here = Path(__file__).resolve().parent
    inside = here / "themes"
    return inside if inside.is_dir() else here.parent / "themes"


def theme_names() -> list[str]:
    """lbconsole's own themes (each file is named as the theme inside it), without importing Textual."""
    return sorted(p.stem for p in package_themes().glob("*.toml"))
