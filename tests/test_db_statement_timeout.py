"""Every pooled PostgreSQL session carries a statement_timeout; a batch job raises it for one transaction."""

import psycopg
import pytest

from meters.db import allow_long_statements, open_pool

pytestmark = pytest.mark.infra


async def test_pooled_sessions_cancel_a_statement_past_the_timeout(fresh_db):
    pool = await open_pool(fresh_db, statement_timeout_s=0.2)
    try:
        async with pool.connection() as conn:
            assert (await (await conn.execute("SHOW statement_timeout")).fetchone())[0] == "200ms"
            with pytest.raises(psycopg.errors.QueryCanceled):
                await conn.execute("SELECT pg_sleep(60)")
    finally:
        await pool.close()


async def test_a_job_raises_the_timeout_for_its_transaction_only(fresh_db):
    pool = await open_pool(fresh_db, statement_timeout_s=0.2)
    try:
        async with pool.connection() as conn:
            async with conn.transaction():
                await allow_long_statements(conn, 30)
                assert (await (await conn.execute("SHOW statement_timeout")).fetchone())[0] == "30s"
                await conn.execute("SELECT pg_sleep(0.5)")  # longer than the session's 200 ms
            assert (await (await conn.execute("SHOW statement_timeout")).fetchone())[0] == "200ms"
    finally:
        await pool.close()
