"""The drain and forced-failover records a director keeps under /var/lib/lbconsole/.

Same paths and JSON fields as the console has always written (lbconsole/actions/
drain_script.py, failover_script.py): one JSON object per file.
- drain/<slug(service)>_<slug(real server)>.json: service, real_server, weight, reason, by, since
- forced/<instance>.json: instance, mode (track_file | stopped), by, since, and track, or
  systemd and argv (how keepalived ran, to start it again the same way)
Writes go to a temporary file first and are renamed into place: a reader never sees half.
"""

import json
import os
import re
from typing import (
    Any,
    Dict,
    List,
    Optional,
)

STATE_DIR = "/var/lib/lbconsole"
DRAIN_DIR = STATE_DIR + "/drain"
FORCED_DIR = STATE_DIR + "/forced"


def slug(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", key)


def drain_path(service_key: str, rs_key: str) -> str:
    return f"{DRAIN_DIR}/{slug(service_key)}_{slug(rs_key)}.json"


def forced_path(instance: str) -> str:
    return "{}/{}.json".format(FORCED_DIR, re.sub(r"[^A-Za-z0-9._-]", "_", instance))


def read_dir(path: str, warnings: List[str]) -> List[Dict[str, Any]]:
    """Every record of a directory, sorted by file name; an unreadable one becomes a warning."""
    try:
        names = sorted(n for n in os.listdir(path) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    except OSError as exc:
        warnings.append(f"cannot list {path}: {exc.strerror}")
        return []
    out = []
    for name in names:
        rec = read_one(os.path.join(path, name), warnings)
        if rec is not None:
            out.append(rec)
    return out


def read_one(path: str, warnings: Optional[List[str]] = None) -> Optional[Dict[str, Any]]:
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        if warnings is not None:
            warnings.append(f"cannot read {path}: {exc.strerror}")
        return None
    if not text.strip():
        return None  # being written by an older console (it wrote in place)
    try:
        rec = json.loads(text)
    except ValueError:
        rec = None
    if not isinstance(rec, dict):
        if warnings is not None:
            warnings.append(f"{path} is not a JSON record")
        return None
    return rec


def write(path: str, record: Dict[str, Any], durable: bool = True) -> None:
    """Atomically (temporary file, fsync unless not durable, rename); the directory is made if new."""
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:  # the directory is made on first use only (makedirs is costly on a slow CPU)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def remove(path: str) -> bool:
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
