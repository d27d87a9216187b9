"""write_nem12(): a NEM12 file of Blocks (100, 200 per channel, 300 per day, 400 where a day's
quality varies, 900). Values are written in the Block's canonical unit with the shortest decimal
that reads back as the same float, so parse(write(x)) gives x again exactly."""

import os
import time
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np

from meters.nem12.nemtime import NEM_TZ, to_nem_datetime14
from meters.nem12.quality import quality_field
from meters.nem12.records import Block

WRITABLE_QUALITY = frozenset("ASFEN")


def _number(value: float) -> str:
    text = repr(value)
    if "e" in text or "n" in text:  # MDFF numbers have no exponent; nan / inf cannot be written
        if not np.isfinite(value):
            raise ValueError(f"interval value {value} cannot be written")
        text = np.format_float_positional(value, trim="-")
    return text[:-2] if text.endswith(".0") else text


def _channel_line(block: Block) -> str:
    ch = block.channel
    return (f"200,{ch.nmi},{ch.nmi_configuration or ch.suffix},{ch.register_id},{ch.suffix},{ch.mdm_stream},"
            f"{ch.meter_serial},{ch.unit},{ch.interval_minutes},{ch.next_scheduled_read}\n")


def _day_lines(block: Block) -> str:
    q, flag, reason = block.quality, block.method_flag, block.reason_code
    if len(q) != 1440 // block.interval_minutes or len(block.values) != len(q):
        raise ValueError(f"{block.interval_date}: a day of {block.interval_minutes}-minute intervals has "
                         f"{1440 // block.interval_minutes} intervals, not {len(block.values)}")
    if not set(np.unique(q).tolist()) <= WRITABLE_QUALITY:
        raise ValueError(f"{block.interval_date}: quality must be one of A S F E N per interval")
    values = ",".join(map(_number, block.values.tolist()))
    change = np.flatnonzero((q[1:] != q[:-1]) | (flag[1:] != flag[:-1]) | (reason[1:] != reason[:-1])) + 1
    update, msats = to_nem_datetime14(block.update_time_unix_s), to_nem_datetime14(block.msats_load_time_unix_s)
    if not len(change):
        code = int(reason[0]) or ""
        return (f"300,{block.interval_date},{values},{quality_field(q[0], int(flag[0]))},{code},"
                f"{block.reason_description},{update},{msats}\n")
    lines = [f"300,{block.interval_date},{values},V,,,{update},{msats}\n"]
    for lo, hi in zip([0, *change.tolist()], [*change.tolist(), len(q)]):
        lines.append(f"400,{lo + 1},{hi},{quality_field(q[lo], int(flag[lo]))},{int(reason[lo]) or ''},\n")
    return "".join(lines)


def _created(created) -> str:
    if created is None:
        created = time.time()
    if not isinstance(created, (int, float)):
        created = created.timestamp()
    return time.strftime("%Y%m%d%H%M", time.gmtime(created + NEM_TZ.utcoffset(None).total_seconds()))


def write_nem12(out: str | os.PathLike | BinaryIO, blocks: Iterable[Block], *, from_participant: str,
                to_participant: str, created=None) -> None:
    """Write blocks (in order; a new 200 whenever the channel changes) as one NEM12 file. ``created``
    (UTC Unix seconds or an aware datetime; default now) is the 100 record's DateTime."""
    if isinstance(out, (str, os.PathLike)):
        with open(out, "wb") as f:
            return write_nem12(f, blocks, from_participant=from_participant, to_participant=to_participant,
                               created=created)
    out.write(f"100,NEM12,{_created(created)},{from_participant},{to_participant}\n".encode())
    channel = None
    for block in blocks:
        if channel is None or block.channel != channel:
            channel = block.channel
            out.write(_channel_line(block).encode())
        out.write(_day_lines(block).encode())
    out.write(b"900\n")
