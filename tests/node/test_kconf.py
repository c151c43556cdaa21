"""The node's keepalived.conf reader decides "prepared" exactly as the console did, on the lab's
real config, its prepared form and the half-prepared variants; and it reads the running
keepalived's file with its includes."""

from __future__ import annotations

import pytest

from lbconsole.actions import kconf as console_kconf
from lbconsole.actions import prepare_conf, prepared
from lbconsole.lab import configs
from lbconsole.lab import topology as lab
from lbconsole.node import kconf

LAB_CONF = configs.keepalived_conf(lab.node("lb1"))
PREPARED = prepare_conf.prepare(LAB_CONF, track_dir="/run/lbconsole/track", failover_file="/run/lbconsole/fo")
VARIANTS = [LAB_CONF, PREPARED, PREPARED.replace("        inhibit_on_failure\n", "", 1),
            PREPARED.replace("    weight 0\n", "    weight 1\n", 1), PREPARED.replace("FILE_CHECK", "XFILE_CHECK", 1)]


@pytest.mark.parametrize("text", VARIANTS)
def test_prepared_decisions_equal_the_consoles(text):
    theirs, ours = console_kconf.parse(text), kconf.parse(text)
    pairs = 0
    for vs in theirs.top("virtual_server"):
        svc = console_kconf.service_key(vs)
        for rs in vs.children("real_server"):
            key = console_kconf.real_server_key(vs, rs)
            prep = prepared.drain_prep(theirs, svc, key)
            path, why = kconf.drain_track(ours, svc, key)
            assert (path is not None, path or why) == (prep.prepared, prep.path if prep.prepared else prep.why)
            assert kconf.configured_weight(ours, svc, key) == console_kconf.int_arg(rs.child("weight"), 1)
            pairs += 1
    assert pairs == 6
    fo = prepared.failover_prep(theirs, "VI_1")
    path, extra = kconf.failover_track(ours, "VI_1")
    assert (path is not None, path or extra) == (fo.prepared, fo.path if fo.prepared else fo.why)


def test_running_config_with_includes(tmp_path):
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "vs.conf").write_text("virtual_server 10.0.0.1 80 {\n real_server 10.0.0.2 80 {\n"
                                                 "  weight 7\n }\n}\n")
    main = tmp_path / "keepalived.conf"
    main.write_text("global_defs {\n}\ninclude conf.d/*.conf\n")
    conf = kconf.parse(kconf.read_text(str(main)))
    assert kconf.configured_weight(conf, "10.0.0.1:80", "10.0.0.2:80") == 7
    assert kconf.conf_path(999999999) == kconf.DEFAULT_CONF
