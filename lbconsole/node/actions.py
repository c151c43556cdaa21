"""The mutating verbs (each in its own module), for Agent.handle: every one goes through
ops.run (one at a time per node, op_id applied at most once)."""


from typing import Any, Callable, Dict

from . import drain, failover, ops, reload, upstream_verbs


def _verb(name: str, fn: Callable[[Any, Dict[str, Any]], Dict[str, Any]]) -> Callable[[Any, Dict[str, Any]], Dict[str, Any]]:
    return lambda agent, args: ops.run(name, args, lambda: fn(agent, args))


VERBS = {
    "drain": _verb("drain", drain.drain),
    "undrain": _verb("undrain", drain.undrain),
    "failover": _verb("failover", failover.failover),
    "release": _verb("release", failover.release),
    "reload": _verb("reload", reload.reload),
    "upstream_drain": _verb("upstream_drain", upstream_verbs.drain),
    "upstream_undrain": _verb("upstream_undrain", upstream_verbs.undrain),
}
