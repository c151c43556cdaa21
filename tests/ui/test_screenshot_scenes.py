"""The screenshot generator knows the backends scenes: chosen from the data, and they show what they say."""

from __future__ import annotations

from lbconsole.ui import screenshots
from ui import synth
from ui.helpers import lines_of


def test_no_backends_scene_without_upstreams():
    snaps = synth.sequence()
    assert not {"backends", "backend"} & {name for name, *_ in screenshots.plan(snaps)}


async def test_backends_scenes_capture_the_tier_and_a_backend(tmp_path):
    t = 1_700_000_000.0
    snaps = [synth.backends_lab(t), synth.backends_lab(t + 1, web2={"app2": "failing"}),
             synth.with_upstreams(synth.backends_lab(t + 2), {"web1": None})]
    shots = {name: (index, size, keys) for name, index, size, _noc, keys, _which in screenshots.plan(snaps)}
    assert shots["backends"][0] == 1  # the moment something is not up
    index, size, keys = shots["backend"]
    assert index == 1 and keys == ("tab", "down", "enter")  # the upstream row, then its first server
    assert screenshots.backend_keys(snaps[2]) == ("tab", "down", "down", "enter")  # past web1's note
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(lines_of(snaps)), encoding="utf-8")
    tier = await screenshots.shoot(path, shots["backends"][0], shots["backends"][1], False, ())
    assert "Backends" in tier and "failing" in tier
    screen = await screenshots.shoot(path, index, size, False, keys)
    assert "nginx&#160;upstreams&#160;that&#160;send&#160;to&#160;app1" in screen
