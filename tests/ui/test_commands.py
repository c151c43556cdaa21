"""`lbconsole record` and `lbconsole replay`: arguments, files, exit codes."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from lbconsole import cli
from lbconsole.commands import record as record_cmd
from lbconsole.source import recording
from lbconsole.source.replay import ReplaySource
from ui import synth
from ui.helpers import lines_of


async def test_record_writes_count_snapshots_and_closes_the_source(tmp_path):
    snaps = synth.sequence()
    source = ReplaySource(lines_of(snaps), speed=1000)
    closed = []
    source.close = lambda: asyncio.sleep(0, closed.append(True))
    out = tmp_path / "rec.jsonl"
    written = await record_cmd.record(source, str(out), count=3)
    assert written == 3 and closed == [True]
    assert recording.read_all(out) == snaps[:3]


async def test_record_stops_at_the_duration(tmp_path):
    snaps = synth.sequence()
    source = ReplaySource(lines_of(snaps), speed=1)  # one snapshot a second
    out = tmp_path / "rec.jsonl"
    written = await record_cmd.record(source, str(out), duration=1.5)
    assert 1 <= written <= 3
    assert recording.read_all(out) == snaps[:written]


def test_record_and_replay_are_subcommands_with_inventory_after_them():
    parser = cli.build_parser()
    args = parser.parse_args(["record", "--inventory", "inv.toml", "out.jsonl", "--count", "5"])
    assert (args.file, args.count, args.inventory) == ("out.jsonl", 5, "inv.toml")
    args = parser.parse_args(["replay", "r.jsonl", "--speed", "4", "--noc"])
    assert (args.file, args.speed, args.noc) == ("r.jsonl", 4.0, True)


@pytest.fixture(autouse=True)
def no_terminal(monkeypatch):
    """No test here may open the real console on the test runner's terminal."""
    from lbconsole.ui import run

    def refuse(*args, **kwargs):
        raise AssertionError("the console would have opened")

    monkeypatch.setattr(run, "run_app", refuse)


def test_replay_of_garbage_names_file_and_line_and_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(recording.dumps(synth.lab()) + "\n{oops\n")
    assert cli.main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err


def test_replay_speed_must_be_positive(tmp_path, capsys):
    good = tmp_path / "r.jsonl"
    good.write_text(recording.dumps(synth.lab()) + "\n")
    assert cli.main(["replay", str(good), "--speed", "0"]) == 2


@pytest.mark.parametrize("argv", [["record", "out.jsonl", "--count", "0"], ["record", "out.jsonl", "--duration", "-1"]])
def test_record_rejects_bad_limits(argv, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == 2


def test_replay_opens_the_console_read_only(tmp_path, monkeypatch):
    from lbconsole.ui import run

    good = tmp_path / "r.jsonl"
    good.write_text(recording.dumps(synth.lab()) + "\n")
    seen = {}

    def fake_run_app(source, **kwargs):
        seen.update(kwargs, source=source)
        return 0

    monkeypatch.setattr(run, "run_app", fake_run_app)
    assert cli.main(["replay", str(good), "--speed", "2"]) == 0
    assert seen["read_only"] is True and seen["source"].replay and seen["source"].speed == 2


def test_demo_and_noc_flags_reach_the_console(monkeypatch):
    from lbconsole.ui import run

    seen = {}
    monkeypatch.setattr(run, "run_app", lambda source, **kw: seen.update(kw, source=source) or 0)
    assert cli.main(["--demo", "--noc"]) == 0
    assert seen["noc"] and seen["read_only"] and seen["source"].replay and seen["source"].loop


def test_appending_after_a_killed_recorder_cuts_its_torn_line_and_keeps_every_whole_one(tmp_path):
    snaps = synth.sequence()
    out = tmp_path / "rec.jsonl"
    torn = recording.dumps(snaps[1])[:-7]  # the recorder died mid-line: no newline, not JSON
    out.write_text(recording.dumps(snaps[0]) + "\n" + torn)
    with recording.Writer(out, append=True) as writer:
        writer.write(snaps[2])
    assert writer.dropped == len(torn.encode())
    assert recording.read_all(out) == [snaps[0], snaps[2]]


def test_a_torn_line_longer_than_the_tail_read_is_cut_whole(tmp_path):
    snaps = synth.sequence()
    out = tmp_path / "rec.jsonl"
    torn = '{"taken_at": 1, "x": "' + "y" * (3 * recording.TAIL_CHUNK)
    out.write_text(recording.dumps(snaps[0]) + "\n" + torn)
    with recording.Writer(out, append=True) as writer:
        writer.write(snaps[1])
    assert recording.read_all(out) == snaps[:2]
    only_torn = tmp_path / "torn.jsonl"
    only_torn.write_text(torn)
    with recording.Writer(only_torn, append=True) as writer:
        writer.write(snaps[0])
    assert writer.dropped == len(torn) and recording.read_all(only_torn) == snaps[:1]


def test_appending_to_a_whole_recording_keeps_every_byte(tmp_path):
    snaps = synth.sequence()
    out = tmp_path / "rec.jsonl"
    before = recording.dumps(snaps[0]) + "\n"
    out.write_text(before)
    with recording.Writer(out, append=True) as writer:
        writer.write(snaps[1])
    assert writer.dropped == 0 and out.read_text().startswith(before)
    assert recording.read_all(out) == snaps[:2]


async def test_sigterm_stops_a_recording_between_two_snapshots(tmp_path):
    snaps = synth.sequence()
    source = ReplaySource(lines_of(snaps), speed=1)  # one snapshot a second
    out = tmp_path / "rec.jsonl"
    report: dict[str, object] = {}
    asyncio.get_running_loop().call_later(1.5, os.kill, os.getpid(), signal.SIGTERM)
    written = await record_cmd.record(source, str(out), duration=30, report=report)
    assert report["signal"] == "SIGTERM" and 1 <= written < len(snaps)
    assert out.read_text().endswith("\n") and recording.read_all(out) == snaps[:written]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is gone with the recording
