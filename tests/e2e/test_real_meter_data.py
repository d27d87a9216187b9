"""Real meter data (an SGSC excerpt, tests/fixtures) through ingest: its daylight-saving
duplicates are rejected with a reason and kept, its gap stays a gap, nothing else is lost."""

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from meters.ingest.v1 import meter_pb2
from meters.ingest_client import register_meters, stream_readings
from meters.readings import from_arrays
from tests.e2e.test_ingest import wait_for_count

pytestmark = pytest.mark.infra
FIXTURE = Path(__file__).parent.parent / "fixtures" / "sgsc_excerpt.csv"
AEST = pd.Timedelta(hours=10)  # SGSC meters keep AEST all year (its PROVENANCE.md)


WEEK_S = 7 * 86_400


def sgsc_readings(df: pd.DataFrame):
    """The source has only kWh per 30 minutes: voltage, current and pf are filled with
    nominal values (230 V, pf 1) so that the readings pass the electrical checks. Its 2012 times are
    older than the retention window (ingest refuses them TOO_OLD), so the excerpt is moved forward by
    whole weeks to end about two weeks ago: weekdays, half-hours and the DST duplicates stay as recorded."""
    ends = ((df.READING_DATETIME - AEST).astype("int64") // 10**9).to_numpy()
    ends = ends + (int(time.time()) - ends.max()) // WEEK_S * WEEK_S - WEEK_S
    kwh = df.GENERAL_SUPPLY_KWH.to_numpy()
    kw = kwh * 2
    return from_arrays(meter_ids=df.CUSTOMER_ID.to_numpy(), reading_times_unix_s=ends, consumption_kwh=kwh,
                       demand_kw=kw, voltage_v=np.full(len(df), 230.0), current_a=kw * 1000 / 230,
                       power_factor=np.ones(len(df)))


def test_sgsc_excerpt_is_stored_with_dst_duplicates_kept_aside(ingest_channel, db):
    df = pd.read_csv(FIXTURE, parse_dates=["READING_DATETIME"])
    customers = sorted(df.CUSTOMER_ID.unique())
    register_meters(ingest_channel, [meter_pb2.Meter(meter_id=int(c), meter_number=f"SGSC-{c}") for c in customers])
    duplicates = int(df.duplicated(["CUSTOMER_ID", "READING_DATETIME"]).sum())
    assert duplicates == 2 * len(customers)  # 01:00 and 01:30 twice on 2012-10-07, per household

    reply = stream_readings(ingest_channel, [sgsc_readings(df)])
    assert reply.summary.accepted == len(df) - duplicates
    assert [(rc.reason, rc.count) for rc in reply.summary.rejections] == [(7, duplicates)]  # DUPLICATE_READING

    ids = [int(c) for c in customers]
    sql = "SELECT count(*) FROM meters.meter_readings WHERE meter_id = ANY(%s)"
    assert wait_for_count(db, sql, [ids], len(df) - duplicates) == len(df) - duplicates
    kept = wait_for_count(db, "SELECT count(*) FROM meters.rejected_readings WHERE meter_id = ANY(%s)", [ids],
                          duplicates)
    assert kept == duplicates
    assert db.execute(sql.replace("count(*)", "sum(consumption_kwh)"), [ids]).fetchone()[0] == pytest.approx(
        df.drop_duplicates(["CUSTOMER_ID", "READING_DATETIME"]).GENERAL_SUPPLY_KWH.sum())
