"""MeasureDemandResponseEvent with a control-group baseline (control_baseline.py) instead of 10 of 10.

The control: up to CONTROL_SAMPLE customers of the event's region (all regions when the event has
none) who were not targeted by the event, in a fixed pseudo-random order (md5 of the customer id),
so a re-measure picks the same ones. Days are 24-hour frames centred on the event's start, so the
pre-event hours never cross a frame edge whatever the event's clock time; a frame is eligible when
its NEM date has the event's day type and holds no other (not cancelled) event of the region.
The portfolio figure comes from the control fit; each participant's own 10-of-10 baseline is scaled
by one factor so that the participants' baselines add up to it (settlement is per participant).
"""

import datetime as dt
from dataclasses import replace

import numpy as np

from customer_svc import control_baseline
from customer_svc.baseline import EventResult
from customer_svc.usage_store import load_usage
from meters.errors import failed_precondition

CONTROL_SAMPLE = 2000
MIN_CONTROL = 30
EVENT_OFFSET_H = 12  # the event starts at this hour of its frame
HISTORY_DAYS = 100  # frames before the event: 60 eligible weekdays need ~85
NEM_OFFSET_S = 10 * 3600


def _frame_sums(usage, meter_ids, origin: int, days: int) -> np.ndarray:
    """(days, 24) summed kWh of these meters by frame and hour; NaN where none of them had a reading."""
    sel = np.isin(usage.meter_ids, meter_ids)
    offset = usage.hour_start_unix_s[sel] - origin
    keep = (offset >= 0) & (offset < days * 86400)
    d, h = offset[keep] // 86400, offset[keep] % 86400 // 3600
    total = np.zeros((days, 24))
    np.add.at(total, (d, h), usage.kwh[sel][keep])
    seen = np.zeros((days, 24), dtype=bool)
    seen[d, h] = True
    return np.where(seen, total, np.nan)


def _nem_weekday(unix_s: int) -> bool:
    return dt.datetime.fromtimestamp(unix_s + NEM_OFFSET_S, dt.timezone.utc).weekday() < 5


async def measure(conn, event, eid: int, participant_meters: list, own: EventResult) -> tuple[EventResult, str]:
    """The event's result with the control-group portfolio baseline, and how it was measured."""
    start, end = event.start_time.ToSeconds(), event.end_time.ToSeconds()
    hours = np.arange(EVENT_OFFSET_H, EVENT_OFFSET_H + max(1, (end - start) // 3600))
    origin = start - EVENT_OFFSET_H * 3600 - HISTORY_DAYS * 86400
    days = HISTORY_DAYS + 1
    cur = await conn.execute(
        """SELECT array_agg(m.meter_id) FROM customers.customers c JOIN customers.customer_meters m ON m.customer_id = c.id
           WHERE (%s = '' OR c.region = %s)
             AND c.id NOT IN (SELECT customer_id FROM customers.demand_response_participants WHERE event_id = %s)
           GROUP BY c.id ORDER BY md5(c.id::text) LIMIT %s""",
        [event.region, event.region, eid, CONTROL_SAMPLE])
    control_meters = [row[0] for row in await cur.fetchall()]
    if len(control_meters) < MIN_CONTROL:
        raise failed_precondition(f"a control-group baseline needs at least {MIN_CONTROL} customers outside the "
                                  f"event in its region, found {len(control_meters)}", "CONTROL_GROUP_TOO_SMALL")
    cur = await conn.execute(
        """SELECT extract(epoch FROM start_time)::bigint FROM customers.demand_response_events
           WHERE id <> %s AND NOT cancelled AND (%s = '' OR region = '' OR region = %s)
             AND start_time >= to_timestamp(%s) AND start_time < to_timestamp(%s)""",
        [eid, event.region, event.region, origin, start])
    other_events = [int(r[0]) for r in await cur.fetchall()]
    part_ids = np.array([m for ms in participant_meters for m in ms], dtype=np.int64)
    ctrl_ids = np.array([m for ms in control_meters for m in ms], dtype=np.int64)
    usage = await load_usage(conn, origin, origin + days * 86400, np.concatenate([part_ids, ctrl_ids]))
    participants, control = _frame_sums(usage, part_ids, origin, days), _frame_sums(usage, ctrl_ids, origin, days)
    event_type = _nem_weekday(start)
    day_ok = np.array([_nem_weekday(origin + d * 86400 + EVENT_OFFSET_H * 3600) == event_type for d in range(days)])
    day_ok[[(s - origin) // 86400 for s in other_events]] = False
    try:
        fit = control_baseline.fit(participants, control, day_ok, days - 1, hours, len(control_meters))
    except ValueError as e:
        raise failed_precondition(f"no control-group baseline: {e}", "CONTROL_BASELINE_UNAVAILABLE") from e
    baseline_kw = fit.event_kwh / len(hours)
    own_kw = sum(r[0] for r in own.per_participant if r)
    scale = baseline_kw / own_kw if own_kw > 0 else 0.0
    per = [(r[0] * scale, r[1]) if r else None for r in own.per_participant]
    result = replace(own, baseline_kw=baseline_kw, per_participant=per,
                     participants_reduced=sum(1 for r in per if r and r[0] > r[1]))
    how = (f"control group of {len(control_meters)} customers, {fit.days_used} eligible days, "
           "regression on event-window and pre-event use")
    return result, how
