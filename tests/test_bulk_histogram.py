"""meters.metrics.BulkHistogram: whole-array observations give what per-value observe gives."""

import threading

import numpy as np
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from meters.metrics import BulkHistogram

BUCKETS = (180, 210, 228, 240, 250, 252, 280)


def samples(registry: CollectorRegistry, name: str) -> dict:
    return {(s.name, s.labels.get("le")): s.value for m in registry.collect() if m.name == name for s in m.samples
            if not s.name.endswith("_created")}


def test_matches_prometheus_client_histogram_with_bounds_inclusive():
    values = np.concatenate([np.array([180.0, 210.0, 210.0001, 250.0, 252.0, 280.0, 300.0, 100.0]),
                             np.random.default_rng(1).normal(240, 12, 5_000)])
    bulk_reg, ref_reg = CollectorRegistry(), CollectorRegistry()
    bulk = BulkHistogram("v_volts", "v", BUCKETS, registry=bulk_reg)
    ref = Histogram("v_volts", "v", buckets=BUCKETS, registry=ref_reg)
    bulk.observe_many(values[:1000])
    bulk.observe_many(np.append(values[1000:], [np.nan, np.inf]))  # skipped
    for v in values:
        ref.observe(v)
    got, want = samples(bulk_reg, "v_volts"), samples(ref_reg, "v_volts")
    assert got.keys() == want.keys()
    for key, value in want.items():
        assert got[key] == value if key[0] != "v_volts_sum" else abs(got[key] - value) < 1e-6, key
    assert b'v_volts_bucket{le="210.0"}' in generate_latest(bulk_reg)


def test_concurrent_batches_are_all_counted():
    reg = CollectorRegistry()
    h = BulkHistogram("c_volts", "c", BUCKETS, registry=reg)
    batch = np.full(1000, 230.0)
    threads = [threading.Thread(target=lambda: [h.observe_many(batch) for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert samples(reg, "c_volts")[("c_volts_count", None)] == 8 * 50 * 1000
