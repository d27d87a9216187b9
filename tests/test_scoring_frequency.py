"""Frequency excursions scored from the reading stream: system-wide, one prediction and one alert each."""

from pathlib import Path

import numpy as np
import psycopg
import pytest

from meters.alert.v1 import alert_pb2, alert_service_pb2
from meters.db import open_pool, migrate
from meters.fleet import FleetConfig, generate_topology, iter_fleet_chunks
from meters.fleet.frequency import plan_frequency_excursions
from meters.readings import ReadingColumns, from_arrays
from scoring_svc.frequency import frequency_alert, frequency_excursions
from scoring_svc.store import enqueue_alerts, insert_predictions

T0 = 1_767_000_000
SCORING_MIGRATIONS = Path(__file__).parents[1] / "scoring_svc" / "migrations"


def cols(times, hz) -> ReadingColumns:
    n = len(hz)
    return from_arrays(meter_ids=np.arange(n), reading_times_unix_s=np.asarray(times) + np.zeros(n, np.int64),
                       consumption_kwh=np.ones(n), demand_kw=np.ones(n), voltage_v=np.full(n, 230.0),
                       current_a=np.ones(n), power_factor=np.ones(n), frequency_hz=np.asarray(hz, np.float64))


def test_normal_frequency_and_one_faulty_meter_raise_nothing():
    assert frequency_excursions(cols(T0, [50.01, 49.98, 50.0, 50.03])) == []
    assert frequency_excursions(cols(T0, [50.01, 47.0, 50.0])) == []  # the median ignores one meter
    assert frequency_excursions(cols(T0, [49.6, 49.6])) == []  # fewer than 3 meters: no system view
    assert frequency_excursions(cols(T0, [np.nan] * 5)) == []  # not reported


def test_an_excursion_is_one_network_prediction_per_reading_time_with_its_severity():
    c = ReadingColumns.concat([cols(T0, [49.62, 49.61, 49.63, np.nan]), cols(T0 + 900, [50.0, 50.01, 49.99]),
                               cols(T0 + 1800, [49.41, 49.4, 49.42]), cols(T0 + 2700, [50.21, 50.2, 50.22])])
    rows = frequency_excursions(c)
    assert [(int(r.predicted_at.timestamp()), r.anomaly_type, r.severity, r.details["meters"]) for r in rows] == [
        (T0, "frequency_low", "warning", 3), (T0 + 1800, "frequency_low", "critical", 3),
        (T0 + 2700, "frequency_high", "warning", 3)]
    assert {(r.asset_type, r.asset_id) for r in rows} == {("network", 0)}
    key, payload = frequency_alert(rows[1])
    alert = alert_service_pb2.CreateAlertRequest.FromString(payload).alert
    assert key == alert.dedup_key == f"frequency_excursion:{T0 + 1800}"
    assert alert.asset_type == alert_pb2.ASSET_TYPE_NETWORK and alert.severity == alert_pb2.SEVERITY_CRITICAL


def test_the_fleets_planted_excursions_are_found_and_nothing_else():
    cfg = FleetConfig(meters=600, days=56, seed=7, chunk_meters=600)
    found = []
    for fc in iter_fleet_chunks(cfg, generate_topology(cfg)):
        r = fc.readings
        found += [int(p.predicted_at.timestamp()) for p in frequency_excursions(from_arrays(
            **{k: getattr(r, k) for k in ("meter_ids", "reading_times_unix_s", "consumption_kwh", "demand_kw",
                                          "voltage_v", "current_a", "power_factor", "frequency_hz")}))]
    planted = plan_frequency_excursions(cfg)["sampled_at_unix_s"].tolist()
    assert len(planted) >= 2 and sorted(found) == sorted(planted)


@pytest.mark.infra
async def test_every_partition_seeing_an_excursion_stores_one_prediction_and_one_alert(fresh_db):
    migrate(fresh_db, SCORING_MIGRATIONS)
    pool = await open_pool(fresh_db)
    try:
        for part in range(6):  # each partition's poll holds other meters at the same interval end
            rows = frequency_excursions(cols(T0, [49.6 + 0.001 * part] * 4))
            async with pool.connection() as conn, conn.transaction():
                new = await insert_predictions(conn, rows)
                await enqueue_alerts(conn, [frequency_alert(p) for p in new])
    finally:
        await pool.close()
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT count(*) FROM ml.predictions WHERE prediction_type = 'frequency_excursion'"
                            ).fetchone()[0] == 1
        assert conn.execute("SELECT array_agg(dedup_key) FROM ml.alert_outbox").fetchone()[0] == [
            f"frequency_excursion:{T0}"]
