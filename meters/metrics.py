"""Prometheus metrics shared by every service (names follow go-grpc-prometheus).

Service-specific metrics live with their service; these are the ones the
bootstrap and the interceptor record for everyone.
"""

import threading

import numpy as np
from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

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
# Admission bounds (meters/admission.py): "rpcs" in every service, "readings" in ingest.
ADMISSION_CAPACITY = Gauge("meters_admission_capacity", "Units a server admits at once, by bound.", ["limit"])
ADMISSION_IN_USE = Gauge("meters_admission_in_use", "Units in flight, by bound.", ["limit"])
ADMISSION_REFUSED = Counter(
    "meters_admission_refused_total", "Units refused with RESOURCE_EXHAUSTED because a bound was full, by bound.",
    ["limit"],
)
DB_WRITE_SECONDS = Histogram(
    "meters_db_write_seconds",
    "Time to write one batch to PostgreSQL, by table.",
    ["table"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class BulkHistogram:
    """A label-less Prometheus histogram observed a whole array at a time (`observe_many`), for
    values counted per batch, where prometheus_client's per-value `observe` would be a Python
    loop. Buckets are cumulative `le` (a value equal to a bound counts in that bucket); NaN and
    infinite values are skipped. Thread-safe: one lock guards the counts, and a scrape copies them
    under it, so it never sees half of a batch."""

    def __init__(self, name: str, documentation: str, buckets, registry=REGISTRY):
        self._name, self._doc = name, documentation
        self._bounds = np.array(sorted(float(b) for b in buckets if b != float("inf")), dtype=np.float64)
        self._counts = np.zeros(len(self._bounds) + 1, dtype=np.int64)  # last: above every bound (+Inf only)
        self._sum = 0.0
        self._lock = threading.Lock()
        if registry is not None:
            registry.register(self)

    def observe_many(self, values) -> None:
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if not len(v):
            return
        counts = np.bincount(np.searchsorted(self._bounds, v, side="left"), minlength=len(self._counts))
        total = float(v.sum())
        with self._lock:
            self._counts += counts
            self._sum += total

    def describe(self):
        return [HistogramMetricFamily(self._name, self._doc)]

    def collect(self):
        with self._lock:
            cumulative, total = np.cumsum(self._counts).tolist(), self._sum
        les = [floatToGoString(b) for b in self._bounds] + ["+Inf"]
        yield HistogramMetricFamily(self._name, self._doc, buckets=list(zip(les, cumulative)), sum_value=total)
