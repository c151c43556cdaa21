"""stub_status parser, on pages from a real nginx 1.22.1 (tests/fixtures/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lbconsole.collectors.errors import ParseError
from lbconsole.collectors.nginx_parse import parse_stub_status
from lbconsole.snapshot import NginxStatus

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def test_real_idle_page_with_trailing_spaces():
    text = (FIX / "nginx1221_stub_status.txt").read_text()
    assert "1 \n" in text  # the real page's trailing spaces
    assert parse_stub_status(text) == NginxStatus(active=1, accepts=6, handled=6, requests=6,
                                                  reading=0, writing=1, waiting=0)


def test_real_busy_page():
    s = parse_stub_status((FIX / "nginx1221_stub_status_busy.txt").read_text())
    # Active includes Waiting; our own status request is the Writing 1.
    assert (s.active, s.reading, s.writing, s.waiting) == (5, 1, 1, 3)
    assert s.active == s.reading + s.writing + s.waiting
    assert (s.accepts, s.handled, s.requests) == (11, 11, 11)


def test_crlf_and_missing_final_newline():
    text = "Active connections: 2\r\nserver accepts handled requests\r\n 10 9 30\r\nReading: 0 Writing: 1 Waiting: 1"
    assert parse_stub_status(text).handled == 9


@pytest.mark.parametrize("text", [
    "", "<html><head><title>404 Not Found</title></head></html>",
    "Active connections: 1 \nserver accepts handled requests\n 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n",
    "Active connections: x \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n",
    "Active connections: 1 \nserver accepts handled requests\n 6 6 6 \n",  # cut off
    "Active connections: 1 \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \nmore\n",
    "Active connections: ١ \nserver accepts handled requests\n 6 6 6 \nReading: 0 Writing: 1 Waiting: 0 \n",
])
def test_garbage(text):
    with pytest.raises(ParseError, match="stub_status"):
        parse_stub_status(text)


def test_error_quotes_little():
    with pytest.raises(ParseError) as e:
        parse_stub_status("<html>" + "x" * 10000)
    assert len(str(e.value)) < 120


def test_lab_web1():
    path = FIX / "web1_nginx_status.txt"
    s = parse_stub_status(path.read_text())
    assert s.accepts == s.handled and s.requests >= s.accepts and s.writing >= 1
