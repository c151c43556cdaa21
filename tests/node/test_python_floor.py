"""lbconsole/node runs alone on a node: Python 3.6 or later, the standard library only, and
nothing from the rest of lbconsole."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

NODE = Path(__file__).resolve().parents[2] / "lbconsole" / "node"


def test_vermin_finds_nothing_above_python_3_6():
    vermin = Path(sys.executable).with_name("vermin")
    res = subprocess.run([str(vermin), "-t=3.6-", "--no-tips", "--violations", str(NODE)],
                         check=False, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Minimum required versions: 3.6" in res.stdout or "No known violations" in res.stdout, res.stdout


def test_imports_are_stdlib_or_this_package():
    stdlib = sys.stdlib_module_names
    for path in sorted(NODE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative: inside lbconsole.node
                    continue
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in stdlib or name.startswith("lbconsole.node"), f"{path.name}: imports {name}"
                assert not name.startswith("lbconsole.") or name.startswith("lbconsole.node"), path.name


def test_no_future_annotations_nor_dataclasses():
    for path in sorted(NODE.glob("*.py")):
        text = path.read_text()
        assert "from __future__ import annotations" not in text, path.name
        assert "dataclass" not in text, path.name
        assert "capture_output" not in text and "asyncio" not in text, path.name
