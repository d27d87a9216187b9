"""Overload generator for ingest: several concurrent client streams for a bounded time, each batch
either acknowledged or refused, so that a test or a benchmark can count where every reading went.

Batch k of the run holds one reading for each of `meters` meters at its own 15-minute slot
(`slot_time(k)`), so that the stored rows of a batch can be counted by its reading time. A stream
sends `window` batches per StreamReadings call; when ingest refuses one (RESOURCE_EXHAUSTED with
RetryInfo), the call's ErrorInfo says how many of its batches were accepted: those are acknowledged,
the refused one and those after it in that call are refused (the stream waits the delay asked for
and goes on with new batches: a refused batch is shed load, not re-sent). Any other failure is kept
in `errors`, with its batches, which are then neither acknowledged nor refused.
"""

import itertools
import threading
import time
from dataclasses import dataclass, field

import grpc
import numpy as np

from meters.deadlines import STREAM_S
from meters.ingest.v1 import ingest_service_pb2 as pb
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_client import accepted_part
from meters.readings import from_arrays, to_batch
from meters.status_details import retry_delay_s

INTERVAL_S = 900


@dataclass
class Load:
    """What happened to every batch sent; batch numbers index slot_time."""

    meters: int
    acknowledged: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    errors: list[tuple[str, list[int]]] = field(default_factory=list)
    refusals: int = 0  # calls refused (each refused one batch; the rest of its call was never read)
    seconds: float = 0.0
    # (monotonic time, batches acknowledged, batches refused) at the end of each call
    timeline: list[tuple[float, int, int]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, acked: list[int], refused: list[int]) -> None:
        with self._lock:
            self.acknowledged += acked
            self.refused += refused
            self.refusals += bool(refused)
            self.timeline.append((time.monotonic(), len(acked), len(refused)))

    @property
    def sent(self) -> int:
        return len(self.acknowledged) + len(self.refused) + sum(len(b) for _, b in self.errors)


def slot_time(end_unix_s: int, batch_no: int) -> int:
    """The reading time of batch `batch_no`: one 15-minute slot each, going back from `end_unix_s`."""
    return (end_unix_s // INTERVAL_S - 1 - batch_no) * INTERVAL_S


def template(first_meter_id: int, meters: int) -> pb.StreamReadingsRequest:
    """Valid readings for meters first_meter_id ... (times are set per batch)."""
    rng = np.random.default_rng(first_meter_id)
    kw = rng.gamma(2.0, 0.5, meters)
    v, pf = rng.normal(235, 3, meters), rng.uniform(0.85, 0.99, meters)
    cols = from_arrays(meter_ids=np.arange(first_meter_id, first_meter_id + meters),
                       reading_times_unix_s=np.zeros(meters), consumption_kwh=kw / 4, demand_kw=kw, voltage_v=v,
                       current_a=kw * 1000 / (v * pf), power_factor=pf)
    return pb.StreamReadingsRequest(batch=to_batch(cols))


def batch_at(base: pb.StreamReadingsRequest, reading_time: int) -> pb.StreamReadingsRequest:
    request = pb.StreamReadingsRequest()
    request.CopyFrom(base)
    del request.batch.reading_times_unix_s[:]
    request.batch.reading_times_unix_s.extend([reading_time] * len(base.batch.meter_ids))
    return request


def overload(ch: grpc.Channel, first_meter_id: int, meters: int, streams: int, seconds: float, end_unix_s: int,
             window: int = 4, first_batch: int = 0) -> Load:
    """Run `streams` concurrent streams for `seconds`; batch numbers start at `first_batch`."""
    stub = ingest_service_pb2_grpc.IngestServiceStub(ch)
    base = template(first_meter_id, meters)
    load, numbers = Load(meters), itertools.count(first_batch)
    take = threading.Lock()
    stop_at = time.monotonic() + seconds

    def stream() -> None:
        while time.monotonic() < stop_at:
            with take:
                group = [next(numbers) for _ in range(window)]
            requests = [batch_at(base, slot_time(end_unix_s, k)) for k in group]
            try:
                stub.StreamReadings(iter(requests), timeout=STREAM_S)
                load.record(group, [])
            except grpc.RpcError as err:
                delay = retry_delay_s(err)
                if err.code() != grpc.StatusCode.RESOURCE_EXHAUSTED or delay is None:
                    with take:
                        load.errors.append((f"{err.code().name}: {err.details()}", group))
                    continue
                done = accepted_part(err).batches
                load.record(group[:done], group[done:])
                time.sleep(delay)

    started = time.monotonic()
    threads = [threading.Thread(target=stream, name=f"overload-{i}") for i in range(streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.seconds = time.monotonic() - started
    return load
