"""`lbconsole record` as a service manager runs it: SIGTERM stops it cleanly; a SIGHUP ignored by nohup stays
ignored. A real recorder process polls a real node (host = "local", the agent in-process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lbconsole.source import recording
from support import free_port
from support.inventory import cluster_table, defaults_table, node_table, write_inventory


def start_recorder(tmp_path: Path, ignore_hup: bool = False) -> tuple[subprocess.Popen[str], Path]:
    inv = write_inventory(tmp_path / "inventory.toml", defaults_table(poll_interval=0.2), cluster_table(
        "c", node_table("here", "local", "nginx", nginx_status_url=f"http://127.0.0.1:{free_port()}/nginx_status")))
    out = tmp_path / "rec.jsonl"

    def no_hup() -> None:  # as nohup starts it
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    proc = subprocess.Popen([sys.executable, "-m", "lbconsole", "record", "--inventory", inv, str(out)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, TERM="dumb"), preexec_fn=no_hup if ignore_hup else None)
    return proc, out


def wait_lines(out: Path, proc: subprocess.Popen[str], n: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.read_text().count("\n") >= n:
            return
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"no {n} snapshots recorded: {proc.communicate(timeout=10)}")


def test_sigterm_stops_a_recording_cleanly(tmp_path):
    proc, out = start_recorder(tmp_path)
    wait_lines(out, proc, 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    text = out.read_text()
    assert text.endswith("\n")
    snaps = recording.read_all(out)
    assert len(snaps) == text.count("\n") >= 2
    assert f"{len(snaps)} snapshots written to {out}" in err


def test_a_sighup_ignored_at_start_stays_ignored(tmp_path):
    proc, out = start_recorder(tmp_path, ignore_hup=True)
    try:
        wait_lines(out, proc, 1)
        proc.send_signal(signal.SIGHUP)
        had = out.read_text().count("\n")
        wait_lines(out, proc, had + 3)  # still recording
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped by SIGTERM" in err, err
