"""`meters evaluate` for forecasting: rolling-origin day-ahead backtests of the promoted models over
the held-out days that follow their training window (the same fleet, later in time), never used
in training or calibration. The headline figures are the network's; each region's go alongside.

Temperatures for the forecast day come from the persistence outlook (what the service has); the
`_known_weather` figure repeats the network backtest with the true temperatures as a perfect
weather forecast, to show what a weather feed would add."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from forecast_svc import backtest  # noqa: E402
from forecast_svc.data import fleet_series  # noqa: E402
from forecast_svc.model import DemandModel, regular  # noqa: E402
from forecast_svc.training import fleet_config, holdout_days, scopes, series_for  # noqa: E402
from meters.ml_jobs import MlJob  # noqa: E402


def evaluate(job: MlJob) -> dict[str, float]:
    all_series = fleet_series(fleet_config(job))
    figures: dict[str, float] = {}
    for scope in scopes(job):
        model = DemandModel.load(job.registry.promoted(scope.model_name).path)
        series = regular(series_for(all_series, scope))
        first_origin = len(series) - holdout_days(job) * 96
        result = backtest.run(model, series, first_origin)
        prefix = "forecast" if scope.kind == "network" else f"forecast_{scope.scope_id.lower()}"
        for key, value in result.figures().items():
            figures[f"{prefix}_{key}"] = value
        if scope.kind == "network":
            known = backtest.run(model, series, first_origin, known_weather=True).figures()
            figures["forecast_mape_known_weather"] = known["mape"]
            figures["forecast_within_5pct_known_weather"] = known["within_5pct"]
            _plot(result, job.reports_dir / "forecast_network_holdout.png")
    figures["forecast_mape"] = figures.pop("forecast_mape")  # headline keys, as `meters evaluate` lists them
    return figures


def _plot(result: backtest.Backtest, path) -> None:
    import pandas as pd

    f = pd.concat(result.frames, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.fill_between(f.ds, f.lower, f.upper, color="tab:blue", alpha=0.2, label="90 % interval")
    ax.plot(f.ds, f.forecast, color="tab:blue", lw=1, label="day-ahead forecast")
    ax.plot(f.ds, f.actual, color="black", lw=0.8, label="actual (metered)")
    ax.plot(f.ds, f.naive, color="tab:orange", lw=0.6, alpha=0.7, label="same time last week")
    ax.set_ylabel("MW")
    ax.set_title("Network demand, held-out days: rolling-origin day-ahead forecasts")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
