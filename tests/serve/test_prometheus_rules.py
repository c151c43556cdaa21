"""The README's example rules pass `promtool check rules` and their unit tests; /metrics passes its lint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lbconsole.serve.hub import Hub
from lbconsole.serve.metrics import exposition, registry_for
from lbconsole.source import recording
from lbconsole.ui.run import demo_recording

DOCS = Path(__file__).resolve().parents[2] / "docs" / "prometheus"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: apt-get install prometheus (see .ci/run)"
    return subprocess.run([tool, *args], cwd=DOCS, input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_example_rules_are_valid() -> None:
    out = promtool("check", "rules", "lbconsole-alerts.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 6 rules found" in out.stdout


def test_example_rules_fire_when_they_should() -> None:
    out = promtool("test", "rules", "lbconsole-alerts.test.yml")
    assert out.returncode == 0, out.stdout + out.stderr


def test_metrics_pass_promtool_lint() -> None:
    for snap in recording.read_all(demo_recording())[::25]:
        hub = Hub(2.0)
        hub.publish(snap)
        body, _ = exposition(registry_for(hub), "")
        out = promtool("check", "metrics", stdin=body.decode())
        assert out.returncode == 0, out.stdout + out.stderr
