"""RetrainForecastModel: fit the network model (and each region's, where measured, with the region's
observed weather from customer_svc when recorded) on the stored actuals, score it on the held-out days after its training window with the rolling-origin
backtest, register it, and promote it when asked and better than the serving one."""

import asyncio
import datetime as dt
import logging

from forecast_svc import backtest
from forecast_svc.model import DemandModel, regular
from forecast_svc.scopes import NETWORK, REGION, TIMEZONES, Scope
from forecast_svc.store import ForecastStore
from forecast_svc.training import register
from forecast_svc.weather_inputs import WeatherStore
from meters.audit import Change
from meters.errors import failed_precondition
from meters.model_registry import ModelRegistry

log = logging.getLogger(__name__)
TRAINING, READY, FAILED = 1, 2, 3  # ForecastModelVersionStatus
MIN_TRAINING_DAYS = 7
MAX_OBSERVED_DAYS = 400  # what GetRegionalWeather returns at most (customer_svc/weather_rpcs.py)


class Retrainer:
    def __init__(self, store: ForecastStore, registry: ModelRegistry, weather: WeatherStore | None = None):
        self.store = store
        self.registry = registry
        self.weather = weather  # the regions' observed weather, learned from when recorded
        self.tasks: set[asyncio.Task] = set()

    async def start(self, training_days: int, holdout_days: int, promote_if_better: bool, wait: bool,
                    audit: Change) -> str:
        """Start a retrain; each step of the version (started, promoted or ready, failed) is recorded as
        part of the call that asked for it (`audit`)."""
        holdout = holdout_days or 7
        end = dt.datetime.now(dt.timezone.utc)
        history = await self.store.history(NETWORK, "", end - dt.timedelta(days=3650), end)
        if history.empty:
            raise failed_precondition("no measured demand stored yet", "NO_ACTUALS")
        days = (history["ds"].iloc[-1] - history["ds"].iloc[0]).days
        if days < MIN_TRAINING_DAYS + holdout:
            raise failed_precondition(
                f"{days} days of measured demand; need {MIN_TRAINING_DAYS} to train plus {holdout} held out",
                "NOT_ENOUGH_HISTORY")
        version = dt.datetime.now(dt.timezone.utc).strftime("demand-%Y%m%dT%H%M%S")
        await self.store.put_version(version, TRAINING, audit, "retrain")
        job = self._run(version, history, training_days, holdout, promote_if_better, audit)
        if wait:
            await job
        else:
            task = asyncio.create_task(job)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return version

    async def _run(self, version: str, network_history, training_days: int, holdout: int, promote: bool,
                   audit: Change) -> None:
        try:
            series = regular(network_history)
            cut = len(series) - holdout * 96
            train = series.iloc[:cut] if not training_days else series.iloc[max(0, cut - training_days * 96):cut]
            scope = Scope(NETWORK)
            model = await asyncio.to_thread(DemandModel.fit, train, scope)
            figures = (await asyncio.to_thread(backtest.run, model, series, cut)).figures()
            serving = False
            if promote:
                serving = await asyncio.to_thread(self._better_than_serving, series, cut, figures["mape"])
            await asyncio.to_thread(register, self.registry, model, train, serving)
            for code in TIMEZONES:  # regions with their own measured demand get their own models
                await self._region(code, train["ds"].iloc[0], train["ds"].iloc[-1], serving)
            await self.store.put_version(
                version, READY, audit, "promote" if serving else "complete", serving=serving,
                training_start=train["ds"].iloc[0].to_pydatetime(),
                training_end=train["ds"].iloc[-1].to_pydatetime(), holdout_within_5pct=figures["within_5pct"],
                holdout_mape_percent=figures["mape"], completed_at=dt.datetime.now(dt.timezone.utc))
        except Exception as exc:  # recorded on the version for the caller to read
            log.exception("retrain failed")
            await self.store.put_version(version, FAILED, audit, "fail", error_message=str(exc)[:500],
                                         completed_at=dt.datetime.now(dt.timezone.utc))

    async def _region(self, code: str, start, end, promote: bool) -> None:
        history = await self.store.history(REGION, code, start, end)
        if self.weather is not None and len(history):
            # The observed hours over the window (the model takes temperature when 95 % of steps have it).
            since = max(start, end - dt.timedelta(days=MAX_OBSERVED_DAYS - 1))
            observed = await self.weather.region(code, since.to_pydatetime(), end.to_pydatetime(), 1)
            history = observed.history(history)
        if len(history) >= MIN_TRAINING_DAYS * 96:
            model = await asyncio.to_thread(DemandModel.fit, history, Scope(REGION, code, code))
            await asyncio.to_thread(register, self.registry, model, history, promote)

    def _better_than_serving(self, series, cut: int, mape: float) -> bool:
        try:
            current = DemandModel.load(self.registry.promoted("forecast-network").path)
        except LookupError:
            return True
        return mape < backtest.run(current, series, cut).figures()["mape"]
