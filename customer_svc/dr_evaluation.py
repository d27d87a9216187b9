"""`meters evaluate` for demand response: how well the baselines measure a known reduction.

On the held-out fleet's year, EVENTS weekday evenings (17:00-19:00 local) on the hottest days after
the first BURN_IN days are events. Half the customers take part and each cuts its use in the event
hours by a fraction of its own (uniform REDUCTION); their other hours and days are left as they are.
The counterfactual (what they would have used) is therefore known exactly, and each baseline
method (baseline.measure, as MeasureDemandResponseEvent runs it, and the control-group baseline of
control_baseline.py with the other half as the control) is scored against it: the error of the
portfolio's baseline and of the reduction it implies. Days of other events are not eligible. Which
half takes part is a coin toss; the control method is also scored over DRAWS other tosses, since
one toss moves its error by several points.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from customer_svc import control_baseline  # noqa: E402
from customer_svc.baseline import measure  # noqa: E402
from customer_svc.profiles import DailyProfiles  # noqa: E402

EVENTS = 10
EVENT_HOURS = np.array([17, 18])
BURN_IN = 30  # days of history before the first event
REDUCTION = (0.10, 0.30)
# (suffix, Y, X): AEMO's "10 of 10" (the service's default) and the "high 4 of 5" of US ISO programmes.
METHODS = (("10of10", 10, 10), ("4of5", 5, 4))
DRAWS = 8


def event_days(p: DailyProfiles) -> np.ndarray:
    """The hottest weekdays after BURN_IN (daily maximum, mean over regions), in date order."""
    weekday = ~np.broadcast_to(p.weekend, p.kwh.shape[:2])[0]
    hot = np.nanmean(np.nanmax(p.temp_c, axis=2), axis=0) if p.temp_c is not None else np.zeros(len(weekday))
    days = np.flatnonzero(weekday & (np.arange(len(weekday)) >= BURN_IN))
    return np.sort(days[np.argsort(-hot[days], kind="stable")[:EVENTS]])


def _draw(p: DailyProfiles, rng: np.random.Generator, days: np.ndarray):
    """One toss: participants' counterfactual and actual use, and the non-participants' use."""
    has = np.isfinite(p.kwh[:, days][:, :, EVENT_HOURS]).all(axis=(1, 2))
    taking_part = has & (rng.random(len(p)) < 0.5)
    participants = np.flatnonzero(taking_part)
    cut = rng.uniform(*REDUCTION, len(participants))
    counterfactual = p.kwh[participants].astype(np.float64)
    actual = counterfactual.copy()
    actual[np.ix_(np.arange(len(participants)), days, EVENT_HOURS)] *= (1 - cut)[:, None, None]
    return participants, counterfactual, actual, p.kwh[has & ~taking_part].astype(np.float64)


def _control_reductions(p: DailyProfiles, days: np.ndarray, actual: np.ndarray, control: np.ndarray,
                        use: np.ndarray, true: np.ndarray) -> np.ndarray:
    day_ok = ~np.broadcast_to(p.weekend, p.kwh.shape[:2])[0].copy()
    day_ok[days] = False
    summed, control_sum = np.nansum(actual, axis=0), np.nansum(control, axis=0)
    baseline = np.array([control_baseline.fit(summed, control_sum, day_ok, d, EVENT_HOURS, len(control)).event_kwh
                         for d in days])
    return baseline, baseline - (use - true)


def evaluate(p: DailyProfiles, plot_path, seed: int = 0) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    days = event_days(p)
    participants, counterfactual, actual, control = _draw(p, rng, days)
    weekday = ~np.broadcast_to(p.weekend, p.kwh.shape[:2])[participants]
    eligible = weekday & np.isfinite(counterfactual).any(axis=2)
    eligible[:, days] = False  # other events' days never serve as baseline days
    figures, measured = {}, {}

    def truth(counterfactual, actual):
        use = np.array([counterfactual[:, d][:, EVENT_HOURS].sum() for d in days])
        return use, use - np.array([actual[:, d][:, EVENT_HOURS].sum() for d in days])

    use, true = truth(counterfactual, actual)

    def score(suffix, baseline, reduction):
        figures.update({
            f"dr_baseline_error_pct_{suffix}": float(np.mean(np.abs(baseline - use) / use) * 100),
            f"dr_baseline_bias_pct_{suffix}": float(np.mean((baseline - use) / use) * 100),
            f"dr_reduction_error_pct_{suffix}": float(np.mean(np.abs(reduction - true) / true) * 100)})

    for suffix, y, x in METHODS:
        baseline = np.array([measure(list(actual), list(eligible), d, EVENT_HOURS, y, x).baseline_kw * len(EVENT_HOURS)
                             for d in days])
        measured[suffix] = baseline - (use - true)
        score(suffix, baseline, measured[suffix])
    baseline, measured["control"] = _control_reductions(p, days, actual, control, use, true)
    score("control", baseline, measured["control"])
    errors = []
    for _ in range(DRAWS):
        _parts, cf, act, ctl = _draw(p, rng, days)
        u, t = truth(cf, act)
        errors.append(float(np.mean(np.abs(_control_reductions(p, days, act, ctl, u, t)[1] - t) / t) * 100))
    figures.update({"dr_reduction_error_pct_control_draws_mean": float(np.mean(errors)),
                    "dr_reduction_error_pct_control_draws_max": float(np.max(errors)),
                    "dr_events": float(len(days)), "dr_participants": float(len(participants)),
                    "dr_control_customers": float(len(control)),
                    "dr_true_reduction_pct": float(np.mean(true / use) * 100)})
    dates = (np.datetime64(p.first_day, "D") + days).astype(str).tolist() if p.first_day else [f"day {d}" for d in days]
    if plot_path is not None:
        _plot(dates, true, measured, plot_path)
    return figures


def _plot(labels: list[str], true: np.ndarray, measured: dict[str, np.ndarray], path) -> None:
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(labels))
    width = 0.8 / (len(measured) + 1)
    ax.bar(x - 0.4 + width / 2, true, width, label="true reduction (planted)", color="black")
    for i, (suffix, reduction) in enumerate(measured.items(), start=1):
        name = "control-group" if suffix == "control" else suffix.replace("of", " of ")
        ax.bar(x - 0.4 + width * (i + 0.5), reduction, width, label=f"measured, {name} baseline")
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("kWh over 17:00-19:00, all participants")
    ax.set_title("Demand response events on the hottest weekdays: measured vs planted reduction")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
