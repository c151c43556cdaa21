"""The error-log follower on files we write: offsets, partial lines, rotation, truncation, saved state,
and the failure lines (shapes as nginx 1.22 writes them; the integration test makes nginx write them)."""

from __future__ import annotations

import os

from lbconsole.node import upstream_log
from lbconsole.node.upstream_log import ErrorLogs, LogFollower

T = "2026/11/30 04:40:01"
REFUSED = (f'{T} [error] 81#81: *5 connect() failed (111: Connection refused) while connecting to upstream, '
           'client: 127.0.0.1, server: , request: "GET /dead HTTP/1.0", upstream: "http://127.0.0.1:18081/dead", '
           'host: "t"')
DISABLED = (f'{T} [warn] 81#81: *5 upstream server temporarily disabled while connecting to upstream, '
            'client: 127.0.0.1, server: , request: "GET /dead HTTP/1.0", upstream: "http://127.0.0.1:18081/dead", '
            'host: "t"')
TIMEOUT = (f'{T} [error] 81#81: *9 upstream timed out (110: Connection timed out) while reading response header '
           'from upstream, client: 127.0.0.1, server: , request: "GET /slow HTTP/1.0", '
           'upstream: "http://[::1]:18082/slow", host: "t"')
NO_LIVE = (f'{T} [error] 81#81: *7 no live upstreams while connecting to upstream, client: 127.0.0.1, server: , '
           'request: "GET /dead HTTP/1.0", upstream: "http://dead/dead", host: "t"')
UNIX = (f'{T} [error] 81#81: *3 connect() to unix:/run/a:b.sock failed (2: No such file or directory) while '
        'connecting to upstream, client: 127.0.0.1, server: , request: "GET / HTTP/1.0", '
        'upstream: "http://unix:/run/a:b.sock:/", host: "t"')


def write(path, text: str, mode: str = "a") -> None:
    with open(path, mode) as f:
        f.write(text)


def test_failure_kinds_and_peers():
    assert upstream_log.classify(REFUSED) == ("connect", ["http://127.0.0.1:18081/dead"])
    assert upstream_log.classify(DISABLED)[0] == "disabled"
    assert upstream_log.classify(TIMEOUT)[0] == "timeout"
    assert upstream_log.classify(NO_LIVE) == ("no_live", ["http://dead/dead"])
    assert upstream_log.classify(f"{T} [notice] 80#80: signal process started") is None
    peers = ["127.0.0.1:18081", "[::1]:18082", "unix:/run/a:b.sock"]
    got = upstream_log.count([REFUSED, DISABLED, TIMEOUT, NO_LIVE, UNIX], peers)
    assert got == {"servers": {"127.0.0.1:18081": {"connect": 1, "disabled": 1}, "[::1]:18082": {"timeout": 1},
                               "unix:/run/a:b.sock": {"connect": 1}},
                   "upstreams": {"dead": 1}, "unattributed": 0}


def test_a_client_cannot_forge_or_redirect_a_failure():
    # the kind must be nginx's own words, before ", client: "
    forged = (f'{T} [error] 81#81: *5 open() "/x" failed, client: 1.2.3.4, request: "GET /connect() failed (1: x) '
              'while connecting to upstream HTTP/1.0", upstream: "http://127.0.0.1:18081/"')
    assert upstream_log.classify(forged) is None
    # a real failure whose request imitates the upstream field of another peer is charged to neither
    two = REFUSED.replace('request: "GET /dead HTTP/1.0"',
                          'request: "GET /x", upstream: "http://10.0.0.9:80/ HTTP/1.0"')
    got = upstream_log.count([two], ["127.0.0.1:18081", "10.0.0.9:80"])
    assert got["servers"] == {} and got["unattributed"] == 1
    # an imitation naming no configured peer does not matter
    assert upstream_log.count([two], ["127.0.0.1:18081"])["servers"] == {"127.0.0.1:18081": {"connect": 1}}


def test_first_poll_starts_at_the_end_then_only_what_was_appended(tmp_path):
    log = tmp_path / "error.log"
    write(log, "old line\n" * 1000)
    f = LogFollower(str(log))
    assert f.poll() == []
    write(log, REFUSED + "\n")
    assert f.poll() == [REFUSED]
    assert f.poll() == []
    assert f.offset == log.stat().st_size


def test_a_partial_last_line_waits_for_its_end(tmp_path):
    log = tmp_path / "error.log"
    write(log, "")
    f = LogFollower(str(log))
    f.poll()
    write(log, REFUSED[:40])
    assert f.poll() == []
    write(log, REFUSED[40:] + "\n" + NO_LIVE[:10])
    assert f.poll() == [REFUSED]
    write(log, NO_LIVE[10:] + "\n")
    assert f.poll() == [NO_LIVE]


def test_rotation_rename_then_reopen_loses_and_doubles_nothing(tmp_path):
    log = tmp_path / "error.log"
    write(log, "")
    f = LogFollower(str(log))
    f.poll()
    write(log, "a\n")
    os.rename(log, tmp_path / "error.log.1")  # logrotate
    write(tmp_path / "error.log.1", "b\n")  # nginx still writes the old file until USR1
    assert f.poll() == ["a", "b"]
    write(tmp_path / "error.log.1", "c\n")
    write(log, "d\n", "w")  # nginx reopened: a new file
    assert f.poll() == ["c", "d"]
    write(tmp_path / "error.log.1", "late\n")  # the old file is read once more after the switch
    write(log, "e\n")
    assert f.poll() == ["late", "e"]
    write(tmp_path / "error.log.1", "later\n")  # then let go
    write(log, "f\n")
    assert f.poll() == ["f"]


def test_rotation_while_the_new_file_is_not_there_yet(tmp_path):
    log = tmp_path / "error.log"
    write(log, "")
    f = LogFollower(str(log))
    f.poll()
    os.rename(log, tmp_path / "old")
    write(tmp_path / "old", "x\n")
    assert f.poll() == ["x"]
    write(log, "y\n", "w")
    assert f.poll() == ["y"]


def test_truncation_in_place(tmp_path):
    log = tmp_path / "error.log"
    write(log, "a\n" * 100)
    f = LogFollower(str(log))
    f.poll()
    os.truncate(log, 0)  # copytruncate
    write(log, "new\n")
    assert f.poll() == ["new"]
    os.truncate(log, 0)  # and refilled past the old offset before the next poll
    write(log, "b\n" * 10)
    assert f.poll() == ["b"] * 10


def test_saved_state_resumes_and_a_rotated_file_is_read_from_its_start(tmp_path):
    log, state_file = tmp_path / "error.log", str(tmp_path / "state.json")
    write(log, "old\n")
    logs = ErrorLogs([str(log)])
    logs.poll()
    logs.save(state_file)
    logs.close()
    write(log, REFUSED + "\n")
    again = ErrorLogs.load([str(log)], state_file)  # an agent restart: nothing lost, nothing twice
    assert again.poll(["127.0.0.1:18081"])["servers"] == {"127.0.0.1:18081": {"connect": 1}}
    again.save(state_file)
    again.close()
    os.rename(log, tmp_path / "error.log.1")
    write(log, NO_LIVE + "\n", "w")
    third = ErrorLogs.load([str(log)], state_file)
    assert third.poll()["upstreams"] == {"dead": 1}
    assert ErrorLogs.load([str(log)], str(tmp_path / "missing.json")).poll()["lines"] == 0


def test_a_missing_log_is_an_error_not_a_crash(tmp_path):
    logs = ErrorLogs([str(tmp_path / "nope.log")])
    got = logs.poll()
    assert got["lines"] == 0 and "nope.log" in got["errors"][0]


def test_a_flood_is_read_over_several_polls(tmp_path):
    log = tmp_path / "error.log"
    write(log, "")
    f = LogFollower(str(log), max_read=1000)
    f.poll()
    write(log, "x" * 99 + "\n" * 1)
    write(log, ("y" * 99 + "\n") * 30)
    first = f.poll()
    assert len(first) == 10 and f.poll()[0] == "y" * 99
    write(log, "z" * 5000 + "\n")  # a line longer than one read is still consumed
    seen = [ln for _ in range(12) for ln in f.poll()]
    assert "".join(ln for ln in seen if ln.startswith("z")) == "z" * 5000


def test_a_saved_state_without_its_tail_is_trusted_and_a_refilled_file_is_read_anew(tmp_path):
    log = tmp_path / "error.log"
    write(log, "old\n" * 1000)
    st = log.stat()
    write(log, "new\n")
    bare = LogFollower(str(log), {"dev": st.st_dev, "ino": st.st_ino, "offset": st.st_size})  # no "tail"
    assert bare.poll() == ["new"]  # never a rescan of what came before
    state = bare.state()
    bare.close()
    os.truncate(log, 0)
    write(log, "x" * 5000 + "\n")  # truncated and refilled past the saved offset while the agent was away
    again = LogFollower(str(log), state)
    assert again.poll() == ["x" * 5000]
