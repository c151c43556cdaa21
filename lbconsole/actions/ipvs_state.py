"""One virtual service as a director has it: per real server the forward method, weight,
thresholds and connections, read with ipvsadm (save format for -g/-m/-i and weight,
--thresholds for -x/-y, which the save format omits, and the listing for connections)."""

from __future__ import annotations

from dataclasses import dataclass

from lbconsole.actions.targets import ServiceSpec, parse_real_server
from lbconsole.errors import UsageError

# svc_rows FLAG ADDR prints "S rs fwd weight", "T rs x y" and "C rs active inactive" lines.
ROWS_SH = r"""
svc_rows() {
  command -v ipvsadm >/dev/null 2>&1 || { echo 'ipvsadm is not installed'; return 3; }
  _sa=$(ipvsadm -Sn) || return 3
  _th=$(ipvsadm -Ln --exact --thresholds "$1" "$2" 2>&1) || { echo "no such service: $_th"; return 4; }
  _co=$(ipvsadm -Ln --exact "$1" "$2" 2>&1) || { echo "no such service: $_co"; return 4; }
  printf '%s\n' "$_sa" | awk -v f="$1" -v s="$2" '$1 == "-a" && $2 == f && $3 == s {print "S", $5, $6, $8}'
  printf '%s\n' "$_th" | awk '$1 == "->" && NF >= 6 {print "T", $2, $3, $4}'
  printf '%s\n' "$_co" | awk '$1 == "->" && NF >= 6 {print "C", $2, $5, $6}'
}
"""
FORWARD_FLAGS = ("-g", "-m", "-i")


@dataclass(frozen=True, slots=True)
class RsState:
    key: str
    forward: str  # -g | -m | -i, as ipvsadm -S prints it
    weight: int
    u_thresh: int = 0
    l_thresh: int = 0
    active: int = 0
    inactive: int = 0

    def edit_args(self, weight: int) -> list[str]:
        """ipvsadm -e arguments after `-r RS` that keep everything but the weight."""
        return [self.forward, "-w", str(weight), "-x", str(self.u_thresh), "-y", str(self.l_thresh)]


def rows_call(service: ServiceSpec) -> str:
    flag, addr = service.ipvsadm_args
    return f"svc_rows {flag} '{addr}'"


def parse_rows(text: str) -> dict[str, RsState]:
    """The real servers of the service by canonical key."""
    base: dict[str, dict] = {}
    extra: dict[str, dict] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4 or parts[0] not in ("S", "T", "C"):
            continue
        try:
            key = parse_real_server(parts[1]).key
            a, b = (parts[2], parts[3])
            if parts[0] == "S":
                if a not in FORWARD_FLAGS:
                    continue
                base[key] = {"forward": a, "weight": int(b)}
            elif parts[0] == "T":
                extra.setdefault(key, {}).update(u_thresh=int(a), l_thresh=int(b))
            else:
                extra.setdefault(key, {}).update(active=int(a), inactive=int(b))
        except (UsageError, ValueError):
            continue
    return {key: RsState(key, **fields, **extra.get(key, {})) for key, fields in base.items()}
