"""`meters evaluate` for VEE: estimation and validation measured on real households.

Data: the 50 SGSC households in data/ (real NSW meters, 30-minute kWh, 2012-2014). The
households are split once (seed `SPLIT_SEED`): 20 for tuning the estimator's settings
(`tune`, whose choice is EstimateConfig's defaults) and 30 held out; every headline figure is on
the held-out 30. On each, `ROUNDS` rounds of gaps are cut where the truth is known (cuts.py: single
intervals, 1-2 h, 2-6 h, whole days), estimated with everything validation found, and the
substitutes compared with the actuals removed, beside two baselines on the same intervals:
the reading a week earlier, and the mean of the same interval over the 4 weeks before.

Figures (kWh per 30-minute interval): `vee_mae_<gap>_<estimator>`, `vee_bias_<gap>_<estimator>`
for gap in all, 30min, 1_2h, 2_6h, 1day and estimator in ours, last_week, mean_4w;
`vee_skill_vs_last_week` (1 - our MAE / last week's, all gaps); our MAE by method flag;
validation's recall of planted spikes and zero runs (planted.py). Plot: vee_mae_by_gap_length.png.
"""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from meters.ml_jobs import MlJob  # noqa: E402
from meters.vee import sgsc  # noqa: E402
from meters.vee.cuts import KINDS  # noqa: E402
from meters.vee.estimate import EstimateConfig  # noqa: E402
from meters.vee.planted import detection_figures  # noqa: E402
from meters.vee.scoring import ESTIMATORS, common, errors, mae_by_method, score, trials  # noqa: E402

SPLIT_SEED = 12
TUNING_HOUSEHOLDS = 20
ROUNDS = 3
KEYS = {"all": "all", "30 min": "30min", "1-2 h": "1_2h", "2-6 h": "2_6h", "1 day": "1day"}
MAX_BIAS_SHARE = 0.05  # a configuration that misses the energy by more than this is not chosen
GRID = {
    "linear_max_s": [0, 3600, 7200],
    "like_days": [1, 4, 8, 16],
    "lookback_days": [56, 112],
    "combine": ["mean", "median"],
    "scale_window_s": [0, 24 * 3600],
}


def split(meters: list[int]) -> tuple[list[int], list[int]]:
    order = np.random.default_rng(SPLIT_SEED).permutation(len(meters))
    picked = [sorted(meters)[i] for i in order]
    return sorted(picked[:TUNING_HOUSEHOLDS]), sorted(picked[TUNING_HOUSEHOLDS:])


def evaluate(job: MlJob) -> dict[str, float]:
    series = sgsc.load()
    _tuning, held_out = split(list(series))
    if job.quick:
        held_out = held_out[:4]
    rows = common(score(trials(series, held_out, job.seed, 1 if job.quick else ROUNDS), EstimateConfig()))
    table = errors(rows)
    figures = {"vee_households": float(len(held_out)), "vee_intervals": float(len(rows))}
    for kind, row in table.iterrows():
        key = KEYS[kind]
        figures[f"vee_intervals_{key}"] = float(row["intervals"])
        for e in ESTIMATORS:
            figures[f"vee_mae_{key}_{e}"] = float(row[f"mae_{e}"])
            figures[f"vee_bias_{key}_{e}"] = float(row[f"bias_{e}"])
    figures["vee_actual_mean_kwh"] = float(table.loc["all", "actual_mean_kwh"])
    figures["vee_skill_vs_last_week"] = 1 - figures["vee_mae_all_ours"] / figures["vee_mae_all_last_week"]
    by_method = mae_by_method(rows).reset_index().groupby("method").apply(
        lambda g: np.average(g["mae_ours"], weights=g["intervals"]), include_groups=False)
    figures.update({f"vee_mae_method_{int(m)}": float(v) for m, v in by_method.items()})
    figures.update(detection_figures(series, held_out, job.seed))
    plot(table, job.reports_dir / "vee_mae_by_gap_length.png", len(held_out))
    return figures


def plot(table: pd.DataFrame, path, households: int) -> None:
    kinds = [k[0] for k in KINDS] + ["all"]
    fig, (ax_mae, ax_bias) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.27
    labels = {"ours": "ours (Part B methods)", "last_week": "same time last week", "mean_4w": "mean of 4 weeks"}
    for j, e in enumerate(ESTIMATORS):
        x = np.arange(len(kinds)) + (j - 1) * width
        ax_mae.bar(x, table.loc[kinds, f"mae_{e}"], width, label=labels[e])
        ax_bias.bar(x, table.loc[kinds, f"bias_{e}"], width, label=labels[e])
    for ax, title in ((ax_mae, "MAE"), (ax_bias, "bias (estimate - actual)")):
        ax.set_xticks(np.arange(len(kinds)), kinds)
        ax.set_xlabel("gap length")
        ax.set_ylabel("kWh per 30-min interval")
        ax.set_title(title)
    ax_bias.axhline(0, color="k", lw=0.6)
    ax_mae.legend(fontsize=8)
    fig.suptitle(f"VEE substitutes vs the actuals removed: {households} held-out SGSC households")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def tune(seed: int = 7, rounds: int = ROUNDS) -> pd.DataFrame:
    """Every GRID configuration on the tuning households, best first (chosen: lowest mean of the
    per-gap-kind MAEs among those whose energy bias is within MAX_BIAS_SHARE)."""
    series = sgsc.load()
    tuning, _ = split(list(series))
    trial_list = trials(series, tuning, seed, rounds)
    results = []
    for values in itertools.product(*GRID.values()):
        cfg = EstimateConfig(**dict(zip(GRID, values)))
        table = errors(common(score(trial_list, cfg)))
        kinds = table.drop(index="all")
        bias_share = abs(table.loc["all", "bias_ours"]) / table.loc["all", "actual_mean_kwh"]
        results.append({**dict(zip(GRID, values)), "objective": kinds["mae_ours"].mean(),
                        "bias_share": bias_share, "admissible": bias_share <= MAX_BIAS_SHARE,
                        "last_week": kinds["mae_last_week"].mean()})
    return pd.DataFrame(results).sort_values(["admissible", "objective"], ascending=[False, True])
