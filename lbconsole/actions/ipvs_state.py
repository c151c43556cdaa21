"""One virtual service as a director has it: per real server the forward method, weight,
thresholds and connections, from `ipvsadm -Ln --exact` of that service and its --thresholds
listing (the save format -S omits -x/-y, and `ipvsadm -e` resets what it is not given)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lbconsole.actions.targets import ServiceSpec, parse_real_server
from lbconsole.errors import UsageError

# svc_rows FLAG ADDR: the service's listing (forward method, weight, connections), then its
# thresholds; parsed here, not on the node (each awk costs ~0.1 s on a slow VM).
ROWS_SH = r"""
svc_rows() {
  command -v ipvsadm >/dev/null 2>&1 || { echo 'ipvsadm is not installed'; return 3; }
  _o=$(ipvsadm -Ln --exact "$1" "$2" 2>&1) || {
    case $_o in *"initialize ipvs"*)
      echo "ip_vs is not loaded (ipvsadm: $(echo "$_o" | grep -m1 'initialize ipvs')): not an LVS director"
      return 5 ;;
    esac
    printf '%s\n' "$_o"; return 4; }
  printf '%s\n' "$_o"
  echo '@@T'
  ipvsadm -Ln --exact --thresholds "$1" "$2" || return 4
}
"""
FORWARD_FLAGS = {"Route": "-g", "Masq": "-m", "Tunnel": "-i", "Local": "-g"}


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
    """The real servers of the service by canonical key (thresholds 0 when not listed)."""
    listing, _, thresholds = text.partition("@@T")
    base: dict[str, dict[str, Any]] = {}  # RsState's keyword arguments
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0] == "->" and parts[2] in FORWARD_FLAGS:
            try:
                key = parse_real_server(parts[1]).key
                base[key] = {"forward": FORWARD_FLAGS[parts[2]], "weight": int(parts[3]),
                             "active": int(parts[4]), "inactive": int(parts[5])}
            except (UsageError, ValueError):
                continue
    for line in thresholds.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[0] == "->":
            try:
                key = parse_real_server(parts[1]).key
                if key in base:
                    base[key].update(u_thresh=int(parts[2]), l_thresh=int(parts[3]))
            except (UsageError, ValueError):
                continue
    return {key: RsState(key, **fields) for key, fields in base.items()}
