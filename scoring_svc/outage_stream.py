"""Outage detection on the live meter-events stream (docs/outages.md, "The service").

One detector sees every partition of `meter-events` (gasps of one feeder land on many partitions),
so one scoring replica runs it: the holder of a PostgreSQL advisory lock; the others wait to take
over. Its clock is the events' own time, moved on by the wall clock while the stream is quiet, so a
replay at any speed decides as the live stream did. Decisions are stored (with their alerts) as they
are made, and a checkpoint of the detector's state with the offsets it reflects is saved every
`checkpoint_s`; a restart loads it, seeks there and replays: re-derived outages land on their
(level, asset, start) key and add nothing.
"""

import asyncio
import contextlib
import logging
import pickle
import time
from dataclasses import dataclass

import grpc
import numpy as np
import pandas as pd
import psycopg
from aiokafka import TopicPartition

from meters import kafka, tracing
from meters.ingest.v1 import ingest_service_pb2, ingest_service_pb2_grpc, meter_event_pb2
from scoring_svc.alerts import AlertSender
from scoring_svc.metrics import OUTAGE_CHANGES, OUTAGE_DETECTION_LAG, OUTAGE_EVENTS, OUTAGES_OPEN
from scoring_svc.outage_store import OutageStore
from scoring_svc.outages.detector import POWER_OFF, POWER_ON, DetectorConfig, OutageDetector
from scoring_svc.outages.network import Network
from scoring_svc.outages.planned import PlannedWork
from scoring_svc.outages.records import OutageOpened

log = logging.getLogger(__name__)
LEADER_LOCK = 0x6F75746167  # pg advisory lock key: "outag"


@dataclass(frozen=True)
class StreamConfig:
    checkpoint_s: float = 30.0
    topology_refresh_s: float = 10.0
    # Outages not closing from power-on events (all of them lost) ask ingest, this often, whether their
    # meters' readings resumed; at most `resume_sample` meters each.
    resume_check_s: float = 30.0
    resume_sample: int = 5
    max_records: int = 5000
    retry_s: float = 2.0


def decode_events(records) -> pd.DataFrame:
    """POWER_OFF / POWER_ON events of a poll (meter_id, type, event_time_unix_ms), in time order."""
    rows = [(e.meter_id, int(e.type), e.event_time_unix_ms)
            for rec in records for e in meter_event_pb2.AcceptedMeterEvents.FromString(rec.value).events
            if e.type in (POWER_OFF, POWER_ON)]
    df = pd.DataFrame(np.array(rows, np.int64).reshape(-1, 3), columns=["meter_id", "type", "event_time_unix_ms"])
    return df.sort_values("event_time_unix_ms", kind="stable", ignore_index=True)


class ReadingsLookup:
    """The first stored reading of meters from a time on, through ingest's ListReadings (ingest owns them)."""

    def __init__(self, connect):
        self._connect = connect  # a new channel to ingest_svc (TLS with scoring's own certificate)
        self._channel = None

    async def first_after(self, meter_ids: np.ndarray, from_unix_s: int) -> tuple[list[int], list[int]]:
        if self._channel is None:
            self._channel = self._connect()
        stub = ingest_service_pb2_grpc.IngestServiceStub(self._channel)
        ids, ends = [], []
        for m in meter_ids.tolist():
            reply = await stub.ListReadings(ingest_service_pb2.ListReadingsRequest(
                parent=f"meters/{m}", start_time_unix_s=int(from_unix_s), page_size=1), timeout=10)
            if reply.readings:
                ids.append(m)
                ends.append(reply.readings[0].reading_time_unix_s)
        return ids, ends


class OutageStream:
    def __init__(self, dsn: str, bootstrap: str, store: OutageStore, sender: AlertSender, readings: ReadingsLookup,
                 detector_config: DetectorConfig = DetectorConfig(), config: StreamConfig = StreamConfig()):
        self._readings = readings
        self._dsn = dsn
        self._bootstrap = bootstrap
        self._store = store
        self._sender = sender
        self._dcfg = detector_config
        self._cfg = config

    async def run_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._dsn, autocommit=True) as lock_conn:
                    while not (await (await lock_conn.execute("SELECT pg_try_advisory_lock(%s)",
                                                              [LEADER_LOCK])).fetchone())[0]:
                        await asyncio.sleep(self._cfg.retry_s)  # another replica detects; take over if it dies
                    log.info("outage detector leading")
                    await _Session(self, lock_conn).run()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - whatever failed, the checkpoint and a replay recover it
                log.error("outage detector failed; resuming from its checkpoint", exc_info=err)
                await asyncio.sleep(self._cfg.retry_s)


class _Session:
    """One leadership term: checkpoint loaded, partitions assigned, events in, decisions out."""

    def __init__(self, stream: OutageStream, lock_conn):
        self.s = stream
        self.lock_conn = lock_conn
        self.detector: OutageDetector | None = None
        self.ids: dict[int, int] = {}  # detector outage id -> grid.outages.outage_id
        self.offsets: dict[int, int] = {}
        self.topology_version = None
        self.planned_rows = pd.DataFrame()
        self.last_checkpoint = self.last_refresh = self.last_resume_check = 0.0
        self.wall_at_clock = time.monotonic()

    async def run(self) -> None:
        consumer = kafka.reader(self.s._bootstrap)
        await consumer.start()
        try:
            # ensure_topics made the topic with these partitions (aiokafka's consumer knows a topic's
            # partitions only once subscribed, and the detector assigns them itself).
            parts = range(kafka.DEFAULT_TOPICS[kafka.EVENTS_TOPIC])
            tps = [TopicPartition(kafka.EVENTS_TOPIC, p) for p in parts]
            consumer.assign(tps)
            await self._restore()
            for tp in tps:
                if tp.partition in self.offsets:
                    consumer.seek(tp, self.offsets[tp.partition])
                else:
                    await consumer.seek_to_beginning(tp)
            while True:
                polled = await consumer.getmany(timeout_ms=500, max_records=self.s._cfg.max_records)
                records = [r for recs in polled.values() for r in recs]
                # an empty poll (the detector's clock ticking) is no work worth a trace
                with (tracing.batch_span("scoring.detect_outages", tracing.sampled_contexts(records))
                      if records else contextlib.nullcontext()):
                    await self._step(records)
                await self.lock_conn.execute("SELECT 1")  # leadership lost with its connection: stop here
        finally:
            await consumer.stop()

    async def _restore(self) -> None:
        await self._refresh(force=True)
        saved = await self.s._store.load_checkpoint()
        if saved is None or self.detector is None:
            return
        state, self.offsets = saved
        state = pickle.loads(state)
        self.ids = state.pop("_stored_ids")
        self.detector.restore(state, self.detector.net, self.detector.planned)
        log.info("outage detector restored", extra={"fields": {"open_outages": len(self.ids)}})

    async def _refresh(self, force: bool = False) -> None:
        """Pick up network changes and newly registered planned work."""
        now = time.monotonic()
        if not force and now - self.last_refresh < self.s._cfg.topology_refresh_s:
            return
        self.last_refresh = now
        version = await self.s._store.topology_version()
        if version != self.topology_version:
            tables = await self.s._store.topology()
            if tables is not None:
                net = Network(tables)
                if self.detector is None:
                    self.detector = OutageDetector(tables, None, self.s._dcfg, start_unix_s=0.0)  # clock: first event
                self.detector.use_network(net)
                self.topology_version = version
        last_id = int(self.planned_rows["id"].max()) if len(self.planned_rows) else 0
        new = await self.s._store.planned_work_since(last_id)
        if len(new) and self.detector is not None:
            self.planned_rows = pd.concat([self.planned_rows, new], ignore_index=True)
            self.detector.use_planned_work(PlannedWork(self.planned_rows.drop(columns="id")))

    async def _step(self, records) -> None:
        await self._refresh(force=False)
        for rec in records:
            self.offsets[rec.partition] = rec.offset + 1
        d = self.detector
        if d is None:  # no network registered yet: no meter can be placed, nothing to correlate
            return
        events = decode_events(records)
        known = (events["meter_id"].to_numpy() < d.net.n_meter_ids)
        known[known] = d.net.meter_tx[events["meter_id"].to_numpy()[known]] > 0
        if not known.all():
            OUTAGE_EVENTS.labels("unknown_meter").inc(int((~known).sum()))
            self.last_refresh = 0.0  # the network may have grown: look again next step
        events = events[known]
        OUTAGE_EVENTS.labels("used").inc(len(events))
        decisions = await asyncio.to_thread(d.feed_events, events) if len(events) else []
        # Quiet stream: event time moves on with the wall clock, so windows and settling end.
        wall = time.monotonic()
        if len(events):
            self.wall_at_clock = wall
        else:
            decisions += d.advance(d.now + (wall - self.wall_at_clock))
            self.wall_at_clock = wall
        if wall - self.last_resume_check >= self.s._cfg.resume_check_s:
            self.last_resume_check = wall
            decisions += await self._resumed_readings(d)
        checkpoint = wall - self.last_checkpoint >= self.s._cfg.checkpoint_s
        if not decisions and not checkpoint:
            return
        async with self.s._store.pool.connection() as conn, conn.transaction():
            changes = await self.s._store.record(conn, decisions, self.ids, d)
            if checkpoint:
                d.forget_closed()
                state = d.__getstate__() | {"_stored_ids": dict(self.ids)}
                await self.s._store.save_checkpoint(conn, pickle.dumps(state, pickle.HIGHEST_PROTOCOL), self.offsets)
                self.last_checkpoint = wall
        self._observe(decisions, changes)

    async def _resumed_readings(self, d: OutageDetector) -> list:
        """Restore evidence from readings for outages whose power-on events never came."""
        out: list = []
        for _, first_end, waiting in d.awaiting_restore():
            if first_end > d.now or not len(waiting):
                continue
            try:
                ids, ends = await self.s._readings.first_after(waiting[:self.s._cfg.resume_sample], first_end)
            except grpc.aio.AioRpcError as err:
                log.warning("readings not reachable for restore evidence", extra={"fields": {"error": err.code().name}})
                return out
            out += d.readings_resumed(ids, ends)
        return out

    def _observe(self, decisions: list, changes: int) -> None:
        for dec in decisions:
            kind = "opened" if isinstance(dec, OutageOpened) else "restored"
            OUTAGE_CHANGES.labels(kind).inc()
            if kind == "opened" and not np.isnan(dec.last_gasp_unix_s):
                OUTAGE_DETECTION_LAG.observe(max(0.0, dec.opened_unix_s - dec.last_gasp_unix_s))
        OUTAGES_OPEN.set(len(self.ids))
        if changes:
            self.s._sender.wake()
