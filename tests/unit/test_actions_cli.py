"""The action subcommands: generated from the registry, confirmation, read-only, exit codes."""

from __future__ import annotations

import io

import pytest

from lbconsole import cli
from lbconsole.actions import registry
from lbconsole.actions.audit import AuditLog
from support.inventory import cluster_table, defaults_table, node_table, write_inventory

NODES = (node_table("lb1", "127.0.0.1", "director"), node_table("web1", "127.0.0.1", "nginx"))


@pytest.fixture
def inv(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal

    def write(read_only=False):
        return write_inventory(tmp_path / "inventory.toml", defaults_table(port=1),
                               cluster_table("c", *NODES, read_only=read_only))
    return write


def test_every_cli_action_of_the_registry_is_a_subcommand():
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for spec in registry.ACTIONS:
        first = spec.cli_words[0]
        assert (first in sub.choices) == spec.cli, spec.name
        if spec.cli and len(spec.cli_words) == 2:  # `lbconsole upstream drain`
            group = next(a for a in sub.choices[first]._actions if a.dest == f"{first}_action")
            assert spec.cli_words[1] in group.choices, spec.name
    assert "release" not in sub.choices  # it is `failover --release`
    assert "upstream_drain" not in sub.choices  # it is `upstream drain`


def test_without_a_terminal_and_without_yes_it_refuses_and_says_yes(inv, capsys):
    code = cli.main(["drain", "10.0.0.100:80", "10.0.0.21:80", "--reason", "r", "--inventory", inv()])
    err = capsys.readouterr().err
    assert code == 3 and "--yes" in err
    [rec] = AuditLog().read()
    assert rec["result"] == "refused" and rec["params"]["reason"] == "r"


@pytest.mark.parametrize("argv", [
    ["drain", "10.0.0.100:80", "10.0.0.21:80", "--reason", "r", "--yes"],
    ["undrain", "10.0.0.100:80", "10.0.0.21:80", "--yes"],
    ["failover", "VI_1", "--yes"],
    ["failover", "VI_1", "--release"],
    ["reload", "web1"],
])
def test_read_only_flag_after_the_subcommand_and_in_the_inventory(inv, capsys, argv):
    assert cli.main(argv + ["--inventory", inv(), "--read-only"]) == 3
    assert "read-only (--read-only)" in capsys.readouterr().err
    assert cli.main(argv + ["--inventory", inv(read_only=True)]) == 3
    assert "read-only in the inventory" in capsys.readouterr().err
    assert [r["result"] for r in AuditLog().read()] == ["refused", "refused"]
    expected = "release" if "--release" in argv else argv[0]
    assert {r["what"] for r in AuditLog().read()} == {expected}


@pytest.mark.parametrize("argv", [
    ["drain", "10.0.0.100:80", "10.0.0.21:80", "--yes"],  # no --reason
    ["drain", "10.0.0.100", "10.0.0.21:80", "--reason", "r", "--yes"],
    ["undrain", "10.0.0.100:80", "web1", "--yes"],
    ["reload", "nosuch", "--yes"],
])
def test_usage_errors_exit_2(inv, capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        raise SystemExit(cli.main(argv + ["--inventory", inv()]))
    assert exit_.value.code == 2


def _on_a_terminal(argv: list[str], answer: str, env: dict) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout, type `answer`, return (exit code, what it showed)."""
    import os
    import pty
    import subprocess
    import sys
    import time

    main, sub = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "lbconsole", *argv], stdin=sub, stdout=sub, stderr=sub,
                            env={**os.environ, **env}, close_fds=True)
    os.close(sub)
    shown, deadline = b"", time.monotonic() + 60
    while b"[y/N]" not in shown and proc.poll() is None and time.monotonic() < deadline:
        try:
            shown += os.read(main, 4096)
        except OSError:
            break
    if proc.poll() is None:
        os.write(main, answer.encode() + b"\n")
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            shown += os.read(main, 4096)
        except OSError:
            break
    proc.wait(10)
    os.close(main)
    return proc.returncode, shown.decode(errors="replace")


def test_on_a_terminal_it_says_what_and_where_and_asks(inv, tmp_path):
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    code, shown = _on_a_terminal(["reload", "web1", "--inventory", inv()], "n", env)
    assert "Reload nginx on web1" in shown and "nginx -t first" in shown and "Reload nginx? [y/N]" in shown
    assert code == 3 and "not confirmed by the operator" in shown
    assert AuditLog().read()[-1]["message"].startswith("Reload nginx refused: not confirmed by the operator")


def test_on_a_terminal_a_drain_checks_before_it_asks(inv, tmp_path):
    """The directors do not answer: the check refuses, and the operator is never asked."""
    env = {"XDG_STATE_HOME": str(tmp_path / "state")}
    code, shown = _on_a_terminal(["drain", "10.0.0.100:80", "10.0.0.21:80", "--reason", "disk swap",
                                  "--inventory", inv()], "y", env)
    assert "[y/N]" not in shown and code == 3
    assert "no director usable" in shown and "lb1" in shown
    [rec] = AuditLog().read()
    assert rec["result"] == "refused" and "no director usable" in rec["message"]


def test_a_read_only_refusal_reaches_no_node(inv, capsys, monkeypatch):
    """Audited locally, said so; not one connection is tried (no syslog on the nodes)."""
    from lbconsole.actions import context

    tried = []
    monkeypatch.setattr(context, "session_for", lambda node, *a, **k: tried.append(node.name))
    code = cli.main(["drain", "10.0.0.100:80", "10.0.0.21:80", "--reason", "r", "--yes", "--read-only",
                     "--inventory", inv()])
    err = capsys.readouterr().err
    assert code == 3 and tried == []
    assert "audited locally" in err and "syslog" not in err and "Connect" not in err
    assert "to act, run it without --read-only" in err
    assert AuditLog().read()[-1]["result"] == "refused"


def test_a_blank_reason_is_a_usage_error_before_any_node_is_asked(inv, capsys):
    """The inventory's nodes cannot be reached (port 1): exit 2, not a refusal for an unreachable director."""
    code = cli.main(["drain", "10.0.0.100:80", "10.0.0.21:80", "--reason", "  \t", "--yes", "--inventory", inv()])
    err = capsys.readouterr().err
    assert code == 2 and "a drain needs a reason (--reason TEXT)" in err, err
    assert "no director usable" not in err and "Traceback" not in err
    [rec] = AuditLog().read()
    assert rec["result"] == "usage" and rec["what"] == "drain"
