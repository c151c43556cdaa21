"""The upstream actions in the one registry: keys, target kind, CLI words, and their target's parsing."""

from __future__ import annotations

import pytest

from lbconsole.actions import registry, targets
from lbconsole.actions.upstream_drain import describe, verify
from lbconsole.analyzers.settings import RunningAction
from lbconsole.errors import UsageError


def test_registered_with_keys_a_target_kind_and_cli_words():
    drain, undrain = registry.get("upstream_drain"), registry.get("upstream_undrain")
    assert (drain.key, undrain.key) == ("D", "U")
    assert drain.target == undrain.target == "upstream_server"
    assert drain.mutating and undrain.mutating and drain.cli and undrain.cli
    assert (drain.cli_words, undrain.cli_words) == (("upstream", "drain"), ("upstream", "undrain"))
    assert drain.needs_reason and not undrain.needs_reason and registry.get("drain").needs_reason
    keys = [a.key for a in registry.ACTIONS if a.key]
    assert len(keys) == len(set(keys))  # no key taken twice


def test_the_target_from_the_tui_or_cli_dict():
    t = targets.from_dict("upstream_server", {"upstream": "backend", "server": " app1 "}, "lab")
    assert t == targets.UpstreamServerTarget("lab", "backend", "app1")
    assert t.to_dict() == {"kind": "upstream_server", "cluster": "lab", "upstream": "backend", "server": "app1"}
    assert targets.from_dict("upstream_server", t) is t
    with pytest.raises(UsageError, match="needs UPSTREAM and SERVER"):
        targets.from_dict("upstream_server", {"upstream": "backend"}, "lab")


def test_a_running_upstream_action_describes_itself():
    running = RunningAction("upstream_drain", "lab", {"upstream": "backend", "server": "10.99.0.31:8080"})
    assert running.describe() == "upstream_drain 10.99.0.31:8080 of upstream backend"


def test_verify_wants_every_nginx_node_read_back_in_the_wanted_state():
    assert verify({"web1": "drained", "web2": "drained"}, drained=True) == []
    assert verify({"web1": "drained", "web2": "down", "web3": None}, drained=True) == [
        "web2: down, not drained", "web3: not read back (no answer, or the server is gone)"]
    assert verify({"web1": "up", "web2": "failing"}, drained=False) == []
    assert verify({"web1": "drained"}, drained=False) == ["web1: still drained"]


def test_the_confirmation_says_what_and_where():
    text = describe("upstream_drain", {"cluster": "lab", "upstream": "backend", "server": "app1"}, ["web1", "web2"],
                    "kernel update")
    assert text.startswith("Drain app1 of upstream backend in cluster lab: marked down on every nginx node "
                           "(web1, web2)") and text.endswith("Reason: kernel update")
    assert describe("upstream_undrain", {"cluster": "lab", "upstream": "backend", "server": "app1"}, ["web1"]) \
        .startswith("Undrain app1 of upstream backend in cluster lab")
