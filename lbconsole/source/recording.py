"""Recordings: snapshots as JSON lines, one `Snapshot.to_dict()` per line.

The reader is tolerant of what a recording naturally contains (blank lines,
`#` comments, a last line cut short because the recorder was killed) and
reports anything else as an error naming the file and the line.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from lbconsole.errors import UsageError
from lbconsole.snapshot import Snapshot


class RecordingError(UsageError):
    """A recording that cannot be read; the message names file and line."""

    def __init__(self, where: str, line: int | None, message: str):
        super().__init__(f"recording {where}{f':{line}' if line else ''}: {message}")
        self.where = where
        self.line = line


def dumps(snapshot: Snapshot) -> str:
    return json.dumps(snapshot.to_dict(), separators=(",", ":"), allow_nan=False)


class Writer:
    """Appends snapshots to a file, flushing each line so a killed recorder loses at most one.

    Appending after a recorder that was killed mid-line first cuts that torn line off (`dropped`: its
    bytes): written after it, the next snapshot would join it into one unreadable line."""

    def __init__(self, path: str | os.PathLike[str], append: bool = False):
        self.path = Path(path)
        self.dropped = _cut_torn_tail(self.path) if append else 0
        self._file: IO[str] = open(self.path, "a" if append else "w", encoding="utf-8")
        self.count = 0

    def write(self, snapshot: Snapshot) -> None:
        self._file.write(dumps(snapshot) + "\n")
        self._file.flush()
        self.count += 1

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


TAIL_CHUNK = 1 << 16


def _cut_torn_tail(path: Path) -> int:
    """Truncate a file that does not end with a newline back to its last one; returns the bytes cut."""
    try:
        handle = open(path, "rb+")
    except FileNotFoundError:
        return 0
    with handle:
        size = end = handle.seek(0, os.SEEK_END)
        while end > 0:
            start = max(0, end - TAIL_CHUNK)
            handle.seek(start)
            chunk = handle.read(end - start)
            if end == size and chunk.endswith(b"\n"):
                return 0
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        else:
            keep = 0
        handle.truncate(keep)
        return size - keep


def parse_lines(lines: Iterable[str], where: str = "<lines>") -> Iterator[Snapshot]:
    """Yield the snapshots in `lines`; raise RecordingError for garbage."""
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            yield _parse(text)
        except ValueError as exc:
            if not raw.endswith("\n") and isinstance(exc, _Truncated):
                return  # only a last line lacks a newline: the recorder died mid-write
            raise RecordingError(where, number, exc.args[0]) from None


class _Truncated(ValueError):
    """Not JSON: on a last line without a newline, that is a recorder killed mid-write."""


def _parse(text: str) -> Snapshot:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Truncated(f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict) or "taken_at" not in data or "clusters" not in data:
        raise ValueError("not a snapshot (a JSON object with taken_at and clusters)")
    try:
        return Snapshot.from_dict(data)
    except (TypeError, AttributeError, KeyError) as exc:
        raise ValueError(f"not a snapshot: {exc}") from None


def read(path: str | os.PathLike[str]) -> Iterator[Snapshot]:
    """Yield the snapshots of a recording file, lazily."""
    p = Path(path)
    try:
        handle = open(p, encoding="utf-8")
    except OSError as exc:
        raise RecordingError(str(p), None, exc.strerror or str(exc)) from None
    with handle:
        try:
            yield from parse_lines(handle, str(p))
        except UnicodeDecodeError:
            raise RecordingError(str(p), None, "not a text file") from None


def read_all(path: str | os.PathLike[str]) -> list[Snapshot]:
    return list(read(path))


def check(path: str | os.PathLike[str]) -> Snapshot:
    """The first snapshot, so a command can fail fast with a clear message."""
    for snapshot in read(path):
        return snapshot
    raise RecordingError(str(path), None, "no snapshots in it")
