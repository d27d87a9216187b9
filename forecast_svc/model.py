"""The demand model: Prophet (trend, workday/day-off daily shapes, weekly and, with two years of
history, yearly seasonality, holidays of the scope's state, heating/cooling degrees) plus a small
LSTM on Prophet's residuals, with split-conformal prediction intervals.

fit() calibrates on rolling origins: for each of the last `calibration_days` (7) of the history it
is given, a trial model fitted on everything before that day forecasts 72 h from the day's start
the way the service will (recent actuals known, temperature from the persistence outlook). From
those errors it picks how much of the LSTM correction to keep and, per lead day, the band
half-width: the split-conformal quantile ceil((n + 1) * level)-th smallest absolute error. Then it
refits both parts on the whole history. (Three days and one trial model, as before, left the 90 %
quantile to 1-3 days of weather: held-out coverage 0.60-0.96 by region.)
"""

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from prophet import Prophet
from prophet.serialize import model_from_json, model_to_json

from forecast_svc.features import STEP, diurnal_profile, prophet_frame, public_holidays, temperature_outlook
from forecast_svc.linear_prophet import LinearProphet
from forecast_svc.residual import LOOKBACK_STEPS, MAX_HORIZON, ResidualModel
from forecast_svc.scopes import Scope

logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
logging.getLogger("prophet").setLevel(logging.WARNING)

STEPS_PER_DAY = 96
BLENDS = (0.0, 0.5, 1.0)
CALIBRATION_DAYS = 7  # rolling origins the bands are calibrated on (at most what leaves MIN_FIT_DAYS)
REFIT_DAYS = 1  # the trial model is refitted before every REFIT_DAYS-th origin
MIN_FIT_DAYS = 7  # history a trial model needs before the first calibration origin
MIN_BLOCK_ERRORS = 20  # errors a time-of-day block of a band needs for its own quantile


@dataclass(frozen=True)
class ProphetSpec:
    """Prophet's structure; the defaults were chosen on validation days inside the training span."""
    daily_order: int = 10  # Fourier order of each daily shape (workday, day off)
    weekly_order: int = 3
    day_off_level: bool = True  # a day off's own level (the conditional daily shapes average to zero)
    weather_mode: str = "additive"  # how heating/cooling degrees act: "additive" MW or "multiplicative"


@dataclass
class ModelParams:
    scope: dict
    has_temperature: bool
    interval_level: float
    blend: float = 1.0  # share of the LSTM residual forecast added to Prophet's
    band_mw: list[float] = field(default_factory=list)  # half-width per lead day (1, 2, 3)
    temp_profile: list[float] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)
    # Conformal quantile of |y - the model's level| over the last week of training, as the service
    # measures it (no temperatures): level adaptation widens bands only by a scope's spread beyond it.
    window_spread_mw: float = 0.0


def regular(series: pd.DataFrame) -> pd.DataFrame:
    """The series on a full 15-minute grid (missing steps as NaN), sorted."""
    s = series.sort_values("ds").drop_duplicates("ds", keep="last").set_index("ds")
    grid = pd.date_range(s.index[0], s.index[-1], freq=STEP)
    return s.reindex(grid).rename_axis("ds").reset_index()


class DemandModel:
    def __init__(self, prophet: Prophet, residual: ResidualModel, params: ModelParams):
        self.prophet = prophet
        self.linear = LinearProphet(prophet)  # Prophet's predict in numpy: same numbers, ~100x faster
        self.residual = residual
        self.params = params
        self.scope = Scope(**params.scope)

    # ---- training -------------------------------------------------------------------------
    @staticmethod
    def fit(series: pd.DataFrame, scope: Scope, interval_level: float = 0.9,
            calibration_days: int = CALIBRATION_DAYS, seed: int = 0, spec: ProphetSpec = ProphetSpec(),
            refit_days: int = REFIT_DAYS) -> "DemandModel":
        series = regular(series)
        has_temp = bool("temperature_c" in series and series["temperature_c"].notna().mean() > 0.95)
        params = ModelParams(asdict(scope), has_temp, interval_level)
        # At most what leaves MIN_FIT_DAYS before the first calibration origin.
        calibration_days = max(0, min(calibration_days, len(series) // STEPS_PER_DAY - MIN_FIT_DAYS))
        errors: dict[float, list[np.ndarray]] = {b: [] for b in BLENDS}
        cut = len(series) - calibration_days * STEPS_PER_DAY
        for fold in range(cut, len(series) if calibration_days else cut, refit_days * STEPS_PER_DAY):
            # A trial model fitted on everything before the fold forecasts from each day start in it.
            trial = DemandModel(*_fit_parts(series.iloc[:fold], scope, has_temp, seed, spec), params)
            trial.params.temp_profile = diurnal_profile(series.iloc[:fold]) if has_temp else []
            trial._errors(series, fold, min(fold + refit_days * STEPS_PER_DAY, len(series)), errors)
        if errors[0.0]:
            params = params_from_errors(params, errors)
        else:  # too short to hold anything out: no LSTM, bands from in-sample errors
            params.blend, params.band_mw = 0.0, []
        prophet, residual = _fit_parts(series, scope, has_temp, seed, spec)
        params.temp_profile = diurnal_profile(series) if has_temp else []
        model = DemandModel(prophet, residual, params)
        if not params.band_mw:
            fitted = model._prophet_predict(series["ds"], series.get("temperature_c"))
            err = np.abs(series["y"].to_numpy() - fitted)
            params.band_mw = [conformal_quantile(err[~np.isnan(err)], interval_level)] * 3
        week = series[["ds", "y"]].tail(7 * STEPS_PER_DAY).dropna()
        err = np.abs(week["y"].to_numpy() - model.level_at(week))
        params.window_spread_mw = conformal_quantile(err, interval_level) if len(err) else 0.0
        return model

    def _errors(self, series: pd.DataFrame, first: int, end: int, errors: dict[float, list[np.ndarray]]) -> None:
        """Signed errors (forecast - actual, MAX_HORIZON steps, NaN past the series) of forecasts made
        the way the service makes them from each day start in series[first:end], per blend."""
        for origin in range(first, min(end, len(series) - STEPS_PER_DAY + 1), STEPS_PER_DAY):
            history = series.iloc[:origin]
            actual = series["y"].to_numpy()[origin:origin + MAX_HORIZON]
            base, res = self._components(history, series["ds"].iloc[origin - 1], len(actual))
            for b in BLENDS:
                e = np.full(MAX_HORIZON, np.nan)
                e[:len(actual)] = base + b * res - actual
                errors[b].append(e)

    # ---- forecasting ----------------------------------------------------------------------
    def forecast(self, history: pd.DataFrame, start: pd.Timestamp, steps: int,
                 temperature: np.ndarray | None = None) -> pd.DataFrame:
        """Steps ending at start + 15 min ... start + steps * 15 min (UTC), with bands.

        history: the scope's recent actuals (ds, y[, temperature_c]) up to `start`; missing steps are
        fine. temperature: a weather forecast for the steps; without one, the persistence outlook."""
        if not 1 <= steps <= MAX_HORIZON:
            raise ValueError(f"steps must be 1..{MAX_HORIZON}")
        base, res = self._components(history, pd.Timestamp(start), steps, temperature)
        pred = base + self.params.blend * res
        lead_day = np.minimum(np.arange(steps) // STEPS_PER_DAY, len(self.params.band_mw) - 1)
        band = np.asarray(self.params.band_mw)[lead_day]
        ds = pd.date_range(pd.Timestamp(start) + STEP, periods=steps, freq=STEP)
        return pd.DataFrame({"ds": ds, "forecast": pred, "lower": pred - band, "upper": pred + band})

    def level_at(self, history: pd.DataFrame) -> np.ndarray:
        """Prophet's prediction (no residual correction) for the steps of `history` (ds[, temperature_c]):
        the model's own level over steps already measured, for level adaptation (level.py).
        Temperatures: the history's where known, else the outlook, as for the LSTM's lookback."""
        temps = None
        if self.params.has_temperature:
            known = (history["temperature_c"].to_numpy(dtype=float) if "temperature_c" in history
                     else np.full(len(history), np.nan))
            fill = temperature_outlook(history, history["ds"], self.params.temp_profile)
            temps = np.where(np.isnan(known), fill, known)
        return self._prophet_predict(history["ds"], temps)

    def _components(self, history: pd.DataFrame, start: pd.Timestamp, steps: int,
                    temperature: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Prophet's forecast and the LSTM's residual forecast for the steps after `start`."""
        back = pd.date_range(end=start, periods=LOOKBACK_STEPS, freq=STEP)
        ahead = pd.date_range(start + STEP, periods=steps, freq=STEP)
        hist = history.set_index("ds") if history is not None and len(history) else pd.DataFrame(columns=["y"])
        y_back = hist["y"].reindex(back).to_numpy(dtype=float)
        temps = None
        if self.params.has_temperature:
            outlook = temperature if temperature is not None else temperature_outlook(
                history, pd.Series(ahead), self.params.temp_profile)
            known = (hist["temperature_c"].reindex(back).to_numpy(dtype=float)
                     if "temperature_c" in hist else np.full(len(back), np.nan))
            fill = temperature_outlook(history, pd.Series(back), self.params.temp_profile)
            temps = np.concatenate([np.where(np.isnan(known), fill, known), np.asarray(outlook, float)])
        yhat = self._prophet_predict(pd.Series(back.append(ahead)), temps)
        residuals = np.nan_to_num(y_back - yhat[:LOOKBACK_STEPS])
        hours = (back - STEP / 2).hour.to_numpy()
        res = self.residual.predict(residuals, hours, steps)
        return yhat[LOOKBACK_STEPS:], res

    def _prophet_predict(self, ds_utc: pd.Series, temperature) -> np.ndarray:
        frame = prophet_frame(ds_utc, self.scope.timezone, self.scope.region,
                              temperature if self.params.has_temperature else None)
        return self.linear.predict(frame)

    # ---- persistence ----------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        (folder / "prophet.json").write_text(model_to_json(self.prophet))
        (folder / "residual.pt").write_bytes(self.residual.to_bytes())
        (folder / "params.json").write_text(json.dumps(asdict(self.params), indent=2))

    @staticmethod
    def load(folder: Path) -> "DemandModel":
        params = ModelParams(**json.loads((folder / "params.json").read_text()))
        return DemandModel(model_from_json((folder / "prophet.json").read_text()),
                           ResidualModel.from_bytes((folder / "residual.pt").read_bytes()), params)


def conformal_quantile(abs_errors: np.ndarray, level: float) -> float:
    """The split-conformal quantile: the ceil((n + 1) * level)-th smallest of n absolute errors."""
    e = np.sort(np.asarray(abs_errors, float))
    k = int(np.ceil((len(e) + 1) * level))
    return float(e[min(k, len(e)) - 1])


def params_from_errors(p: ModelParams, errors: dict[float, list[np.ndarray]]) -> ModelParams:
    """The blend with the lowest day-ahead MAE over the calibration origins, and with it the band
    half-width per lead day: the conformal quantile of that lead day's absolute errors."""
    mae = {b: float(np.nanmean(np.abs(np.vstack(errors[b])[:, :STEPS_PER_DAY]))) for b in BLENDS}
    blend = min(BLENDS, key=lambda b: mae[b])
    bands = lead_day_bands(np.abs(np.vstack(errors[blend])), p.interval_level)[:, 0].tolist()
    return ModelParams(p.scope, p.has_temperature, p.interval_level, blend, bands, [],
                       {"day_ahead_mae_by_blend": mae, "origins": len(errors[blend])})


def lead_day_bands(abs_errors: np.ndarray, level: float, blocks: int = 1) -> np.ndarray | None:
    """Band half-widths, 3 lead days x `blocks` times of day, from the absolute errors of forecasts
    made from day starts (origins x steps from the origin, NaN where nothing was measured): the
    conformal quantile of each lead day's errors in each block of the day (step from the origin mod
    a day; a block with under MIN_BLOCK_ERRORS takes the whole day's). A lead day with under a day
    of errors takes the previous one's x 1.15; None when the first has under a day."""
    width = STEPS_PER_DAY // blocks
    bands, last = [], None
    for day in range(3):
        e = abs_errors[:, day * STEPS_PER_DAY:(day + 1) * STEPS_PER_DAY]
        if np.count_nonzero(~np.isnan(e)) < STEPS_PER_DAY:
            if last is None:
                return None
            last = last * 1.15
        else:
            whole = conformal_quantile(e[~np.isnan(e)], level)
            cells = [e[:, b * width:(b + 1) * width] for b in range(blocks)]
            last = np.array([conformal_quantile(c[~np.isnan(c)], level)
                             if np.count_nonzero(~np.isnan(c)) >= MIN_BLOCK_ERRORS else whole for c in cells])
        bands.append(last)
    return np.vstack(bands)


def _fit_parts(series: pd.DataFrame, scope: Scope, has_temp: bool, seed: int,
               spec: ProphetSpec) -> tuple[Prophet, ResidualModel]:
    known = series.dropna(subset=["y"])
    frame = prophet_frame(known["ds"], scope.timezone, scope.region,
                          known["temperature_c"].to_numpy() if has_temp else None)
    frame["y"] = known["y"].to_numpy()
    span_days = (frame["ds"].iloc[-1] - frame["ds"].iloc[0]).days
    m = Prophet(
        # Weeks of data cannot tell a trend from a weather spell or a weekend: flat until a year is known.
        growth="linear" if span_days >= 365 else "flat",
        changepoint_prior_scale=0.01,
        yearly_seasonality=span_days >= 730,
        weekly_seasonality=spec.weekly_order,
        daily_seasonality=False,
        seasonality_mode="multiplicative",
        holidays=_holidays_seen(frame, scope.region),
        uncertainty_samples=0,  # bands come from calibration errors, and sampling is slow
    )
    # Holidays take the day-off shape: a holiday seen only in the forecast still looks like a Sunday.
    m.add_seasonality("daily_work", period=1, fourier_order=spec.daily_order, condition_name="work_day")
    m.add_seasonality("daily_off", period=1, fourier_order=spec.daily_order, condition_name="day_off")
    if spec.day_off_level:
        m.add_regressor("day_off_level", mode="multiplicative")
    if has_temp:
        m.add_regressor("hdd", mode=spec.weather_mode)
        m.add_regressor("cdd", mode=spec.weather_mode)
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)  # it resets itself on import
    m.fit(frame)
    # In input order (Prophet's predict sorts by local time, which reorders the repeated DST hour).
    fitted = LinearProphet(m).predict(frame)
    # Residuals on the full grid (0 where y is missing) keep the LSTM windows aligned in time.
    resid = pd.Series(known["y"].to_numpy() - fitted, index=known["ds"]).reindex(series["ds"]).fillna(0.0)
    hours = (pd.DatetimeIndex(series["ds"]) - STEP / 2).hour.to_numpy()
    return m, ResidualModel.fit(resid.to_numpy(), hours, seed=seed)


def _holidays_seen(frame: pd.DataFrame, region: str) -> pd.DataFrame | None:
    """Holidays inside the training span, for Prophet to learn their own effect beyond the day-off shape."""
    days = pd.DatetimeIndex(frame["ds"]).normalize().unique()
    hit = days[public_holidays(region, days)]
    return pd.DataFrame({"holiday": "public_holiday", "ds": hit}) if len(hit) else None
