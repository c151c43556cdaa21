"""Recordings: round trip, tolerance for what recorders leave behind, clear errors for garbage."""

from __future__ import annotations

import pytest

from lbconsole.errors import UsageError
from lbconsole.source import recording
from lbconsole.source.recording import RecordingError, Writer
from ui import synth


def test_round_trip_is_exact(tmp_path):
    snaps = synth.sequence()
    path = tmp_path / "r.jsonl"
    with Writer(path) as w:
        for s in snaps:
            w.write(s)
    assert w.count == len(snaps)
    assert recording.read_all(path) == snaps
    assert len(path.read_text().splitlines()) == len(snaps)  # one snapshot per line


def test_blank_lines_comments_and_a_cut_last_line_are_tolerated(tmp_path):
    snaps = synth.sequence()[:2]
    text = "# recorded on the lab\n\n" + "".join(recording.dumps(s) + "\n" for s in snaps)
    cut = recording.dumps(snaps[0])[:40]  # the recorder was killed mid-write: no newline
    path = tmp_path / "r.jsonl"
    path.write_text(text + cut)
    assert recording.read_all(path) == snaps


@pytest.mark.parametrize("garbage, why", [
    ("not json at all\n", "not JSON"),
    ('{"taken_at": 1}\n', "not a snapshot"),
    ('[1, 2, 3]\n', "not a snapshot"),
    ('{"taken_at": 1, "clusters": [{"nodes": []}]}\n', "not a snapshot"),
])
def test_garbage_names_file_and_line(tmp_path, garbage, why):
    good = recording.dumps(synth.lab()) + "\n"
    path = tmp_path / "bad.jsonl"
    path.write_text(good + "\n" + garbage + good)
    with pytest.raises(RecordingError) as err:
        recording.read_all(path)
    assert f"{path}:3" in str(err.value)
    assert why in str(err.value)
    assert isinstance(err.value, UsageError)  # exit 2, like any bad input file


def test_a_cut_line_in_the_middle_is_garbage(tmp_path):
    good = recording.dumps(synth.lab())
    path = tmp_path / "bad.jsonl"
    path.write_text(good[:30] + "\n" + good + "\n")
    with pytest.raises(RecordingError, match=":1:"):
        recording.read_all(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(RecordingError, match="No such file"):
        recording.check(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(RecordingError, match="no snapshots"):
        recording.check(empty)


def test_binary_file_is_reported(tmp_path):
    path = tmp_path / "bin.jsonl"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(RecordingError, match="not a text file"):
        recording.read_all(path)
