"""Scores estimation on gaps cut out of real series: ours against the baselines, by gap kind
and by method. Every figure is on intervals whose actual was removed and is known."""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from meters.vee.baselines import mean_of_weeks, same_time_last_week
from meters.vee.cuts import KINDS, cut_gaps, cut_mask
from meters.vee.detect import DetectConfig, detect
from meters.vee.estimate import EstimateConfig, estimate
from meters.vee.series import IntervalSeries

ESTIMATORS = ("ours", "last_week", "mean_4w")


@dataclass(frozen=True)
class Trial:
    """One meter with one round of gaps cut out."""
    meter: int
    series: IntervalSeries
    suspect_or_missing: np.ndarray  # what validation found before anything was cut
    cut: np.ndarray  # bool per interval
    kind: np.ndarray  # index into KINDS per interval of `cut` (in order)


def trials(series_by_meter: dict[int, IntervalSeries], meters: list[int], seed: int, rounds: int,
           detect_cfg: DetectConfig = DetectConfig()) -> list[Trial]:
    out = []
    names = [k[0] for k in KINDS]
    for m in meters:
        s = series_by_meter[m]
        found = detect(s, detect_cfg).targets
        rng = np.random.default_rng([seed, m])
        for _ in range(rounds):
            cuts = cut_gaps(s, ~found, rng)
            kind = np.concatenate([np.full(c.length, names.index(c.kind)) for c in cuts]) if cuts else np.zeros(0, int)
            out.append(Trial(m, s, found, cut_mask(len(s), cuts), kind))
    return out


def score(trial_list: list[Trial], cfg: EstimateConfig) -> pd.DataFrame:
    """One row per cut interval: truth, our substitute and method flag, both baselines."""
    frames = []
    for t in trial_list:
        idx = np.flatnonzero(t.cut)
        subs = estimate(t.series, t.suspect_or_missing | t.cut, cfg)
        ours, flag = np.full(len(t.series), np.nan), np.zeros(len(t.series), dtype=np.int16)
        ours[subs.index], flag[subs.index] = subs.kwh, subs.method
        seen = np.where(t.cut, np.nan, t.series.kwh)  # the baselines see everything but the cuts
        frames.append(pd.DataFrame({
            "meter": t.meter, "kind": np.array([k[0] for k in KINDS])[t.kind], "truth": t.series.kwh[idx],
            "ours": ours[idx], "method": flag[idx], "last_week": same_time_last_week(t.series, seen, idx),
            "mean_4w": mean_of_weeks(t.series, seen, idx),
        }))
    return pd.concat(frames, ignore_index=True)


def common(rows: pd.DataFrame) -> pd.DataFrame:
    """The intervals every estimator has a value for: the fair ground for comparing them."""
    return rows.dropna(subset=list(ESTIMATORS))


def errors(rows: pd.DataFrame, by: str | None = "kind") -> pd.DataFrame:
    """MAE and bias (estimate - actual, kWh per interval) of each estimator, overall or per `by`."""
    table = {}
    groups = [("all", rows)] + (list(rows.groupby(by, sort=False)) if by else [])
    for key, g in groups:
        row = {"intervals": len(g), "actual_mean_kwh": g["truth"].mean()}
        for e in ESTIMATORS:
            diff = g[e] - g["truth"]
            row[f"mae_{e}"], row[f"bias_{e}"] = diff.abs().mean(), diff.mean()
        table[key] = row
    return pd.DataFrame(table).T


def mae_by_method(rows: pd.DataFrame) -> pd.DataFrame:
    diff = (rows["ours"] - rows["truth"])
    return pd.DataFrame({"intervals": rows.groupby(["kind", "method"]).size(),
                         "mae_ours": diff.abs().groupby([rows["kind"], rows["method"]]).mean(),
                         "bias_ours": diff.groupby([rows["kind"], rows["method"]]).mean()})
