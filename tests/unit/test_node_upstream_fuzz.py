"""Property tests: hostile config and log text never raises anything but the parsers' own errors, and
the fast lexer reads whatever it accepts exactly as the full one does."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from lbconsole.node import nginx_conf, upstream_conf, upstream_log
from lbconsole.node.nginx_conf import ConfError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nginx_upstreams"
ALPHABET = st.sampled_from(list(" \t\r\n;{}#\"'\\$:[]/=abcdeu0123456789server upstream down\x00\x1b\u00e9"))
CONF_TEXT = st.lists(ALPHABET, max_size=300).map("".join)
SEEDS = [t for _, t in nginx_conf.split_dump((FIX / "hard.T.txt").read_text())]


def shape(tree: list) -> list:
    return [(d.name, d.args, d.line, len(p)) for d, p in nginx_conf.walk(tree)]


@settings(max_examples=150, deadline=None)
@given(CONF_TEXT)
def test_lexers_raise_only_conf_errors_and_agree(text):
    try:
        full = shape(nginx_conf.parse(text, "f"))
    except ConfError:
        full = None
    try:
        fast = shape(nginx_conf.parse(text, "f", offsets=False))
    except ConfError:
        fast = None
    assert fast == full


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(SEEDS), st.integers(0, 5000), st.text(max_size=20))
def test_a_real_file_cut_or_spliced_anywhere(seed, at, insert):
    text = seed[:at % (len(seed) + 1)] + insert + seed[at % (len(seed) + 1):]
    try:
        tree = nginx_conf.parse(text, "f")
    except ConfError:
        return
    dump = (f"# configuration file /x/nginx.conf:\nhttp {{ include /x/a.conf; }}\n"
            f"# configuration file /x/a.conf:\n{text}\n")
    try:
        upstream_conf.read(nginx_conf.Config.from_dump(dump), lambda h, p: ["10.0.0.1"])
    except ConfError:
        pass
    assert isinstance(tree, list)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400), st.lists(st.text(max_size=30), max_size=3))
def test_log_lines_of_any_shape_are_counted_or_ignored(line, peers):
    head = "2026/11/30 04:40:01 [error] 81#81: *5 "
    for candidate in (line, head + line, head + "connect() failed (111: x) while connecting to upstream, " + line):
        got = upstream_log.count([candidate], peers)
        assert set(got) == {"servers", "upstreams", "unattributed"}


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40))
def test_addresses_and_times_raise_only_value_errors(text):
    for fn in (upstream_conf.split_address, upstream_conf.parse_seconds):
        try:
            fn(text)
        except ValueError:
            pass
