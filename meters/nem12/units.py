"""Units of measure (MDFF Appendix B) and their conversion to the platform's canonical units.

Energy and power are kept in kilo units (kWh, kvarh, kVAh, kW, kvar, kVA), voltage in V, current
in A. Files write the UOM in any case (kWh, KWH, kVArh), so the look-up is case-insensitive.
"""

from typing import NamedTuple


class Unit(NamedTuple):
    canonical: str
    multiply: float  # value_in_canonical = value * multiply / divide
    divide: float


def _family(base: str, canonical: str) -> dict[str, Unit]:
    return {base: Unit(canonical, 1.0, 1000.0), "K" + base: Unit(canonical, 1.0, 1.0),
            "M" + base: Unit(canonical, 1000.0, 1.0)}


UNITS: dict[str, Unit] = {
    **_family("WH", "kWh"), **_family("VARH", "kvarh"), **_family("VAH", "kVAh"),
    **_family("W", "kW"), **_family("VAR", "kvar"), **_family("VA", "kVA"),
    "V": Unit("V", 1.0, 1.0), "KV": Unit("V", 1000.0, 1.0),
    "A": Unit("A", 1.0, 1.0), "KA": Unit("A", 1000.0, 1.0),
    "PF": Unit("pf", 1.0, 1.0),
}


def unit_of(uom: str) -> Unit | None:
    """The canonical unit and factor of a file's UOM, or None when it is not an MDFF unit."""
    return UNITS.get(uom.strip().upper())


def scale(values, unit: Unit):
    """Values (a numpy array, or a float) in the canonical unit. Division by 1000 rather than
    multiplication by 0.001, so 10 Wh is exactly the float nearest 0.01 kWh."""
    if unit.multiply != 1.0:
        values = values * unit.multiply
    if unit.divide != 1.0:
        values = values / unit.divide
    return values
