"""The scheduled forecast job's training (`meters train forecast`): fit the network model on the
demand measured from the readings (forecast.demand_actuals) over the job's data window, score it on
the held-out days after the window with the rolling-origin backtest, register it unpromoted. The job
then puts it in shadow (meters/model_lifecycle/jobs.py); the promotion rule decides (promotion.py).

The window: the last `training_days` before the held-out days, ending at `data_end` (default: the
latest measured step). The data digest is sha256 over the fitted steps' times and values."""

import asyncio
import datetime as dt

import numpy as np

from forecast_svc import backtest
from forecast_svc.model import DemandModel, regular
from forecast_svc.scopes import NETWORK, Scope
from forecast_svc.store import ForecastStore
from forecast_svc.training import register
from meters.errors import failed_precondition
from meters.model_lifecycle.digest import bytes_sha256
from meters.model_lifecycle.trainers import Context, Trained

MODEL_NAME = "forecast-network"
MIN_FIT_DAYS = 2
STEPS_PER_DAY = 96


def data_sha256(series) -> str:
    times = series["ds"].astype("int64").to_numpy()
    return bytes_sha256(times.tobytes() + np.nan_to_num(series["y"].to_numpy(float), nan=-1e300).tobytes())


async def train(ctx: Context) -> Trained:
    o = ctx.options
    end = o.data_end or dt.datetime.now(dt.timezone.utc)
    store = ForecastStore(ctx.pool)
    history = await store.history(NETWORK, "", end - dt.timedelta(days=o.training_days + o.holdout_days + 1), end)
    if history.empty:
        raise failed_precondition("no measured network demand in the data window", "NO_ACTUALS")
    series = regular(history).iloc[-(o.training_days + o.holdout_days) * STEPS_PER_DAY:]
    cut = len(series) - o.holdout_days * STEPS_PER_DAY
    if cut < MIN_FIT_DAYS * STEPS_PER_DAY:
        raise failed_precondition(f"{len(series) / STEPS_PER_DAY:.1f} days of measured demand in the window; need"
                                  f" {MIN_FIT_DAYS} to fit plus {o.holdout_days} held out", "NOT_ENOUGH_HISTORY")
    fitted = series.iloc[:cut]
    model = await asyncio.to_thread(DemandModel.fit, fitted, Scope(NETWORK), seed=o.seed)
    figures = (await asyncio.to_thread(backtest.run, model, series, cut)).figures()
    version = await asyncio.to_thread(register, ctx.registry, model, fitted, False, MODEL_NAME)
    metrics = {f"holdout_{k}": float(v) for k, v in figures.items() if isinstance(v, (int, float)) and v == v}
    return Trained(MODEL_NAME, version, "forecast.demand_actuals (network)", fitted["ds"].iloc[0].to_pydatetime(),
                   fitted["ds"].iloc[-1].to_pydatetime(), int(fitted["y"].notna().sum()), data_sha256(fitted), metrics)
