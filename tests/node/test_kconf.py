"""The node's keepalived.conf reader decides "prepared" as the console did (fixtures/README.md) on the
lab's real config, its prepared form and half-prepared variants; and it reads the running
keepalived's file with its includes."""

from __future__ import annotations

import json
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
