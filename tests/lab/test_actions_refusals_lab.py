"""Refusals on the real lab, from the CLI in the ops namespace: each names its cause and a way forward that
exists. A director that does not answer refuses a drain and an undrain (undrain --force then restores what
answers and says how to finish); a host without ip_vs is told so; an unknown real server is a usage error;
re-draining keeps the weight to restore."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.lab_actions import SVC, audit_lines, cli, drain_records, rs, unreachable, weights

pytestmark = pytest.mark.lab


def test_a_director_down_refuses_drain_and_undrain_and_undrain_force_finishes_later(clean_lab, tmp_path):
    web1, web2 = rs("web1"), rs("web2")
    res = cli(clean_lab, tmp_path, "drain", SVC, web1, "--reason", "kernel update", "--yes", "--wait", "0")
    assert res.returncode == 0, res.stderr
    with unreachable("lb2"):
        # A drain is all directors or none: lb1 answers and is left untouched.
        res = cli(clean_lab, tmp_path, "drain", SVC, web2, "--reason", "disk swap", "--yes", "--wait", "0")
        assert res.returncode == 3, res.stdout + res.stderr
        assert "lb2" in res.stderr and f"lbconsole drain {SVC} {web2} --force" in res.stderr, res.stderr
        assert weights(web2)["lb1"] == 100 and [r["real_server"] for r in drain_records("lb1")] == [web1]

        res = cli(clean_lab, tmp_path, "undrain", SVC, web1, "--yes")
        assert res.returncode == 3, res.stdout + res.stderr
        assert "lb2" in res.stderr and f"lbconsole undrain {SVC} {web1} --force" in res.stderr, res.stderr
        assert weights(web1)["lb1"] == 0 and len(drain_records("lb1")) == 1

        # The way forward it named exists, and restores the director that answers.
        res = cli(clean_lab, tmp_path, "undrain", SVC, web1, "--force", "--yes")
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"undrained {web1} of {SVC}: weight back on lb1 100" in res.stdout
        assert "undrain again once lb2 answers: it keeps its drain record and weight 0" in res.stdout
        assert "forced: " in res.stdout and "Traceback" not in res.stderr
        assert weights(web1)["lb1"] == 100 and drain_records("lb1") == []
    # lb2 answers again: it kept its drain, and the undrain it was told to run finishes the job.
    assert weights(web1) == {"lb1": 100, "lb2": 0}
    assert [r["real_server"] for r in drain_records("lb2")] == [web1]
    res = cli(clean_lab, tmp_path, "undrain", SVC, web1, "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert weights(web1) == {"lb1": 100, "lb2": 100} and drain_records("lb1") == drain_records("lb2") == []
    audit = audit_lines(tmp_path)
    assert [(r["what"], r["result"]) for r in audit] == [
        ("drain", "done"), ("drain", "refused"), ("undrain", "refused"), ("undrain", "done"), ("undrain", "done")]
    assert [r["params"].get("force") for r in audit if r["what"] == "undrain"] == [False, True, False]


def _inventory_of_web_directors(lab: Path, tmp_path: Path) -> Path:
    """The lab's nginx nodes (the host's kernel: no ip_vs) as a cluster's directors."""
    defaults = lab.read_text().split("[[cluster]]", 1)[0]
    nodes = "".join(f'\n[[cluster.node]]\nname = "{web}"\nhost = "{rs(web).split(":")[0]}"\nroles = ["director"]\n'
                    for web in ("web1", "web2"))
    inv = tmp_path / "inventory.toml"
    inv.write_text(defaults + '[[cluster]]\nname = "hostkernel"\n' + nodes)
    return inv


def test_a_drain_on_hosts_without_ip_vs_says_so(lab, tmp_path):
    inv = _inventory_of_web_directors(Path(lab), tmp_path)
    res = cli(inv, tmp_path, "drain", SVC, rs("web1"), "--reason", "kernel update", "--yes")
    assert res.returncode == 3, res.stdout + res.stderr
    for web in ("web1", "web2"):
        assert f"{web}: IPVS not readable: the ip_vs kernel module is not loaded" in res.stderr, res.stderr
    assert "no director has service" not in res.stderr and "Traceback" not in res.stderr
    assert drain_records("web1") == drain_records("web2") == []
    [rec] = audit_lines(tmp_path)
    assert rec["result"] == "refused" and "ip_vs kernel module is not loaded" in rec["message"]


def test_unknown_real_server_is_a_usage_error_and_re_drain_keeps_the_weight_to_restore(clean_lab, tmp_path):
    web1 = rs("web1")
    res = cli(clean_lab, tmp_path, "drain", SVC, "10.99.0.99:80", "--reason", "typo", "--yes")
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"no real server 10.99.0.99:80 in service {SVC} (it has {rs('web1')}, {rs('web2')}, {rs('web3')})" \
        in res.stderr, res.stderr
    assert drain_records("lb1") == drain_records("lb2") == []

    for reason in ("first", "second"):  # the second drain finds weight 0: the record keeps the 100 to restore
        res = cli(clean_lab, tmp_path, "drain", SVC, web1, "--reason", reason, "--yes", "--wait", "0")
        assert res.returncode == 0, res.stdout + res.stderr
        assert weights(web1) == {"lb1": 0, "lb2": 0}
    for d in ("lb1", "lb2"):
        [rec] = drain_records(d)
        assert rec["weight"] == 100 and rec["reason"] == "first"
    res = cli(clean_lab, tmp_path, "undrain", SVC, web1, "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    assert weights(web1) == {"lb1": 100, "lb2": 100} and drain_records("lb1") == drain_records("lb2") == []
    res = cli(clean_lab, tmp_path, "undrain", SVC, web1, "--yes")
    assert res.returncode == 3 and f"{web1} of {SVC} is not drained" in res.stderr, res.stdout + res.stderr
    assert [r["result"] for r in audit_lines(tmp_path)] == ["usage", "done", "done", "done", "refused"]
