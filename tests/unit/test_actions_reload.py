"""nginx reload verification from the node's answers (the lab tests run it for real)."""

from __future__ import annotations

from lbconsole.actions import reload
from lbconsole.actions.nodescript import NodeReply, Section, split


def reply(state="master=10\nworker=12\nworker=13\nlog=/var/log/nginx/error.log\nlogsize=50", log="", signal=0):
    return NodeReply("web1", {"reload": Section("", signal), "state": Section(state, 0), "log": Section(log, 0)})


BEFORE = reload.parse_state("master=10\nworker=11\nlog=/var/log/nginx/error.log\nlogsize=40")


def test_same_master_new_workers_clean_log_is_verified():
    res = reload.verify("web1", BEFORE, reply())
    assert res.ok and "master 10 kept" in res.message and "12 13" in res.message
    assert res.before == {"master_pid": "10", "worker_pids": ["11"]}


def test_emerg_lines_after_the_reload_fail_with_the_lines():
    line = '2026/11/24 09:00:00 [emerg] 10#10: bind() to 0.0.0.0:80 failed (98: Address already in use)'
    res = reload.verify("web1", BEFORE, reply(state="master=10\nworker=11\nlogsize=90", log=line))
    assert res.exit_code == 1 and "no new worker" in res.message and res.details == [line]


def test_a_new_master_means_nginx_restarted():
    res = reload.verify("web1", BEFORE, reply(state="master=20\nworker=21"))
    assert res.exit_code == 1 and "master PID changed: 10 -> 20" in res.message


def test_scripts_test_before_anything_and_read_the_log_from_the_offset():
    check = reload.check_script()
    assert check.index("nginx -t") < check.index("sec state")
    assert "nginx -s reload" not in check
    apply = reload.apply_script(BEFORE)
    assert "nginx -s reload" in apply and "tail -c +41" in apply and "emerg|alert" in apply
    assert "/var/log/nginx/error.log" in apply.split("sec log", 1)[1]  # not an unexported $LOG


def test_split_keeps_each_section_and_its_status():
    out = "@@LBA a\nhello\n\n@@LBA-RC 0\n@@LBA b\noops\n\n@@LBA-RC 3\n@@LBA c\ncut"
    s = split(out)
    assert (s["a"].text, s["a"].status) == ("hello", 0) and s["b"].status == 3 and s["c"].status == -1
