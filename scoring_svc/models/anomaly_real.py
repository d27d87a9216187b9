"""The promoted anomaly detector on real households: the SGSC 50 (data/sgsc-nsw-50-households/).

Real meters have no planted truth, so what can be measured is how often the detector would page
someone: alerts a day per 1,000 real meters at the alert threshold (0.85), by anomaly type.

What is scored on these meters: SGSC gives kWh per half hour only. Voltage, current and power
factor come as NaN; anomaly_features turns their deviations into 0 and the power factor into a
typical 0.95, so voltage sag / swell, power-factor collapse and the "register reads 0 while
current flows" test cannot fire on physics they never see; a stuck register can only show as
zeros against the meter's own kWh history, a spike as kWh against its own level and quantiles.
Reverse flow needs a negative register (none in this import-only sample). The model was trained
on 15-minute readings: here its 24 h history holds 48 half hours and its LSTM's 8 steps span 4 h.

Alerts: a flagged reading is one CreateAlert call, folded by alert_svc into the unresolved alert
with dedup key anomaly:<meter>:<type>. Counted here as one alert per (household, type, NEM day)
with at least one flagged reading (an inbox resolved daily); flagged readings are reported too.
Households are named by their rank (household 0-49), never by CUSTOMER_ID.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from meters.nem12.nemtime import NEM_OFFSET_S  # noqa: E402
from meters.nem12.sgsc import INTERVAL_MINUTES, sgsc_intervals  # noqa: E402
from meters.readings import from_arrays  # noqa: E402
from scoring_svc.models.anomaly import ALERT_THRESHOLD, TYPE_NAMES, AnomalyDetector  # noqa: E402
from scoring_svc.models.anomaly_features import reading_features  # noqa: E402

PREFIX = "anomaly_sgsc_"
STEP_S = INTERVAL_MINUTES * 60
DAY_S = 86_400
EXAMPLES = 4
NORMAL_WEEKS = 4


def sgsc_columns(intervals: pd.DataFrame):
    """kWh-only ReadingColumns, meter id = the household's rank, sorted by (meter, time)."""
    ids = np.sort(intervals.customer_id.unique())
    meter = np.searchsorted(ids, intervals.customer_id.to_numpy())
    kwh = intervals.kwh.to_numpy(dtype=np.float64)
    nan = np.full(len(kwh), np.nan)
    return from_arrays(meter_ids=meter, reading_times_unix_s=intervals.interval_end_unix_s.to_numpy(),
                       consumption_kwh=kwh, demand_kw=kwh * (3600 / STEP_S), voltage_v=nan, current_a=nan,
                       power_factor=nan)


def score_sgsc(detector: AnomalyDetector, intervals: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per SGSC half hour: meter, time, kWh, score, flagged, type code, NEM day."""
    cols = sgsc_columns(sgsc_intervals() if intervals is None else intervals)
    feats = reading_features(cols, STEP_S)
    score, kind = detector.score_sorted(cols, feats, np.arange(len(cols)))
    t = cols.reading_times_unix_s
    return pd.DataFrame({"meter": cols.meter_ids, "t": t, "kwh": cols.consumption_kwh, "score": score,
                         "flagged": score >= ALERT_THRESHOLD, "kind": kind,
                         "day": (t - STEP_S + NEM_OFFSET_S) // DAY_S})


def alert_figures(scored: pd.DataFrame) -> dict[str, float]:
    days = scored.groupby(["meter", "day"]).agg(kwh=("kwh", "max"), flagged=("flagged", "any"))
    meter_days = len(days)  # days on which a household sent any reading
    zero_days = days[days.kwh == 0]
    flagged = scored[scored.flagged]
    alerts = flagged.groupby(["meter", "kind", "day"]).size().reset_index()
    per_1000 = 1000.0 / max(meter_days, 1)
    figures = {
        f"{PREFIX}alerts_per_day_per_1000": len(alerts) * per_1000,
        f"{PREFIX}flagged_readings_per_day_per_1000": len(flagged) * per_1000,
        f"{PREFIX}flagged_reading_share": float(scored.flagged.mean()),
        f"{PREFIX}flagged_zero_reading_share": float((flagged.kwh == 0).mean()) if len(flagged) else 0.0,
        f"{PREFIX}households_with_alerts": float(flagged.meter.nunique()),
        # Household-days whose every reading is 0 kWh (an empty home, or a stuck register: kWh alone cannot tell).
        f"{PREFIX}all_zero_days": float(len(zero_days)),
        f"{PREFIX}all_zero_days_flagged": float(zero_days.flagged.sum()),
        f"{PREFIX}meter_days": float(meter_days),
        f"{PREFIX}readings": float(len(scored)),
    }
    for code in range(1, 7):
        figures[f"{PREFIX}alerts_per_day_per_1000_{TYPE_NAMES[code]}"] = float((alerts.kind == code).sum()) * per_1000
    return figures


def example_days(scored: pd.DataFrame, n: int = EXAMPLES) -> list[tuple[int, int, int]]:
    """(meter, day, type) of flagged household-days in distinct households: one per type, then the
    highest-scoring, then typical ones (the median flagged day's score), so the plot is not only the extremes."""
    flagged = scored[scored.flagged]
    if flagged.empty:
        return []
    best = flagged.sort_values("score", ascending=False).drop_duplicates(["meter", "day"])
    typical = best.iloc[len(best) // 2:]
    picks: list[tuple[int, int, int]] = []
    for pool in (best.drop_duplicates("kind"), best.head(1), typical, best):
        for r in pool.itertuples():
            if len(picks) < n and all(r.meter != m for m, _, _ in picks):
                picks.append((int(r.meter), int(r.day), int(r.kind)))
    return picks


def zero_day_example(scored: pd.DataFrame) -> tuple[int, int, int] | None:
    """(meter, day, 0) of the all-zero household-day that follows the most usage (previous 4 weeks' mean
    daily kWh): the zero run that looks oddest, shown whether or not the detector flagged it."""
    daily = scored.groupby(["meter", "day"]).kwh.agg(["sum", "max"]).reset_index()
    daily["before"] = daily.groupby("meter")["sum"].transform(
        lambda x: x.shift(1).rolling(7 * NORMAL_WEEKS, min_periods=7).mean())
    zero = daily[(daily["max"] == 0) & daily.before.notna()]
    if zero.empty:
        return None
    r = zero.loc[zero.before.idxmax()]
    return int(r.meter), int(r.day), 0


def plot_examples(scored: pd.DataFrame, picks: list[tuple[int, int, int]], path: Path) -> None:
    """Each flagged day (black, flagged half hours red) over the same half hours of the household's
    previous 4 weeks (median and 10-90 % band): the analyst's 'mean of the same half hour' baseline.
    A pick of type 0 is an all-zero day (zero_day_example)."""
    fig, axes = plt.subplots(1, max(len(picks), 1), figsize=(4.2 * max(len(picks), 1), 3.6), squeeze=False)
    for ax, (meter, day, kind) in zip(axes[0], picks):
        own = scored[scored.meter == meter]
        slot = ((own.t - STEP_S + NEM_OFFSET_S) % DAY_S) // STEP_S
        before = own[(own.day >= day - 7 * NORMAL_WEEKS) & (own.day < day)]
        grid = before.assign(slot=slot).pivot_table(index="slot", columns="day", values="kwh")
        hours = np.arange(DAY_S // STEP_S) * STEP_S / 3600
        if not grid.empty:
            g = grid.reindex(range(DAY_S // STEP_S))
            ax.fill_between(hours, g.quantile(0.1, axis=1), g.quantile(0.9, axis=1), color="tab:blue", alpha=0.2,
                            label=f"previous {NORMAL_WEEKS} weeks, 10-90 %")
            ax.plot(hours, g.median(axis=1), color="tab:blue", lw=1, label="previous weeks, median")
        today = own[own.day == day]
        h = slot[today.index] * STEP_S / 3600
        ax.plot(h, today.kwh, color="k", lw=1.2, label="the day")
        bad = today.flagged.to_numpy()
        ax.scatter(h[bad], today.kwh[bad], color="red", s=14, zorder=3, label="flagged half hours")
        date = pd.Timestamp(day * DAY_S, unit="s").date()
        what = (TYPE_NAMES[kind].replace("_", " ") if kind else
                "0 kWh all day, " + ("flagged" if bad.any() else "not flagged"))
        ax.set(title=f"household {meter}, {date}: {what}",
               xlabel="hour (NEM time)", ylabel="kWh per half hour")
        ax.title.set_fontsize(9)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate_sgsc(detector: AnomalyDetector, reports_dir: Path, last_days: int | None = None) -> dict[str, float]:
    """Every household-day of the file, or (quick runs, tests) only its last `last_days` days."""
    intervals = sgsc_intervals()
    if last_days is not None:
        end = int(intervals.interval_end_unix_s.max())
        intervals = intervals[intervals.interval_end_unix_s > end - last_days * DAY_S].reset_index(drop=True)
    scored = score_sgsc(detector, intervals)
    reports_dir.mkdir(parents=True, exist_ok=True)
    figures = alert_figures(scored)
    picks = example_days(scored)
    zero = zero_day_example(scored)
    plot_examples(scored, picks + ([zero] if zero else []), reports_dir / "anomaly_sgsc_examples.png")
    for i, (meter, day, kind) in enumerate(picks):
        figures[f"{PREFIX}example_{i}_household"] = float(meter)
        figures[f"{PREFIX}example_{i}_day_unix_s"] = float(day * DAY_S)
        figures[f"{PREFIX}example_{i}_type"] = float(kind)
    if zero:
        figures[f"{PREFIX}zero_day_example_household"], figures[f"{PREFIX}zero_day_example_day_unix_s"] = (
            float(zero[0]), float(zero[1] * DAY_S))
    return figures
