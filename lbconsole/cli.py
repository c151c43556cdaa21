"""The `lbconsole` command line.

Each subcommand lives in its own module with `register(subparsers)`, which adds
its parser and sets `func(args) -> exit code`. Nothing here imports Textual:
only the console itself (no subcommand) does.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from lbconsole import __version__, paths, safetext
from lbconsole.errors import LbconsoleError

# Subcommand modules, each with register(subparsers).
SUBCOMMANDS = (
    "lbconsole.commands.status",
    "lbconsole.commands.record",
    "lbconsole.commands.replay",
    "lbconsole.commands.actions",
    "lbconsole.commands.doctor",
    "lbconsole.serve.command",
    "lbconsole.commands.node_install",
    "lbconsole.lab.cli",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # usage errors exit 2 with one line
        self.print_usage(sys.stderr)
        print(f"lbconsole: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def add_common(parser: argparse.ArgumentParser) -> None:
    """Options accepted both before and after the subcommand."""
    parser.add_argument("--inventory", "-i", metavar="FILE", default=argparse.SUPPRESS,
                        help="inventory TOML (default: $LBCONSOLE_INVENTORY, then "
                             "$XDG_CONFIG_HOME/lbconsole/inventory.toml, then the local host)")
    parser.add_argument("--read-only", action="store_true", default=argparse.SUPPRESS,
                        help="refuse every action that changes a node")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="lbconsole", description="Operations console for LVS/IPVS + keepalived + nginx.")
    parser.add_argument("--version", action="version", version=f"lbconsole {__version__}")
    add_common(parser)
    parser.add_argument("--noc", action="store_true", help="read-only wall display that cycles clusters")
    parser.add_argument("--theme", metavar="NAME", choices=paths.theme_names(),
                        help="colour theme: " + ", ".join(paths.theme_names())
                             + " (default lbconsole-dark; noc with --noc)")
    parser.add_argument("--demo", action="store_true", help="replay the bundled lab recording; needs no cluster")
    from lbconsole.source.remote import add_viewer_options

    add_viewer_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.inventory = getattr(args, "inventory", None)
    args.read_only = getattr(args, "read_only", False)
    try:
        if args.command is None and args.connect:
            from lbconsole.source.remote import run_viewer

            return run_viewer(args)
        if args.command is None:
            from lbconsole.ui.run import run_console  # the only path that imports Textual

            return run_console(args)
        return int(args.func(args))
    except LbconsoleError as exc:
        print(safetext.line(f"lbconsole: {exc}"), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("lbconsole: interrupted", file=sys.stderr)
        return 130
