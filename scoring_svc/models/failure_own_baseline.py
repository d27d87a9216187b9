"""A transformer's signals against its own recent baseline, for onset detection (failure_features.py).

    z = own_z(signal, basis, cols, widths=(1, 3, 6))   # {width: (units, len(cols)) z-scores}

Units differ (losses, hot-spot gradient), so a residual against one fleet-wide fit still carries each
unit's load shape, and a faint fault's onset step hides in it. Per unit and prediction time the signal
is regressed on `basis` over that unit's own hours OWN_FROM_H-OWN_TO_H back (a fault younger than a
day is not in the fit); the mean residual of the last `width` hours, in standard errors of that fit,
is the z-score. All fits come from windowed cumulative sums: no loop over units or hours.
"""

import numpy as np

OWN_FROM_H, OWN_TO_H = 24, 168  # the unit's own fit: hours 24-168 before the prediction time
OWN_RIDGE = 1e-3
MIN_FIT_HOURS = 24


def own_z(g: np.ndarray, basis: np.ndarray, cols: np.ndarray, widths: tuple[int, ...]) -> dict[int, np.ndarray]:
    """g: (units, hours), NaN = no measurement; basis: (units, hours, p), first column ones, NaN where
    the hour is unusable; cols: prediction columns. Returns {width: z} of shape (units, len(cols))."""
    ok = np.isfinite(g) & np.isfinite(basis).all(axis=-1)
    x = np.where(ok[..., None], basis, 0.0)
    y = np.where(ok, g, 0.0)

    def csum(a):  # leading zero along hours: the sum over hours (a, b] is c[b + 1] - c[a + 1]
        return np.concatenate([np.zeros_like(a[:, :1]), np.cumsum(a, axis=1)], axis=1)

    def win(c, width, lag=0):
        hi = np.clip(cols - lag + 1, 0, c.shape[1] - 1)
        lo = np.clip(cols - lag - width + 1, 0, c.shape[1] - 1)
        return c[:, hi] - c[:, lo]

    cxx, cxy, cyy, cn, cx = (csum(a) for a in (x[..., :, None] * x[..., None, :], x * y[..., None], y * y,
                                                ok * 1.0, x))
    xx, xy, yy, n = (win(c, OWN_TO_H - OWN_FROM_H, OWN_FROM_H) for c in (cxx, cxy, cyy, cn))
    p = x.shape[-1]
    beta = np.linalg.solve(xx + OWN_RIDGE * np.maximum(n, 1)[..., None, None] * np.eye(p), xy[..., None])[..., 0]
    sse = yy - 2 * np.einsum("tcp,tcp->tc", beta, xy) + np.einsum("tcp,tcpq,tcq->tc", beta, xx, beta)
    sigma = np.sqrt(np.maximum(sse, 0.0) / np.maximum(n - p, 1))
    out = {}
    for k in widths:
        m = win(cn, k)
        resid = (win(cxy[..., :1], k)[..., 0] - np.einsum("tcp,tcp->tc", beta, win(cx, k))) / np.maximum(m, 1)
        z = resid / np.maximum(sigma, 1e-6) * np.sqrt(np.maximum(m, 1))
        out[k] = np.where((m > 0) & (n > MIN_FIT_HOURS), z, np.nan)
    return out
