"""Theft suspects: which meter's own load shape appeared in its transformer's unexplained energy, and when.

A bypass of share f on meter m from time s leaves, in its transformer's hourly energy balance
residual y (energy in - metered - modelled losses, energy_balance.py), the energy the meter no
longer records: y(h) = beta x_m(h) for h >= s, with x_m the meter's metered kWh and
beta = f / (1 - f). This is a matched filter: the meter's hour-to-hour shape (its evenings, its
hot days) must show in the residual, which a transformer-wide drift, stress load or a loss-model
misfit does not mimic for one meter more than for its neighbours. For each meter and each
candidate start day c: beta after c against beta before c, as a z-score in the residual's noise
units; the best c is the suspected start. Flat-lining (a tamper that pins the register) is flagged
from the register's daily variability after a tamper event; its transformer's hours from then on
are left out (its premise's load has no shape of its own left to credit). Tamper / cover-open
events near the suspected start add evidence, as does reverse flow day after day on a meter with
no solar registered.

Robustness to meter data faults and the noise: an hour far from the residual's level at the same
hour on the days around it is a meter's data fault (a spike, a stuck or missing register) and is
left out; every hour is weighted by its noise (larger at high load, where the losses are), so the
least squares below are weighted and y, the regressors and the z are in noise units. x is clipped
at its own 99.9th percentile.
"""

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

HOURS_PER_DAY = 24
EXPLAIN_ROUNDS = 3
WINDOW_DAYS = 3650  # each side of a candidate start
MIN_SEGMENT_DAYS = 7  # evidence needed on each side of a suspected start
OUTLIER_WINDOW_DAYS = 15  # days around an hour whose same-hour median it is compared with
OUTLIER_SCALES = 5.0  # beyond this many noise scales from that median: a meter data fault, unknown
NOISE_BINS = 8  # load bands per transformer for the noise scale
TAMPER_WINDOW_DAYS = 7
TAMPER_MIN_Z = 3.0  # a tamper event counts where the balance shows a step of at least this z at it
TAMPER_BONUS_Z = 30.0  # evidence a tamper event at a balance step adds (field work opens covers too)
FLAT_STD_SHARE = 0.05  # register's daily std under this share of its own earlier std: pinned
FLAT_WINDOW_DAYS = 28
FLAT_BONUS_Z = 30.0
REVERSE_MIN_KWH = 1.0
REVERSE_MIN_DAYS = 14  # reverse flow on this many days at least counts as evidence (a reversed meter)
REVERSE_BONUS_Z = 10.0


@dataclass(frozen=True)
class SuspectInputs:
    meter_ids: np.ndarray  # (M,)
    transformer_row: np.ndarray  # (M,) row of each meter's transformer in residual_hourly
    metered_hourly: np.ndarray  # (M, H) metered kWh per hour (H = days x 24)
    residual_hourly: np.ndarray  # (T, H) unexplained kWh per transformer hour (NaN: not energised / unknown)
    residual_sigma: np.ndarray  # (T,) robust hourly residual noise
    interval_std: np.ndarray | None = None  # (M, D) std of the day's interval kWh (flat-lining), optional
    tamper_days: dict[int, np.ndarray] | None = None  # meter row -> days of tamper / cover-open events
    solar_registered: np.ndarray | None = None  # (M,) bool: the customer has solar on record


def _noise_model(residual: np.ndarray, total: np.ndarray, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per transformer hour: the residual with meter data faults taken out (NaN) and its noise scale.

    A consumption spike, a stuck or missing register on any one of a transformer's meters leaves that
    hour far from the residual's level at the same hour on the days around it (on the 10,000-meter
    fleet about 15 % of transformer hours: 6-MAD clipping left them at 6 MADs each, 2.6 times the
    noise). A theft recurs every day and moves that level with it. So an hour further than
    OUTLIER_SCALES noise scales from the median of its hour of day over the OUTLIER_WINDOW_DAYS
    around it is unknown. The noise is not the same at every load (the transformer's losses, whose
    measurement noise is a share of them, grow with K^2): the scale is the robust spread of those
    deviations within each of NOISE_BINS load bands of the transformer's own metered total."""
    n_t, hours = residual.shape
    days = hours // HOURS_PER_DAY
    half = OUTLIER_WINDOW_DAYS // 2
    clean, scale = np.full_like(residual, np.nan), np.ones_like(residual)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows (a transformer's outage)
        for a in range(0, n_t, block):
            y = residual[a:a + block].reshape(-1, days, HOURS_PER_DAY)
            pad = np.full((len(y), half, HOURS_PER_DAY), np.nan)
            windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([pad, y, pad], axis=1),
                                                               2 * half + 1, axis=1)
            dev = (y - np.nanmedian(windows, axis=-1)).reshape(len(y), hours)
            load = total[a:a + block]
            for i in range(len(y)):
                ok = np.isfinite(dev[i])
                if ok.sum() < NOISE_BINS * 10:
                    continue
                edges = np.quantile(load[i, ok], np.linspace(0, 1, NOISE_BINS + 1)[1:-1])
                band = np.searchsorted(edges, load[i])
                spread = np.array([1.4826 * np.median(np.abs(dev[i, ok & (band == b)])) if (ok & (band == b)).any()
                                   else np.nan for b in range(NOISE_BINS)])
                spread = np.nan_to_num(spread, nan=np.nanmedian(spread))
                sc = np.maximum(spread[band], 1e-6)
                scale[a + i] = sc
                keep = ok & (np.abs(dev[i]) <= OUTLIER_SCALES * sc)
                clean[a + i, keep] = residual[a + i, keep]
    return clean, scale


N_REGRESSORS = 6  # constant, the meter's import and export kWh, its transformer's net metered kWh, export, total^2
# The theft's signature: the import coefficient, and for a home that exports, import plus export
SIGNATURES = (np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0]), np.array([0.0, 1.0, 1.0, 0.0, 0.0, 0.0]))


def _regressors(weight: np.ndarray, x: np.ndarray, total: np.ndarray, export: np.ndarray) -> np.ndarray:
    """(..., H, N_REGRESSORS) times each hour's weight (1 / its noise scale; zero where the residual is
    unknown). The transformer total^2 takes the K^2 losses' seasonal misfit: with unweighted, clipped
    hours it measured worse (top-1 % recall 0.42 against 0.61), with weighted hours better (0.873 to
    0.889 on the development fleet, seed 42)."""
    f = np.stack([np.ones_like(x), np.maximum(x, 0.0), np.maximum(-x, 0.0), total, export, total**2 / 100.0], axis=-1)
    return f * weight[..., None]


def _daily_grams(regressors: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per meter and day: the Gram matrix of the regressors (M, D, k, k) and F'y (M, D, k).
    regressors: (M, H, k), zero where the residual is unknown."""
    n, hours, k = regressors.shape
    f = regressors.reshape(n, hours // HOURS_PER_DAY, HOURS_PER_DAY, k)
    ft = np.swapaxes(f, -1, -2)
    gram = ft @ f
    fy = (ft @ y.reshape(n, hours // HOURS_PER_DAY, HOURS_PER_DAY, 1))[..., 0]
    return gram, fy


def _coefficients(gram: np.ndarray, fy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients (..., k) and their covariance factor G^-1 (..., k, k) for every split."""
    inv = np.linalg.inv(gram + 1e-6 * np.eye(gram.shape[-1]))
    return (inv @ fy[..., None])[..., 0], inv


def _load_shapes(inp: SuspectInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each meter's signed kWh per hour (_regressors splits it into import and export), clipped to its
    own 0.1-99.9th percentiles; per transformer the sum of them and of their export (a local
    daylight shape: it absorbs the pv term of a solar thief's load)."""
    x = inp.metered_hourly.astype(np.float64)
    lo, hi = np.nanquantile(x, [0.001, 0.999], axis=1, keepdims=True)
    x = np.clip(x, lo, hi)
    n_t = len(inp.residual_sigma)
    total, export = np.zeros((n_t, x.shape[1])), np.zeros((n_t, x.shape[1]))
    np.add.at(total, inp.transformer_row, x)
    np.add.at(export, inp.transformer_row, np.maximum(-x, 0.0))
    return x, total, export


def _windows(gram: np.ndarray, fy: np.ndarray, w: int) -> tuple[np.ndarray, ...]:
    """Gram and F'y summed over the w days before and the w days from each split c = 1..D-1
    (fewer at the ends): local, so a season's drift does not pass for a step."""
    zero = np.zeros_like(gram[:, :1]), np.zeros_like(fy[:, :1])
    cg = np.concatenate([zero[0], np.cumsum(gram, axis=1)], axis=1)  # cg[:, c] = sum of days < c
    cf = np.concatenate([zero[1], np.cumsum(fy, axis=1)], axis=1)
    days = gram.shape[1]
    c = np.arange(1, days)
    lo, hi = np.maximum(c - w, 0), np.minimum(c + w, days)
    return cg[:, c] - cg[:, lo], cf[:, c] - cf[:, lo], cg[:, hi] - cg[:, c], cf[:, hi] - cf[:, c]


def step_scores(inp: SuspectInputs, shapes: tuple[np.ndarray, np.ndarray, np.ndarray], y_all: np.ndarray,
                weight: np.ndarray, rows_to_score: np.ndarray, near_tamper: np.ndarray | None = None,
                window_days: int = WINDOW_DAYS, block: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    """For the given meter rows: the best start day, the import coefficient before and after it, the
    step's z (the larger of the import coefficient's and, for a home that exports, import plus export's:
    a solar thief's stolen midday load hides under its export and lifts that coefficient); and the change of every coefficient at that start (rows x N_REGRESSORS). near_tamper (M, D-1):
    splits within TAMPER_WINDOW_DAYS of the meter's tamper / cover-open events, where the best one
    is taken instead when its z passes TAMPER_MIN_Z (z_tamper, the split the event points at).

    Regressors per hour (weighted: y_all and weight from _noise_model): a constant (loss-model offset),
    the meter's import and export kWh, its transformer's total, export and total^2: they absorb what is common to every load on the transformer (weather, time of day,
    stress load, sunshine), so only the meter's own shape is credited."""
    x_all, tx_total, tx_export = shapes
    n_m, hours = len(rows_to_score), x_all.shape[1]
    days = hours // HOURS_PER_DAY
    out = {k: np.zeros(n_m) for k in ("z", "beta_before", "beta_after", "z_tamper")}
    start = np.zeros(n_m, dtype=np.int64)
    step = np.zeros((n_m, N_REGRESSORS))
    c = np.arange(1, days)
    outside = (c < MIN_SEGMENT_DAYS) | (c > days - MIN_SEGMENT_DAYS)
    for a in range(0, n_m, block):
        rows = slice(a, min(a + block, n_m))
        meters = rows_to_score[rows]
        tx = inp.transformer_row[meters]
        f = _regressors(weight[tx], x_all[meters], tx_total[tx], tx_export[tx])
        gram, fy = _daily_grams(f, y_all[tx])
        bg, bf, ag, af = _windows(gram, fy, window_days)
        c_before, v_before = _coefficients(bg, bf)
        c_after, v_after = _coefficients(ag, af)
        z = np.full(c_after.shape[:2], -np.inf)
        for u in SIGNATURES:  # y and the regressors are weighted: the z are in noise units
            b_before, b_after = c_before @ u, c_after @ u
            var_before, var_after = (v_before @ u) @ u, (v_after @ u) @ u
            with np.errstate(invalid="ignore", divide="ignore"):
                z_step = (b_after - b_before) / np.sqrt(np.maximum(var_before + var_after, 1e-12))
                # A theft starts from nothing: the after level must itself be evidence, not only the step
                # (a negative coefficient before, a loss-model misfit, is no theft after).
                z = np.fmax(z, np.minimum(z_step, b_after / np.sqrt(np.maximum(var_after, 1e-12))))
        z = np.nan_to_num(z, nan=-np.inf, posinf=-np.inf, neginf=-np.inf)
        z[:, outside] = -np.inf
        best = np.argmax(z, axis=1)
        i = np.arange(z.shape[0])
        out["z"][rows] = z[i, best]
        if near_tamper is not None:
            zt = np.where(near_tamper[meters], z, -np.inf)
            bt = np.argmax(zt, axis=1)
            out["z_tamper"][rows] = np.maximum(zt[i, bt], 0.0)
            best = np.where(zt[i, bt] >= TAMPER_MIN_Z, bt, best)
        start[rows] = best + 1
        out["beta_before"][rows], out["beta_after"][rows] = c_before[i, best, 1], c_after[i, best, 1]
        step[rows] = c_after[i, best] - c_before[i, best]
    scores = pd.DataFrame({"row": rows_to_score, "start_day": start, **out})
    return scores, step


def _near_tamper(tamper_days: dict[int, np.ndarray] | None, n_m: int, days: int) -> np.ndarray | None:
    """(M, D-1) splits c = 1..D-1 within TAMPER_WINDOW_DAYS of each meter's tamper events."""
    if not tamper_days:
        return None
    near = np.zeros((n_m, days - 1), dtype=bool)
    c = np.arange(1, days)
    for row, ev in tamper_days.items():
        near[row] = (np.abs(c[:, None] - np.asarray(ev)[None, :]) <= TAMPER_WINDOW_DAYS).any(axis=1)
    return near


def explain_sequentially(inp: SuspectInputs, rounds: int = EXPLAIN_ROUNDS,
                         flat_from_day: np.ndarray | None = None) -> pd.DataFrame:
    """Score every meter, then per transformer credit its best meter, take the fitted step (every
    coefficient's change at its start) out of the residual and score the others again. Without this a thief's neighbours share its
    credit (their load shapes overlap its own, solar homes' evening import most of all).
    Each meter keeps the score of the round it was credited in, or of the last round.
    flat_from_day (M,): a register pinned from that day (-1: none). Its premise's whole load is then
    in the residual with no shape of its own to credit, so its neighbours' evening shapes would take
    it: its transformer's hours from that day are left out of every meter's balance."""
    shapes = _load_shapes(inp)
    x, total, export = shapes
    clean, scale = _noise_model(inp.residual_hourly, total)
    weight = np.where(np.isfinite(clean), 1.0 / scale, 0.0)
    for row in np.flatnonzero(flat_from_day >= 0) if flat_from_day is not None else ():
        weight[inp.transformer_row[row], flat_from_day[row] * HOURS_PER_DAY:] = 0.0
    y = np.nan_to_num(clean) * weight
    near_tamper = _near_tamper(inp.tamper_days, len(x), x.shape[1] // HOURS_PER_DAY)
    pending = np.arange(len(x))
    kept = []
    for r in range(rounds):
        s, step = step_scores(inp, shapes, y, weight, pending, near_tamper)
        if r == rounds - 1:
            kept.append(s)
            break
        s["transformer_row"] = inp.transformer_row[s["row"].to_numpy()]
        pick = s.groupby("transformer_row")["z"].idxmax().to_numpy()
        best = s.loc[pick]
        kept.append(best)
        for (row, day, t), d in zip(best[["row", "start_day", "transformer_row"]].to_numpy(), step[pick]):
            if d[1] > 0:
                h = day * HOURS_PER_DAY
                f = _regressors(weight[t, h:], x[row, h:], total[t, h:], export[t, h:])
                y[t, h:] -= f @ d
        pending = np.setdiff1d(pending, best["row"].to_numpy())
        if not len(pending):
            break
    out = pd.concat(kept).drop(columns="transformer_row", errors="ignore").sort_values("row")
    out.insert(0, "meter_id", inp.meter_ids[out["row"].to_numpy()])
    return out.reset_index(drop=True)


def _flat_after_tamper(interval_std: np.ndarray, tamper_days: dict[int, np.ndarray] | None) -> np.ndarray:
    """(M,) the day of the first of the meter's tamper events after which the register's daily
    variability over FLAT_WINDOW_DAYS is under FLAT_STD_SHARE of the FLAT_WINDOW_DAYS before it
    (a pinned register); -1 where none is."""
    flat = np.full(interval_std.shape[0], -1, dtype=np.int64)
    days = interval_std.shape[1]
    for row, events in (tamper_days or {}).items():
        for t in np.asarray(events, dtype=np.int64):
            before = interval_std[row, max(t - FLAT_WINDOW_DAYS, 0):max(t, 0)]
            after = interval_std[row, t + 1:min(t + 1 + FLAT_WINDOW_DAYS, days)]
            if (flat[row] < 0 and len(before) >= MIN_SEGMENT_DAYS and len(after) >= MIN_SEGMENT_DAYS
                    and np.median(before) > 0 and np.median(after) < FLAT_STD_SHARE * np.median(before)):
                flat[row] = max(t, 0)
    return flat


def _reverse_flow(metered_hourly: np.ndarray, solar_registered: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(M,) kWh recorded as export by meters with no solar registered and (M,) the days it was on
    (0 where solar is, or unknown)."""
    n = len(metered_hourly)
    if solar_registered is None:
        return np.zeros(n), np.zeros(n, dtype=np.int64)
    negative = np.minimum(metered_hourly, 0.0)
    export = -negative.sum(axis=1, dtype=np.float64)
    days = (negative.reshape(n, -1, HOURS_PER_DAY) < 0).any(axis=2).sum(axis=1)
    return np.where(solar_registered, 0.0, export), np.where(solar_registered, 0, days)


def rank_suspects(inp: SuspectInputs) -> pd.DataFrame:
    """Every meter, most suspect first: score, suspected start day, estimated unmetered share, evidence.

    Evidence columns: z (the balance step), tamper_evidence (a tamper / cover-open event at a step of
    z >= TAMPER_MIN_Z), flat_after_tamper, reverse_flow_kwh (export on a meter with no solar). The
    score is the balance's z, raised by TAMPER_BONUS_Z for a tamper event at the step, by
    FLAT_BONUS_Z more for a register pinned after a tamper, by REVERSE_BONUS_Z for reverse flow on
    at least REVERSE_MIN_DAYS days the balance corroborates (z >= TAMPER_MIN_Z): a reversed meter
    records it day after day, a register fault for a few hours now and then (on the fleet 73 % of
    meters without solar record some, on 3 days a year at the median, 9 at the 99.9th percentile)."""
    flat_day = (_flat_after_tamper(inp.interval_std, inp.tamper_days) if inp.interval_std is not None
                else np.full(len(inp.meter_ids), -1))
    s = explain_sequentially(inp, flat_from_day=flat_day)
    beta = np.clip(s["beta_after"].to_numpy() - s["beta_before"].to_numpy(), 0.0, None)
    s["unmetered_share"] = beta / (1.0 + beta)
    s["tamper_evidence"] = s["z_tamper"] >= TAMPER_MIN_Z
    s["flat_after_tamper"] = flat_day[s["row"].to_numpy()] >= 0
    reverse_kwh, reverse_days = _reverse_flow(inp.metered_hourly, inp.solar_registered)
    s["reverse_flow_kwh"] = reverse_kwh[s["row"].to_numpy()]
    score = np.where(s["tamper_evidence"], np.maximum(s["z"], s["z_tamper"] + TAMPER_BONUS_Z), s["z"])
    score = np.where(s["flat_after_tamper"], np.maximum(score, 0.0) + TAMPER_BONUS_Z + FLAT_BONUS_Z, score)
    corroborated = ((s["reverse_flow_kwh"] >= REVERSE_MIN_KWH) & (reverse_days[s["row"].to_numpy()] >= REVERSE_MIN_DAYS)
                    & (s["z"] >= TAMPER_MIN_Z))
    s["score"] = np.where(corroborated, score + REVERSE_BONUS_Z, score)
    return s.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def consumption_drop_baseline(daily_kwh: np.ndarray, meter_ids: np.ndarray) -> pd.DataFrame:
    """The naive rule a revenue-protection team starts with: the largest sustained drop in a meter's
    own daily consumption (best split day, two-sample z of the means), no energy balance."""
    d = daily_kwh.shape[1]
    x = daily_kwh.astype(np.float64)
    c1, c2 = np.cumsum(x, axis=1), np.cumsum(x * x, axis=1)
    n_b = np.arange(1, d)[None, :].astype(float)
    n_a = d - n_b
    sb, sa = c1[:, :-1], c1[:, -1:] - c1[:, :-1]
    mb, ma = sb / n_b, sa / n_a
    vb = np.maximum(c2[:, :-1] / n_b - mb**2, 1e-12)
    va = np.maximum((c2[:, -1:] - c2[:, :-1]) / n_a - ma**2, 1e-12)
    z = (mb - ma) / np.sqrt(vb / n_b + va / n_a)
    c = np.arange(1, d)
    z[:, (c < MIN_SEGMENT_DAYS) | (c > d - MIN_SEGMENT_DAYS)] = -np.inf
    best = np.argmax(z, axis=1)
    i = np.arange(len(x))
    out = pd.DataFrame({"meter_id": meter_ids, "start_day": best + 1, "score": z[i, best],
                        "drop_share": 1.0 - ma[i, best] / np.where(mb[i, best] > 0, mb[i, best], np.nan)})
    return out.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
