"""The manual is complete: every option of every command is in the README; --version; lbconsole's themes only."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lbconsole import __version__, cli, paths

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    out = []

    def walk(name: str, parser: argparse.ArgumentParser) -> None:
        out.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, p in action.choices.items():
                    walk(f"{name} {sub}".strip(), p)
    walk("", cli.build_parser())
    return out


def test_every_option_is_in_the_readme():
    missing = []
    for name, parser in _parsers():
        for action in parser._actions:
            for opt in action.option_strings:
                if opt.startswith("--") and opt not in ("--help",) and not re.search(rf"{re.escape(opt)}\b", README):
                    missing.append(f"lbconsole {name} {opt}")
    assert missing == []


def test_version():
    out = subprocess.run([sys.executable, "-m", "lbconsole", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"lbconsole {__version__}"


def test_theme_names_lbconsoles_own_themes_only(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.build_parser().parse_args(["--theme", "textual-dark"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "'ansi', 'lbconsole-256', 'lbconsole-dark', 'lbconsole-light', 'noc'" in err
    help_text = cli.build_parser().format_help()
    assert "themes/" not in help_text and "lbconsole-dark" in help_text
    assert paths.theme_names() == ["ansi", "lbconsole-256", "lbconsole-dark", "lbconsole-light", "noc"]


def test_tests_that_need_no_lab_run_with_not_lab():
    """`pytest -m "not lab"` (README) selects no test of tests/lab: each is marked, by file or by the fixture."""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "not lab", "tests/lab",
                          "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=root)
    assert "no tests collected" in out.stdout or " 0 selected" in out.stdout or "deselected" in out.stdout, out.stdout
    assert "::" not in out.stdout, out.stdout
    assert 'pytest -q -m "not lab"' in README
