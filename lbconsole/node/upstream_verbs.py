"""upstream_drain / upstream_undrain: the agent's verbs around upstream_edit (` down` on one `server`
line of an nginx upstream, nginx -t, reload, verified), run through ops.run by actions.VERBS.

Runs on the node: Python 3.6+, standard library only. The verb checks its arguments, then maps the
edit's outcomes onto the protocol: Refused -> refused (nothing changed, or all put back), Failed ->
failed with the edit's result in the message's detail, nginx that cannot be run -> failed.
"""

# Python 3.6 on the node: typing generics and str.format, not the 3.9+ spellings.
# ruff: noqa: UP032

import json
from typing import Any, Callable, Dict

from . import upstream_edit
from .nginx_reload import Nginx, NginxError
from .protocol import BAD_REQUEST, FAILED, REFUSED, NodeError

NGINX_ARGV = ("nginx",)  # how this node's nginx is run (tests point it at a loopback nginx)
MAX_REASON = 1 << 20
MAX_NAME = 1000


def _text(args: Dict[str, Any], key: str, limit: int = MAX_NAME) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise NodeError(BAD_REQUEST, "{} needs {} (a non-empty string up to {} characters)".format(
            "an upstream drain", key, limit))
    return value


def _detail(result: Dict[str, Any]) -> str:
    """The edit's result as one line of JSON (the console shows its problems and new workers)."""
    keep = {k: result.get(k) for k in ("verified", "problems", "new_workers", "before", "after", "restored")
            if k in result}
    return json.dumps(keep, sort_keys=True)[:4000]


def _run(agent: Any, fn: Callable[..., Dict[str, Any]], *args: Any) -> Dict[str, Any]:
    # An in-process agent may carry its own nginx and record directory (tests run two nodes in one process).
    argv = getattr(agent, "nginx_argv", None) or NGINX_ARGV
    record_dir = getattr(agent, "upstream_record_dir", None) or upstream_edit.RECORD_DIR
    try:
        return fn(Nginx(argv), *args, record_dir=record_dir)
    except upstream_edit.Refused as exc:
        raise NodeError(REFUSED, str(exc)) from None
    except upstream_edit.Failed as exc:
        raise NodeError(FAILED, "{}\ndetail: {}".format(exc, _detail(exc.result))) from None
    except NginxError as exc:
        raise NodeError(FAILED, str(exc)) from None


def drain(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    upstream, server = _text(args, "upstream"), _text(args, "server")
    reason = _text(args, "reason", MAX_REASON)
    force = args.get("force", False)
    if not isinstance(force, bool):
        raise NodeError(BAD_REQUEST, "force must be true or false")
    return _run(agent, upstream_edit.drain, upstream, server, reason, args["by"], force)


def undrain(agent: Any, args: Dict[str, Any]) -> Dict[str, Any]:
    upstream, server = _text(args, "upstream"), _text(args, "server")
    return _run(agent, upstream_edit.undrain, upstream, server)
