"""reports/thermal_etth1.png: forecast vs actual oil temperature over a test stretch, and error by lead."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_thermal(path: Path, dates, actual_c: np.ndarray, origin: int, lookback: int, curves_c: dict,
                 by_step: dict, horizon: int) -> None:
    """curves_c: name -> forecast (°C) from `origin`; by_step: name -> MAE (z) per lead hour."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2))
    ax = axes[0]
    span = slice(origin - lookback, origin + horizon)
    ax.plot(dates[span], actual_c[span], color="k", lw=1.2, label="measured OT")
    for name, curve in curves_c.items():
        ax.plot(dates[origin:origin + horizon], curve, lw=1.2, label=name)
    ax.axvline(dates[origin], color="grey", ls="--", lw=0.8)
    ax.set(ylabel="top-oil temperature (°C)", title=f"ETTh1 test months: {horizon} h forecast from one origin")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8)
    ax = axes[1]
    lead = np.arange(1, horizon + 1)
    for name, err in by_step.items():
        ax.plot(lead, err, lw=1.2, label=name)
    ax.set(xlabel="lead (hours)", ylabel="MAE (z-scored OT)",
           title=f"Error by lead over the test windows (H={horizon})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
