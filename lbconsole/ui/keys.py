"""Key bindings generated from the action registry: one declaration, every key.

Mutating actions all go through `act('<name>')`, so one `check_action` and one
refusal point cover every entry (key, palette, direct call).
"""

from __future__ import annotations

from textual.actions import parse
from textual.binding import Binding, BindingType

from lbconsole.actions.registry import ACTIONS, ActionSpec

_DISPLAY = {"slash": "/", "question_mark": "?", "plus": "+", "minus": "-", "escape": "esc", "enter": "⏎"}


def action_string(spec: ActionSpec) -> str:
    return f"act('{spec.name}')" if spec.mutating else spec.name


def spec_for(action: str, parameters: tuple[object, ...] = ()) -> ActionSpec | None:
    """The registry entry behind a Textual action name (and its parameters)."""
    from lbconsole.actions.registry import BY_NAME

    if action == "act" and parameters:
        return BY_NAME.get(str(parameters[0]))
    return BY_NAME.get(action)


def spec_for_string(action: str) -> ActionSpec | None:
    _, name, params = parse(action)
    return spec_for(name, params)


def key_display(key: str | None) -> str:
    return _DISPLAY.get(key or "", key or "")


def bindings() -> list[BindingType]:
    out: list[BindingType] = []
    for spec in ACTIONS:
        if spec.key:
            out.append(Binding(spec.key, action_string(spec), spec.title, show=spec.footer,
                               key_display=_DISPLAY.get(spec.key), tooltip=spec.description))
    return out


def select_hint(spec: ActionSpec) -> str:
    """`Drain: select a real server first`, `Upstream drain: select an upstream server first`."""
    what = spec.target.replace("_", " ")
    return f"{spec.title}: select {'an' if what[:1] in 'aeiou' else 'a'} {what} first"
