"""Transformer energy (issue 14): RecordTransformerTelemetry's optional energy_kwh column through the
scoring service into grid.transformer_telemetry (real PostgreSQL; the mesh's Kafka is up but telemetry
is a unary RPC, not a Kafka stream). Stored when sane, NULL when missing, kept with its reason when
beyond +-10 x capacity_kva x 1 h."""

import time

import grpc
import numpy as np
import pandas as pd
import pytest

from meters.fleet import FleetConfig, generate_topology, transformer_telemetry
from meters.fleet_registration import ServiceChannels, register_fleet
from meters.fleet_telemetry import record_telemetry
from meters.scoring.v1 import scoring_service_pb2 as pb, scoring_service_pb2_grpc, transformer_pb2

pytestmark = pytest.mark.infra
TX = 9501  # this module's transformer ids
SUBSTATION = 95
CAPACITY_KVA = 200.0


@pytest.fixture(scope="module")
def stub(mesh):
    with mesh.serving("alert", "scoring", env={}), mesh.channel("scoring") as ch:
        s = scoring_service_pb2_grpc.ScoringServiceStub(ch)
        s.BatchCreateSubstations(pb.BatchCreateSubstationsRequest(substations=[transformer_pb2.Substation(
            substation_id=SUBSTATION, display_name="ZS-ENERGY", region="NSW", capacity_mva=20)]))
        s.BatchCreateTransformers(pb.BatchCreateTransformersRequest(transformers=[transformer_pb2.Transformer(
            transformer_id=TX + i, transformer_number=f"T-{TX + i}", substation_id=SUBSTATION, region="NSW",
            capacity_kva=CAPACITY_KVA, age_years=10) for i in range(2)]))
        yield s


def send(stub, tx: int, energy: list[float] | None):
    n = len(energy) if energy is not None else 3
    end = int(time.time()) // 3600 * 3600
    batch = transformer_pb2.TransformerTelemetryBatch(
        transformer_ids=[tx] * n, hour_end_unix_s=[end - 3600 * (n - 1 - i) for i in range(n)],
        load_kva=[100.0] * n, peak_load_kva=[120.0] * n, ambient_temp_c=[25.0] * n, oil_temp_c=[50.0] * n,
        winding_temp_c=[65.0] * n, efficiency=[0.98] * n, energy_kwh=energy or [])
    return stub.RecordTransformerTelemetry(pb.RecordTransformerTelemetryRequest(batch=batch))


def stored(db, tx: int) -> list[tuple]:
    return db.execute("SELECT energy_kwh, energy_kwh_rejected, energy_reject_reason, load_kva"
                      " FROM grid.transformer_telemetry WHERE transformer_id = %s ORDER BY hour_end", [tx]).fetchall()


def test_energy_stored_missing_null_and_bad_kept_with_reason(stub, db):
    reply = send(stub, TX, [95.5, -40.25, float("nan"), 10 * CAPACITY_KVA + 1, float("inf"), -10 * CAPACITY_KVA])
    assert (reply.stored, reply.unknown_transformers, reply.energy_rejected) == (6, 0, 2)
    rows = stored(db, TX)
    assert [r[0] for r in rows] == [95.5, -40.25, None, None, None, -2000.0]
    assert [r[1] for r in rows] == [None, None, None, 2001.0, float("inf"), None]
    assert rows[3][2] == "|energy_kwh| over 10 x capacity_kva (200 kVA) x 1 h"
    assert rows[4][2] == "not finite"
    assert all(r[3] == 100.0 for r in rows)  # the row's other telemetry is stored either way


def test_batch_without_energy_column_stores_null(stub, db):
    reply = send(stub, TX + 1, None)
    assert (reply.stored, reply.energy_rejected) == (3, 0)
    assert stored(db, TX + 1) == [(None, None, None, 100.0)] * 3


def test_energy_column_of_wrong_length_is_invalid_argument(stub):
    end = int(time.time()) // 3600 * 3600
    batch = transformer_pb2.TransformerTelemetryBatch(
        transformer_ids=[TX] * 2, hour_end_unix_s=[end - 3600, end], load_kva=[1.0] * 2, peak_load_kva=[1.0] * 2,
        ambient_temp_c=[1.0] * 2, oil_temp_c=[1.0] * 2, winding_temp_c=[1.0] * 2, efficiency=[1.0] * 2,
        energy_kwh=[1.0])
    with pytest.raises(grpc.RpcError) as err:
        stub.RecordTransformerTelemetry(pb.RecordTransformerTelemetryRequest(batch=batch))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_fleet_telemetry_energy_arrives_in_the_table(stub, mesh, ingest_channel, db):
    cfg = FleetConfig(meters=60, days=1, seed=31)
    topology = generate_topology(cfg)
    with mesh.channel("scoring") as ch:
        register_fleet(topology, ServiceChannels(ingest_channel, ch))
        frame = transformer_telemetry(cfg, topology)
        stored_rows, rejected = record_telemetry(frame, ch, rows_per_call=50)
    assert (stored_rows, rejected) == (len(frame), 0)
    assert (frame["energy_kwh"] < 0).any()  # this seed has net-export hours: the sign goes through as sent
    got = pd.DataFrame(db.execute(
        "SELECT transformer_id, extract(epoch FROM hour_end)::bigint, energy_kwh FROM grid.transformer_telemetry"
        " WHERE transformer_id = ANY(%s) AND hour_end >= to_timestamp(%s)",
        [frame["transformer_id"].unique().tolist(), int(frame["hour_end_unix_s"].min())]).fetchall(),
        columns=["transformer_id", "hour_end_unix_s", "stored"])
    both = frame.merge(got, on=["transformer_id", "hour_end_unix_s"])
    assert len(both) == len(frame)
    np.testing.assert_allclose(both["stored"].to_numpy(float), both["energy_kwh"].to_numpy(float))
