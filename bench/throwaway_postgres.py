"""A migrated throwaway PostgreSQL on loopback for a benchmark, removed afterwards."""

import contextlib
import tempfile
from pathlib import Path

from meters.db import migrate
from meters.localstack.common import free_port
from meters.localstack.postgres import LocalPostgres


@contextlib.contextmanager
def migrated_postgres(prefix: str, *migrations: Path):
    """Its dsn, with each folder of `migrations` applied in order."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        Path(tmp).chmod(0o755)  # the postgres OS user must reach its data dir
        pg = LocalPostgres(Path(tmp) / "pg", free_port()).start()
        try:
            for folder in migrations:
                migrate(pg.dsn, folder)
            yield pg.dsn
        finally:
            pg.stop()
