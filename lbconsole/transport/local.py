"""The local host: a subprocess for shell work (netlink is used by the IPVS collector)."""

from __future__ import annotations

import asyncio
import contextlib

from lbconsole.transport.base import CommandResult, Transport, TransportError, wrap_sudo


class LocalTransport(Transport):
    async def run(self, script: str, timeout: float = 10.0, stdin: str | None = None) -> CommandResult:
        try:
            proc = await asyncio.create_subprocess_exec(
                "/bin/sh", "-c", wrap_sudo(script, self.node.sudo),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                start_new_session=True)
        except OSError as exc:
            raise TransportError(f"cannot run /bin/sh: {exc}") from None
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin else None), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise TransportError(f"command timed out after {timeout:g} s") from None
        return CommandResult(out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), proc.returncode or 0)

    @property
    def description(self) -> str:
        return "local"
