"""The node's keepalived.conf reader decides "prepared" as the console did (fixtures/README.md) on the
lab's real config, its prepared form and half-prepared variants; and it reads the running
keepalived's file with its includes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lbconsole.node import kconf

HERE = Path(__file__).parent / "fixtures"
LAB = (HERE / "keepalived_lab.conf").read_text()
PREPARED = (HERE / "keepalived_lab_prepared.conf").read_text()
EXPECTED = json.loads((HERE / "kconf_expected.json").read_text())
VARIANTS = {"lab": LAB, "prepared": PREPARED, "no_inhibit": PREPARED.replace("        inhibit_on_failure\n", "", 1),
            "weight_1": PREPARED.replace("    weight 0\n", "    weight 1\n", 1),
            "no_file_check": PREPARED.replace("FILE_CHECK", "XFILE_CHECK", 1)}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_prepared_decisions(variant):
    conf = kconf.parse(VARIANTS[variant])
    rows = []
    for vs in kconf.top(conf, "virtual_server"):
        svc = kconf.service_key(vs)
        for rs in vs.children("real_server"):
            key = kconf.real_server_key(vs, rs)
            path, why = kconf.drain_track(conf, svc, key)
            rows.append([svc, key, path, why, kconf.configured_weight(conf, svc, key)])
    assert rows == EXPECTED[variant]["drain"] and len(rows) == 6
    assert list(kconf.failover_track(conf, "VI_1")) == EXPECTED[variant]["failover"]


def test_lab_config_is_the_one_the_lab_runs():
    from lbconsole.lab import configs
    from lbconsole.lab import topology as lab

    assert configs.keepalived_conf(lab.node("lb1")) == LAB


def test_running_config_with_includes(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "vs.conf").write_text("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n"
                                                 "  weight 7\n }\n}\n")
    main = tmp_path / "keepalived.conf"
    main.write_text("global_defs {\n}\ninclude conf.d/*.conf\n")
    conf = kconf.parse(kconf.read_text(str(main)))
    assert kconf.configured_weight(conf, "10.0.0.1:80", "10.0.0.2:80") == 7
    assert kconf.conf_path(999999999) == kconf.DEFAULT_CONF


def _age(*paths: Path, by: float = 60.0) -> None:
    for p in paths:
        st = p.stat()
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - int(by * 1e9)))


def test_load_reads_again_only_what_changed(tmp_path, monkeypatch):
    """A drain loads the config on every action: unchanged files are not read again, but an edit, a new
    include file, or a file changed within the clock's granularity is always seen."""
    confd = tmp_path / "conf.d"
    confd.mkdir()
    vs = confd / "vs.conf"
    vs.write_text("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n  weight 7\n }\n}\n")
    main = tmp_path / "keepalived.conf"
    main.write_text("include conf.d/*.conf\n")
    monkeypatch.setattr(kconf, "conf_path", lambda pid: str(main))
    monkeypatch.setattr(kconf, "_last", ((), "", []))
    _age(vs, main, confd)
    first, path = kconf.load(1)
    assert path == str(main) and kconf.configured_weight(first, "10.0.0.1:80", "10.0.0.2:80") == 7
    assert kconf.load(1)[0] is first  # nothing changed: the same statements, not read again

    vs.write_text(vs.read_text().replace("weight 7", "weight 8"))  # same size, new mtime
    _age(vs, by=30)
    assert kconf.configured_weight(kconf.load(1)[0], "10.0.0.1:80", "10.0.0.2:80") == 8

    (confd / "more.conf").write_text("virtual_server 10.0.0.9 80 {\n real_server 10.0.0.3 80 {\n  weight 5\n }\n}\n")
    assert kconf.configured_weight(kconf.load(1)[0], "10.0.0.9:80", "10.0.0.3:80") == 5

    # A file changed within the last second is read again on the next load, even if a second edit kept its size,
    # inode and mtime (the clock's granularity).
    _age(vs, main, confd, confd / "more.conf")
    kconf.load(1)
    vs.write_text(vs.read_text().replace("weight 8", "weight 9"))
    assert kconf.configured_weight(kconf.load(1)[0], "10.0.0.1:80", "10.0.0.2:80") == 9
    same = vs.stat()
    vs.write_text(vs.read_text().replace("weight 9", "weight 6"))
    os.utime(vs, ns=(same.st_atime_ns, same.st_mtime_ns))
    assert kconf.configured_weight(kconf.load(1)[0], "10.0.0.1:80", "10.0.0.2:80") == 6
