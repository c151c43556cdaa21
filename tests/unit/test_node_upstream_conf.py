"""Upstreams from `nginx -T`: a real capture of hard cases, the same tree dumped live, and the lexer's edges."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from lbconsole.node import nginx_conf, nginx_simple, upstream_conf
from lbconsole.node.nginx_conf import ConfError, Config

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "nginx_upstreams"
CAPTURED_AT = "/tmp/lbc-upfix-hard"


def materialize(dest: Path) -> Path:
    shutil.copytree(FIX / "hard", dest)
    for f in dest.rglob("*"):
        if f.is_file():
            f.write_text(f.read_text().replace("@DIR@", str(dest)))
    return dest / "nginx.conf"


def fixed_resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        return table[host]
    return resolve


RESOLVE = fixed_resolver({"127.1": ["127.0.0.1"], "localhost": ["127.0.0.1"]})


def read_capture() -> dict:
    return upstream_conf.read(Config.from_dump((FIX / "hard.T.txt").read_text()), RESOLVE)


def by_name(result: dict) -> dict:
    return {u["name"]: u for u in result["upstreams"]}


def test_capture_upstreams_servers_and_parameters():
    ups = by_name(read_capture())
    assert list(ups) == ["api", "backend"]  # glob order of the include, as nginx read them
    backend = ups["backend"]
    assert backend["keepalive"] == 16 and ups["api"]["keepalive"] == 8
    rows = [(s["spec"], s["peers"], s["weight"], s["max_fails"], s["fail_timeout"], s["backup"], s["down"])
            for s in backend["servers"]]
    assert rows == [
        ("127.0.0.1:18081", ["127.0.0.1:18081"], 1, 2, 90, False, False),  # fail_timeout=1m30s
        ("127.1:18082", ["127.0.0.1:18082"], 5, 1, 10, False, False),  # a name that looks like an address
        ("localhost:18083", ["127.0.0.1:18083"], 1, 1, 10, True, False),
        ("[::1]:18084", ["[::1]:18084"], 1, 1, 10, False, True),
        (f"unix:{CAPTURED_AT}/app.sock", [f"unix:{CAPTURED_AT}/app.sock"], 1, 0, 10, False, False),
        ("127.0.0.2", ["127.0.0.2:80"], 2, 1, 10, False, False),  # over two lines; default port 80
    ]
    unix = backend["servers"][4]
    assert unix["port"] is None and unix["host"] == f"unix:{CAPTURED_AT}/app.sock"


def test_capture_file_and_line_of_every_server_directive():
    ups = by_name(read_capture())
    where = [(s["file"], s["line"]) for s in ups["backend"]["servers"]]
    assert where == [(f"{CAPTURED_AT}/upstreams/backend.conf", n) for n in (2, 3, 4, 5, 6, 7)]
    # servers that come from an include inside the upstream block are in that file
    assert [(s["file"], s["line"]) for s in ups["api"]["servers"]] == [
        (f"{CAPTURED_AT}/upstreams/api.servers", 2), (f"{CAPTURED_AT}/upstreams/api.servers", 3)]


def test_capture_who_proxies_to_each_upstream():
    result = read_capture()
    ups = by_name(result)
    users = [(u["server_name"], u["listen"], u["location"], u["value"]) for u in ups["backend"]["used_by"]]
    assert users == [
        (["backend.example.com"], ["127.0.0.1:18092", "[::1]:18092"], "/x", "http://backend/x/"),
        (["10.0.0.1", "app1:8080", "quo'ted;name"], ["127.0.0.1:18090"], "/", "http://Backend"),
    ]
    assert [(u["location"], u["line"]) for u in ups["api"]["used_by"]] == [("@fallback", 6),
                                                                         ("~ ^/api/(v1|v2)", 21)]
    # proxy_pass to a variable is known only per request; to host:port it is no upstream of ours
    assert [(d["location"], d["value"]) for d in result["dynamic_passes"]] == [("/dyn", "http://$up")]
    assert result["error_logs"] == [f"{CAPTURED_AT}/error.log"]
    assert result["pid_file"] == f"{CAPTURED_AT}/nginx.pid"
    assert result["warnings"] == []


def test_capture_quoted_strings_and_comments():
    cfg = Config.from_dump((FIX / "hard.T.txt").read_text())
    returns = [d.args for d, _ in nginx_conf.walk(cfg.tree) if d.name == "return"]
    assert returns == [["200", 'a;b} # not a comment "q"'], ["200", "${up}"]]
    # the hidden file is not read: glob(3) does not match a leading dot
    assert all("/.hidden" not in path for path in cfg.texts)


def test_live_nginx_dump_of_the_same_tree_reads_the_same(tmp_path):
    conf = materialize(tmp_path / "t")
    out = subprocess.run(["nginx", "-T", "-c", str(conf), "-p", str(conf.parent)],
                         capture_output=True, text=True, timeout=30, check=False)
    assert out.returncode == 0, out.stderr
    live = upstream_conf.read(Config.from_dump(out.stdout), RESOLVE)
    captured = (FIX / "hard.T.txt").read_text().replace(CAPTURED_AT, str(tmp_path / "t"))
    assert live == upstream_conf.read(Config.from_dump(captured), RESOLVE)


def test_system_resolver_resolves_on_the_node():
    assert upstream_conf.system_resolver("localhost", 80)[0] in ("127.0.0.1", "::1")
    assert upstream_conf.system_resolver("127.1", 80) == ["127.0.0.1"]  # as nginx's getaddrinfo does


HAND = """\
# configuration file /etc/nginx/nginx.conf:
http {
    upstream app {
        zone app 64k;
        server app.internal:8080 resolve max_conns=10;
        server 10.0.0.32:8080 fail_timeout=oops;
        server 10.0.0.33:8080 weight=3;
        server [2001:db8::33] backup;
    }
    server { listen 80; location / { proxy_pass http://app; }
             location /p { proxy_pass http://app:8080/; } }
}
stream {
    upstream tcp { server 10.0.0.41:5432; server 10.0.0.42:5432 down; }
    server { listen 5432; proxy_pass tcp; }
}
# configuration file /etc/nginx/empty.conf:

"""


def test_hand_written_resolve_stream_and_bad_values():
    resolver = fixed_resolver({"app.internal": ["10.0.0.31", "10.0.0.30"]})
    result = upstream_conf.read(Config.from_dump(HAND), resolver)
    ups = by_name(result)
    app = ups["app"]["servers"]
    assert app[0]["peers"] == ["10.0.0.31:8080", "10.0.0.30:8080"]  # every address is a peer
    assert app[0]["resolve"] and app[0]["max_conns"] == 10
    assert [s["spec"] for s in app] == ["app.internal:8080", "10.0.0.33:8080", "[2001:db8::33]"]
    assert app[2]["peers"] == ["[2001:db8::33]:80"] and app[2]["backup"]
    assert any("fail_timeout" in w or "invalid time" in w for w in result["warnings"])
    assert [u["location"] for u in ups["app"]["used_by"]] == ["/"]  # http://app:8080/ is not the upstream
    tcp = ups["tcp"]
    assert tcp["context"] == "stream" and [s["down"] for s in tcp["servers"]] == [False, True]
    assert tcp["used_by"][0]["listen"] == ["5432"] and tcp["used_by"][0]["location"] is None
    assert result["error_logs"] == ["/var/log/nginx/error.log"] and result["pid_file"] == "/run/nginx.pid"


def test_a_name_that_does_not_resolve_is_a_warning_not_a_failure():
    text = "# configuration file /x/n.conf:\nhttp { upstream u { server gone.example:80; } }\n"
    result = upstream_conf.read(Config.from_dump(text), fixed_resolver({}))
    server = result["upstreams"][0]["servers"][0]
    assert server["peers"] == [] and "cannot resolve gone.example" in server["error"]
    assert result["warnings"] == [server["error"]]


def test_split_dump_keeps_each_files_bytes():
    dump = ("# configuration file /a/n.conf:\nhttp { include /a/x.conf; }\n\n"
            "# configuration file /a/x.conf:\n# configuration file is a phrase, not a header\n"
            "upstream u { server 1.2.3.4; }")  # the last file had no final newline
    files = nginx_conf.split_dump(dump + "\n")
    assert files == [("/a/n.conf", "http { include /a/x.conf; }\n"),
                     ("/a/x.conf", ("# configuration file is a phrase, not a header\n"
                                    "upstream u { server 1.2.3.4; }"))]


@pytest.mark.parametrize("text, message", [
    ('server_name "open;', "unexpected end of file in a quoted string"),
    ("a b; }", 'unexpected "}"'),
    ("http { a b; ", 'expecting "}"'),
    ("a b", 'expecting ";" or "}"'),
    ('a "b"c;', "after a quoted string"),
    ("; a;", "unexpected ';'"),
    ('a "b"}', 'unexpected "}"'),
    ('a "b"#c;', "after a quoted string"),
    ("a b\\", "after a backslash"),
])
def test_lexer_rejects_what_nginx_rejects_with_file_and_line(text, message):
    with pytest.raises(ConfError, match=message) as err:
        nginx_conf.parse(text, "/etc/nginx/x.conf")
    assert str(err.value).startswith("/etc/nginx/x.conf:1:")


def test_lexer_escapes_variables_and_line_numbers():
    text = 'a "x\\"y" \'p\\\'q\' b\\;c ${v}{ d "two\nlines"; }\ne f#g; # tail\n'
    tree = nginx_conf.parse(text, "f")
    assert tree[0].name == "a" and tree[0].args == ['x"y', "p'q", "b\\;c", "${v}"]  # nginx keeps an unknown escape
    assert tree[0].block is not None and tree[0].block[0].args == ["two\nlines"]
    assert (tree[1].name, tree[1].args, tree[1].line) == ("e", ["f#g"], 3)
    assert text[tree[1].end] == ";"


def test_not_a_dump_is_a_clear_error():
    with pytest.raises(ConfError, match="not `nginx -T` output"):
        Config.from_dump("nginx: [emerg] unknown directive")


def test_the_fast_lexer_reads_simple_files_as_the_full_one_does():
    def shape(tree):
        return [(d.name, d.args, d.line, len(p)) for d, p in nginx_conf.walk(tree)]

    texts = [t for _, t in nginx_conf.split_dump((FIX / "hard.T.txt").read_text())]
    texts.append("a}b c#d; # x\n\n  e {\n f\r\n g; }\nh ${x}y;\n")
    simple = [t for t in texts if nginx_simple.is_simple(t)]
    assert len(simple) >= 3  # the fixture's upstream files, the hand-written one
    for text in texts:
        assert shape(nginx_conf.parse(text, "f", offsets=False)) == shape(nginx_conf.parse(text, "f"))


def test_reader_parses_a_dump_once_and_again_when_it_changes():
    calls = []

    def resolver(host, port):
        calls.append(host)
        return ["127.0.0.1"]

    reader = upstream_conf.Reader(resolver)
    text = (FIX / "hard.T.txt").read_text()
    first = reader.read(text)
    assert reader.read(text) is first and calls.count("localhost") == 1  # unchanged: not parsed nor resolved again
    changed = reader.read(text.replace("keepalive 16;", "keepalive 17;"))
    assert changed is not first and by_name(changed)["backend"]["keepalive"] == 17


def test_an_unterminated_quote_is_an_error_at_once_however_long():
    """A quoted-string pattern with a nested repeat backtracked exponentially on a missing closing quote
    (a hypothesis run hung the suite); every character now has one way to match."""
    for quote in "\"'":
        text = "upstream b { server " + quote + "a b " * 4000
        with pytest.raises(ConfError, match="unexpected end of file in a quoted string"):
            nginx_conf.parse(text, "f")
