"""The node's audit line: one syslog message through the stdlib (no `logger` process)."""

import syslog
import threading
from typing import (
    Any,
    Dict,
)

from .protocol import BAD_REQUEST, NodeError, clean

MAX_LINE = 4000  # syslog lines beyond a few KiB are cut by the daemons anyway
_lock = threading.Lock()


def log(args: Dict[str, Any]) -> Dict[str, Any]:
    line = args.get("line")
    if not isinstance(line, str) or not line.strip():
        raise NodeError(BAD_REQUEST, "audit needs a line (a non-empty string)")
    text = clean(line.replace("\0", "?"), MAX_LINE)
    with _lock:  # openlog/syslog share process state
        syslog.openlog("lbconsole", syslog.LOG_PID, syslog.LOG_USER)
        syslog.syslog(syslog.LOG_NOTICE, text)
    return {"logged": len(text)}
