"""The one list of actions: it feeds key bindings, the footer, the command palette and the CLI.

An action is declared once here. `mutating` actions are refused in read-only
mode by the executor (lbconsole.actions.execute), not only hidden from view.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str  # the id: Textual action name and CLI subcommand
    title: str  # for the palette and the footer
    description: str
    key: str | None = None  # Textual key binding
    target: str = "none"  # none | real_server | vrrp_instance | nginx_node | upstream_server
    mutating: bool = False
    cli: bool = False  # exposed as `lbconsole NAME`, or `lbconsole GROUP VERB` with group
    footer: bool = True
    group: str | None = None  # CLI group: upstream_drain is `lbconsole upstream drain`
    needs_reason: bool = False  # asks for a reason (recorded on the nodes) before the confirmation

    @property
    def cli_words(self) -> tuple[str, ...]:
        """The CLI words: ("drain",) or ("upstream", "drain")."""
        if self.group is None:
            return (self.name,)
        return (self.group, self.name.removeprefix(self.group + "_"))


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("drain", "Drain", "Set a real server's weight to 0 on every director, with a reason",
               key="d", target="real_server", mutating=True, cli=True, needs_reason=True),
    ActionSpec("undrain", "Undrain", "Restore a drained real server's recorded weight on every director",
               key="u", target="real_server", mutating=True, cli=True),
    ActionSpec("failover", "Failover", "Make the current MASTER of a VRRP instance step down",
               key="F", target="vrrp_instance", mutating=True, cli=True),
    ActionSpec("release", "Release failover", "Remove a forced failover so configured priorities apply",
               key="R", target="vrrp_instance", mutating=True, cli=False),
    ActionSpec("reload", "Reload nginx", "nginx -t, reload, then verify new workers and a clean error log",
               key="L", target="nginx_node", mutating=True, cli=True),
    # Upstream servers: the backends behind the nginx nodes (target: an upstream and one of its servers).
    ActionSpec("upstream_drain", "Upstream drain",
               "Mark an upstream server down on every nginx node (nginx -t, reload, verified), with a reason",
               key="D", target="upstream_server", mutating=True, cli=True, footer=False, group="upstream",
               needs_reason=True),
    ActionSpec("upstream_undrain", "Upstream undrain",
               "Take lbconsole's `down` off an upstream server on every nginx node (nginx -t, reload, verified)",
               key="U", target="upstream_server", mutating=True, cli=True, footer=False, group="upstream"),
    ActionSpec("refresh", "Refresh", "Poll now", key="r"),
    ActionSpec("pause", "Pause", "Pause or resume refreshing", key="p"),
    ActionSpec("filter", "Filter", "Filter and search", key="slash"),
    ActionSpec("next_cluster", "Next cluster", "Show the next cluster", key="c"),
    ActionSpec("help", "Help", "Keys and what they do", key="question_mark"),
    ActionSpec("command_palette", "Commands", "Open the command palette", key="ctrl+p", footer=False),
    ActionSpec("quit", "Quit", "Leave lbconsole", key="q"),
    # Console-only navigation and replay controls (not CLI commands).
    ActionSpec("open", "Open", "Open the selected service or node", key="enter"),
    ActionSpec("back", "Back", "Back to the previous screen", key="escape"),
    ActionSpec("faster", "Faster", "Replay faster (x2)", key="plus"),
    ActionSpec("slower", "Slower", "Replay slower (/2)", key="minus"),
    ActionSpec("change_theme", "Theme", "Choose a colour theme", footer=False),
)

BY_NAME = {a.name: a for a in ACTIONS}


def get(name: str) -> ActionSpec:
    return BY_NAME[name]


def mutating() -> tuple[ActionSpec, ...]:
    return tuple(a for a in ACTIONS if a.mutating)
