import struct

import numpy as np

from meters.pgcopy import HEADER, PG_EPOCH_UNIX_S, TRAILER, copy_payload


def test_binary_copy_layout_matches_the_postgres_wire_format():
    payload = copy_payload([("int8", np.array([7])), ("timestamptz", np.array([PG_EPOCH_UNIX_S + 1])),
                            ("float8", np.array([1.5])), ("int2", np.array([3]))])
    assert payload.startswith(HEADER) and payload.endswith(TRAILER)
    body = payload[len(HEADER):-len(TRAILER)]
    assert struct.unpack(">h i q i q i d i h", body) == (4, 8, 7, 8, 1_000_000, 8, 1.5, 2, 3)
