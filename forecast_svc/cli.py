"""`meters forecast --history FILE.csv --horizon 48h`: the service's model pipeline on a CSV.

In: timestamp,value[,temperature_c] at 15-minute steps (timestamps are step ends; ISO 8601, UTC
unless they carry an offset). Out: timestamp,forecast,lower,upper for the steps after the last one.
"""

import sys
from pathlib import Path

import typer


def forecast(
    history: Path = typer.Option(..., exists=True, dir_okay=False, help="CSV: timestamp,value[,temperature_c]"),
    horizon: str = typer.Option("48h", help="24h to 72h"),
    region: str = typer.Option("", help="NEM region whose clock and holidays apply (NSW, VIC, ...); empty: network"),
    out: Path | None = typer.Option(None, help="output CSV; stdout when absent"),
) -> None:
    """Fit Prophet + residual LSTM on a demand history and forecast it with 90 % bands."""
    import pandas as pd

    from forecast_svc.model import DemandModel
    from forecast_svc.scopes import REGION, TIMEZONES, Scope, network

    hours = int(horizon.rstrip("hH"))
    if not 24 <= hours <= 72:
        raise typer.BadParameter("horizon must be 24h to 72h", param_hint="--horizon")
    if region and region not in TIMEZONES:
        raise typer.BadParameter(f"one of {', '.join(TIMEZONES)}", param_hint="--region")
    raw = pd.read_csv(history)
    series = pd.DataFrame({"ds": pd.to_datetime(raw["timestamp"], utc=True), "y": raw["value"].astype(float)})
    if "temperature_c" in raw:
        series["temperature_c"] = raw["temperature_c"].astype(float)
    model = DemandModel.fit(series, Scope(REGION, region, region) if region else network())
    f = model.forecast(series, series["ds"].max(), hours * 4)
    f = f.rename(columns={"ds": "timestamp"})
    f["timestamp"] = f["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    f.round(6).to_csv(out if out else sys.stdout, index=False)
