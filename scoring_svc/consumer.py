"""The `scoring` consumer group: scores the meter-readings stream as it arrives.

Per poll: decode every message, score the readings with each meter's recent history,
then in ONE transaction store the anomaly predictions (unique on asset, type and time),
queue their alerts in the outbox and add the poll's voltage-quality aggregates (keyed by
message position); only after that commit are the Kafka offsets committed. Killed at any
instant, the group resumes from the last committed offsets and the replay writes nothing
twice. Before the first poll of a newly assigned partition, its last 24 h are read again
into the meters' history (scoring_svc/refill.py), so a restart scores as well as before.

A failure anywhere (a bad message, the database or Kafka away) never stops the process:
it is logged, the consumer is closed without committing, and after a backoff (0.5 s
doubling to 30 s, reset by the next stored poll) a new consumer resumes from the committed
offsets, so nothing unprocessed is ever marked done. Runs inside the scoring server process
(one consumer per replica; Kafka spreads the six partitions over replicas).
"""

import asyncio
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters import kafka, tracing
from meters.ingest.v1.reading_pb2 import QualityFlag
from meters.readings import ReadingColumns, from_accepted
from scoring_svc.alerts import AlertSender
from scoring_svc.anomalies import AnomalyScorer, ScoredBatch, anomaly_alert, anomaly_predictions
from scoring_svc.frequency import count_new, frequency_alert, frequency_excursions
from scoring_svc.metrics import (ANOMALIES, CONSUMER_LAG, CONSUMER_RESTARTS, PREDICTIONS_STORED, READINGS_FLAGGED,
                                 READINGS_SCORED)
from scoring_svc.predictors import Models
from scoring_svc.refill import refill
from scoring_svc.store import ScoringStore, enqueue_alerts, insert_predictions

log = logging.getLogger(__name__)
BUCKET_S = 900
BAND = (210.0, 250.0)


@dataclass(frozen=True)
class Polled:
    cols: ReadingColumns
    quality: np.ndarray
    partitions: np.ndarray
    offsets: np.ndarray


def decode(records) -> Polled:
    parts, flags, partitions, offsets = [], [], [], []
    for rec in records:
        cols, quality = from_accepted(rec.value)
        parts.append(cols)
        flags.append(quality)
        partitions.append(np.full(len(cols), rec.partition, dtype=np.int32))
        offsets.append(np.full(len(cols), rec.offset, dtype=np.int64))
    return Polled(ReadingColumns.concat(parts), np.concatenate(flags), np.concatenate(partitions),
                  np.concatenate(offsets))


def voltage_stats(polled: Polled, transformer_ids: np.ndarray) -> list[tuple]:
    """Rows of grid.voltage_stats: per (partition, offset, transformer, 15-minute bucket)."""
    v = polled.cols.voltage_v
    ok = np.isfinite(v)
    if not ok.any():
        return []
    df = pd.DataFrame({
        "p": polled.partitions[ok], "o": polled.offsets[ok], "t": transformer_ids[ok],
        "b": polled.cols.reading_times_unix_s[ok] // BUCKET_S * BUCKET_S, "v": v[ok],
        "band": (v[ok] >= BAND[0]) & (v[ok] <= BAND[1]),
        "warn": polled.quality[ok] == QualityFlag.QUALITY_FLAG_VOLTAGE_WARNING,
        "m": polled.cols.meter_ids[ok],
    })
    g = df.groupby(["p", "o", "t", "b"], sort=False).agg(
        n=("v", "size"), band=("band", "sum"), warn=("warn", "sum"), vs=("v", "sum"), vmin=("v", "min"),
        vmax=("v", "max"), meters=("m", "nunique")).reset_index()
    return [(int(r.p), int(r.o), int(r.t), pd.Timestamp(int(r.b), unit="s", tz="UTC").to_pydatetime(), int(r.n),
             int(r.band), int(r.warn), float(r.vs), float(r.vmin), float(r.vmax), int(r.meters))
            for r in g.itertuples(index=False)]


class StreamScorer:
    def __init__(self, bootstrap: str, group_id: str, scorer: AnomalyScorer, models: Models, store: ScoringStore,
                 sender: AlertSender, max_messages: int = 50, history_s: int = 86_400,
                 backoff_s: tuple[float, float] = (0.5, 30.0)):
        self._bootstrap = bootstrap
        self._group = group_id
        self._scorer = scorer
        self._models = models
        self._store = store
        self._sender = sender
        self._max = max_messages
        self._history_s = history_s
        self._backoff = backoff_s
        self._delay = 0.0

    async def run_forever(self) -> None:
        while True:
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - whatever failed, the next consumer replays it
                self._delay = min(max(self._delay * 2, self._backoff[0]), self._backoff[1])
                CONSUMER_RESTARTS.inc()
                log.error("scoring consumer failed; resuming from the committed offsets",
                          exc_info=err, extra={"fields": {"retry_in_s": self._delay}})
                await asyncio.sleep(self._delay)

    async def _consume(self) -> None:
        consumer = kafka.consumer(self._bootstrap, self._group, kafka.READINGS_TOPIC)
        await consumer.start()
        refilled: set = set()
        try:
            while True:
                polled = await consumer.getmany(timeout_ms=500, max_records=self._max)
                assigned = consumer.assignment()
                if assigned - refilled:
                    await refill(self._bootstrap, consumer, assigned - refilled, self._scorer.history,
                                 self._history_s)
                refilled = set(assigned)
                records = [rec for recs in polled.values() for rec in recs]
                if not records:
                    continue
                while self._models.anomaly is None:  # hold the records (uncommitted) until a model is served
                    await asyncio.sleep(2)
                with tracing.batch_span("scoring.score", tracing.sampled_contexts(records)):
                    await self.handle(records)
                self._delay = 0.0
                # Only now that predictions, alerts and stats are committed may Kafka forget the messages.
                await kafka.commit_stored(consumer, {tp: recs[-1].offset + 1 for tp, recs in polled.items()})
                for tp, recs in polled.items():
                    end = consumer.highwater(tp)
                    if end is not None:
                        CONSUMER_LAG.labels(tp.partition).set(max(0, end - recs[-1].offset - 1))
        finally:
            try:
                await consumer.stop()
            except Exception:  # noqa: BLE001 - closing a consumer of a broken connection may fail too
                log.warning("consumer did not stop cleanly", exc_info=True)

    def _score(self, records) -> tuple[Polled, ScoredBatch]:
        polled = decode(records)
        return polled, self._scorer.score(polled.cols, remember=True)

    async def handle(self, records) -> int:
        """Score and store one poll's messages in one transaction; return the new anomaly predictions."""
        # The CPU work (a poll of 85k readings scores in ~3 s) runs in a worker thread, so that gRPC
        # calls and health checks are served meanwhile.
        polled, scored = await asyncio.to_thread(self._score, records)
        READINGS_SCORED.labels("stream").inc(len(polled.cols))
        READINGS_FLAGGED.inc(scored.anomaly_count)
        transformer_ids = await self._store.transformers_of(polled.cols.meter_ids)
        stats = await asyncio.to_thread(voltage_stats, polled, transformer_ids)
        async with self._store.pool.connection() as conn, conn.transaction():
            new = await insert_predictions(conn, anomaly_predictions(scored))
            await enqueue_alerts(conn, [anomaly_alert(p) for p in new])
            # System-wide: one row per excursion's reading time, whichever partition sees it first.
            excursions = await insert_predictions(conn, frequency_excursions(polled.cols))
            await enqueue_alerts(conn, [frequency_alert(p) for p in excursions])
            if stats:
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO grid.voltage_stats VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                        " ON CONFLICT DO NOTHING", stats)
        for p in new:
            ANOMALIES.labels(p.anomaly_type).inc()
        PREDICTIONS_STORED.labels("reading_anomaly").inc(len(new))
        count_new(excursions)
        if new or excursions:
            self._sender.wake()
        return len(new)

