"""The wire protocol, against the real program: framing, errors, ids, hostile requests."""

from __future__ import annotations

import json
import threading

from node.nodeenv import start_installed

HOSTILE = ("it's \"quoted\" $(touch /tmp/pwned) `id` ;rm -rf / \n{\"id\": 1, \"ok\": true}\n@@LBC vrrp\r\n"
           "\x00 nul \x1b[2J\x1b]0;title\x07 \u202e " + "x" * 65536)


def test_bad_lines_get_an_error_and_the_agent_goes_on(program_file, sessions):
    s = start_installed(None, program_file)
    sessions.append(s)
    s.send_raw(b"not json\n[1, 2]\n{\"verb\": 3}\n\xff\xfe\n\n")
    errors = [s.lines.get(timeout=10) for _ in range(4)]
    assert [e["error"]["code"] for e in errors] == ["bad_request"] * 4
    assert all(e["id"] is None and e["ok"] is False for e in errors[:2] + errors[3:])
    assert s.request("hello")["ok"]


def test_unknown_verb_and_bad_args(program_file, sessions):
    s = start_installed(None, program_file)
    sessions.append(s)
    r = s.request("format_disk")
    assert r["error"]["code"] == "unknown_verb" and "hello" in r["error"]["message"]
    s.send_raw(b'{"id": 5, "verb": "snapshot", "args": [1]}\n')
    assert s.response(5)["error"]["code"] == "bad_request"
    r = s.request("snapshot", {"roles": "director"})
    assert r["error"] == {"code": "bad_request", "message": "roles must be a list of strings"}


def test_string_ids_echo_and_concurrent_requests_each_answered_once(program_file, sessions):
    s = start_installed(None, program_file)
    sessions.append(s)
    s.send_raw(b"".join(json.dumps({"id": f"r{i}", "verb": "hello"}).encode() + b"\n" for i in range(40)))
    got = [s.lines.get(timeout=20) for _ in range(40)]
    assert sorted(m["id"] for m in got) == sorted(f"r{i}" for i in range(40))
    assert all(m["ok"] for m in got)


def test_hostile_text_in_a_request_stays_a_string(program_file, sessions):
    s = start_installed(None, program_file)
    sessions.append(s)
    r = s.request("unknown_" + HOSTILE)
    assert r["error"]["code"] == "unknown_verb"
    r = s.request("snapshot", {"roles": [], "nginx_status_url": HOSTILE})
    assert r["ok"] and "nginx" not in r["result"]["errors"]  # not an nginx node: the URL is not used
    r = s.request("snapshot", {"roles": ["nginx"], "nginx_status_url": HOSTILE})
    assert "must be an http:// or https:// URL" in r["result"]["errors"]["nginx"]
    for line in s.raw:  # every line the agent wrote is one protocol message, ASCII only
        assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
        assert isinstance(json.loads(line), dict)


def test_file_urls_are_never_read(program_file, sessions):
    s = start_installed(None, program_file)
    sessions.append(s)
    r = s.request("snapshot", {"roles": ["nginx"], "nginx_status_url": "file:///etc/shadow"})
    assert "must be an http:// or https:// URL" in r["result"]["errors"]["nginx"]
    assert "root:" not in json.dumps(r)


def test_output_lines_are_never_interleaved(program_file, sessions):
    s = start_installed(None, program_file)
    sessions.append(s)
    done = threading.Event()

    def spam():
        for i in range(30):
            s.send_raw(json.dumps({"id": 1000 + i, "verb": "snapshot", "args": {"roles": ["director"]}}).encode()
                       + b"\n")
        done.set()

    threading.Thread(target=spam).start()
    got = [s.lines.get(timeout=60) for _ in range(30)]
    done.wait(10)
    assert sorted(m["id"] for m in got) == list(range(1000, 1030))


def test_eof_ends_the_agent(program_file, sessions):
    s = start_installed(None, program_file)
    sessions.append(s)
    assert s.request("hello")["ok"]
    assert s.close() == 0


def test_an_answer_that_cannot_be_encoded_is_an_internal_error():
    import io

    from lbconsole.node.server import Writer

    buf = io.BytesIO()
    w = Writer(buf)
    w.send({"id": 3, "ok": True, "result": {"load": float("nan")}})
    msg = json.loads(buf.getvalue())
    assert msg["id"] == 3 and msg["error"]["code"] == "internal"
    assert "could not be encoded" in msg["error"]["message"]


def test_in_process_agent_answers_concurrent_callers():
    from concurrent.futures import ThreadPoolExecutor

    from lbconsole.node.agent import Agent

    agent = Agent(read_only=True)
    try:
        with ThreadPoolExecutor(8) as pool:
            got = list(pool.map(lambda i: agent.handle({"id": i, "verb": "snapshot", "args": {"roles": ["director"]}}),
                                range(40)))
        assert [r["id"] for r in got] == list(range(40)) and all(r["ok"] for r in got)
        assert all(r["result"]["host_stats"]["cpus"] >= 1 for r in got)
        refused = agent.handle({"id": 1, "verb": "reload", "args": {"op_id": "x", "by": "me"}})
        assert refused["error"]["code"] == "read_only"
    finally:
        agent.close()


def test_a_result_encoded_ahead_gives_the_same_line_as_encoding_it_now() -> None:
    """A prepared sample's answer is put together around its JSON text: same object, one ASCII line."""
    import json

    from lbconsole.node.protocol import Encoded, encode, ok, to_json
    result = {"ipvs": [{"reason": 'quote " nl \n esc \x1b[31m NUL \x00 snow ☃'}], "sampled_at": 1.5}
    ahead = Encoded(result)
    ahead.text = to_json(result)
    line = encode(ok(7, ahead))
    assert line.endswith(b"\n") and line.count(b"\n") == 1 and line.isascii()
    assert json.loads(line) == json.loads(encode(ok(7, dict(result)))) == {"id": 7, "ok": True, "result": result}
    assert json.loads(encode(ok("x", Encoded(result)))) == {"id": "x", "ok": True, "result": result}  # no text
