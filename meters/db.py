"""PostgreSQL access shared by the services: connection pools and migrations.

Each service owns one schema and keeps its versioned SQL migrations in its own
`migrations/` folder, applied by yoyo (a real migration tool with a lock and
a history table) when the service starts or by `meters db migrate`.
"""

from pathlib import Path

import psycopg
from psycopg_pool import AsyncConnectionPool
from yoyo import get_backend, read_migrations

# The mesh's audit schema comes first in every migration run: each service's audited tables carry a
# trigger into it (docs/decisions.md 22), so it is applied wherever a service's migrations are.
AUDIT_MIGRATIONS = Path(__file__).resolve().parent / "audit" / "migrations"

# Session advisory lock key for migrations (any constant shared by every migrator: b"meters").
MIGRATION_LOCK = 0x6D6574657273


def yoyo_url(dsn: str) -> str:
    scheme, rest = dsn.split("://", 1)
    return f"postgresql+psycopg://{rest}" if scheme in ("postgres", "postgresql") else dsn


def migrate(dsn: str, *migration_dirs: Path) -> int:
    """Apply pending migrations from the given folders, after the audit schema's; return how many ran.

    yoyo's lock is a row in `yoyo_lock`, which a process killed mid-migration leaves behind: every
    later start would then time out on it. Migrators therefore first take a session advisory lock,
    which PostgreSQL releases when its connection dies; whoever holds it is the only live migrator,
    so a yoyo lock row found then is stale and is removed.
    """
    dirs = [AUDIT_MIGRATIONS, *(Path(d) for d in migration_dirs if Path(d).resolve() != AUDIT_MIGRATIONS)]
    migrations = read_migrations(*(str(d) for d in dirs))
    with psycopg.connect(dsn, autocommit=True) as guard:
        guard.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK])
        backend = get_backend(yoyo_url(dsn))
        backend.break_lock()
        with backend.lock():
            pending = backend.to_apply(migrations)
            backend.apply_migrations(pending)
    return len(pending)


# A statement running longer is cancelled by PostgreSQL (QueryCanceled): a runaway query must not hold
# a connection, locks and a caller's deadline for ever. Batch jobs raise it where they need to
# (allow_long_statements); ServiceSettings.pg_statement_timeout_s sets it per service.
DEFAULT_STATEMENT_TIMEOUT_S = 30.0


def session_options(statement_timeout_s: float) -> str:
    """libpq `options` giving every session of a pool its statement_timeout."""
    return f"-c statement_timeout={int(statement_timeout_s * 1000)}"


async def open_pool(dsn: str, min_size: int = 1, max_size: int = 4,
                    statement_timeout_s: float = DEFAULT_STATEMENT_TIMEOUT_S) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(dsn, min_size=min_size, max_size=max_size, open=False,
                               kwargs={"options": session_options(statement_timeout_s)})
    await pool.open(wait=True, timeout=30)
    return pool


async def allow_long_statements(conn, seconds: float) -> None:
    """Raise statement_timeout to `seconds` until the caller's transaction ends (SET LOCAL)."""
    await conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(int(seconds * 1000))])
