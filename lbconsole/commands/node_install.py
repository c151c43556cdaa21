"""`lbconsole node install [--inventory F] [--ssh-user U] [NODE...]`: put the agent on the nodes, once.

Run with an account that may become root (root, or passwordless sudo). On each
node it writes the program to /usr/local/lib/lbconsole/lbconsole-node (root,
0755, its sha256 checked) and, for a non-root inventory user, the sudoers
drop-in /etc/sudoers.d/lbconsole, checked with `visudo -cf` before it is moved
in place. The drop-in names only that program with its two fixed argument
lists: no shell, no wildcard. The install itself is one shell script per node
(one-time and privileged by design); polls and actions never use a shell.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import sys
from typing import Any, TextIO

from lbconsole import inventory as inventory_mod
from lbconsole.errors import UsageError
from lbconsole.inventory import Inventory, NodeConfig
from lbconsole.transport.base import shell_quote
from lbconsole.transport.diagnose import AGENT_PATH

SUDOERS_FILE = "/etc/sudoers.d/lbconsole"
INSTALL_TIMEOUT_S = 120.0


def sudoers_lines(user: str) -> list[str]:
    """The drop-in for `user`: the program and its two fixed argument lists, nothing else."""
    return [f"# {SUDOERS_FILE}: written by `lbconsole node install` (checked with visudo -cf)",
            f"Defaults:{user} !requiretty",
            f"{user} ALL=(root) NOPASSWD: {AGENT_PATH} serve, {AGENT_PATH} serve --read-only"]


def authorized_keys_line(public_key: str, read_only: bool = False) -> str:
    """The `command="...",restrict` alternative: this key can start the agent and nothing else."""
    command = f"{AGENT_PATH} serve" + (" --read-only" if read_only else "")
    return f'command="{command}",restrict {public_key.strip()}'


def register(sub: argparse._SubParsersAction[Any]) -> None:
    from lbconsole.cli import add_common

    node = sub.add_parser("node", help="set up nodes for lbconsole (the node agent)")
    node_sub = node.add_subparsers(dest="node_command", metavar="COMMAND", required=True)
    install = node_sub.add_parser("install", help="install the node agent and its sudoers drop-in (once, as root)",
                                  description=__doc__.split("\n\n")[1] if __doc__ else None)
    add_common(install)
    install.add_argument("nodes", metavar="NODE", nargs="*", help="inventory node names (default: every node)")
    install.add_argument("--ssh-user", metavar="USER",
                         help="log in as USER for the install (one that may become root; default: the inventory's)")
    install.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    inv = inventory_mod.load(args.inventory)
    return asyncio.run(install_all(inv, list(args.nodes), args.ssh_user, sys.stdout))


def pick(inv: Inventory, names: list[str]) -> list[NodeConfig]:
    if not names:
        return list(inv.nodes)
    unknown = [n for n in names if inv.find_node(n) is None]
    if unknown:
        have = ", ".join(n.name for n in inv.nodes)
        raise UsageError(f"no node {', '.join(unknown)} in the inventory (have: {have})")
    return [n for n in (inv.find_node(name) for name in dict.fromkeys(names)) if n is not None]


async def install_all(inv: Inventory, names: list[str], ssh_user: str | None, out: TextIO) -> int:
    nodes = pick(inv, names)
    results = await asyncio.gather(*(install(n, ssh_user) for n in nodes))
    failed = 0
    for node, (ok, message) in zip(nodes, results, strict=True):
        failed += not ok
        out.write(f"{node.name}: {message}\n")
    return 1 if failed else 0


def install_script(program: bytes, sha256: str, sudoers_for: str | None) -> str:
    """The shell that installs `program` (sent base64 on stdin) and the drop-in for `sudoers_for`."""
    drop_in = "\n".join(sudoers_lines(sudoers_for)) if sudoers_for else ""
    dest_dir = AGENT_PATH.rsplit("/", 1)[0]
    # sudo skips files in sudoers.d whose name has a dot: the temporary file is never live.
    return f"""set -e
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
command -v python3 >/dev/null 2>&1 || \
  {{ echo "no python3 on this node: install python3 (3.6 or later) first" >&2; exit 3; }}
d={shell_quote(dest_dir)}
mkdir -p "$d"; chown root:root "$d"; chmod 0755 "$d"
tmp="$d/.lbconsole-node.$$"
trap 'rm -f "$tmp" /etc/sudoers.d/.lbconsole.$$' EXIT
base64 -d > "$tmp"
echo {shell_quote(sha256)}"  $tmp" | sha256sum -c --quiet - >&2 || {{ echo "the program arrived damaged" >&2; exit 5; }}
chown root:root "$tmp"; chmod 0755 "$tmp"
mv -f "$tmp" {shell_quote(AGENT_PATH)}
drop_in={shell_quote(drop_in)}
if [ -n "$drop_in" ]; then
  s=/etc/sudoers.d/.lbconsole.$$
  printf '%s\\n' "$drop_in" > "$s"; chown root:root "$s"; chmod 0440 "$s"
  visudo -cf "$s" >&2 || {{ echo "visudo -cf rejected the sudoers drop-in; nothing changed in sudoers" >&2; exit 4; }}
  mv -f "$s" {shell_quote(SUDOERS_FILE)}
fi
{shell_quote(AGENT_PATH)} version
"""


async def install(node: NodeConfig, ssh_user: str | None) -> tuple[bool, str]:
    from lbconsole.transport import TransportError, node_program, transport_for

    program = node_program()
    data: bytes = program.program_bytes()
    sha: str = program.code_sha256()
    login = ssh_user or node.user
    sudoers_for = node.user if node.user and node.user != "root" and not node.is_local else None
    how = dataclasses.replace(node, user=login, sudo=bool(login and login != "root"))
    transport = transport_for(how)
    try:
        res = await transport.run(install_script(data, sha, sudoers_for), timeout=INSTALL_TIMEOUT_S,
                                  stdin=base64.b64encode(data).decode("ascii"))
    except TransportError as exc:
        return False, f"not installed: {exc}"
    finally:
        await transport.close()
    if res.exit_status != 0:
        why = " ".join(res.stderr.strip().splitlines()[-3:]) or f"exit status {res.exit_status}"
        if "a password is required" in why:
            why += " (log in as root with --ssh-user root, or as a user with passwordless sudo)"
        return False, f"not installed: {why}"
    words = res.stdout.split()
    if len(words) < 3 or words[2] != sha:
        return False, f"installed, but it reports {res.stdout.strip()[:120]!r}, not {sha[:12]}"
    where = "local host" if node.is_local else f"{login or 'default user'}@{node.host}"
    extra = f"; sudoers drop-in for {sudoers_for} checked with visudo" if sudoers_for else ""
    return True, f"lbconsole-node {words[1]} ({sha[:12]}) at {AGENT_PATH} via {where}{extra}"
