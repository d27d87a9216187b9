"""The NEM regions the platform knows and the local clock each keeps (load shapes follow it)."""

REGIONS: tuple[str, ...] = ("NSW", "VIC", "QLD", "SA", "TAS")
TIMEZONES = {
    "NSW": "Australia/Sydney",
    "VIC": "Australia/Melbourne",
    "QLD": "Australia/Brisbane",
    "SA": "Australia/Adelaide",
    "TAS": "Australia/Hobart",
}
# NEM time: AEST all year, for a region not known.
NEM_TIMEZONE = "Australia/Brisbane"
