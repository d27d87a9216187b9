import struct

import numpy as np

from meters.pgcopy import HEADER, PG_EPOCH_UNIX_S, TRAILER, copy_payload


def test_binary_copy_layout_matches_the_postgres_wire_format():
    payload = copy_payload([("int8", np.array([7])), ("timestamptz", np.array([PG_EPOCH_UNIX_S + 1])),
                            ("float8", np.array([1.5])), ("int2", np.array([3]))])
    assert payload.startswith(HEADER) and payload.endswith(TRAILER)
    body = payload[len(HEADER):-len(TRAILER)]
    assert struct.unpack(">h i q i q i d i h", body) == (4, 8, 7, 8, 1_000_000, 8, 1.5, 2, 3)


def test_a_binary_copy_out_of_postgres_reads_back_as_columns(fresh_db):
    import psycopg
    import pytest

    from meters.pgcopy import read_copy_payload

    types = ["int8", "timestamptz", "float8", "int4"]
    ids, hours = np.array([3, 1, 2]), np.array([1_767_225_600, 0, 1_767_229_200])
    kwh, slots = np.array([0.25, -1.5, 1e6]), np.array([7, 0, 4095], dtype=np.int32)
    with psycopg.connect(fresh_db, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (id int8, at timestamptz, kwh float8, slots int4)")
        with conn.cursor().copy("COPY t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(copy_payload(list(zip(types, (ids, hours, kwh, slots)))))

        def copy_out(query: str) -> bytes:
            with conn.cursor().copy(query) as copy:
                return b"".join(bytes(chunk) for chunk in copy)

        got = read_copy_payload(copy_out("COPY (SELECT * FROM t ORDER BY id) TO STDOUT (FORMAT BINARY)"), types)
        order = np.argsort(ids)
        for column, expected in zip(got, (ids, hours, kwh, slots)):
            assert column.tolist() == expected[order].tolist()
        assert [len(c) for c in read_copy_payload(
            copy_out("COPY (SELECT * FROM t WHERE id > 9) TO STDOUT (FORMAT BINARY)"), types)] == [0] * 4
        conn.execute("INSERT INTO t VALUES (4, now(), NULL, 1)")
        with pytest.raises(ValueError, match="NULL"):
            read_copy_payload(copy_out("COPY t TO STDOUT (FORMAT BINARY)"), types)


def test_copy_out_reads_under_the_callers_snapshot(fresh_db):
    """meters.pgcopy.copy_out reads on a connection of its own: inside a REPEATABLE READ transaction it
    sees that transaction's snapshot (not rows committed since), with rows the transaction wrote itself
    it reads on the caller's connection, and outside a transaction it sees what is committed."""
    import asyncio

    import psycopg
    import pytest

    from meters.pgcopy import copy_out, read_copy_payload

    query = "COPY (SELECT id FROM t ORDER BY id) TO STDOUT (FORMAT BINARY)"

    async def ids(conn) -> list[int]:
        return read_copy_payload(await copy_out(conn, query), ["int8"])[0].tolist()

    async def scenario():
        async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as other, \
                await psycopg.AsyncConnection.connect(fresh_db) as conn:
            await other.execute("CREATE TABLE t (id int8)")
            await other.execute("INSERT INTO t VALUES (1)")
            assert await ids(conn) == [1]  # no transaction: what is committed
            await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            await conn.execute("SELECT count(*) FROM t")  # the snapshot is taken
            await other.execute("INSERT INTO t VALUES (2)")
            assert await ids(conn) == [1]  # the caller's snapshot, not the later commit
            cur = await conn.execute("SELECT array_agg(id ORDER BY id) FROM t")
            assert (await cur.fetchone())[0] == [1]
            await conn.execute("INSERT INTO t VALUES (3)")
            assert await ids(conn) == [1, 3]  # its own uncommitted row: read on the caller's connection
            await conn.rollback()
            assert await ids(conn) == [1, 2]
            await conn.execute("BEGIN")
            await conn.execute("SET LOCAL statement_timeout = '200ms'")
            with pytest.raises(psycopg.OperationalError, match="statement timeout"):
                await copy_out(conn, "COPY (SELECT pg_sleep(3)) TO STDOUT")  # the caller's timeout applies
            await conn.rollback()

    asyncio.run(scenario())
