"""One segmentation run: stored hourly usage -> profiles -> features -> promoted model ->
segments, then recommendations from the same profiles. No gRPC here."""

import numpy as np

from customer_svc import weather_store
from customer_svc.billing import Usage
from customer_svc.features import build_features
from customer_svc.model_io import load_promoted
from customer_svc.profiles import DailyProfiles, build_profiles
from customer_svc.recommendations import recommend
from customer_svc.store import CustomerStore
from customer_svc.usage_store import latest_hour, load_usage
from customer_svc.weather import local_grid
from meters.errors import failed_precondition


async def run_segmentation(store: CustomerStore, registry, run_id: int, usage_days: int) -> tuple[int, str]:
    """Assign every customer with usage; return (customers assigned, model version)."""
    model, version = load_promoted(registry)
    customers = await store.customers_with_meters()
    async with store.pool.connection() as conn:
        last = await latest_hour(conn)
        if last is None or not customers:
            raise failed_precondition("no usage stored yet", "NO_USAGE")
        end = (last // 86400 + 1) * 86400  # through the end of the latest UTC day
        start = end - usage_days * 86400
        usage = await load_usage(conn, start, end)
        weather = await weather_store.load(conn, start, end)
    meter_customer = {m: i for i, c in enumerate(customers) for m in c[4]}
    index = np.array([meter_customer[m] for m in usage.meter_ids], dtype=np.int64)
    profiles = build_profiles(index, usage.hour_start_unix_s, usage.kwh, usage.max_kw,
                              [c[2] for c in customers], start, usage_days)
    has = np.isfinite(profiles.kwh).any(axis=(1, 2))
    # Days without any data (before the first reading) would only dilute the features.
    days_with_data = np.isfinite(profiles.kwh).any(axis=(0, 2))
    first_day = int(np.argmax(days_with_data)) if days_with_data.any() else 0
    kwh = profiles.kwh[:, first_day:]
    weekend = profiles.weekend[:, first_day:]
    names = sorted({c[2] for c in customers})
    temp = local_grid(names, *weather, start, usage_days)[:, first_day:] if len(weather[0]) else None
    profiles = DailyProfiles(kwh, profiles.max_kw, weekend, profiles.region, temp_c=temp)
    X = build_features(profiles)
    seg, conf = model.predict(X)
    keys = model.segment_keys()
    rows, recs = [], []
    for i in np.flatnonzero(has):
        cid, _hash, _region, tariff, _meters = customers[i]
        daily = float(np.nanmean(np.nansum(kwh[i], axis=1)))
        rows.append((cid, keys[seg[i]], float(conf[i]), daily))
        for r in recommend(Usage(kwh[i], weekend[i]), tariff, keys[seg[i]]):
            recs.append((cid, r))
    await store.store_assignments(run_id, rows, recs, segment_profiles(kwh, weekend, has, seg, keys,
                                                                      [c[2] for c in customers]))
    return len(rows), version


def segment_profiles(kwh: np.ndarray, weekend: np.ndarray, has: np.ndarray, seg: np.ndarray, keys,
                     regions: list[str]) -> list[tuple]:
    """(region, segment key, customers, summed mean weekday kWh per local hour) per group."""
    weekday = np.where(weekend[..., None], np.nan, kwh)
    n = np.maximum(np.sum(~np.isnan(weekday), axis=1), 1)
    hourly = np.nansum(weekday, axis=1) / n  # (customers, 24)
    region = np.array(regions, dtype=object)
    out = []
    for r in np.unique(region[has]):
        for s in np.unique(seg[has & (region == r)]):
            members = has & (region == r) & (seg == s)
            out.append((str(r), keys[s], int(members.sum()), hourly[members].sum(axis=0).astype(float).tolist()))
    return out
