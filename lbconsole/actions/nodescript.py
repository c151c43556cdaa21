"""Action scripts: one shell script per node per step, output split into named sections.

Like the poll script, each part prints a header, its output and its exit
status, so one failing part never hides the others. Runs as root (the
transport adds `sudo -n` when the node says so).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from lbconsole.actions.context import ActionContext
from lbconsole.inventory import NodeConfig
from lbconsole.transport.base import TransportError, shell_quote

HEADER = "@@LBA "
FOOTER = "@@LBA-RC "
PRELUDE = r"""export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
sec() { _n=$1; shift; printf '@@LBA %s\n' "$_n"; "$@" 2>&1; _rc=$?; printf '\n@@LBA-RC %s\n' "$_rc"; return $_rc; }
"""


def q(text: str | int) -> str:
    return shell_quote(str(text))


@dataclass(frozen=True, slots=True)
class Section:
    text: str
    status: int  # -1: cut off

    @property
    def ok(self) -> bool:
        return self.status == 0

    def first_line(self) -> str:
        return next((ln.strip() for ln in self.text.splitlines() if ln.strip()), f"exit status {self.status}")


def split(output: str) -> dict[str, Section]:
    out: dict[str, Section] = {}
    name: str | None = None
    buf: list[str] = []
    for line in output.split("\n"):
        if line.startswith(HEADER):
            if name is not None:
                out[name] = Section("\n".join(buf), -1)
            name, buf = line[len(HEADER):].strip(), []
        elif line.startswith(FOOTER) and name is not None:
            text = "\n".join(buf)
            try:
                status = int(line[len(FOOTER):].strip())
            except ValueError:
                status = -1
            out[name] = Section(text[:-1] if text.endswith("\n") else text, status)
            name, buf = None, []
        elif name is not None:
            buf.append(line)
    if name is not None:
        out[name] = Section("\n".join(buf), -1)
    return out


@dataclass
class NodeReply:
    node: str
    sections: dict[str, Section]
    error: str | None = None  # unreachable, or the script did not run

    def get(self, name: str) -> Section | None:
        return self.sections.get(name)


async def run(ctx: ActionContext, node: NodeConfig, body: str, timeout: float = 30.0) -> NodeReply:
    """Run PRELUDE + body on node; never raises for node trouble (it becomes .error)."""
    try:
        res = await ctx.transport(node).run(PRELUDE + body, timeout=timeout)
    except TransportError as exc:
        return NodeReply(node.name, {}, str(exc))
    except (TimeoutError, OSError) as exc:
        return NodeReply(node.name, {}, f"{node.name}: {exc}")
    sections = split(res.stdout)
    if not sections:
        why = (res.stderr.strip() or res.stdout.strip() or f"exit status {res.exit_status}").splitlines()
        return NodeReply(node.name, {}, f"{node.name}: script failed: {why[0][:200] if why else ''}")
    return NodeReply(node.name, sections)


async def run_all(ctx: ActionContext, jobs: list[tuple[NodeConfig, str]],
                  timeout: float = 30.0) -> dict[str, NodeReply]:
    """Each (node, script) concurrently; each node at most once (a repeat is a bug, so it raises)."""
    names = [node.name for node, _ in jobs]
    if len(set(names)) != len(names):
        raise ValueError(f"a node appears twice in one step: {names}")
    replies = await asyncio.gather(*(run(ctx, node, body, timeout) for node, body in jobs))
    return {r.node: r for r in replies}
