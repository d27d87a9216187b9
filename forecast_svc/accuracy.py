"""Forecast accuracy figures, shared by the backtests and the stored runs."""

import numpy as np


def within_5pct(pred, actual) -> float:
    pred, actual = np.asarray(pred, float), np.asarray(actual, float)
    return float(np.mean(np.abs(pred - actual) <= 0.05 * np.abs(actual))) if len(actual) else float("nan")


def mape_percent(pred, actual) -> float:
    pred, actual = np.asarray(pred, float), np.asarray(actual, float)
    ok = np.abs(actual) > 1e-9
    return float(100 * np.mean(np.abs(pred[ok] - actual[ok]) / np.abs(actual[ok]))) if ok.any() else float("nan")


def coverage(lower, upper, actual) -> float:
    lower, upper, actual = (np.asarray(a, float) for a in (lower, upper, actual))
    return float(np.mean((actual >= lower) & (actual <= upper))) if len(actual) else float("nan")
