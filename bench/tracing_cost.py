"""What tracing costs on the ingest hot path: end-to-end ingest throughput (gRPC -> Kafka -> PostgreSQL)
and single-reading scoring latency with tracing on at the default sampling (METERS_TRACE_SAMPLE_RATIO,
1 % of new traces, exported over OTLP to a real Jaeger) beside the same mesh with tracing off, in one run.

Figures: <figure>_traced and <figure>_untraced for ingest_readings_per_s, scoring_p99_ms and
scoring_p50_ms, and tracing_cost_* ratios (goal: under 5 % cost). Each mode gets a stack of its own.
"""

from bench import modes
from observability.jaeger import server as jaeger_server


def run() -> dict[str, float]:
    with modes.workdir("bench-tracing-") as tmp:
        jaeger = jaeger_server.start(jaeger_server.free_port(), tmp / "jaeger.log")
        try:
            jaeger_server.wait_ready(jaeger)
            figures = {**modes.measure(tmp, "traced", env={"METERS_OTLP_ENDPOINT": jaeger.otlp_endpoint}),
                       **modes.measure(tmp, "untraced")}
        finally:
            jaeger.stop()
    return {**figures, **modes.cost(figures, "tracing_cost", "traced", "untraced")}
