"""Why an agent session would not start, as one message that names the fix.

The cases an operator meets: the program is not installed, it is another
version (version_problem, from its hello), the node has no python3, sudo
refuses the command. Anything else is the agent's own last words.
"""

from __future__ import annotations

import re
from typing import Any

AGENT_PATH = "/usr/local/lib/lbconsole/lbconsole-node"

_SUDO_REFUSED = ("a password is required", "is not allowed to execute", "not in the sudoers",
                 "may not run sudo", "no tty present", "a terminal is required")
_NO_PYTHON = re.compile(r"python3.*(not found|no such file)|bad interpreter|env: .?python3", re.IGNORECASE)
_MISSING = re.compile(r"(not found|no such file)", re.IGNORECASE)


def kind(exit_status: int | None, stderr: str) -> str:
    """missing | no_python | sudo_refused | other."""
    text = stderr.lower()
    if any(s in text for s in _SUDO_REFUSED):
        return "sudo_refused"
    if _NO_PYTHON.search(stderr):
        return "no_python"
    if AGENT_PATH in stderr and _MISSING.search(stderr):
        return "missing"
    if exit_status == 127 and AGENT_PATH in stderr:
        return "missing"
    if exit_status == 127 and "python3" in stderr:
        return "no_python"
    return "other"


def message(node: str, exit_status: int | None, stderr: str, *, user: str | None = None) -> str:
    tail = " ".join(stderr.strip().splitlines()[-3:])[:300]
    which = kind(exit_status, stderr)
    if which == "sudo_refused":
        who = user or "the SSH user"
        return (f"sudo refused to start the agent on {node} ({tail}): {who} needs the sudoers drop-in that "
                f"`lbconsole node install {node}` writes (README: node set-up)")
    if which == "no_python":
        return (f"no python3 on {node} ({tail}): install it (3.6 or later, e.g. apt-get install python3-minimal), "
                f"then `lbconsole node install {node}`")
    if which == "missing":
        return f"the agent is not installed on {node} ({AGENT_PATH}): run `lbconsole node install {node}`"
    status = "killed" if exit_status is None else f"exit status {exit_status}"
    return f"the agent on {node} ended ({status})" + (f": {tail}" if tail else "")


def version_problem(name: str, hello: dict[str, Any] | None, expected: tuple[str, str] | None) -> str | None:
    """Why a node's agent (its hello) is not the console's program (expected: version, code sha256); None when
    it is, or not known yet."""
    if hello is None or expected is None:
        return None
    version, sha = expected
    have_v, have_sha = hello.get("version"), hello.get("code_sha256")
    if have_sha == sha:
        return None
    return (f"{name} runs lbconsole-node {have_v} ({str(have_sha)[:12]}), this console has {version} "
            f"({sha[:12]}): run `lbconsole node install {name}`")
