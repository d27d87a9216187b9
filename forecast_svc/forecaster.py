"""GetDemandForecast's logic: pick the model for a scope, read its recent actuals, forecast,
store the run. No gRPC here.

The network, when every region has a promoted model, is the sum of the regions' forecasts
(bottom_up.py), scaled by the network's demand over the regions' (meters without a placement count
toward the network only); else its own model. A region with its own promoted model
("forecast-region-NSW", ...) uses it. Any other scope (a substation or transformer: tens of thousands of them) borrows its region's model,
else the network's, scaled by the scope's share of that parent's demand over the last week; its
band is calibrated on the scope's own errors over the last week (borrowed.py), so it widens for
small, noisy scopes and at the times of day they are noisy.

A weather forecast in the request (points of time and temperature_c) must cover every step of the
horizon (else INVALID_ARGUMENT naming the steps, weather_input.on_steps); a scope answered by its own
model trained with temperatures takes it in place of the persistence outlook, and model_version says
whether it was used. A request with weather is always computed. Without one, a region's own model
(alone or in the network's sum) takes the region's stored weather (weather_inputs.py: observed hours
for the history, the latest issued forecast spanning the horizon); the run's `weather` says what
was used or why none was, and a stored run is served again only while that is unchanged.

Network and region forecasts (and the parent forecast a borrowed one scales) follow the level of the
demand measured in the week before the start (level.py), not the training fleet's; the factor is
stored with the run (forecast_runs.level_scale) and model_version says when it applied or when there
were no actuals to check the level against; an adapted band also takes the measured scope's own
noise (level.py).
"""

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from forecast_svc import borrowed, level, weather_inputs
from forecast_svc.bottom_up import sum_forecasts
from forecast_svc.model import DemandModel
from forecast_svc.scopes import NETWORK, REGION, SCOPES, TIMEZONES, Scope
from forecast_svc.store import ForecastStore, Point, Run
from forecast_svc.weather_input import WeatherGap, on_steps
from forecast_svc.weather_inputs import REQUEST, RegionWeather, WeatherStore
from meters.errors import FieldViolation, failed_precondition, invalid_argument, not_found
from meters.model_registry import PROMOTED, ModelNotFound, ModelRegistry

log = logging.getLogger(__name__)
STEP = dt.timedelta(minutes=15)
HISTORY = dt.timedelta(days=8)


class ModelCache:
    """Promoted models (or those another pointer names: SHADOW), loaded once per version; the pointer
    is re-read on every call."""

    def __init__(self, registry: ModelRegistry, pointer: str = PROMOTED):
        self.registry = registry
        self.pointer = pointer
        self.loaded: dict[tuple[str, str], DemandModel] = {}

    def get(self, name: str) -> tuple[DemandModel, str] | None:
        try:
            mv = self.registry.promoted(name, self.pointer)
        except ModelNotFound:
            return None
        key = (name, mv.manifest.version)
        if key not in self.loaded:
            self.loaded[key] = DemandModel.load(mv.path)
        return self.loaded[key], mv.manifest.version


def validate(scope: str, scope_id: str, horizon_hours: int) -> int:
    horizon = horizon_hours or 24
    bad = []
    if scope not in SCOPES:
        bad.append(FieldViolation("scope", "unknown scope"))
    if scope == NETWORK and scope_id:
        bad.append(FieldViolation("scope_id", "must be empty for the network"))
    if scope == REGION and scope_id not in TIMEZONES:
        bad.append(FieldViolation("scope_id", f"a NEM region code: {', '.join(TIMEZONES)}"))
    if scope not in (NETWORK, REGION) and not scope_id.isdigit():
        bad.append(FieldViolation("scope_id", "a numeric substation or transformer id"))
    if not 24 <= horizon <= 72:
        bad.append(FieldViolation("horizon_hours", "must be 24 to 72 (0 means 24)"))
    if bad:
        raise invalid_argument("invalid demand forecast request", *bad)
    return horizon


@dataclasses.dataclass(frozen=True)
class WeatherPlan:
    stored: dict[str, RegionWeather]  # per region whose model takes temperature: its stored weather
    note: str  # what the run will say it used (ForecastRun.weather)


class Forecaster:
    def __init__(self, store: ForecastStore, models: ModelCache, interval_level: float = 0.9,
                 on_computed: Callable[[Run, float, np.ndarray | None], None] | None = None,
                 weather: WeatherStore | None = None):
        self.store = store
        self.models = models
        self.interval_level = interval_level
        self.on_computed = on_computed  # each run computed for a caller, its compute time (shadow.py)
        self.weather = weather  # customer_svc's regional weather; None: forecasts say none is configured

    async def get(self, scope: str, scope_id: str, horizon_hours: int, start: dt.datetime | None,
                  refresh: bool, weather: list[tuple[dt.datetime, float]] | None = None) -> Run:
        horizon = validate(scope, scope_id, horizon_hours)
        start = _floor(start or dt.datetime.now(dt.timezone.utc))
        temperature = weather_on_steps(weather, start, horizon)
        plan = None
        if temperature is None:
            plan = await self.plan(scope, scope_id, start, horizon * 4)
            # A stored run is served again only while it used the weather a new one would use.
            found = None if refresh else await self.store.find_run(scope, scope_id, start, horizon, plan.note)
            if found is not None:
                return await self.store.get_run(found, horizon)
        started = time.perf_counter()
        run = await self.compute(scope, scope_id, horizon, start, temperature, plan)
        latency = time.perf_counter() - started
        _report(run, plan)
        await self.store.save_run(run)
        if self.on_computed is not None:
            self.on_computed(run, latency, temperature)
        return run

    async def plan(self, scope: str, scope_id: str, start: dt.datetime, steps: int) -> "WeatherPlan":
        """Which model answers, and the stored weather it takes (forecasts without a caller's weather)."""
        own = self.models.get(Scope(scope, scope_id, scope_id if scope == REGION else "").model_name) \
            if scope in (NETWORK, REGION) else None
        regions = self._region_models(own) if scope == NETWORK else None
        takes = {code: model for code, (model, _) in regions.items()} if regions else \
            {scope_id: own[0]} if scope == REGION and own is not None else {}
        # Concurrently: the network's sum reads five regions' weather.
        found = await asyncio.gather(*(self._region_weather(code, model, start, steps) for code, model in takes.items()))
        stored = dict(zip(takes, found))
        if scope == REGION and own is not None:
            note = stored[scope_id].note
        elif regions:
            note = "; ".join(f"{code} {w.note}" for code, w in stored.items())
        elif scope == NETWORK:
            note = "none: the network's own model takes only a caller's weather"
        else:
            note = "none: a borrowed model takes no weather"
        return WeatherPlan(stored, note)

    async def _region_weather(self, code: str, model: DemandModel, start: dt.datetime, steps: int) -> RegionWeather:
        if self.weather is None:
            return weather_inputs.unavailable("no weather store configured")
        found = await self.weather.region(code, start - HISTORY, start, steps)
        if not model.params.has_temperature:  # observed weather still helps nothing; say why it is unused
            return RegionWeather(found.observed, None, "none: the model has no temperature")
        return found

    async def compute(self, scope: str, scope_id: str, horizon: int, start: dt.datetime,
                      temperature: np.ndarray | None = None, plan: "WeatherPlan | None" = None) -> Run:
        """temperature: a caller's weather forecast on the horizon's steps (weather_on_steps), or None:
        then the stored weather of `plan` (self.plan when not given)."""
        region = scope_id if scope == REGION else ""
        if scope not in (NETWORK, REGION):
            region = await self.store.region_of(scope, scope_id)
            if region is None:
                raise not_found(scope, scope_id)
        target = Scope(scope, scope_id, region)
        steps = horizon * 4
        if temperature is None and plan is None:
            plan = await self.plan(scope, scope_id, start, steps)
        stored = plan.stored if plan is not None else {}
        history = await self.store.history(scope, scope_id, start - HISTORY, start)
        own = self.models.get(target.model_name)
        regions = await self._from_regions(history, start, steps, own, stored) if scope == NETWORK else None
        note = plan.note if plan is not None else REQUEST
        if regions is not None:
            f, version, scale = regions
        elif own is not None:
            model, version = own
            if scope == REGION and scope_id in stored:
                history = stored[scope_id].history(history)
            lv = level.measure(model, history, start)
            used = temperature is not None and model.params.has_temperature
            outlook = temperature if used else stored[scope_id].forecast if scope_id in stored else None
            f = level.forecast(model, history, start, steps, lv, outlook)
            version, scale = version + lv.note(), lv.factor if lv.ratio is not None else None
            if temperature is not None:
                version += " (weather forecast used)" if used else " (weather ignored: model has no temperature)"
                note = REQUEST if used else "none: the model has no temperature"
            elif outlook is not None:
                version += " (stored weather forecast used)"
        else:
            f, version, scale = await self._borrowed(target, history, start, steps)
        if temperature is not None and not (own is not None and regions is None):
            version += " (weather ignored: only a scope's own model takes it)"
            note = "none: only a scope's own model takes a caller's weather"
        points = [Point(t.to_pydatetime(), float(p), float(lo), float(hi))
                  for t, p, lo, hi in zip(f.ds, f.forecast, f.lower, f.upper)]
        return Run(0, scope, scope_id, start, horizon, self.interval_level, version, start, points,
                   level_scale=scale, weather=note)

    def _region_models(self, network_model: tuple[DemandModel, str] | None
                       ) -> dict[str, tuple[DemandModel, str]] | None:
        """Every region's model, when each is at least as new as the network's (versions are UTC
        timestamps; training registers the network first); else None."""
        found = {code: self.models.get(Scope(REGION, code, code).model_name) for code in TIMEZONES}
        if any(v is None for v in found.values()):
            return None
        if network_model is not None and min(v for _, v in found.values()) < network_model[1]:
            return None
        return found

    async def _from_regions(self, network_history: pd.DataFrame, start: dt.datetime, steps: int,
                            network_model: tuple[DemandModel, str] | None,
                            stored: dict[str, RegionWeather] | None = None
                            ) -> tuple[pd.DataFrame, str, float | None] | None:
        """None unless every region has a model at least as new as the network's (_region_models): a
        network model retrained on its own (RetrainForecastModel without enough regional history) is
        served rather than stale regions. Each region takes its own stored weather (`stored`).

        Level: each measured region follows its own actuals; a region with none, inside a measured
        network, takes the network's measured / the regions' models' summed prediction. The factor
        stored is the answer over what the regions' models forecast at their own level."""
        found = self._region_models(network_model)
        if found is None:
            return None
        stored = stored or {}
        histories = {code: await self.store.history(REGION, code, start - HISTORY, start) for code in TIMEZONES}
        histories = {code: stored[code].history(h) if code in stored else h for code, h in histories.items()}

        levels = {code: level.measure(model, histories[code], start) for code, (model, _) in found.items()}
        if any(lv.ratio is None for lv in levels.values()):
            w = level.window(network_history, start)
            at = {code: model.level_at(w) for code, (model, _) in found.items()} if len(w) >= level.MIN_STEPS else {}
            network_level = (level.from_ratio(w["y"].to_numpy(), np.sum(list(at.values()), axis=0)) if at
                             else level.Level(1.0))
            share = {code: float(np.sum(a)) for code, a in at.items()}
            total = sum(share.values())
            # A region borrowing the network's level takes its share of the network's spread (bands).
            for code, lv in levels.items():
                if lv.ratio is None:
                    part = share[code] / total if total > 0 else 0.0
                    levels[code] = dataclasses.replace(network_level, spread=network_level.spread * part)
        frames = [level.forecast(model, histories[code], start, steps, levels[code],
                                 stored[code].forecast if code in stored else None)
                  for code, (model, _) in found.items()]
        regions = pd.concat(histories.values()).groupby("ds")["y"].sum()
        joined = network_history.set_index("ds")["y"].tail(7 * 96).align(regions, join="inner")
        scale = float(joined[0].sum() / joined[1].sum()) if len(joined[0]) and joined[1].sum() > 0 else 1.0
        version = "sum of regions: " + ", ".join(f"{code} {v}" for code, (_, v) in found.items())
        used = [code for code in found if code in stored and stored[code].forecast is not None]
        if used:
            version += f" (stored weather forecast used: {', '.join(used)})"
        f = sum_forecasts(frames, scale)
        if all(lv.ratio is None for lv in levels.values()):
            return f, version + level.Level(1.0).note(), None
        at_model_level = sum(frame["forecast"].sum() / levels[code].factor for code, frame in zip(found, frames))
        factor = float(f["forecast"].sum() / at_model_level) if at_model_level > 0 else scale
        if any(lv.adapted for lv in levels.values()):
            steps_measured = max(lv.steps for lv in levels.values())
            version += f" (level x {factor:.4g} from {steps_measured} measured steps)"
        return f, version, factor

    async def _borrowed(self, target: Scope, history: pd.DataFrame, start: dt.datetime,
                        steps: int) -> tuple[pd.DataFrame, str, float | None]:
        for parent in borrowed.parents(target):
            found = self.models.get(parent.model_name)
            if found is None:
                continue
            model, version = found
            parent_hist = await self.store.history(parent.kind, parent.scope_id, start - borrowed.HISTORY, start)
            b = borrowed.forecast(model, parent_hist, history, start, steps, self.interval_level)
            if b is None:
                raise failed_precondition(f"no measured demand yet for {target.kind} {target.scope_id}", "NO_ACTUALS")
            note = f", level x {b.level.factor:.4g}" if b.level.adapted else ""
            note += (f", band from its errors over {b.origins} days" if b.origins
                     else ", band from the share's spread: under a day measured")
            return b.frame, f"{version} (via {parent.model_name} x {b.share:.4g}{note})", b.share * b.level.factor
        raise failed_precondition("no promoted forecast model: run `meters train` or RetrainForecastModel", "NO_MODEL")


def _report(run: Run, plan: WeatherPlan | None) -> None:
    """The weather a computed network or region forecast used, in the counter (per region for the
    network's sum) and, when it had none, in the log."""
    if run.scope not in (NETWORK, REGION):
        return
    sum_of_regions = plan is not None and run.scope == NETWORK and plan.stored
    for note in ([w.note for w in plan.stored.values()] if sum_of_regions else [run.weather]):
        weather_inputs.count(note)
    if not run.weather.startswith((REQUEST, weather_inputs.STORED)) or " none: " in run.weather:
        log.info("forecast without a weather forecast for all of it", extra={"fields": {
            "scope": run.scope, "scope_id": run.scope_id, "weather": run.weather}})


def weather_on_steps(weather: list[tuple[dt.datetime, float]] | None, start: dt.datetime,
                     horizon: int) -> np.ndarray | None:
    """The weather forecast on the horizon's 15-minute steps; None without one; INVALID_ARGUMENT
    naming the steps it does not cover."""
    if not weather:
        return None
    series = pd.Series([t for _, t in weather], index=pd.DatetimeIndex([w for w, _ in weather]).tz_convert("UTC"))
    series = series.sort_index().groupby(level=0).mean()
    ends = pd.date_range(pd.Timestamp(start) + STEP, periods=horizon * 4, freq=STEP)
    try:
        return on_steps(series, ends, pd.Timedelta(STEP))
    except WeatherGap as e:
        raise invalid_argument("weather does not cover the horizon", FieldViolation("weather", str(e))) from None


def _floor(t: dt.datetime) -> dt.datetime:
    t = t.astimezone(dt.timezone.utc)
    return t - dt.timedelta(minutes=t.minute % 15, seconds=t.second, microseconds=t.microsecond)
