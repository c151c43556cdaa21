"""The upstream modules run inside lbconsole-node: Python 3.6+, the standard library and lbconsole.node only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

NODE = Path(__file__).resolve().parents[2] / "lbconsole" / "node"
MODULES = ["nginx_conf.py", "nginx_directive.py", "nginx_simple.py", "nginx_reload.py", "upstream_conf.py",
           "upstream_edit.py", "upstream_log.py", "upstream_probe.py", "upstream_snapshot.py"]


def test_vermin_finds_nothing_above_python_3_6():
    vermin = Path(sys.executable).with_name("vermin")
    res = subprocess.run([str(vermin), "-t=3.6-", "--no-tips", "--violations", *(str(NODE / m) for m in MODULES)],
                         check=False, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


def test_imports_are_stdlib_or_lbconsole_node_and_no_shell():
    for name in MODULES:
        text = (NODE / name).read_text()
        assert "from __future__ import annotations" not in text and "dataclass" not in text, name
        assert "shell=True" not in text and "os.system" not in text and "os.popen" not in text, name
        for node in ast.walk(ast.parse(text, name)):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""] if not node.level else []
            else:
                continue
            for mod in mods:
                assert mod.split(".")[0] in sys.stdlib_module_names or mod.startswith("lbconsole.node"), \
                    f"{name} imports {mod}"
