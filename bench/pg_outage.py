"""PostgreSQL SIGKILLed under a steady ingest stream for BENCH_PG_OUTAGE_S (60) seconds, then started
again, on a stack of its own: how many readings ingest acknowledged meanwhile and how soon after the
restart the writer had stored the backlog (the readings acknowledged but not stored at the restart) (meters/pg_outage.py, the scenario of
tests/e2e/test_postgres_outage.py).

Figures: pg_outage_down_s, pg_outage_readings_during, pg_outage_backlog_readings,
pg_outage_catch_up_s, pg_outage_catch_up_readings_per_s, pg_outage_lost, pg_outage_duplicated.
"""

import os
import tempfile
from pathlib import Path

from meters.ingest_client import register_meters
from meters.localstack.stack import LocalStack
from meters.mesh import Mesh
from meters.pg_outage import through_outage
from tests.e2e.readings import meters

OUTAGE_S = float(os.environ.get("BENCH_PG_OUTAGE_S", 60))
METERS = int(os.environ.get("BENCH_PG_OUTAGE_METERS", 500))


def run() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="meters-bench-pg-outage-") as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        with LocalStack(Path(tmp) / "stack") as stack, \
                Mesh(Path(tmp) / "mesh", stack.pg_dsn, stack.kafka_bootstrap) as mesh:
            mesh.start("ingest", "ingest-writer")
            with mesh.channel("ingest") as ch:
                register_meters(ch, meters(1, METERS))
                outage = through_outage(ch, stack.postgres, mesh.pg_dsn, 1, METERS, OUTAGE_S)
    if outage.errors:
        raise RuntimeError(f"ingest calls failed during the outage: {outage.errors[:3]}")
    return {
        "pg_outage_down_s": round(outage.down_s, 1),
        "pg_outage_readings_during": outage.during,
        "pg_outage_backlog_readings": outage.pending,
        "pg_outage_catch_up_s": round(outage.catch_up_s, 2),
        "pg_outage_catch_up_readings_per_s": round(outage.pending / max(outage.catch_up_s, 1e-3)),
        "pg_outage_lost": outage.lost,
        "pg_outage_duplicated": outage.duplicated,
    }


if __name__ == "__main__":
    print(run())
