"""`meters forecast --history H.csv [--weather W.csv] --horizon 48h`: demand forecast of a CSV series.

In: timestamp,value[,temperature_c] at 5-, 15-, 30- or 60-minute steps (inferred from the
timestamps). `--timestamps end` (default) reads a label as the END of its interval, `start` as its
start. Labels with an offset (Z, +10:00) are taken as they are; labels without one are read in
`--tz`: utc (default), nem (NEM time: UTC+10 all year, no daylight saving; what Australian meters
and AEMO use) or an IANA zone. Weather: `--weather W.csv` (timestamp,temperature_c[,...]) for
the horizon; the history's temperature_c column is the observed weather it learns from.
Out: timestamp,forecast,lower,upper for the steps after the last one, labelled like the input
(same convention, in the input's zone). How it was made goes to stderr.
"""

import sys
from pathlib import Path

import typer


def forecast(
    history: Path = typer.Option(..., exists=True, dir_okay=False, help="CSV: timestamp,value[,temperature_c]"),
    horizon: str = typer.Option("48h", help="24h to 72h"),
    weather: Path | None = typer.Option(None, exists=True, dir_okay=False,
                                        help="CSV: timestamp,temperature_c for the horizon (a weather forecast)"),
    timestamps: str = typer.Option("end", help="a label is the interval's 'end' or its 'start'"),
    tz: str = typer.Option("utc", help="zone of labels without an offset: utc, nem (UTC+10, no DST) or IANA"),
    region: str = typer.Option("", help="NEM region whose clock and holidays apply (NSW, VIC, ...); empty: network"),
    out: Path | None = typer.Option(None, help="output CSV; stdout when absent"),
) -> None:
    """Forecast a demand history with 90 % bands: a LightGBM lag model and simple peers weighted by a
    rolling-origin backtest over the history."""
    import pandas as pd

    from forecast_svc.csv_forecast import forecast_csv
    from forecast_svc.intervals import CONVENTIONS, Clock, SeriesError
    from forecast_svc.lag_features import Calendar
    from forecast_svc.scopes import TIMEZONES

    try:
        hours = int(horizon.rstrip("hH"))
    except ValueError:
        raise typer.BadParameter("like 48h", param_hint="--horizon") from None
    if not 24 <= hours <= 72:
        raise typer.BadParameter("horizon must be 24h to 72h", param_hint="--horizon")
    if region and region not in TIMEZONES:
        raise typer.BadParameter(f"one of {', '.join(TIMEZONES)}", param_hint="--region")
    if timestamps not in CONVENTIONS:
        raise typer.BadParameter(f"one of {', '.join(CONVENTIONS)}", param_hint="--timestamps")
    calendar = Calendar(TIMEZONES[region], "AU", region) if region else Calendar()
    try:
        result = forecast_csv(pd.read_csv(history), hours, Clock(timestamps, tz), calendar,
                              pd.read_csv(weather) if weather else None)
    except SeriesError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    for note in result.notes:
        typer.echo(note, err=True)
    result.frame.round(6).to_csv(out if out else sys.stdout, index=False)
