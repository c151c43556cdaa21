"""A wheel install must carry what lives outside the package in the checkout: themes/ and the demo."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_ships_themes_demo_and_stylesheets(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("lbconsole-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    themes = {p.name for p in (ROOT / "themes").glob("*.toml")}
    assert themes and {f"lbconsole/themes/{t}" for t in themes} <= names
    assert {"lbconsole/data/demo.jsonl", "lbconsole/ui/app.tcss"} <= names
    assert any(n.endswith("entry_points.txt") for n in names)
