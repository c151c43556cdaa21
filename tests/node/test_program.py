"""The one program: deterministic bytes, one sha256 however it runs, a strict command line."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile

import lbconsole
from lbconsole.node import VERSION, program
from lbconsole.node.agent import Agent
from node.nodeenv import PYTHON, start_bootstrap, start_installed


def test_version_is_the_console_version():
    assert VERSION == lbconsole.__version__


def test_program_bytes_are_deterministic_and_a_python_zip_app():
    data = program.program_bytes()
    assert data.startswith(b"#!/usr/bin/python3 -I\n")
    assert program.code_sha256() == hashlib.sha256(data).hexdigest()
    program._cache.clear()
    assert program.program_bytes() == data  # rebuilt from the files: the same bytes
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert names[:2] == ["__main__.py", "lbconsole/__init__.py"]
    assert "lbconsole/node/agent.py" in names and "lbconsole/node/boot.py" in names
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zipfile.ZipFile(io.BytesIO(data)).infolist())


def test_same_sha256_installed_bootstrap_and_in_process(program_file, sessions):
    want = program.code_sha256()
    installed = start_installed(None, program_file)
    boot = start_bootstrap(None)
    sessions += [installed, boot]
    h1, h2 = installed.request("hello")["result"], boot.request("hello")["result"]
    h3 = Agent().handle({"id": 7, "verb": "hello"})
    assert h3["id"] == 7 and h3["ok"]
    assert h1["code_sha256"] == h2["code_sha256"] == h3["result"]["code_sha256"] == want
    assert (h1["mode"], h2["mode"], h3["result"]["mode"]) == ("installed", "bootstrap", "local")
    assert h1["version"] == h2["version"] == VERSION
    assert set(h1["capabilities"]) >= {"hello", "snapshot", "watch", "audit"}
    assert installed.close() == 0 and boot.close() == 0


def test_version_command(program_file):
    out = subprocess.run([str(program_file), "version"], check=False, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout == f"lbconsole-node {VERSION} {program.code_sha256()}\n"


def test_only_the_documented_command_lines_run(program_file):
    for args in ([], ["serve", "--read-only", "x"], ["serve", "--readonly"], ["sh"], ["serve", "-c", "id"],
                 ["--read-only", "serve"], ["version", "x"]):
        res = subprocess.run([str(program_file), *args], check=False, capture_output=True, text=True, timeout=30,
                             input="")
        assert res.returncode == 2, args
        assert res.stdout == "" and "usage: lbconsole-node serve [--read-only]" in res.stderr


def test_bootstrap_refuses_a_truncated_payload():
    argv = program.bootstrap_argv(python=PYTHON)
    res = subprocess.run(argv, input=program.bootstrap_payload()[:-10], check=False, capture_output=True, timeout=30)
    assert res.returncode == 1 and res.stdout == b""
    assert b"the program sent over the session is incomplete" in res.stderr
