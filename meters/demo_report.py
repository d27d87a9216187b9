"""What the rest of the mesh made of the demo's readings: anomalies against the fleet's
planted truth, alerts, the network forecast and the customer segments, read through
each service's gRPC API."""

import time
from dataclasses import dataclass, field

import grpc
import numpy as np
from google.protobuf.timestamp_pb2 import Timestamp
from rich.table import Table

from meters.alert.v1 import alert_pb2, alert_service_pb2, alert_service_pb2_grpc
from meters.customer.v1 import customer_service_pb2, customer_service_pb2_grpc, segment_pb2
from meters.deadlines import CALL_S, QUERY_S
from meters.forecast.v1 import forecast_run_pb2, forecast_service_pb2, forecast_service_pb2_grpc
from meters.scoring.v1 import prediction_pb2, scoring_service_pb2, scoring_service_pb2_grpc


@dataclass
class AnomalyTruth:
    """Planted anomalous readings of the stream, as (meter id, reading time) keys."""

    keys: set[tuple[int, int]]
    readings: int
    rejected_at_ingest: set[tuple[int, int]] = field(default_factory=set)


def planted(meter_ids: np.ndarray, times: np.ndarray, anomaly_type: np.ndarray) -> set[tuple[int, int]]:
    hit = anomaly_type > 0
    return set(zip(meter_ids[hit].tolist(), times[hit].tolist()))


def list_all(call, request, field: str, page_size: int = 1000) -> list:
    items, request.page_size = [], page_size
    while True:
        reply = call(request, timeout=QUERY_S)
        items.extend(getattr(reply, field))
        if not reply.next_page_token:
            return items
        request.page_token = reply.next_page_token


def anomaly_rows(scoring: grpc.Channel, truth: AnomalyTruth, settle_s: float = 120) -> list[tuple[str, str]]:
    """Wait until the live scorer's predictions stop growing, then score them against the truth."""
    stub = scoring_service_pb2_grpc.ScoringServiceStub(scoring)
    request = lambda: scoring_service_pb2.ListPredictionsRequest(  # noqa: E731
        prediction_type=prediction_pb2.PREDICTION_TYPE_READING_ANOMALY)
    found, last_count, deadline = [], -1, time.monotonic() + settle_s
    while time.monotonic() < deadline:
        found = list_all(stub.ListPredictions, request(), "predictions")
        if len(found) == last_count:
            break
        last_count = len(found)
        time.sleep(5)
    flagged = {(p.asset_id, p.predicted_at.seconds) for p in found}
    caught_at_ingest = truth.keys & truth.rejected_at_ingest
    scorable = truth.keys - caught_at_ingest  # readings ingest accepted, so the scorer saw them
    true_pos = len(flagged & scorable)
    precision = true_pos / len(flagged) if flagged else 0.0
    recall = true_pos / len(scorable) if scorable else 0.0
    return [
        ("readings streamed", f"{truth.readings:,}"),
        ("planted anomalies rejected at ingest", f"{len(caught_at_ingest):,}"),
        ("planted anomalies accepted / flagged", f"{len(scorable):,} / {len(flagged):,}"),
        ("live precision / recall", f"{precision:.3f} / {recall:.3f}"),
    ]


def alert_rows(alert: grpc.Channel) -> list[tuple[str, str]]:
    stub = alert_service_pb2_grpc.AlertServiceStub(alert)
    alerts = list_all(stub.ListAlerts, alert_service_pb2.ListAlertsRequest(), "alerts")
    by_severity: dict[str, int] = {}
    for a in alerts:
        name = alert_pb2.Severity.Name(a.severity).removeprefix("SEVERITY_").lower()
        by_severity[name] = by_severity.get(name, 0) + 1
    return [("alerts raised", ", ".join(f"{n} {s}" for s, n in sorted(by_severity.items())) or "none")]


def forecast_rows(forecast: grpc.Channel, start_unix_s: int) -> list[tuple[str, str]]:
    """The network's next day, from the end of the streamed readings."""
    stub = forecast_service_pb2_grpc.ForecastServiceStub(forecast)
    start = Timestamp(seconds=start_unix_s)
    run = stub.GetDemandForecast(forecast_service_pb2.GetDemandForecastRequest(
        scope=forecast_run_pb2.FORECAST_SCOPE_NETWORK, start_time=start), timeout=CALL_S).forecast_run
    if not run.points:
        return [("network forecast", "no points")]
    peak = max(run.points, key=lambda p: p.predicted_mw)
    return [("network forecast", f"{len(run.points)} x 15 min from {run.start_time.ToDatetime():%Y-%m-%d %H:%M} UTC"),
            ("forecast peak", f"{peak.predicted_mw:.2f} MW at {peak.time.ToDatetime():%a %H:%M} UTC")]


def segment_rows(customer: grpc.Channel, usage_days: int) -> list[tuple[str, str]]:
    stub = customer_service_pb2_grpc.CustomerServiceStub(customer)
    stub.RunSegmentation(customer_service_pb2.RunSegmentationRequest(usage_days=usage_days, wait=True), timeout=300)
    dist = stub.GetSegmentDistribution(customer_service_pb2.GetSegmentDistributionRequest(),
                                       timeout=QUERY_S).segment_distribution
    shares = sorted(((s.fraction, s.expected_fraction, segment_pb2.Segment.Name(s.segment).removeprefix("SEGMENT_")
                      .lower()) for s in dist.segments), reverse=True)[:4]
    return [("customers segmented", f"{dist.total_customers:,}"),
            ("largest segments (plan share)",
             ", ".join(f"{name} {share:.0%} ({expected:.0%})" for share, expected, name in shares))]


def mesh_table(sections: dict[str, list[tuple[str, str]]]) -> Table:
    table = Table(title="What the mesh made of it")
    table.add_column("service")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for service, rows in sections.items():
        for i, (figure, value) in enumerate(rows):
            table.add_row(service if i == 0 else "", figure, value)
    return table
