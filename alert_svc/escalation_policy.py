"""The escalation policy: per severity, the tiers after the first notification, each with its window and channels.

Tier 1 is the alert's first notification (routing.py). Tier n+1 is due when tier n has gone `after_s`
seconds without the alert being acknowledged or resolved (tier 1's time is the alert's creation), so
each tier gets its whole window even if the one before it was taken late. The defaults:

- critical: tier 2 after 5 min (PagerDuty escalation page + Teams), tier 3 10 min later, 15 min after
  the alert (ServiceNow major incident + email to the duty manager);
- warning: tier 2 after 30 min (Teams + email again), tier 3 2 h later (page the on-call on PagerDuty);
- info: none.

A policy file (AlertSettings.escalation_policy_file, YAML or JSON, same shape as DEFAULT_POLICY) replaces
the defaults as a whole; a missing severity has no escalation. It is validated at start-up: a bad file stops
the service rather than run with a policy nobody wrote.
"""

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["pagerduty", "teams", "email", "servicenow"]
SEVERITIES = ("info", "warning", "critical")


class Tier(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    after_s: float = Field(gt=0, description="seconds the previous tier has to acknowledge before this one")
    channels: tuple[Channel, ...] = Field(min_length=1)


class EscalationPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    critical: tuple[Tier, ...] = ()
    warning: tuple[Tier, ...] = ()
    info: tuple[Tier, ...] = ()

    def tiers(self, severity: str) -> tuple[Tier, ...]:
        """The escalation tiers of `severity`: element 0 is tier 2."""
        return getattr(self, severity, ())

    def tier(self, severity: str, number: int) -> Tier:
        return self.tiers(severity)[number - 2]

    def windows(self) -> tuple[list[str], list[int], list[float]]:
        """(severity, tier, after_s) of every tier as three columns, for the escalator's SQL."""
        rows = [(sev, i + 2, t.after_s) for sev in SEVERITIES for i, t in enumerate(self.tiers(sev))]
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]


DEFAULT_POLICY = EscalationPolicy(
    critical=(Tier(after_s=300, channels=("pagerduty", "teams")),
              Tier(after_s=600, channels=("servicenow", "email"))),
    warning=(Tier(after_s=1800, channels=("teams", "email")),
             Tier(after_s=7200, channels=("pagerduty",))),
)


def load_policy(path: str) -> EscalationPolicy:
    """The policy in the YAML or JSON file at `path` (JSON is YAML); DEFAULT_POLICY when `path` is empty."""
    if not path:
        return DEFAULT_POLICY
    return EscalationPolicy.model_validate(yaml.safe_load(Path(path).read_text()) or {})
