"""Which channels an alert goes to, by severity (plan 6.2; critical also opens a ServiceNow incident)."""

SEVERITY_CHANNELS: dict[str, tuple[str, ...]] = {
    "critical": ("pagerduty", "teams", "email", "servicenow"),
    "warning": ("teams", "email"),
    "info": ("email",),
}


def channels_for(severity: str, enabled: frozenset[str]) -> list[str]:
    """The channels owed an alert of this severity, among those configured."""
    return [c for c in SEVERITY_CHANNELS.get(severity, ("email",)) if c in enabled]
