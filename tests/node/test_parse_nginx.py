"""The node's stub_status reader (lbconsole/node/nginx.py) on pages from a real nginx 1.22.1 and the
lab's web1 (tests/fixtures/README.md); fetching it from a real nginx is in test_snapshot.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbconsole.node.nginx import NginxError, parse_stub_status

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_real_idle_page_with_trailing_spaces():
    text = (FIX / "nginx1221_stub_status.txt").read_text()
    assert "1 \n" in text  # the real page's trailing spaces
    assert parse_stub_status(text) == {"active": 1, "accepts": 6, "handled": 6, "requests": 6, "reading": 0,
                                       "writing": 1, "waiting": 0, "requests_per_s": 0.0, "conns_per_s": 0.0}


def test_real_busy_page():
    s = parse_stub_status((FIX / "nginx1221_stub_status_busy.txt").read_text())
    # Active includes Waiting; our own status request is the Writing 1.
    assert (s["active"], s["reading"], s["writing"], s["waiting"]) == (5, 1, 1, 3)
    assert s["active"] == s["reading"] + s["writing"] + s["waiting"]
    assert (s["accepts"], s["handled"], s["requests"]) == (11, 11, 11)


def test_crlf_and_missing_final_newline():
    text = "Active connections: 2\r\nserver accepts handled requests\r\n 10 9 30\r\nReading: 0 Writing: 1 Waiting: 1"
    assert parse_stub_status(text)["handled"] == 9


@pytest.mark.parametrize("text", [
    "", "<html><head><title>404 Not Found</title></head></html>",
    "Active connections: 1 \nserver accepts handled requests\n 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n",
    "Active connections: x \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n",
    "Active connections: 1 \nserver accepts handled requests\n 6 6 6 \n",  # cut off
    "Active connections: 1 \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \nmore\n",
    "Active connections: \u0661 \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n",
    # A forged second page after the real one (the body is one field, never two pages).
    "Active connections: 1 \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n"
    "Active connections: 9 \nserver accepts handled requests\n 9 9 9 \nReading: 0 Writing: 9 Waiting: 0 \n",
])
def test_garbage(text):
    with pytest.raises(NginxError, match="^not an nginx stub_status page: "):
        parse_stub_status(text)


def test_error_quotes_little():
    with pytest.raises(NginxError) as e:
        parse_stub_status("<html>" + "x" * 10000)
    assert len(str(e.value)) < 120


def test_lab_web1():
    s = parse_stub_status((FIX / "web1_nginx_status.txt").read_text())
    assert s["accepts"] == s["handled"] and s["requests"] >= s["accepts"] and s["writing"] >= 1
