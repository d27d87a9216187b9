"""Prometheus metrics shared by every service (names follow go-grpc-prometheus).

Service-specific metrics live with their service; these are the ones the
bootstrap and the interceptor record for everyone.
"""

from prometheus_client import Counter, Histogram

GRPC_HANDLED = Counter(
    "grpc_server_handled_total",
    "RPCs completed on the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time to complete an RPC on the server.",
    ["grpc_service", "grpc_method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DB_WRITE_SECONDS = Histogram(
    "meters_db_write_seconds",
    "Time to write one batch to PostgreSQL, by table.",
    ["table"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
