"""A steady feed of readings into ingest on a thread of its own, for fault tests and benchmarks that
break something under ingest (PostgreSQL, the writer) while readings keep coming.

Batch k holds one reading for each meter at its own 15-minute slot (meters.ingest_load.slot_time),
so the stored rows of a batch can be counted by reading time afterwards. The feed records when each
call was acknowledged, so a test can tell the batches accepted while something was down from the
others. A call that fails is kept in `errors` with its batches: not re-sent, or, with
`resend_failed`, sent again until it is acknowledged (as a head-end does).
"""

import itertools
import threading
import time
from dataclasses import dataclass, field

import grpc

from meters.deadlines import STREAM_S
from meters.ingest.v1 import ingest_service_pb2_grpc
from meters.ingest_load import batch_at, slot_time, template


@dataclass
class Feed:
    ch: grpc.Channel
    first_meter_id: int
    meters: int
    end_unix_s: int
    every_s: float = 0.25  # pause between calls: a steady trickle, not a load test
    per_call: int = 2  # batches per StreamReadings call
    resend_failed: bool = False
    acknowledged: list[tuple[float, int]] = field(default_factory=list)  # (monotonic time acked, batch)
    errors: list[tuple[str, list[int]]] = field(default_factory=list)
    _numbers: itertools.count = field(default_factory=itertools.count)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def send(self) -> None:
        """One call of `per_call` new batches."""
        stub = ingest_service_pb2_grpc.IngestServiceStub(self.ch)
        base = template(self.first_meter_id, self.meters)
        group = [next(self._numbers) for _ in range(self.per_call)]
        while True:
            try:
                stub.StreamReadings(iter([batch_at(base, slot_time(self.end_unix_s, k)) for k in group]),
                                    timeout=STREAM_S)
                break
            except grpc.RpcError as err:
                self.errors.append((f"{err.code().name}: {err.details()}", group))
                if not self.resend_failed or self._stop.is_set():
                    return
                time.sleep(0.2)
        now = time.monotonic()
        self.acknowledged += [(now, k) for k in group]

    def start(self) -> "Feed":
        def loop() -> None:
            while not self._stop.is_set():
                self.send()
                self._stop.wait(self.every_s)

        self._thread = threading.Thread(target=loop, name="ingest-feed", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def batches_between(self, start: float, end: float) -> list[int]:
        """Batches acknowledged between two monotonic times."""
        return [k for t, k in self.acknowledged if start <= t <= end]

    def expected_per_slot(self) -> dict[int, int]:
        """{reading time: readings} of every acknowledged batch."""
        return {slot_time(self.end_unix_s, k): self.meters for _, k in self.acknowledged}
