"""Regional hourly temperature on the customers' local clock (for the temperature-sensitivity feature).

Weather enters the service as (region, UTC hour start, degC) rows through RecordRegionalWeather;
in training and evaluation the synthetic fleet's own regional weather (meters.fleet.weather)
stands in for a weather service. It is an input like a weather feed, not a label.
"""

import numpy as np

from customer_svc.profiles import local_day_hour


def local_grid(names: list[str], regions: np.ndarray, hour_start_unix_s: np.ndarray, temp_c: np.ndarray,
               start_unix_s: int, days: int) -> np.ndarray:
    """(len(names), days, 24) mean degC per region (in `names` order) and local hour; NaN = no data."""
    total = np.zeros((len(names), days * 24))
    count = np.zeros((len(names), days * 24))
    for r, name in enumerate(names):
        rows = np.flatnonzero(regions == name)
        if not len(rows):
            continue
        d, h, _ = local_day_hour(hour_start_unix_s[rows], name, start_unix_s, days)
        ok = (d >= 0) & (d < days)
        cell = d[ok] * 24 + h[ok]
        np.add.at(total[r], cell, temp_c[rows[ok]])  # a DST fall-back hour occurs twice: averaged
        np.add.at(count[r], cell, 1.0)
    with np.errstate(invalid="ignore"):
        return (total / count).reshape(len(names), days, 24).astype(np.float32)
