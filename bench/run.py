"""`make bench`: run every benchmark module and write bench/results/latest.json.

Each module in BENCHMARKS has `run() -> dict[str, float]`; the results are
merged into one flat JSON object of figures, printed with their targets.
"""

import importlib
import json
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "latest.json"
BENCHMARKS = ["bench.fleet", "bench.nem12_parse", "bench.nem12_import", "bench.ingest_steps", "bench.ingest", "bench.scoring", "bench.security_cost", "bench.tracing_cost", "bench.overload", "bench.pg_outage", "bench.writer_scaling", "bench.kafka_failover", "bench.outages", "bench.theft_suspects", "bench.forecast", "bench.segmentation", "bench.month_close", "bench.serving", "bench.storage", "bench.ray_batch"]
TARGETS = {
    "ingest_readings_per_s": (">=", 100_000),
    "ingest_lost": ("==", 0),
    "ingest_duplicated": ("==", 0),
    "scoring_p99_ms": ("<", 10),
    "failure_p99_ms": ("<", 200),
    "forecast_p99_ms": ("<", 200),
    "segmentation_customers_per_s": (">=", 20_000),
    "segmentation_customers_per_s_90d": (">=", 20_000),
    "segmentation_customers_per_s_365d": (">=", 20_000),
    "segmentation_run_seconds_365d": ("<", 60),
    # issue 16: closing a month at 1.2 M customers from its running summary (bench/month_close.py)
    "month_close_incremental_seconds": ("<", 180),
    "security_cost_ingest_throughput_pct": ("<", 10),
    "security_cost_scoring_p99_pct": ("<", 10),
    # OpenTelemetry at the default sampling (1 % of new traces) against tracing off (issue 18)
    "tracing_cost_ingest_throughput_pct": ("<", 5),
    "tracing_cost_scoring_p99_pct": ("<", 5),
    # the parse leg of NEM12 import: the import end to end (with Kafka and PostgreSQL) aims at >= 300,000
    "nem12_parse_intervals_per_s": (">=", 1_000_000),
    "nem12_parse_peak_rss_mb": ("<", 500),
    # NEM12 import end to end (parse + validate + Kafka + PostgreSQL rows committed), issue 12
    "nem12_import_intervals_per_s": (">=", 300_000),
    "nem12_import_peak_rss_mb": ("<=", 500),
    "nem12_import_lost": ("==", 0),
    "nem12_import_duplicated": ("==", 0),
    "nem12_import_10m_intervals_per_s": (">=", 300_000),  # measured once on a 10 M-interval file
    "nem12_import_10m_peak_rss_mb": ("<=", 500),
    "overload_lost": ("==", 0),
    "overload_duplicated": ("==", 0),
    "overload_refused_rows_stored": ("==", 0),
    # PostgreSQL SIGKILLed for a minute under a steady stream (issue 11): nothing lost or doubled
    "pg_outage_lost": ("==", 0),
    "pg_outage_duplicated": ("==", 0),
    # issue 16: writer group members and node kills on the 3-broker cluster, nothing lost or doubled
    "writer_scaling_lost": ("==", 0),
    "writer_scaling_duplicated": ("==", 0),
    "kafka_broker_kill_lost": ("==", 0),
    "kafka_broker_kill_duplicated": ("==", 0),
    "kafka_broker_writer_kill_lost": ("==", 0),
    "kafka_broker_writer_kill_duplicated": ("==", 0),
    # issue 14: a storm at 1.2 M meters; opened within a minute of the last gasps (30 s window included)
    "outage_detection_latency_s_max": ("<", 60),
    "outage_feeders_detected_share": (">=", 1.0),
}


def main(names: list[str]) -> None:
    figures: dict[str, float] = {}
    if RESULTS.exists():
        figures.update(json.loads(RESULTS.read_text()))
    for name in names or BENCHMARKS:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        figures.update(importlib.import_module(name).run())
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    figures["machine_cores"] = __import__("os").cpu_count()
    figures["python"] = platform.python_version()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
    for key, value in sorted(figures.items()):
        target = TARGETS.get(key)
        note = f"   target {target[0]} {target[1]:,}" if target else ""
        if target and isinstance(value, (int, float)) and target[0] in (">=", "<", "<="):
            note += f"   ratio {value / target[1]:.2f}"
        print(f"{key:40s} {value:>16,.2f}{note}" if isinstance(value, float) else f"{key:40s} {value!s:>16}{note}")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main(sys.argv[1:])
