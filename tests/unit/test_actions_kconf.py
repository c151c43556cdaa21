"""keepalived.conf reading, prepared-cluster detection, and the lines `prepare()` adds."""

from __future__ import annotations

import pytest

from lbconsole.actions import kconf, prepare_conf, prepared
from lbconsole.lab import configs
from lbconsole.lab import topology as lab

LAB_CONF = configs.keepalived_conf(lab.node("lb1"))  # the config the lab's directors run


def test_parse_blocks_lines_and_one_line_blocks():
    conf = kconf.parse('a 1 # comment\nb { c "x y" ! more\n  d { e }\n}\n')
    a, b = conf.stmts
    assert (a.keyword, a.args, a.block) == ("a", ["1"], None)
    assert b.child("c").args == ["x y"] and b.child("d").child("e") is not None
    assert (b.open_line, b.close_line) == (2, 4)


def test_lab_config_has_its_services_and_instance():
    conf = kconf.parse(LAB_CONF)
    keys = [kconf.service_key(vs) for vs in conf.top("virtual_server")]
    assert keys and all(keys)
    vs = conf.top("virtual_server")[0]
    assert [kconf.real_server_key(vs, rs) for rs in vs.children("real_server")]
    assert kconf.instance(conf, "VI_1") is not None


def test_service_keys_for_protocols_and_fwmark():
    conf = kconf.parse("virtual_server 10.0.0.1 53 {\n protocol UDP\n real_server 10.0.0.2 53 {\n }\n}\n"
                       "virtual_server fwmark 7 {\n real_server 10.0.0.3 {\n }\n}\n"
                       "virtual_server 2001:db8::1 443 {\n real_server 2001:db8::2 443 {\n }\n}\n")
    vss = conf.top("virtual_server")
    assert [kconf.service_key(v) for v in vss] == ["udp:10.0.0.1:53", "fwm:7", "[2001:db8::1]:443"]
    assert kconf.real_server_key(vss[1], vss[1].child("real_server")) == "10.0.0.3:0"


def test_unprepared_lab_is_detected_with_the_reason():
    conf = kconf.parse(LAB_CONF)
    vs = conf.top("virtual_server")[0]
    svc, rs = kconf.service_key(vs), kconf.real_server_key(vs, vs.child("real_server"))
    prep = prepared.drain_prep(conf, svc, rs)
    assert not prep.prepared and "FILE_CHECK" in prep.why
    assert not prepared.failover_prep(conf, "VI_1").prepared
    assert not prepared.drain_prep(conf, svc, "10.9.9.9:80").prepared


def test_prepare_makes_every_real_server_and_instance_prepared_once():
    text = prepare_conf.prepare(LAB_CONF, track_dir="/run/lbconsole/track", failover_file="/run/lbconsole/fo")
    conf = kconf.parse(text)
    for vs in conf.top("virtual_server"):
        for rs in vs.children("real_server"):
            prep = prepared.drain_prep(conf, kconf.service_key(vs), kconf.real_server_key(vs, rs))
            assert prep.prepared and prep.path.startswith("/run/lbconsole/track/lbc_drain_") and prep.weight == 0
    fo = prepared.failover_prep(conf, "VI_1")
    assert fo.prepared and fo.path == "/run/lbconsole/fo" and fo.weight == -100
    assert prepare_conf.prepare(text) == text  # idempotent
    assert "auth_pass" in text  # the rest is untouched


@pytest.mark.parametrize("change, why", [
    (lambda t: t.replace("        inhibit_on_failure\n", "", 1), "inhibit_on_failure"),
    (lambda t: t.replace("    weight 0\n", "    weight 1\n", 1), "weight 0"),
    (lambda t: t.replace("FILE_CHECK", "XFILE_CHECK", 1), "no FILE_CHECK"),
])
def test_half_prepared_real_servers_are_not_prepared(change, why):
    conf = kconf.parse(LAB_CONF)
    vs = conf.top("virtual_server")[0]
    svc, rs = kconf.service_key(vs), kconf.real_server_key(vs, vs.child("real_server"))
    text = change(prepare_conf.prepare(LAB_CONF))
    prep = prepared.drain_prep(kconf.parse(text), svc, rs)
    assert not prep.prepared and why in prep.why


def test_inhibit_on_the_virtual_server_counts_and_the_one_line_form_parses():
    text = ("track_file t1 {\n file \"/x/t1\"\n weight 0\n}\nvirtual_server 10.0.0.1 80 {\n inhibit_on_failure\n"
            " real_server 10.0.0.2 80 {\n  FILE_CHECK { track_file t1 }\n }\n}\n")
    prep = prepared.drain_prep(kconf.parse(text), "10.0.0.1:80", "10.0.0.2:80")
    assert prep.prepared and prep.path == "/x/t1"


def test_failover_weight_from_the_instance_overrides_the_definition():
    text = ('track_file lbc_failover {\n file "/f"\n weight 0\n}\nvrrp_instance V {\n priority 150\n'
            ' track_file {\n  lbc_failover weight -60\n }\n}\n')
    conf = kconf.parse(text)
    prep = prepared.failover_prep(conf, "V")
    assert prep.prepared and prep.weight == -60 and prepared.instance_priority(conf, "V") == 150
    assert prepared.preempts(conf, "V")
    assert not prepared.preempts(kconf.parse(text.replace(" priority 150", " nopreempt\n priority 150")), "V")


def test_track_names_are_predictable_and_distinct():
    names = {prepared.drain_track_name(s, r) for s in ("10.0.0.1:80", "udp:10.0.0.1:80", "fwm:1")
             for r in ("10.0.0.2:80", "10.0.0.3:80", "[2001:db8::2]:80")}
    assert len(names) == 9 and all(n.startswith("lbc_drain_") and " " not in n for n in names)


def test_snippets_for_doctor():
    text = prepare_conf.drain_snippet("10.0.0.1:80", "10.0.0.2:80")
    assert "track_file lbc_drain_10.0.0.1_80_10.0.0.2_80 {" in text and "inhibit_on_failure" in text
    assert '/var/lib/lbconsole/track/lbc_drain_10.0.0.1_80_10.0.0.2_80"' in text
    fo = prepare_conf.failover_snippet("VI_1")
    assert "weight -100" in fo and "lbc_failover" in fo and '"/var/lib/lbconsole/failover"' in fo


def test_doctor_knows_which_track_directories_must_exist():
    from lbconsole.commands.doctor_prepared import track_dirs

    assert track_dirs(LAB_CONF) == set()
    text = prepare_conf.prepare(LAB_CONF, track_dir="/run/lbconsole/track", failover_file="/var/lib/lbconsole/fo")
    assert track_dirs(text) == {"/run/lbconsole/track", "/var/lib/lbconsole"}


def _kconf_cat(tmp_path, pid: int | None = None) -> tuple[int, str]:
    """doctor's probe of keepalived's config, with its fixed paths moved into tmp_path."""
    import subprocess

    from lbconsole.commands.doctor_prepared import CONF_SH

    tmp_path.mkdir(parents=True)
    (tmp_path / "keepalived.conf").write_text("vrrp_instance DEFAULT {\n}\n")
    if pid is not None:
        (tmp_path / "keepalived.pid").write_text(f"{pid}\n")
    script = (CONF_SH + "kconf_cat").replace("/run/keepalived.pid", str(tmp_path / "keepalived.pid"))
    script = script.replace("/etc/keepalived/keepalived.conf", str(tmp_path / "keepalived.conf"))
    res = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)
    return res.returncode, res.stdout


def test_the_node_reads_the_running_config_with_includes_and_without_the_password(tmp_path):
    import subprocess

    assert _kconf_cat(tmp_path / "a") == (0, "vrrp_instance DEFAULT {\n}\n")  # no keepalived: Debian's path
    conf = tmp_path / "etc"
    (conf / "conf.d").mkdir(parents=True)
    (conf / "main.conf").write_text("global_defs {\n}\ninclude conf.d/*.conf\nvrrp_instance V {\n"
                                    "  authentication { auth_type PASS auth_pass s3cr3t }\n}\n")
    (conf / "conf.d" / "a.conf").write_text("virtual_server 10.0.0.1 80 {\n}\n")
    # A process whose command line says `-f main.conf`, as keepalived's would.
    proc = subprocess.Popen(["sh", "-c", "sleep 30", "keepalived", "-D", "-f", str(conf / "main.conf")])
    try:
        code, text = _kconf_cat(tmp_path / "b", proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert code == 0
    assert text.splitlines() == ["global_defs {", "}", "virtual_server 10.0.0.1 80 {", "}", "vrrp_instance V {",
                                 "  authentication { auth_type PASS auth_pass <redacted> }", "}"]
    assert "s3cr3t" not in text
