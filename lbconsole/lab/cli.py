"""`lbconsole lab up | down | status | inventory | exec NODE CMD...`"""

from __future__ import annotations

import argparse
import subprocess
import sys

from lbconsole.errors import UsageError
from lbconsole.lab import topology as t

NODE_NAMES = [n.name for n in t.NODES + t.LOCAL_NODES]


def _say(msg: str) -> None:
    print(f"lab: {msg}", flush=True)


def cmd_up(args: argparse.Namespace) -> int:
    from lbconsole.lab import lifecycle

    already, seconds = lifecycle.up(_say)
    if already:
        _say("the lab is already up (nothing to do)")
    print(t.INVENTORY)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from lbconsole.lab import lifecycle

    lifecycle.down(_say)
    _say("the lab is down")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from lbconsole.lab import lifecycle
    from lbconsole.lab.status import lab_status, render

    lifecycle.require_root()
    st = lab_status()
    print(render(st))
    return 0 if st.ok else 1


def cmd_inventory(args: argparse.Namespace) -> int:
    from lbconsole.lab import api

    if not api.is_up():
        print("lab: the lab is not up (run `lbconsole lab up`); its inventory would be:", file=sys.stderr)
    print(api.inventory_path())
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from lbconsole.lab import access, lifecycle

    lifecycle.require_root()
    try:
        node = t.node(args.node)
    except KeyError:
        raise UsageError(f"no lab node {args.node!r}: one of {', '.join(NODE_NAMES)} (or sshN)") from None
    # Like ssh, the words are joined into one command line for the node's shell.
    command = " ".join(args.cmd) if args.cmd else None
    if node.ssh:
        argv = access.ssh_argv(node, command)  # None: an interactive login
    else:
        argv = access.argv(node, command or "${SHELL:-sh}")
    return subprocess.call(argv)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("lab", help="a real LVS-DR test cluster on this machine (root)",
                              description="A real LVS-DR cluster on this machine: directors lb1 lb2 "
                                          "(keepalived + IPVS in a qemu VM), nginx nodes web1-3, backends "
                                          "app1 app2, client and ops namespaces. Needs root.")
    sub = p.add_subparsers(dest="lab_command", metavar="ACTION", required=True)
    sub.add_parser("up", help="bring the lab up (no-op if up); prints the inventory path last") \
        .set_defaults(func=cmd_up)
    sub.add_parser("down", help="remove every namespace, process, tap and VM of the lab") \
        .set_defaults(func=cmd_down)
    sub.add_parser("status", help="what is up; exit 0 only if all of it is").set_defaults(func=cmd_status)
    sub.add_parser("inventory", help="print the inventory path (last line)").set_defaults(func=cmd_inventory)
    e = sub.add_parser("exec", help="run a command on a node over SSH from lbc-ops "
                                    "(ops and client: in the namespace)")
    e.add_argument("node", metavar="NODE", help=", ".join(NODE_NAMES) + ", or an extra sshN node")
    e.add_argument("cmd", nargs=argparse.REMAINDER, metavar="CMD", help="command and arguments")
    e.set_defaults(func=cmd_exec)
