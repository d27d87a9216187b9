"""What a weather forecast is worth to the region models: `python -m forecast_svc.weather_gain`.

Fits the five region models on the synthetic fleet as `meters train` does (kept in memory, not
registered) and backtests each over the held-out days three ways (evaluation._backtests' scheme):
the persistence outlook (no weather forecast, what the service had), the observed temperature as a
perfect forecast, and the observed temperature plus a day-ahead error of --rms degC
(weather_error.noisy). Prints day-ahead MAPE per region and for their sum (the network as served).
Meant at a reduced size: the whole `make evaluate` is too long for a shared box."""

import argparse
import time
from pathlib import Path

from forecast_svc import backtest
from forecast_svc.data import fleet_series
from forecast_svc.model import DemandModel, regular
from forecast_svc.training import HOLDOUT_DAYS, REGIONS
from forecast_svc.scopes import region
from forecast_svc.weather_error import noisy
from meters.fleet import FleetConfig

WAYS = ("no weather forecast", "perfect weather", "noisy weather")


def measure(cfg: FleetConfig, rms_c: float, cache_dir=None, noise_seeds: int = 3) -> dict[str, dict[str, float]]:
    """{scope: {way: MAPE %}} for each region and "sum of regions"; the noisy way is the mean over
    noise_seeds draws of the error."""
    all_series = fleet_series(cfg, cache_dir)
    cut = HOLDOUT_DAYS * 96
    runs: dict[str, list[list[backtest.Backtest]]] = {way: [] for way in WAYS}
    out: dict[str, dict[str, float]] = {}
    for i, code in enumerate(REGIONS):
        series = regular(all_series[code])
        model = DemandModel.fit(series.iloc[:-cut], region(code), seed=cfg.seed)
        first = len(series) - cut
        temps = series["temperature_c"].to_numpy()
        parts = {WAYS[0]: [backtest.run(model, series, first)],
                 WAYS[1]: [backtest.run(model, series, first, known_weather=True)],
                 WAYS[2]: [backtest.run(model, series, first, weather=noisy(temps, rms_c, 100 * i + k))
                           for k in range(noise_seeds)]}
        out[code] = {way: sum(b.figures()["mape"] for b in bs) / len(bs) for way, bs in parts.items()}
        for way, bs in parts.items():
            runs[way].append(bs)
    out["sum of regions"] = {
        way: sum(backtest.summed([r[min(k, len(r) - 1)] for r in runs[way]]).figures()["mape"]
                 for k in range(len(runs[way][0]))) / len(runs[way][0])
        for way in WAYS}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=150_000)
    ap.add_argument("--days", type=int, default=21)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--rms", type=float, default=1.5, help="RMS of the day-ahead temperature error, degC")
    ap.add_argument("--cache", default="reports/cache")
    a = ap.parse_args()
    began = time.perf_counter()
    table = measure(FleetConfig(meters=a.meters, days=a.days, seed=a.seed), a.rms, Path(a.cache))
    print(f"| scope ({a.meters:,} meters, {a.days} d, seed {a.seed}; {HOLDOUT_DAYS} held-out days) | "
          + " | ".join(WAYS[:2]) + f" | weather forecast, {a.rms} degC RMS error |")
    print("|---|---|---|---|")
    for scope, row in table.items():
        print(f"| {scope} | " + " | ".join(f"{row[w]:.2f} %" for w in WAYS) + " |")
    print(f"run: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
