"""Monthly usage summaries: merging months gives the whole window's statistics, records survive
storage, and features from merged months match features of the days in one piece."""

import datetime as dt

import numpy as np
import pytest

from customer_svc.features import FEATURE_NAMES, features
from customer_svc.fleet_data import load_fleet
from customer_svc.segmentation_job import window_months
from customer_svc.summary_store import BYTES_PER_CUSTOMER, RELATIVE, from_bytes, months_of_hours, to_bytes
from customer_svc.usage_summary import days_of, merge, summarise, summarise_by_month
from meters.fleet import FleetConfig
from meters.fleet.config import NEM_TZ

ADDITIVE = ("kwh", "hours", "hours_weathered", "kwh_weathered", "kwh_x", "x_sum", "x_sq", "dark_sq", "midday_hist",
            "late_hist")


@pytest.fixture(scope="module")
def profiles():
    # 2026-01-20 .. 2026-02-18: two calendar months
    cfg = FleetConfig(meters=300, days=30, seed=5, start=dt.datetime(2026, 1, 20, tzinfo=NEM_TZ))
    return load_fleet(cfg).profiles()


def test_months_merge_to_the_whole_window(profiles):
    whole = summarise(profiles)
    months = merge(summarise(days_of(profiles, a, b)) for a, b in ((0, 12), (12, 30)))
    for name in ADDITIVE:
        np.testing.assert_allclose(getattr(months, name), getattr(whole, name), rtol=1e-5, atol=1e-6, err_msg=name)
    for name in ("max_kwh", "weekday_max_kwh"):
        np.testing.assert_array_equal(getattr(months, name), getattr(whole, name), err_msg=name)


def test_features_from_months_match_one_piece(profiles):
    # Every field adds up day by day, so the split into months changes nothing.
    by_month = features(summarise_by_month(profiles))
    assert by_month.shape == (300, len(FEATURE_NAMES)) and np.isfinite(by_month).all()
    np.testing.assert_allclose(by_month, features(summarise(profiles)), rtol=1e-4, atol=1e-4)


def test_records_round_trip(profiles):
    u = summarise(days_of(profiles, 12, 30))
    stored = to_bytes(u)
    assert len(stored) == len(u) * BYTES_PER_CUSTOMER
    back = from_bytes(stored, len(u))
    for name in ADDITIVE + ("max_kw", "weekday_max_kwh"):
        tol = 1e-3 if name in RELATIVE + ("x_sum", "x_sq") else 1e-6  # the slope's terms: half precision
        np.testing.assert_allclose(getattr(back, name), getattr(u, name), rtol=tol, atol=tol, err_msg=name)
    with pytest.raises(ValueError):  # another layout's record
        from_bytes(stored[:-BYTES_PER_CUSTOMER // 2], len(u))


def test_local_months_of_utc_hours():
    # The UTC hour from 2026-01-31 13:00 is 2026-02-01 00:00 in Sydney (UTC+11) but 23:00 on a UTC+10 clock:
    # both months are marked. Two hours later it is February on every Australian clock.
    t = int(dt.datetime(2026, 1, 31, 13, tzinfo=dt.timezone.utc).timestamp())
    assert months_of_hours(np.array([t])) == [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert months_of_hours(np.array([t + 2 * 3600])) == [dt.date(2026, 2, 1)]
    assert months_of_hours(np.array([t - 3 * 3600])) == [dt.date(2026, 1, 1)]


def _utc(*ymdh) -> int:
    return int(dt.datetime(*ymdh, tzinfo=dt.timezone.utc).timestamp())


def test_window_is_the_complete_months():
    latest = _utc(2026, 11, 24, 23)  # November is open
    assert window_months(latest, 14) == [dt.date(2026, 11, 1)]  # no complete month: the open one
    assert window_months(latest, 90) == [dt.date(2026, 8, 1), dt.date(2026, 9, 1), dt.date(2026, 10, 1)]
    year = window_months(latest, 365)
    assert year[0] == dt.date(2025, 11, 1) and year[-1] == dt.date(2026, 10, 1) and len(year) == 12


def test_a_month_is_complete_once_it_has_ended_on_every_australian_clock():
    # 2026-01-31 14:00 UTC is 2026-02-01 01:00 in Sydney but 23:30 on 31 January in Adelaide's standard time.
    assert window_months(_utc(2026, 1, 31, 14), 60) == [dt.date(2025, 12, 1)]
    assert window_months(_utc(2026, 1, 31, 15), 60) == [dt.date(2025, 12, 1), dt.date(2026, 1, 1)]
