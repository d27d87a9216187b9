"""Refills each meter's in-memory history when the consumer is given partitions.

After a restart (or a rebalance that moves a partition here) MeterHistory knows nothing of
the readings before the group's committed offsets, and the sequence model would score the
next readings without their meters' recent past. So, before scoring anything of a newly
assigned partition, the readings of the last `window_s` on it (by Kafka timestamp) up to the
committed offset are read again with a group-less reader and remembered, not scored: the
log is the source (every reading scored came from it), and ingest's tables are never read.
"""

import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from meters import kafka
from meters.readings import ReadingColumns, from_accepted
from scoring_svc.history import MeterHistory

log = logging.getLogger(__name__)


async def refill(bootstrap: str, group_consumer: AIOKafkaConsumer, partitions: set[TopicPartition],
                 history: MeterHistory, window_s: int) -> int:
    """Remember the readings of `partitions` from `window_s` ago up to the committed offsets; return how many."""
    since_ms = int((time.time() - window_s) * 1000)
    starts = await group_consumer.offsets_for_times({tp: since_ms for tp in partitions})
    ranges = {}
    for tp in partitions:
        end = await group_consumer.committed(tp)
        start = starts.get(tp)
        if end and start is not None and start.offset < end:
            ranges[tp] = (start.offset, end)
    if not ranges:
        return 0
    reader = kafka.reader(bootstrap)
    await reader.start()
    remembered = 0
    try:
        reader.assign(list(ranges))
        for tp, (start, _) in ranges.items():
            reader.seek(tp, start)
        pending = dict(ranges)
        while pending:
            polled = await reader.getmany(*pending, timeout_ms=1000)
            parts = [from_accepted(rec.value)[0] for tp, recs in polled.items() for rec in recs
                     if rec.offset < pending[tp][1]]
            if parts:
                cols = ReadingColumns.concat(parts)
                history.add(cols)
                remembered += len(cols)
            for tp in list(pending):
                if await reader.position(tp) >= pending[tp][1]:
                    del pending[tp]
    finally:
        await reader.stop()
    log.info("history refilled", extra={"fields": {"partitions": sorted(tp.partition for tp in ranges),
                                                   "readings": remembered, "meters": len(history)}})
    return remembered
