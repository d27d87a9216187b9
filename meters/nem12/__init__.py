"""AEMO Meter Data File Format (NEM12 interval data, NEM13 accumulation data): a streaming parser,
an export writer and the SGSC-households converter. Pure domain code: no gRPC, no database.

    for item in parse("NEM12#...zip"):   # Block | AccumulationRead | Problem, in file order
        ...
"""

from meters.nem12 import reasons
from meters.nem12.parser import Item, parse
from meters.nem12.records import B2B, AccumulationRead, Block, Channel, Header, Problem, Reading
from meters.nem12.replace import day_key, keep_newest, newer
from meters.nem12.series import channel_of, day_blocks
from meters.nem12.writer import write_nem12

__all__ = ["B2B", "AccumulationRead", "Block", "Channel", "Header", "Item", "Problem", "Reading", "channel_of",
           "day_blocks", "day_key", "keep_newest", "newer", "parse", "reasons", "write_nem12"]
