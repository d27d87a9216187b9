"""Segmentation stability on real households: the SGSC 50 (data/sgsc-nsw-50-households/).

Real meters have no planted segment, so what can be measured is whether a household keeps its
segment from one monthly run to the next, as the plan's monthly re-segmentation would assign it.
Each run sees the plan's 90 days of usage ending on the first of a month (Sydney time);
consecutive runs share 60 of those days, as consecutive production runs do. A household counts
in a pair of runs only where both windows hold at least MIN_COVERAGE of their hours (the source
has gaps). Figures: the adjusted Rand index between consecutive runs' labels and the share of
households whose segment is unchanged, as the median and the worst over all pairs; a plot of
both per month beside the segment mix of every run.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from customer_svc.features import build_features  # noqa: E402
from customer_svc.profiles import build_profiles  # noqa: E402
from meters.nem12.sgsc import INTERVAL_MINUTES, sgsc_intervals  # noqa: E402

WINDOW_DAYS = 90
MIN_COVERAGE = 0.8
MIN_HOUSEHOLDS = 10  # a pair of runs with fewer comparable households is not reported
TZ = "Australia/Sydney"
PREFIX = "segmentation_sgsc_"


def hourly_usage(intervals: pd.DataFrame) -> pd.DataFrame:
    """customer_id, hour_start (UTC s), kwh and the hour's peak kW, as customer_svc's consumer keeps them."""
    step_s = INTERVAL_MINUTES * 60
    hour_start = (intervals.interval_end_unix_s - step_s) // 3600 * 3600
    g = intervals.assign(hour_start=hour_start).groupby(["customer_id", "hour_start"])["kwh"]
    out = g.agg(kwh="sum", max_kwh="max").reset_index()
    out["max_kw"] = out.pop("max_kwh") * (60 / INTERVAL_MINUTES)
    return out


def monthly_labels(model, hourly: pd.DataFrame) -> dict[str, np.ndarray]:
    """Run month (YYYY-MM of the window's end) -> every household's segment key, None where its
    window is too sparse to judge."""
    ids = np.sort(hourly.customer_id.unique())
    row = np.searchsorted(ids, hourly.customer_id.to_numpy())
    hours = hourly.hour_start.to_numpy()
    first = pd.Timestamp(hours.min(), unit="s", tz="UTC").tz_convert(TZ) + pd.Timedelta(days=WINDOW_DAYS)
    last = pd.Timestamp(hours.max(), unit="s", tz="UTC").tz_convert(TZ)
    keys = np.array(model.segment_keys(), dtype=object)
    labels = {}
    for end in pd.date_range(first.normalize() + pd.offsets.MonthBegin(1), last.normalize(), freq="MS"):
        start = end - pd.Timedelta(days=WINDOW_DAYS)
        s, e = int(start.timestamp()), int(end.timestamp())
        sel = (hours >= s) & (hours < e)
        coverage = np.bincount(row[sel], minlength=len(ids)) / (WINDOW_DAYS * 24)
        profiles = build_profiles(row[sel], hours[sel], hourly.kwh.to_numpy()[sel], hourly.max_kw.to_numpy()[sel],
                                  ["NSW"] * len(ids), s, WINDOW_DAYS)
        segment, _confidence = model.predict(build_features(profiles))
        labels[end.strftime("%Y-%m")] = np.where(coverage >= MIN_COVERAGE, keys[segment], None)
    return labels


def stability(labels: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per pair of consecutive runs: month, households compared, ARI, unchanged share."""
    rows = []
    months = list(labels)
    for a, b in zip(months, months[1:]):
        ok = np.array([x is not None and y is not None for x, y in zip(labels[a], labels[b])])
        if ok.sum() >= MIN_HOUSEHOLDS:
            la, lb = labels[a][ok].astype(str), labels[b][ok].astype(str)
            rows.append({"month": b, "households": int(ok.sum()), "ari": adjusted_rand_score(la, lb),
                         "unchanged": float(np.mean(la == lb))})
    return pd.DataFrame(rows)


def _plot(path: Path, pairs: pd.DataFrame, labels: dict[str, np.ndarray]) -> None:
    fig, axes = plt.subplots(2, 1, figsize=(10, 7), sharex=True)
    x = np.arange(len(labels))
    months = list(labels)
    pos = [months.index(m) for m in pairs.month]
    axes[0].plot(pos, pairs.ari, marker="o", label="ARI with the previous month's run")
    axes[0].plot(pos, pairs.unchanged, marker="s", label="households keeping their segment")
    axes[0].set(ylim=(0, 1), ylabel="share / ARI",
                title=f"SGSC 50 households: monthly segmentation on {WINDOW_DAYS}-day windows")
    axes[0].legend(loc="lower right", fontsize=8)
    mix = pd.DataFrame({m: pd.Series(v[v != None]).value_counts() for m, v in labels.items()}).fillna(0)  # noqa: E711
    bottom = np.zeros(len(x))
    colours = plt.cm.tab20(np.linspace(0, 1, 20))
    for k, (seg, counts) in enumerate(mix.iterrows()):
        axes[1].bar(x, counts.to_numpy(), bottom=bottom, label=seg, width=0.8, color=colours[k % 20])
        bottom += counts.to_numpy()
    axes[1].set(ylabel="households", xticks=x)
    axes[1].set_xticklabels(months, rotation=60, fontsize=7)
    axes[1].legend(fontsize=6, ncol=3, loc="upper left", bbox_to_anchor=(0, -0.25))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def evaluate(model, reports_dir: Path | None = None) -> dict[str, float]:
    labels = monthly_labels(model, hourly_usage(sgsc_intervals()))
    pairs = stability(labels)
    if reports_dir is not None:
        _plot(Path(reports_dir) / "segmentation_sgsc_stability.png", pairs, labels)
    return {PREFIX + "month_pairs": float(len(pairs)),
            PREFIX + "ari_median": float(pairs.ari.median()), PREFIX + "ari_min": float(pairs.ari.min()),
            PREFIX + "unchanged_share_median": float(pairs.unchanged.median()),
            PREFIX + "unchanged_share_min": float(pairs.unchanged.min())}
