"""Quality methods: a letter (A actual, S substituted, F final substituted, E estimated, N null,
V variable: see the 400 records) and, for S / F / E, a two-digit method flag (11-79, Metrology
Procedure Part B), e.g. ``S14``; and the 400 records that give a V day its quality per range."""

from functools import lru_cache

QUALITY_LETTERS = frozenset("ASFENV")


class BadQuality(ValueError):
    pass


@lru_cache(maxsize=4096)
def split_quality(field: bytes) -> tuple[str, int]:
    """``b"S14"`` -> ("S", 14); ``b"A"`` -> ("A", 0)."""
    text = field.strip().decode(errors="replace").upper()
    letter, flag = text[:1], text[1:]
    if letter not in QUALITY_LETTERS or (flag and not (len(flag) == 2 and flag.isdigit())):
        raise BadQuality(f"not a quality method: {text[:10]!r}")
    return letter, int(flag or 0)


def reason_code(field: bytes) -> int:
    """ReasonCode (0-999, blank = 0)."""
    field = field.strip()
    if not field:
        return 0
    if not field.isdigit() or len(field) > 3:
        raise BadQuality(f"not a reason code: {field[:10].decode(errors='replace')!r}")
    return int(field)


def quality_field(letter: str, flag: int) -> str:
    """The QualityMethod field of a letter and method flag (``S``, 14 -> ``S14``)."""
    return f"{letter}{flag:02d}" if flag else letter
