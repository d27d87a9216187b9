"""PostgreSQL binary COPY payloads built from numpy columns in one pass.

Rows have a fixed layout (no NULLs, fixed-width types), so a big-endian
structured array *is* the wire format: no per-row Python work at all.
Supported column types: int2, int4, int8, float4, float8 and timestamptz
(given as int64 Unix seconds).
"""

import numpy as np

HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
TRAILER = (-1).to_bytes(2, "big", signed=True)
PG_EPOCH_UNIX_S = 946_684_800  # 2000-01-01T00:00:00Z

_WIRE = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8", "timestamptz": ">i8"}


def copy_payload(columns: list[tuple[str, np.ndarray]]) -> bytes:
    """The whole COPY ... (FORMAT BINARY) stream for `columns` = [(pg_type, values), ...]."""
    n_rows = len(columns[0][1])
    dtype = [("n", ">i2")]
    for i, (pg_type, _) in enumerate(columns):
        dtype += [(f"len{i}", ">i4"), (f"val{i}", _WIRE[pg_type])]
    rows = np.empty(n_rows, dtype=dtype)
    rows["n"] = len(columns)
    for i, (pg_type, values) in enumerate(columns):
        rows[f"len{i}"] = np.dtype(_WIRE[pg_type]).itemsize
        if pg_type == "timestamptz":
            values = (np.asarray(values, dtype=np.int64) - PG_EPOCH_UNIX_S) * 1_000_000
        rows[f"val{i}"] = values
    return HEADER + rows.tobytes() + TRAILER
