"""Blocks from a time series: what an export (stored intervals) or a converter (SGSC) hands the
writer. Intervals are cut into NEM days; an interval missing from a day is written as quality N
(null) with value 0, so every day has all its intervals, as a 300 record must."""

import datetime as dt
from collections.abc import Iterator

import numpy as np

from meters.nem12.nemtime import NEM_OFFSET_S, interval_end_offsets_s
from meters.nem12.records import Block, Channel, Header

EXPORT_HEADER = Header("NEM12", 0, "", "")
_EPOCH = dt.date(1970, 1, 1)


def channel_of(nmi: str, suffix: str, *, interval_minutes: int, unit: str = "kWh", register_id: str = "",
               meter_serial: str = "", nmi_configuration: str = "", mdm_stream: str = "") -> Channel:
    """A Channel for data that did not come from a file (no header, no line)."""
    return Channel(nmi, nmi_configuration or suffix, register_id or suffix, suffix, mdm_stream, meter_serial, unit,
                   unit, interval_minutes, "", EXPORT_HEADER, 0)


def day_blocks(channel: Channel, interval_end_unix_s: np.ndarray, values: np.ndarray, *,
               quality: np.ndarray | None = None, method_flag: np.ndarray | None = None,
               reason_code: np.ndarray | None = None, update_time_unix_s: int = 0) -> Iterator[Block]:
    """One Block per NEM day holding any of the intervals, days in time order. Interval ends must lie
    on the channel's interval grid in NEM time and be distinct (ValueError otherwise). Quality
    defaults to A, method flag and reason code to 0."""
    step = channel.interval_minutes * 60
    ends = np.asarray(interval_end_unix_s, dtype=np.int64)
    starts_nem = ends + NEM_OFFSET_S - step  # interval starts in NEM-time seconds
    if len(ends) and np.any(starts_nem % step):
        raise ValueError(f"interval ends not on the {channel.interval_minutes}-minute grid of NEM time")
    order = np.argsort(ends, kind="stable")
    ends, starts_nem = ends[order], starts_nem[order]
    if np.any(np.diff(ends) == 0):
        raise ValueError("two intervals end at the same time")
    columns = [np.asarray(values, dtype=np.float64)[order],
               (np.full(len(ends), "A", "<U1") if quality is None else np.asarray(quality, "<U1"))[order],
               (np.zeros(len(ends), np.int16) if method_flag is None else np.asarray(method_flag, np.int16))[order],
               (np.zeros(len(ends), np.int16) if reason_code is None else np.asarray(reason_code, np.int16))[order]]
    days, slots = np.divmod(starts_nem, 86400)
    slots //= step
    n = 86400 // step
    bounds = np.flatnonzero(np.diff(days)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(ends)]):
        day, at = int(days[lo]), slots[lo:hi]
        out = [np.zeros(n), np.full(n, "N", "<U1"), np.zeros(n, np.int16), np.zeros(n, np.int16)]
        for full, part in zip(out, columns):
            full[at] = part[lo:hi]
        yield Block(channel, (_EPOCH + dt.timedelta(days=day)).strftime("%Y%m%d"),
                    interval_end_offsets_s(channel.interval_minutes) + (day * 86400 - NEM_OFFSET_S), *out, "",
                    update_time_unix_s, 0, 0)
