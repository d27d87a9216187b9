"""Update / replace by UpdateDateTime: a later version of an NMI suffix's day replaces the earlier
one; an older one, or one of the same time, does not (a re-import changes nothing).

parse() streams and gives out every version it reads, so the rule is applied by whoever keeps the
data: ``newer`` against what is stored (across files too), ``keep_newest`` for a file held in memory.
"""

from collections.abc import Iterable

from meters.nem12.records import Block


def newer(candidate_update_s: int, current_update_s: int) -> bool:
    """Whether a version with UpdateDateTime ``candidate_update_s`` replaces one with
    ``current_update_s`` (UTC seconds; 0 = absent, which never replaces a version that has a time)."""
    return candidate_update_s > current_update_s


def day_key(block: Block) -> tuple[str, str, str]:
    """What a version is a version of: NMI, suffix, NEM day."""
    return block.nmi, block.suffix, block.interval_date


def keep_newest(blocks: Iterable[Block]) -> list[Block]:
    """The newest version of each day, in the order the days first appeared (holds them all)."""
    kept: dict[tuple[str, str, str], Block] = {}
    for block in blocks:
        key = day_key(block)
        if key not in kept or newer(block.update_time_unix_s, kept[key].update_time_unix_s):
            kept[key] = block
    return list(kept.values())
