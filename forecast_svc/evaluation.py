"""`meters evaluate` for forecasting: rolling-origin day-ahead backtests of the promoted models over
the held-out days that follow their training window (the same fleet, later in time), never used
in training or calibration. Each scale of `training.scales` is scored: the headline keys
(`forecast_within_5pct`, ...) are the network at the representative size, regions go as
`forecast_nsw_...`, the job's small fleet as `..._small`. Where regions have models the network's
headline is the sum of their forecasts (bottom_up.py), as the service serves it; the network
model's own figures go as `forecast_network_model_...`.

Temperatures for the forecast day come from the persistence outlook (the service's fallback); the
`_known_weather` figures repeat the network backtest with the true temperatures as a perfect
weather forecast, and the `_weather_forecast` figures with the true temperatures plus a realistic
day-ahead error (WEATHER_ERROR_C RMS, weather_error.py), what a weather feed adds.

Substations and transformers have no models: for a sample of each (data.scope_series) the served
scale's backtest borrows the region's model (else the network's) through the service's own
function (backtest.borrowed -> borrowed.forecast), from the demand the service would have measured;
the sample's steps are scored together as `forecast_substation_...`, `forecast_transformer_...`.

By aggregation size (size_ladder.py): every rung above with its meter count, plotted.

Then the real series the project ships (SGSC households and their sum, the ETTh1 load channels):
rolling-origin day-ahead backtests of the CSV model beside its peers, `forecast_real_...`
(real_evaluation.py)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from forecast_svc import backtest, borrowed, real_evaluation, size_ladder, weather_error  # noqa: E402
from forecast_svc.data import fleet_series, scope_series  # noqa: E402
from forecast_svc.model import DemandModel, regular  # noqa: E402
from forecast_svc.scopes import NETWORK, REGION, SUBSTATION, TRANSFORMER, Scope  # noqa: E402
from forecast_svc.training import Scale, cache_dir, holdout_days, scales, series_for  # noqa: E402
from meters.ml_jobs import MlJob  # noqa: E402

WEATHER_ERROR_C = 1.5  # RMS of a day-ahead temperature forecast's error (weather_gain.py measures others)


def evaluate(job: MlJob) -> dict[str, float]:
    figures: dict[str, float] = {}
    for scale in scales(job):
        tail = f"_{scale.suffix}" if scale.suffix else ""
        figures[f"forecast_eval_meters{tail}"] = float(scale.cfg.meters)
        runs, known, noisy = _backtests(job, scale)
        regions = [s for s in scale.scopes if s.kind == REGION]
        for scope in regions:
            _put(figures, f"forecast_{scope.scope_id.lower()}", tail, runs[scope].figures())
        network = [s for s in scale.scopes if s.kind == NETWORK][0]
        if regions:  # what the service serves for the network: the sum of its regions
            _put(figures, "forecast_network_model", tail, runs[network].figures())
            headline = backtest.summed([runs[s] for s in regions])
            known_weather = backtest.summed([known[s] for s in regions]).figures()
        else:
            headline, known_weather = runs[network], known[network].figures()
        _put(figures, "forecast", tail, headline.figures())
        figures[f"forecast_mape_known_weather{tail}"] = known_weather["mape"]
        figures[f"forecast_within_5pct_known_weather{tail}"] = known_weather["within_5pct"]
        forecast_weather = (backtest.summed([noisy[s] for s in regions]) if regions else noisy[network]).figures()
        figures[f"forecast_mape_weather_forecast{tail}"] = forecast_weather["mape"]
        figures[f"forecast_within_5pct_weather_forecast{tail}"] = forecast_weather["within_5pct"]
        _plot(headline, job.reports_dir / f"forecast_network_holdout{tail}.png", scale.cfg.meters)
        if not scale.suffix:  # the served models
            runs = borrowed_backtests(job, scale)
            for kind in (SUBSTATION, TRANSFORMER):
                _put(figures, f"forecast_{kind}", tail,
                     backtest.pooled([r for scope, r in runs.items() if scope.kind == kind]).figures())
    served, *others = scales(job)
    figures.update(size_ladder.evaluate(figures, served.cfg, others[0].cfg.meters if others else None,
                                        job.reports_dir))
    figures.update(real_evaluation.evaluate(job))
    return figures


def borrowed_backtests(job: MlJob, scale: Scale) -> dict[Scope, backtest.Backtest]:
    """Per sampled substation and transformer: its held-out backtest borrowing the first of its
    parents (borrowed.parents) that the scale has a model for."""
    all_series = fleet_series(scale.cfg, cache_dir(job))
    models = {scope: DemandModel.load(job.registry.promoted(scale.model_name(scope)).path) for scope in scale.scopes}
    runs = {}
    for scope, own in scope_series(scale.cfg, cache_dir(job)).items():
        parent = next(p for p in borrowed.parents(scope) if p in models)
        parent_series = regular(series_for(all_series, parent)[["ds", "y"]])
        series = regular(own).set_index("ds").reindex(parent_series["ds"]).rename_axis("ds").reset_index()
        first_origin = len(series) - holdout_days(job) * 96
        runs[scope] = backtest.borrowed(models[parent], parent_series, series, first_origin)
    return runs


def _backtests(job: MlJob, scale: Scale) -> tuple[dict, dict, dict]:
    """Per scope: the held-out backtest with the persistence outlook, with the true temperatures, and
    with a weather forecast (the true temperatures plus WEATHER_ERROR_C RMS of error)."""
    all_series = fleet_series(scale.cfg, cache_dir(job))
    runs, known, noisy = {}, {}, {}
    for i, scope in enumerate(scale.scopes):
        model = DemandModel.load(job.registry.promoted(scale.model_name(scope)).path)
        series = regular(series_for(all_series, scope))
        first_origin = len(series) - holdout_days(job) * 96
        runs[scope] = backtest.run(model, series, first_origin)
        known[scope] = backtest.run(model, series, first_origin, known_weather=True)
        weather = weather_error.noisy(series["temperature_c"].to_numpy(), WEATHER_ERROR_C, job.seed + i)
        noisy[scope] = backtest.run(model, series, first_origin, weather=weather)
    return runs, known, noisy


def _put(figures: dict[str, float], prefix: str, tail: str, values: dict[str, float]) -> None:
    for key, value in values.items():
        figures[f"{prefix}_{key}{tail}"] = value


def _plot(result: backtest.Backtest, path, meters: int) -> None:
    import pandas as pd

    f = pd.concat(result.frames, ignore_index=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(12, 4))
    ax.fill_between(f.ds, f.lower, f.upper, color="tab:blue", alpha=0.2, label="90 % interval")
    ax.plot(f.ds, f.forecast, color="tab:blue", lw=1, label="day-ahead forecast")
    ax.plot(f.ds, f.actual, color="black", lw=0.8, label="actual (metered)")
    ax.plot(f.ds, f.naive, color="tab:orange", lw=0.6, alpha=0.7, label="same time last week")
    ax.set_ylabel("MW")
    ax.set_title(f"Network demand ({meters:,} meters), held-out days: rolling-origin day-ahead forecasts")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
