"""`lbconsole drain|undrain|failover|reload|upstream drain|upstream undrain ...`: the registry's CLI actions.

Subcommands are generated from lbconsole.actions.registry (specs with cli=True; a spec with a group is
`lbconsole GROUP VERB`);
the arguments follow each spec's target kind. Every command goes through
lbconsole.actions.execute, like the TUI. Without --yes it asks on a terminal
and refuses (exit 3) elsewhere. Exit codes: 0 done and verified, 1 failed or
not verified, 2 usage, 3 refused.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import dataclass
from typing import Any

from lbconsole import inventory as inventory_mod
from lbconsole import safetext
from lbconsole.actions import registry
from lbconsole.actions.registry import ActionSpec
from lbconsole.actions.result import FAILED, USAGE, ActionResult, refused

DEFAULT_WAIT_S = 30.0
_TARGET_ARGS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "real_server": [("service", {"metavar": "SERVICE", "help": "VIP:PORT, udp:VIP:PORT, sctp:VIP:PORT or fwm:MARK"}),
                    ("real_server", {"metavar": "REALSERVER", "nargs": "+",
                                     "help": "IP:PORT (several: each is done once, on every director)"})],
    "vrrp_instance": [("instance", {"metavar": "INSTANCE", "help": "VRRP instance name, e.g. VI_1"})],
    "nginx_node": [("node", {"metavar": "NODE", "help": "inventory name of the nginx node"})],
    "upstream_server": [("upstream", {"metavar": "UPSTREAM", "help": "name of the nginx upstream, e.g. backend"}),
                        ("server", {"metavar": "SERVER", "help": "address:port of the upstream server, or an "
                                                                 "inventory node name when that is unambiguous"})],
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from lbconsole.cli import add_common

    groups: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for spec in registry.ACTIONS:
        if not spec.cli:
            continue
        where = sub
        if spec.group is not None:
            if spec.group not in groups:
                group = sub.add_parser(spec.group, help=f"{spec.group} actions: "
                                       + ", ".join(a.cli_words[-1] for a in registry.ACTIONS if a.group == spec.group))
                groups[spec.group] = group.add_subparsers(dest=f"{spec.group}_action", metavar="ACTION",
                                                          required=True)
            where = groups[spec.group]
        parser = where.add_parser(spec.cli_words[-1], help=spec.description, description=spec.description)
        add_common(parser)
        for dest, kw in _TARGET_ARGS[spec.target]:
            parser.add_argument(dest, **kw)
        parser.add_argument("--cluster", metavar="NAME", help="the cluster (needed when the inventory has several)")
        parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
        if spec.name == "undrain":
            parser.add_argument("--force", action="store_true",
                                help="go ahead with a director unreachable or without the service (it keeps "
                                     "its drain: undrain again once it answers)")
        if spec.name == "drain":
            parser.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded on the directors)")
            parser.add_argument("--force", action="store_true",
                                help="also drain the last in-service real server, or with a director unreachable")
            parser.add_argument("--wait", type=float, default=DEFAULT_WAIT_S, metavar="S",
                                help=f"wait up to S seconds for active connections to reach 0 "
                                     f"(default {DEFAULT_WAIT_S:g}; the drain stays either way)")
        if spec.name == "upstream_drain":
            parser.add_argument("--reason", required=True, metavar="TEXT", help="why (recorded on the nginx nodes)")
            parser.add_argument("--force", action="store_true",
                                help="also drain the last live server of the upstream (its traffic then has none)")
        if spec.name == "failover":
            release = registry.get("release")
            parser.add_argument("--release", action="store_true", help=release.description)
        parser.set_defaults(func=lambda args, spec=spec: run(spec, args))


def _target(spec: ActionSpec, args: argparse.Namespace, cluster: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": spec.target, "cluster": cluster}
    for dest, _ in _TARGET_ARGS[spec.target]:
        out[dest] = getattr(args, dest)
    return out


def _cluster_of(spec: ActionSpec, args: argparse.Namespace, inv: inventory_mod.Inventory) -> str | None:
    if args.cluster:
        return str(args.cluster)
    node = inv.find_node(args.node) if spec.target == "nginx_node" else None
    if node is not None:
        return node.cluster
    return inv.clusters[0].name if len(inv.clusters) == 1 else None


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass
class _Stop:
    """How a CLI action was stopped early, and whether it had started acting by then."""

    signal: signal.Signals | None = None
    acting: str | None = None  # the audit log, once the executor has the action
    finished: bool = False  # the executor returned: the action is done and audited


def run(spec: ActionSpec, args: argparse.Namespace) -> int:
    inv = inventory_mod.load(args.inventory)
    stop = _Stop()
    try:
        return asyncio.run(_run(spec, args, inv, stop))
    except (KeyboardInterrupt, asyncio.CancelledError):
        how = stop.signal.name if stop.signal else "ctrl+c"
        if stop.finished:
            print(f"lbconsole {spec.name}: interrupted by {how} after it finished; its result is in {stop.acting}",
                  file=sys.stderr)
        elif stop.acting:
            print(f"lbconsole {spec.name}: interrupted by {how} before it finished; recorded as interrupted, with "
                  f"what it had applied, in {stop.acting}: check the nodes (lbconsole status)", file=sys.stderr)
        else:
            print(f"lbconsole {spec.name}: interrupted by {how}; nothing was done", file=sys.stderr)
        return 128 + (stop.signal or signal.SIGINT)


def _stop_on_signals(stop: _Stop) -> list[signal.Signals]:
    """SIGTERM and SIGHUP (a closed SSH session) stop the action as ctrl+c does, through a cancellation the
    executor audits; a signal ignored at start (nohup) stays ignored."""
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    handled = [sig for sig in STOP_SIGNALS if signal.getsignal(sig) is not signal.SIG_IGN]

    def on_signal(sig: signal.Signals) -> None:
        if stop.signal is None and task is not None:
            stop.signal = sig
            task.cancel()

    for sig in handled:
        loop.add_signal_handler(sig, on_signal, sig)
    return handled


async def _run(spec: ActionSpec, args: argparse.Namespace, inv: inventory_mod.Inventory, stop: _Stop) -> int:
    from lbconsole.actions.context import ActionContext
    from lbconsole.actions.execute import execute

    handled: list[signal.Signals] = []
    name = "release" if getattr(args, "release", False) else spec.name
    ctx = ActionContext(inventory=inv, cluster=_cluster_of(spec, args, inv), read_only=args.read_only,
                        progress=lambda text: print(f"  {safetext.line(text)}", file=sys.stderr, flush=True),
                        origin="cli")
    params: dict[str, Any] = {}
    if name == "drain":
        params = {"reason": args.reason, "force": args.force, "wait": args.wait}
    elif name == "undrain":
        params = {"force": args.force}
    elif name == "upstream_drain":
        params = {"reason": args.reason, "force": args.force}
    target = _target(spec, args, ctx.cluster)
    try:
        refusal, outcome = None, None
        if not args.yes and not ctx.cluster_read_only:
            if sys.stdin.isatty():  # the checks first: never ask in vain
                outcome = await preflight(ctx, name, target, params)
            if outcome is None:
                refusal = await _confirm(ctx, name, target, params)
        handled = _stop_on_signals(stop)  # a signal from here on interrupts an action; before it, nothing was done
        stop.acting = str(ctx.audit.path)
        res = await execute(ctx, name, target, params, refusal=refusal, outcome=outcome)
        stop.finished = True
    finally:
        for sig in handled:
            asyncio.get_running_loop().remove_signal_handler(sig)
        await ctx.close()
    out = sys.stdout if res.ok else sys.stderr
    print(safetext.line(res.message if res.ok else f"lbconsole {name}: {res.message}"), file=out)
    for line in res.details:
        print(f"  {safetext.line(line)}", file=out)
    return res.exit_code


async def preflight(ctx: Any, name: str, target: dict[str, Any], params: dict[str, Any]) -> ActionResult | None:
    """The action's own checks, reading only, before the prompt: their refusal is the answer (None: ask).

    The action runs them again after the yes, so nothing the operator did not confirm can slip through.
    """
    from lbconsole.actions import director_view, drain, failover, targets
    from lbconsole.errors import LbconsoleError, RefusedError, UsageError

    try:
        parsed = targets.from_dict(registry.get(name).target, target, ctx.cluster)
        ctx.cluster = parsed.cluster
        if isinstance(parsed, targets.RealServerTarget):
            keys = [rs.key for rs in parsed.real_servers]
            nodes = director_view.directors(ctx.cluster_config())
            views = await director_view.inspect(ctx, nodes, parsed.service, keys)
            refusal, _ = drain.check(parsed, views, bool(params.get("force")), drain=name == "drain")
            return refusal
        if isinstance(parsed, targets.UpstreamServerTarget):
            from lbconsole.actions import upstream_drain, upstream_plan

            upstream_plan.plan(await upstream_drain.fresh(ctx), parsed.upstream, parsed.server,
                               name == "upstream_drain", bool(params.get("force")))
            return None
        if name == "failover" and isinstance(parsed, targets.InstanceTarget):
            plan = await failover.plan(ctx, parsed)
            if plan.refusal:
                return refused(f"failover of {parsed.instance} refused: {plan.refusal}")
        if isinstance(parsed, targets.NodeTarget) and ctx.cluster_config().node(parsed.node) is None:
            return None  # execute says which nodes there are
    except UsageError as exc:
        return ActionResult(USAGE, str(exc))
    except RefusedError as exc:
        return refused(str(exc))
    except LbconsoleError as exc:
        return ActionResult(FAILED, str(exc))
    return None


async def _confirm(ctx: Any, name: str, target: dict[str, Any], params: dict[str, Any]) -> str | None:
    """None to go ahead, else why not (the attempt is then audited as refused)."""
    if not sys.stdin.isatty():
        return "not confirmed: stdin is not a terminal; pass --yes to confirm"
    text = await describe(ctx, name, target, params)
    print(safetext.clean(text), file=sys.stderr)
    try:
        answer = input(f"{registry.get(name).title}? [y/N] ")
    except EOFError:
        answer = ""
    return None if answer.strip().lower() in ("y", "yes") else "not confirmed by the operator"


async def describe(ctx: Any, name: str, target: dict[str, Any], params: dict[str, Any]) -> str:
    """What will change and where, for the prompt."""
    cluster = ctx.cluster or "?"
    if name in ("drain", "undrain"):
        rs = target["real_server"]
        rs = ", ".join(rs) if isinstance(rs, list) else rs
        directors = ", ".join(n.name for n in ctx.cluster_config().directors)
        if name == "drain":
            return (f"Drain {rs} of {target['service']} in cluster {cluster}: weight 0 on every director "
                    f"({directors}); existing connections finish.\nReason: {params.get('reason')}")
        return f"Undrain {rs} of {target['service']} in cluster {cluster}: recorded weight back on {directors}."
    if name in ("upstream_drain", "upstream_undrain"):
        from lbconsole.actions import upstream_drain

        nginx = [n.name for n in ctx.cluster_config().nodes if n.has_role("nginx")]
        return upstream_drain.describe(name, {**target, "cluster": cluster}, nginx, params.get("reason"))
    if name == "failover":
        from lbconsole.actions import failover, targets

        parsed = targets.from_dict("vrrp_instance", target, ctx.cluster)
        assert isinstance(parsed, targets.InstanceTarget)
        plan = await failover.plan(ctx, parsed)
        if plan.refusal or plan.master is None:
            return f"Failover of {target['instance']}: preflight says: {plan.refusal}"
        return (f"Failover of {target['instance']} in cluster {cluster}: {plan.master.node.name} (MASTER) steps down.\n"
                f"WARNING: {plan.warning}.\nConnections through the old master may break unless LVS sync runs.")
    if name == "release":
        return (f"Release the forced failover of {target['instance']} in cluster {cluster}: configured priorities "
                "apply again. With preempt, the higher-priority director takes the VIP back (a second flap).")
    return (f"Reload nginx on {target['node']}: nginx -t first (nothing is touched if it fails), then reload and "
            "check for new workers and a clean error log.")
