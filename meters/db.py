"""PostgreSQL access shared by the services: connection pools and migrations.

Each service owns one schema and keeps its versioned SQL migrations in its own
`migrations/` folder, applied by yoyo (a real migration tool with a lock and
a history table) when the service starts or by `meters db migrate`.
"""

from pathlib import Path

from psycopg_pool import AsyncConnectionPool
from yoyo import get_backend, read_migrations


def yoyo_url(dsn: str) -> str:
    scheme, rest = dsn.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else dsn


def migrate(dsn: str, *migration_dirs: Path) -> int:
    """Apply pending migrations from the given folders; return how many ran."""
    backend = get_backend(yoyo_url(dsn))
    migrations = read_migrations(*(str(d) for d in migration_dirs))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return len(pending)


async def open_pool(dsn: str, min_size: int = 1, max_size: int = 4) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(dsn, min_size=min_size, max_size=max_size, open=False)
    await pool.open(wait=True, timeout=30)
    return pool
