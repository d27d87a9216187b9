"""The counted-meters encoding of forecast.counted_readings round-trips any id set."""

import numpy as np
import pytest

from forecast_svc.counted import decode, encode


@pytest.mark.parametrize("ids", [
    np.empty(0, np.int64),
    np.array([7], np.int64),
    np.arange(1, 150_001, dtype=np.int64),  # a contiguous fleet
    np.array([3, 9_000_001, 2**40, 2**62], np.int64),  # gaps wider than uint32
])
def test_round_trip(ids):
    np.testing.assert_array_equal(decode(encode(ids)), ids)


def test_contiguous_ids_are_small():
    assert len(encode(np.arange(1, 1_200_001, dtype=np.int64))) < 20_000
