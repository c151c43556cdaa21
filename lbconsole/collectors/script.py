"""The one shell script a poll runs on a node, and the splitting of its output.

Everything a node needs is batched into one script so that a poll costs one
round trip per node. Each part prints a section header, its output (stderr
folded in) and its exit status, so one failing part never hides the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from lbconsole.collectors.vrrp_parse import REDACT_SED
from lbconsole.inventory import NodeConfig
from lbconsole.transport.base import shell_quote

HEADER = "@@LBC "
FOOTER = "@@LBC-RC "
DRAIN_DIR = "/var/lib/lbconsole/drain"
FORCED_DIR = "/var/lib/lbconsole/forced"  # lbconsole.actions.failover_script writes these

_PRELUDE = r"""
export LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Every fork and exec counts on small or emulated hosts: shell builtins wherever they do.
sec() { n=$1; shift; printf '@@LBC %s\n' "$n"; "$@" 2>&1; printf '\n@@LBC-RC %s\n' "$?"; }
p_host() {
  read -r l < /proc/loadavg; echo "$l"; read -r l < /proc/uptime; echo "$l"
  n=0; c=
  while read -r k rest; do
    case $k in cpu) c="$k $rest" ;; cpu[0-9]*) n=$((n + 1)) ;; *) break ;; esac
  done < /proc/stat
  echo "$n"; echo "$c"
  while read -r k v u; do case $k in MemTotal:|MemAvailable:) echo "$k $v $u" ;; esac; done < /proc/meminfo
}
p_addr() { ip -j addr show; }
p_ipvs() {
  if command -v "$IPVSADM" >/dev/null 2>&1; then
    "$IPVSADM" -Ln --exact && echo '@@LBC-PART stats' && "$IPVSADM" -Ln --stats --exact \
      && echo '@@LBC-PART rate' && "$IPVSADM" -Ln --rate --exact
  elif [ -r /proc/net/ip_vs ]; then
    echo '@@LBC-PART proc'; cat /proc/net/ip_vs
  else
    echo 'neither ipvsadm nor /proc/net/ip_vs: is ip_vs loaded?'; return 3
  fi
}
p_drains() {
  for f in "$DRAIN_DIR"/*.json; do [ -f "$f" ] && { cat "$f"; echo; }; done; return 0
}
p_forced() {
  for f in "$FORCED_DIR"/*.json; do [ -f "$f" ] && { cat "$f"; echo; }; done; return 0
}
# keepalived writes its dumps asynchronously: remove the old file, signal, then wait until
# the new one is complete (JSON: its last line closes the document; text: it stops growing).
# The password is removed on the node.
kd_done() {
  [ -s "$1" ] || return 1
  if [ "$2" = JSON ]; then
    t=; while IFS= read -r l || [ -n "$l" ]; do t=$l; done < "$1"
    case $t in *']'|*'}') return 0 ;; *) return 1 ;; esac
  fi
  s=$(wc -c < "$1"); [ "$s" = "$kd_size" ] && return 0; kd_size=$s; return 1
}
kd_dump() {
  pid=$(cat /run/keepalived.pid 2>/dev/null) || { echo 'keepalived is not running (no /run/keepalived.pid)'; return 3; }
  kill -0 "$pid" 2>/dev/null || { echo "keepalived is not running (pid $pid gone)"; return 3; }
  sig=$(keepalived --signum="$1" 2>/dev/null) || { echo "keepalived has no $1 dump"; return 4; }
  f="${TMPDIR:-/tmp}/$2"
  # keepalived writes every dump to one fixed file: a second console (or this console's own
  # action check) signalling meanwhile would remove or rewrite it mid-read. One dump at a time.
  if command -v flock >/dev/null 2>&1; then
    exec 9>/run/lbconsole-keepalived-dump.lock && flock -w 10 9 ||
      { echo 'another dump held the lock for 10 s'; return 6; }
  fi
  rm -f "$f"; kill -"$sig" "$pid" || return 5
  i=0; while [ ! -s "$f" ] && [ $i -lt 300 ]; do i=$((i + 1)); done  # usually written by now
  i=0; kd_size=-1
  # Up to 5 s: a busy node (or one under emulation) can take seconds to write the dump.
  until kd_done "$f" "$1"; do
    kill -0 "$pid" 2>/dev/null || { echo "keepalived is not running (pid $pid exited)"; return 3; }
    [ $i -ge 200 ] && { echo "keepalived wrote no complete $2 within 5 s"; return 6; }
    sleep 0.025; i=$((i + 1))
  done
  sed -E "$REDACT" "$f"; rc=$?
  exec 9>&-
  return $rc
}
p_vrrp() {
  if kd_dump JSON keepalived.json; then return 0; fi
  rc=$?; [ $rc -eq 3 ] && return 3
  echo '@@LBC-PART data'; kd_dump DATA keepalived.data
}
p_nginx() {
  if command -v curl >/dev/null 2>&1; then curl -fsS -m 2 "$STATUS_URL"
  elif command -v wget >/dev/null 2>&1; then wget -qO- -T 2 "$STATUS_URL"
  else echo 'neither curl nor wget on the node'; return 127; fi
}
"""


def build(node: NodeConfig, with_ipvs: bool = True, ipvsadm: str = "ipvsadm") -> str:
    """The poll script for `node`; `with_ipvs=False` when IPVS is read over netlink instead."""
    lines = [f"REDACT={shell_quote(REDACT_SED)}", f"IPVSADM={shell_quote(ipvsadm)}",
             f"DRAIN_DIR={shell_quote(DRAIN_DIR)}", f"FORCED_DIR={shell_quote(FORCED_DIR)}",
             f"STATUS_URL={shell_quote(node.nginx_status_url)}", _PRELUDE,
             "sec host p_host", "sec addr p_addr"]
    if node.has_role("director"):
        if with_ipvs:
            lines.append("sec ipvs p_ipvs")
        lines.append("sec drains p_drains")
        lines.append("sec forced p_forced")
    # keepalived may run on any tier (a floating VIP for nginx too); absent is not an error there.
    lines.append("sec vrrp p_vrrp")
    if node.has_role("nginx"):
        lines.append("sec nginx p_nginx")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class Section:
    name: str
    text: str
    status: int  # the part's exit status; -1 when the output was cut off

    @property
    def ok(self) -> bool:
        return self.status == 0

    def parts(self) -> dict[str, str]:
        """Split on '@@LBC-PART name' markers; the text before the first marker is part ''."""
        out: dict[str, str] = {}
        name = ""
        buf: list[str] = []
        for line in self.text.split("\n"):
            if line.startswith("@@LBC-PART "):
                out[name] = "\n".join(buf)
                name, buf = line[11:].strip(), []
            else:
                buf.append(line)
        out[name] = "\n".join(buf)
        return out

    def first_line(self) -> str:
        return next((ln.strip() for ln in self.text.splitlines() if ln.strip()), "no output")[:200]


def split(output: str) -> dict[str, Section]:
    """The script's output by section name. A section without its footer was cut off."""
    sections: dict[str, Section] = {}
    name: str | None = None
    buf: list[str] = []
    for line in output.split("\n"):
        if line.startswith(HEADER):
            if name is not None:
                sections[name] = Section(name, "\n".join(buf), -1)
            name, buf = line[len(HEADER):].strip(), []
        elif line.startswith(FOOTER) and name is not None:
            text = "\n".join(buf)
            text = text[:-1] if text.endswith("\n") else text  # sec() adds one newline
            try:
                status = int(line[len(FOOTER):].strip())
            except ValueError:
                status = -1
            sections[name] = Section(name, text, status)
            name, buf = None, []
        elif name is not None:
            buf.append(line)
    if name is not None:
        sections[name] = Section(name, "\n".join(buf), -1)
    return sections
