"""Forecast scopes (network, region, substation, transformer) and the clock each one follows."""

from dataclasses import dataclass

from meters.regions import TIMEZONES

NETWORK, REGION, SUBSTATION, TRANSFORMER = "network", "region", "substation", "transformer"
SCOPES = (NETWORK, REGION, SUBSTATION, TRANSFORMER)


@dataclass(frozen=True)
class Scope:
    kind: str  # one of SCOPES
    scope_id: str = ""  # region code, substation id or transformer id; "" for the network
    region: str = ""  # state whose clock and holidays apply; "" = the network (Sydney clock, national holidays)

    @property
    def model_name(self) -> str:
        """Registry name of a model trained for exactly this scope."""
        return "forecast-network" if self.kind == NETWORK else f"forecast-{self.kind}-{self.scope_id}"

    @property
    def timezone(self) -> str:
        return TIMEZONES.get(self.region, "Australia/Sydney")


def network() -> Scope:
    return Scope(NETWORK)


def region(code: str) -> Scope:
    return Scope(REGION, code, code)

# ForecastScope enum numbers, also stored in the schema's smallint scope columns.
SCOPE_CODES = {NETWORK: 1, REGION: 2, SUBSTATION: 3, TRANSFORMER: 4}
