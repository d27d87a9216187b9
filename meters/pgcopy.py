"""PostgreSQL binary COPY payloads built from numpy columns in one pass, and read back into them.

Rows have a fixed layout (no NULLs, fixed-width types), so a big-endian
structured array *is* the wire format: no per-row Python work at all.
Supported column types: int2, int4, int8, float4, float8, timestamptz
(given as int64 Unix seconds) and char1 (CHAR(1), given as one-byte strings, numpy "S1").
"""

import asyncio

import numpy as np
import psycopg
from psycopg import pq
from psycopg.conninfo import make_conninfo

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_UNIX_S = 946_684_800  # 2000-01-01T00:00:00Z

_WIRE = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8", "timestamptz": ">i8", "char1": "S1"}


def _row_dtype(pg_types: list[str]) -> np.dtype:
    dtype = [("n", ">i2")]
    for i, pg_type in enumerate(pg_types):
        dtype += [(f"len{i}", ">i4"), (f"val{i}", _WIRE[pg_type])]
    return np.dtype(dtype)


def copy_payload(columns: list[tuple[str, np.ndarray]]) -> bytes:
    """The whole COPY ... (FORMAT BINARY) stream for `columns` = [(pg_type, values), ...]."""
    n_rows = len(columns[0][1])
    rows = np.empty(n_rows, dtype=_row_dtype([t for t, _ in columns]))
    rows["n"] = len(columns)
    for i, (pg_type, values) in enumerate(columns):
        rows[f"len{i}"] = np.dtype(_WIRE[pg_type]).itemsize
        if pg_type == "timestamptz":
            values = (np.asarray(values, dtype=np.int64) - PG_EPOCH_UNIX_S) * 1_000_000
        rows[f"val{i}"] = values
    return HEADER + rows.tobytes() + TRAILER


def read_copy_payload(payload: bytes | bytearray | memoryview, pg_types: list[str]) -> list[np.ndarray]:
    """The columns of a whole COPY ... TO STDOUT (FORMAT BINARY) stream whose rows are `pg_types`
    (native-endian arrays; timestamptz as int64 Unix seconds, truncated). A NULL or a row of another
    layout raises ValueError: this reader is for fixed layouts only."""
    view = memoryview(payload)
    if bytes(view[:11]) != HEADER[:11]:
        raise ValueError("not a binary COPY stream")
    extension = int.from_bytes(view[15:19], "big")
    body = view[19 + extension:len(view) - len(TRAILER)]
    if bytes(view[len(view) - len(TRAILER):]) != TRAILER:
        raise ValueError("binary COPY stream without its trailer")
    dtype = _row_dtype(pg_types)
    widths = [np.dtype(_WIRE[t]).itemsize for t in pg_types]
    rows = np.frombuffer(body, dtype=dtype) if len(body) % dtype.itemsize == 0 else None
    if rows is None or (rows["n"] != len(pg_types)).any() or any(
            (rows[f"len{i}"] != w).any() for i, w in enumerate(widths)):
        raise ValueError("binary COPY rows are not all of the expected layout (a NULL or another type)")
    out = []
    for i, pg_type in enumerate(pg_types):
        wire = np.dtype(_WIRE[pg_type])
        values = rows[f"val{i}"].astype(wire if wire.kind == "S" else wire.newbyteorder("="))
        if pg_type == "timestamptz":
            values = values // 1_000_000 + PG_EPOCH_UNIX_S
        out.append(values)
    return out


async def copy_out(conn, query: str) -> bytearray:
    """The whole output of `query` (a COPY ... TO STDOUT) on the async connection `conn`, as the caller's
    transaction would read it, read ~4x faster than through the async connection.

    psycopg's async COPY hands over one row per await (~0.35 M rows/s here); a libpq connection of its own,
    read in a thread, takes ~1.4 M rows/s. Inside a transaction that has written nothing, the reader
    imports its snapshot (pg_export_snapshot / SET TRANSACTION SNAPSHOT in REPEATABLE READ), so it reads
    exactly what the transaction reads, with its statement_timeout. A transaction that has written reads
    on `conn` itself (another session would not see its own uncommitted rows); outside a transaction the
    reader's statement takes its own snapshot, as a statement on `conn` would."""
    status = conn.info.transaction_status
    if status not in (pq.TransactionStatus.IDLE, pq.TransactionStatus.INTRANS):
        return await _copy_out_here(conn, query)
    setup = []
    if status == pq.TransactionStatus.INTRANS:
        cur = await conn.execute("SELECT txid_current_if_assigned() IS NULL, current_setting('statement_timeout')")
        clean, timeout = await cur.fetchone()
        if not clean:
            return await _copy_out_here(conn, query)
        cur = await conn.execute("SELECT pg_export_snapshot()")
        snapshot = (await cur.fetchone())[0]
        setup = ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f"SET TRANSACTION SNAPSHOT '{snapshot}'",
                 f"SET LOCAL statement_timeout = '{timeout}'"]
    conninfo = make_conninfo(conn.info.dsn, password=conn.info.password)
    cancels: list = []
    reading = asyncio.ensure_future(asyncio.to_thread(_read_copy, conninfo, setup, query, cancels))
    reading.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved even after a cancel
    try:
        return await asyncio.shield(reading)  # a thread cannot be cancelled: its query can
    except asyncio.CancelledError:
        for cancel in cancels:
            cancel.cancel()
        raise


def _read_copy(conninfo: str, setup: list[str], query: str, cancels: list) -> bytearray:
    reader = pq.PGconn.connect(conninfo.encode())
    try:
        if reader.status != pq.ConnStatus.OK:
            raise psycopg.OperationalError(reader.get_error_message().decode(errors="replace").strip())
        cancels.append(reader.get_cancel())
        for statement in setup:
            _expect(reader.exec_(statement.encode()), pq.ExecStatus.COMMAND_OK)
        _expect(reader.exec_(query.encode()), pq.ExecStatus.COPY_OUT)
        payload, get = bytearray(), reader.get_copy_data
        while True:
            n, data = get(0)  # blocking, one row a call
            if n < 0:
                break
            payload += data
        _expect(reader.get_result(), pq.ExecStatus.COMMAND_OK)
        return payload
    finally:
        reader.finish()


def _expect(result, status) -> None:
    if result is None or result.status != status:
        message = result.error_message.decode(errors="replace") if result is not None else "no result"
        raise psycopg.OperationalError(message.strip())


async def _copy_out_here(conn, query: str) -> bytearray:
    payload = bytearray()
    async with conn.cursor().copy(query) as copy:
        async for chunk in copy:
            payload += chunk
    return payload
