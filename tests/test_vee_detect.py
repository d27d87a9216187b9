"""VEE validation on hand-made series: the grid and its NEM-time calendar, gaps, zero runs and
spikes judged against the meter's own history."""

import numpy as np
import pytest

from meters.vee.detect import DetectConfig, detect
from meters.vee.methods import like_day_offsets
from meters.vee.series import on_grid, runs

# 2024-01-01 00:00 in NEM time (a Monday) is 2023-12-31 14:00 UTC.
MONDAY_NEM_MIDNIGHT_UTC = 1_704_031_200
HALF_HOUR = 1800


def household(days: int, seed: int = 0) -> np.ndarray:
    """A day shape (night base, evening peak) with noise, never exactly zero."""
    rng = np.random.default_rng(seed)
    slot = np.arange(48)
    shape = 0.12 + 0.35 * np.exp(-0.5 * ((slot - 38) / 3) ** 2) + 0.1 * np.exp(-0.5 * ((slot - 15) / 2) ** 2)
    return np.tile(shape, days) * rng.uniform(0.7, 1.3, 48 * days) + 0.01


def series_of(kwh: np.ndarray):
    ends = MONDAY_NEM_MIDNIGHT_UTC + HALF_HOUR * np.arange(1, len(kwh) + 1)
    keep = ~np.isnan(kwh)
    return on_grid(ends[keep], kwh[keep], HALF_HOUR, first_end_s=int(ends[0]), last_end_s=int(ends[-1]))


def test_grid_places_readings_and_leaves_missing_intervals_nan():
    s = on_grid(np.array([3600, 1800, 7200]), np.array([2.0, 1.0, 4.0]), HALF_HOUR)
    assert s.first_end_s == 1800 and len(s) == 4
    np.testing.assert_array_equal(s.kwh[[0, 1, 3]], [1.0, 2.0, 4.0])
    assert np.isnan(s.kwh[2])


@pytest.mark.parametrize("ends, message", [
    (np.array([1800, 2700]), "off the 1800 s grid"),
    (np.array([1800, 1800]), "two readings"),
])
def test_grid_refuses_readings_it_cannot_place(ends, message):
    with pytest.raises(ValueError, match=message):
        on_grid(ends, np.ones(len(ends)), HALF_HOUR)


def test_calendar_is_nem_time():
    s = series_of(np.ones(48 * 2))
    # the first interval (ending 00:30 NEM time on a Monday) is Monday's slot 0
    assert (s.weekday()[0], s.slot_of_day()[0], s.hour_of_week()[0]) == (0, 0, 0)
    assert (s.weekday()[47], s.slot_of_day()[47], s.hour_of_week()[47]) == (0, 47, 23)
    assert (s.weekday()[48], s.slot_of_day()[48], s.hour_of_week()[48]) == (1, 0, 24)


def test_like_days_follow_the_part_b_table():
    assert like_day_offsets(0, 21).tolist() == [7, 14, 21]  # Monday: Mondays only
    assert like_day_offsets(1, 14).tolist() == [5, 6, 7, 12, 13, 14]  # Tuesday: Thu, Wed, Tue before it
    assert like_day_offsets(3, 7).tolist() == [1, 2, 7]  # Thursday: Wed, Tue, Thu
    assert like_day_offsets(6, 14).tolist() == [7, 14]  # Sunday


def test_runs_finds_starts_and_lengths():
    starts, lengths = runs(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], dtype=bool))
    assert starts.tolist() == [0, 3, 6] and lengths.tolist() == [2, 1, 3]


def test_gaps_are_the_missing_intervals():
    kwh = household(14)
    kwh[100:105] = np.nan
    found = detect(series_of(kwh))
    assert np.flatnonzero(found.gap).tolist() == list(range(100, 105))
    assert found.counts() == {"gap": 5, "zero_run": 0, "spike": 0}


def test_a_zero_run_is_suspect_in_a_meter_that_never_sits_at_zero():
    kwh = household(28)
    kwh[500:510] = 0.0  # 5 h of zeros
    kwh[800:802] = 0.0  # 1 h: shorter than min_zero_run_s, never suspect
    found = detect(series_of(kwh))
    assert np.flatnonzero(found.zero_run).tolist() == list(range(500, 510))


def test_zero_runs_as_long_as_the_meter_usually_has_are_plausible():
    kwh = household(28)
    for day in range(28):  # a solar home's import channel: zero for 6 h around noon every day
        kwh[day * 48 + 20:day * 48 + 32] = 0.0
    kwh[27 * 48 + 20:27 * 48 + 40] = 0.0  # one 10 h run: longer than all the meter's others
    found = detect(series_of(kwh))
    assert np.flatnonzero(found.zero_run).tolist() == list(range(27 * 48 + 20, 27 * 48 + 40))


def test_a_spike_against_the_same_hour_of_week_is_suspect_an_unusual_but_ordinary_load_is_not():
    kwh = household(56)
    kwh[3 * 48 + 6] = 0.9  # 03:00 on a Thursday: ~0.1 kWh as a rule, but below the meter's peaks
    kwh[10 * 48 + 38] = 9.0  # 19:00: an order of magnitude over anything the meter does
    found = detect(series_of(kwh))
    assert np.flatnonzero(found.spike).tolist() == [10 * 48 + 38]
    # the z-score alone would have flagged the night load too
    assert detect(series_of(kwh), DetectConfig(spike_ratio=0.0)).spike[3 * 48 + 6]


def test_suspects_and_gaps_are_the_targets():
    kwh = household(28)
    kwh[10] = np.nan
    kwh[500:510] = 0.0
    found = detect(series_of(kwh))
    assert found.targets.sum() == 11 and found.suspect.sum() == 10
