"""The fast path (simple files line by line, flat blocks such as upstreams split at ";") reads every
config exactly as the full lexer does: the same tree, the same upstreams, or both refuse it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lbconsole.node import nginx_conf, upstream_conf
from lbconsole.node.nginx_conf import ConfError, Config

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nginx_upstreams"
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))


def resolver(host: str, port: int) -> list[str]:
    if host.startswith("gone"):
        raise OSError("not known")
    return ["10.9.9.9", "10.9.9.8"]


def shape(config: Config) -> list:
    return [(d.name, d.args, d.file, d.line, len(p)) for d, p in nginx_conf.walk(config.tree)]


def both(dump: str):
    """(tree, upstreams) by the fast path and by the full lexer; None where it is refused. The fast
    path twice: each file checked for quotes and spaces, and the whole dump checked once."""
    out = []
    for make in (Config.from_dump, lambda d: Config(nginx_conf.split_dump(d)),
                 lambda d: Config(nginx_conf.split_dump(d), fast=False)):
        try:
            config = make(dump)
            out.append((shape(config), upstream_conf.read(config, resolver), config.warnings))
        except ConfError:
            out.append(None)
    assert out[0] == out[1]
    return out[1:]


def bench_dump(tmp_path: Path) -> str:
    from bench_upstreams import make_config  # the benchmark's config, as nginx -T prints it
    conf = make_config(tmp_path, 20, 5)
    files = [conf, *sorted((tmp_path / "conf.d").iterdir())]
    return "".join(f"# configuration file {f}:\n{f.read_text()}\n" for f in files)


@pytest.mark.parametrize("name", ["hard.T.txt", "lab_web1.T.txt", "lab_web1_drained.T.txt"])
def test_every_fixture_reads_the_same_both_ways(name):
    fast, full = both((FIX / name).read_text())
    assert fast is not None and fast == full


def test_the_benchmark_config_takes_the_flat_path_and_reads_the_same(tmp_path):
    dump = bench_dump(tmp_path)
    fast, full = both(dump)
    assert fast is not None and fast == full
    ups = [d for d, _ in nginx_conf.walk(Config.from_dump(dump).tree) if d.name == "upstream"]
    assert len(ups) == 20 and all(d.flat is not None for d in ups)
    assert [d.line for d in ups[0].block] == list(range(2, 8))


@pytest.mark.parametrize("body", [
    "server a#b:80;\n",  # "#" inside a word
    "server a:80; # c } d\n",  # "}" in a comment: the block does not end there
    "server a:80;\n  include /x/more.conf;\n",
    "server a:80;;\n",  # nginx: unexpected ";"
    "server\n  a:80\n  down;\n",  # one directive over three lines
    "server a:80;\x0bserver b:80;\n",  # \v is no space to nginx
    "server a:80;\u00a0\n",
    "server a:80;\r\nserver b:80 weight=2;\r\n",
    "\n\n# only comments\n##x\n",
    "server a:80; server b:80 backup;   # two on a line\n",
])
def test_hand_picked_flat_block_edges(body):
    dump = ("# configuration file /x/nginx.conf:\nhttp {\n  upstream u {\n" + body + "  }\n"
            "  server { listen 80; location / { proxy_pass http://u; } }\n}\n"
            "# configuration file /x/more.conf:\nserver c:80;\n")
    fast, full = both(dump)
    assert fast == full


SPACE = st.sampled_from([" ", " ", "  ", "\t", " \t", "\r", "\x0b", "\u00a0"])
PLAIN = st.sampled_from(["server", "server", "keepalive", "16", "10.0.0.1:8080", "[::1]:81", "gone.example:80",
                     "unix:/run/a.sock", "max_fails=2", "fail_timeout=10s", "fail_timeout=x", "weight=3",
                     "backup", "down", "resolve", "max_conns=5", "a#b", "a}", "$x", "include"])
WORD = st.one_of(*[PLAIN] * 15, st.text(alphabet="ab1:.=#}{;$\"'\\", min_size=1, max_size=3))
COMMENT = st.sampled_from(["", "", " # app", "#x", " ## y }", "\t# {"])


@st.composite
def line(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(COMMENT).lstrip()
    words = draw(st.lists(WORD, min_size=1, max_size=5))
    text = draw(SPACE).join(words)
    end = draw(st.sampled_from([";"] * 12 + ["", " ;", "; ;"]))
    return draw(st.sampled_from(["", "    ", "\t"])) + text + end + draw(COMMENT)


@st.composite
def dump(draw) -> str:
    ups = []
    for n in range(draw(st.integers(1, 3))):
        body = "\n".join(draw(st.lists(line(), max_size=8)))
        close = draw(st.sampled_from(["}", "  }", "} # end", "\t}#", "}"] * 3 + ["}}", "x }"]))
        ups.append(f"upstream u{n} {{{draw(COMMENT)}\n{body}\n{close}\n")
    context = draw(st.sampled_from(["http", "stream"]))  # stream: no default port
    text = f"{context} {{\n" + "".join(ups) + "server { listen 80; location / { proxy_pass http://u0; } }\n}\n"
    return f"# configuration file /x/nginx.conf:\n{text}\n# configuration file /x/more.conf:\nserver c:80;\n"


@settings(max_examples=300, deadline=None)
@given(dump())
def test_generated_configs_read_the_same_both_ways(text):
    fast, full = both(text)
    assert fast == full
