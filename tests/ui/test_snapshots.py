"""SVG snapshots of the main views, from the replayed lab recording (pytest-textual-snapshot).

Update the baselines after a deliberate visual change with `pytest tests/ui --snapshot-update`
and review the SVGs in the diff.
"""

from __future__ import annotations

from lbconsole.source.replay import ReplaySource
from ui.helpers import WritableReplay, make_app, started, step


def first_alert(snapshots) -> int:
    return next(i for i, s in enumerate(snapshots) if s.alerts)


def first_failover(snapshots) -> int:
    def masters(s):
        return {n.name for c in s.clusters for n in c.nodes for i in n.vrrp if i.state == "MASTER"}

    return next(i for i in range(1, len(snapshots)) if masters(snapshots[i]) != masters(snapshots[0]))


def at(index: int, *keys: str):
    async def run_before(pilot):
        await started(pilot, pilot.app)
        await step(pilot, pilot.app, index)
        for key in keys:
            await pilot.press(key)
        await pilot.pause(0.1)

    return run_before


def test_main(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(120, 36), run_before=at(0))


def test_main_narrow_80x24(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(80, 24), run_before=at(0))


def test_failover_toasts_and_events(snap_compare, lab_recording, lab_snapshots):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(120, 36),
                        run_before=at(first_failover(lab_snapshots)))


def test_alert(snap_compare, lab_recording, lab_snapshots):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(120, 36),
                        run_before=at(first_alert(lab_snapshots)))


def test_noc(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording), noc=True), terminal_size=(120, 36), run_before=at(0))


def test_noc_80x24(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording), noc=True), terminal_size=(80, 24), run_before=at(0))


def test_service_screen(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(100, 30),
                        run_before=at(3, "down", "enter"))


def test_node_screen(snap_compare, lab_recording, lab_snapshots):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(100, 30),
                        run_before=at(first_failover(lab_snapshots), "shift+tab", "shift+tab", "down", "enter"))


def test_help(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(100, 30),
                        run_before=at(0, "question_mark"))


def test_drain_confirmation(snap_compare, lab_recording):
    keys = ("down", "d", *"kernel upgrade", "enter")
    assert snap_compare(make_app(WritableReplay(lab_recording)), terminal_size=(100, 30), run_before=at(0, *keys))


def test_light_theme(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording), theme="lbconsole-light"), terminal_size=(100, 30),
                        run_before=at(0))


def test_ansi_theme(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording), theme="ansi"), terminal_size=(100, 30),
                        run_before=at(0))


# -- every size the console is used at, and the palettes terminals really have -------------------------

def test_main_160x48(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(160, 48), run_before=at(3))


def test_noc_240x67(snap_compare, lab_recording):
    assert snap_compare(make_app(ReplaySource(lab_recording), noc=True), terminal_size=(240, 67),
                        run_before=at(0))


def test_split_brain_160x48(snap_compare, splitbrain_recording, splitbrain_snapshots):
    # A real split brain recorded in the lab (VRRP blocked between the directors).
    assert snap_compare(make_app(ReplaySource(splitbrain_recording)), terminal_size=(160, 48),
                        run_before=at(both_master(splitbrain_snapshots) + 3))


def test_split_brain_noc_240x67(snap_compare, splitbrain_recording, splitbrain_snapshots):
    assert snap_compare(make_app(ReplaySource(splitbrain_recording), noc=True), terminal_size=(240, 67),
                        run_before=at(both_master(splitbrain_snapshots) + 3))


def test_main_256_colours(snap_compare, lab_recording, monkeypatch):
    monkeypatch.delenv("COLORTERM")  # TERM=xterm-256color alone, as over SSH and in tmux
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(120, 36), run_before=at(0))


def test_main_8_colours(snap_compare, lab_recording, monkeypatch):
    monkeypatch.delenv("COLORTERM")
    monkeypatch.setenv("TERM", "xterm")
    assert snap_compare(make_app(ReplaySource(lab_recording)), terminal_size=(80, 24), run_before=at(0))


def both_master(snapshots) -> int:
    def masters(s):
        return sum(1 for c in s.clusters for n in c.nodes for i in n.vrrp if i.state == "MASTER")

    return next(i for i, s in enumerate(snapshots) if masters(s) > 1)


# -- the backends tier (issue 11), from a synthetic snapshot: web2 sees app2 failing, web1 has app1 down by hand,
# web3 is lost. (No drain: the planned-drain rules would change these alerts.)

def backends_snapshot():
    from ui import synth

    snap = synth.backends_lab(web2={"app2": "failing"})
    snap = synth.with_upstreams(snap, {"web1": (synth.upstream(states={"app1": "down"}),)})
    return synth.lose(snap, "web3")


def test_backends_160x48(snap_compare):
    from ui.helpers import lines_of

    assert snap_compare(make_app(WritableReplay(lines_of([backends_snapshot()]))), terminal_size=(160, 48),
                        run_before=at(0))


def test_backends_100x30(snap_compare):
    from ui.helpers import lines_of

    assert snap_compare(make_app(WritableReplay(lines_of([backends_snapshot()]))), terminal_size=(100, 30),
                        run_before=at(0))


def test_backend_screen(snap_compare):
    from ui.helpers import lines_of

    assert snap_compare(make_app(WritableReplay(lines_of([backends_snapshot()]))), terminal_size=(120, 36),
                        run_before=at(0, "tab", "down", "down", "enter"))
