"""What the rules need to know besides the snapshot: intervals, limits and the console's own work."""

from __future__ import annotations

from dataclasses import dataclass, field

FORCED_WARN_AFTER_S = 1800.0  # a forced failover left in place longer is a WARNING, "still forced"
ADVERT_INT_S = 1.0  # keepalived's default advert_int
CLOCK_SLACK_S = 0.5  # node clocks (last_transition) against the console's (sampled_at)
UPSTREAM_DRIFT_GRACE_S = 60.0  # a recorded upstream drain still missing on some nginx nodes: planned this long


@dataclass(frozen=True, slots=True)
class Settings:
    poll_interval: float = 2.0
    advert_int: float = ADVERT_INT_S
    forced_warn_after: float = FORCED_WARN_AFTER_S
    clock_slack: float = CLOCK_SLACK_S
    upstream_drift_grace: float = UPSTREAM_DRIFT_GRACE_S

    @property
    def takeover_s(self) -> float:
        """How long keepalived may rightly take to move a VRID: its master-down interval, 3 adverts and at most
        one more of skew. The one definition the VRRP rules (election, handover, release) build on."""
        return 4 * self.advert_int


@dataclass(frozen=True, slots=True)
class RunningAction:
    """An action this console is running now: the states it causes are planned, not incidents."""

    name: str  # registry name: drain, undrain, failover, release, reload, upstream_drain, upstream_undrain
    cluster: str
    target: dict[str, str | None] = field(default_factory=dict)  # the executor's target dict
    started: float = 0.0

    def describe(self) -> str:
        what = (self.target.get("real_server") or self.target.get("instance") or self.target.get("node")
                or self.target.get("server") or "")
        if self.target.get("upstream"):
            what = f"{what} of upstream {self.target['upstream']}"
        return f"{self.name} {what}".strip()
