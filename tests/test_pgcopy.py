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
