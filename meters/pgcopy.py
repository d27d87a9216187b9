"""PostgreSQL binary COPY payloads built from numpy columns in one pass, and read back into them.

Rows have a fixed layout (no NULLs, fixed-width types), so a big-endian
structured array *is* the wire format: no per-row Python work at all.
Supported column types: int2, int4, int8, float4, float8, timestamptz
(given as int64 Unix seconds) and char1 (CHAR(1), given as one-byte strings, numpy "S1").
"""

import numpy as np

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
