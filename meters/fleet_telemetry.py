"""Sends a fleet's hourly transformer telemetry (meters.fleet `transformer_hourly` / truth
transformer_telemetry frames) to ScoringService.RecordTransformerTelemetry, energy_kwh included
(issue 14: the energy balance needs the transformer's own energy in the platform's database)."""

import grpc
import numpy as np
import pandas as pd

from meters.deadlines import CALL_S
from meters.scoring.v1 import scoring_service_pb2, scoring_service_pb2_grpc, transformer_pb2

_FLOATS = ("load_kva", "peak_load_kva", "ambient_temp_c", "oil_temp_c", "winding_temp_c", "efficiency")


def telemetry_batch(frame: pd.DataFrame) -> transformer_pb2.TransformerTelemetryBatch:
    """One columnar batch of the frame's rows; energy_kwh sent when the frame has it (NaN: missing)."""
    cols = {"transformer_ids": frame["transformer_id"].to_numpy(np.int64).tolist(),
            "hour_end_unix_s": frame["hour_end_unix_s"].to_numpy(np.int64).tolist()}
    cols |= {c: frame[c].to_numpy(np.float64).tolist() for c in _FLOATS}
    if "energy_kwh" in frame:
        cols["energy_kwh"] = frame["energy_kwh"].to_numpy(np.float64).tolist()
    return transformer_pb2.TransformerTelemetryBatch(**cols)


def record_telemetry(frame: pd.DataFrame, scoring: grpc.Channel, rows_per_call: int = 20_000) -> tuple[int, int]:
    """Sends the frame in calls of rows_per_call rows; returns (stored, energy values rejected)."""
    stub = scoring_service_pb2_grpc.ScoringServiceStub(scoring)
    stored = rejected = 0
    for start in range(0, len(frame), rows_per_call):
        reply = stub.RecordTransformerTelemetry(scoring_service_pb2.RecordTransformerTelemetryRequest(
            batch=telemetry_batch(frame.iloc[start:start + rows_per_call])), timeout=CALL_S)
        stored, rejected = stored + reply.stored, rejected + reply.energy_rejected
    return stored, rejected
