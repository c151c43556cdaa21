"""`lbconsole replay FILE [--speed X] [--loop]`: the console on a recording, read-only.

A replay never acts: every mutating key is hidden and refused.
"""

from __future__ import annotations

import argparse

from lbconsole import paths


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lbconsole.cli import add_common

    parser = sub.add_parser("replay", help="open the console on a recording (read-only)")
    add_common(parser)
    parser.add_argument("file", metavar="FILE", help="a recording written by `lbconsole record`")
    parser.add_argument("--speed", type=float, default=1.0, metavar="X", help="replay speed (default 1)")
    parser.add_argument("--loop", action="store_true", help="start again at the end")
    parser.add_argument("--noc", action="store_true", default=argparse.SUPPRESS, help="wall-display layout")
    parser.add_argument("--theme", metavar="NAME", default=argparse.SUPPRESS, choices=paths.theme_names(),
                        help="colour theme: " + ", ".join(paths.theme_names()))
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from lbconsole.errors import UsageError
    from lbconsole.source import recording

    if not args.speed > 0:
        raise UsageError("--speed must be above 0")
    if sum(1 for _ in recording.read(args.file)) == 0:  # read every line: errors name file and line
        raise UsageError(f"recording {args.file}: no snapshots in it")
    from lbconsole.source.replay import ReplaySource
    from lbconsole.ui.run import run_app

    inventory = None
    if getattr(args, "inventory", None):
        from lbconsole import inventory as inventory_mod

        inventory = inventory_mod.load(args.inventory)
    return run_app(ReplaySource(args.file, speed=args.speed, loop=args.loop), inventory=inventory,
                   read_only=True, noc=bool(getattr(args, "noc", False)), theme=getattr(args, "theme", None))
