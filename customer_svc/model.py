"""K-means segmentation into the plan's 12 named segments.

Fit: robust-scale the features, weight the feature groups, seed K-means with the
12 archetype centroids and run Lloyd iterations on the customers. Naming: the
Hungarian assignment between fitted centroids and archetypes (minimum total
distance), so a cluster is named by where it ended up, never by its index and
never by looking at labels. Assignment at inference is nearest centroid.
"""

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans

from customer_svc.archetypes import archetype_features, archetype_keys
from customer_svc.features import FEATURE_NAMES, PV_ZERO_SHARE, build_features
from customer_svc.profiles import DailyProfiles
from customer_svc.pv_assignment import PvAssignment

N_SEGMENTS = 12
METRIC_ROUNDS = 3
SHRINK = 0.3  # towards a scaled identity: keeps the metric well conditioned with few customers


def _whitening(residuals: np.ndarray) -> np.ndarray:
    """L with L L^T = inverse of the (shrunk) covariance of the within-cluster residuals."""
    W = np.cov(residuals.T)
    W = (1 - SHRINK) * W + SHRINK * np.trace(W) / len(W) * np.eye(len(W))
    return np.linalg.cholesky(np.linalg.inv(W))


def feature_weights() -> np.ndarray:
    """How much each scaled feature counts in the distance.

    24 hourly shape values would otherwise outvote the handful of scalar traits
    that alone tell segments apart (level, weekend lift, PV, EV bursts).
    """
    w = np.ones(len(FEATURE_NAMES))
    w[:24] = 0.45
    for name, value in {"log_dark_daily_kwh": 1.6, "midday_zero_share": 0.0, "battery_signature": 1.5,
                        "late_evening_burst": 1.4, "night_share": 1.0, "weekend_ratio": 1.6,
                        # The only trait telling seasonal homes from evening-peak ones; at 1.0 the fit
                        # split them along another axis on one training fleet in three (docs/customers.md).
                        "temperature_slope": 2.0}.items():
        if name in FEATURE_NAMES:
            w[FEATURE_NAMES.index(name)] = value
    return w


_PV_TRAITS = [FEATURE_NAMES.index(n) for n in ("midday_zero_share", "battery_signature")]


def _has_pv(X: np.ndarray) -> np.ndarray:
    return X[:, FEATURE_NAMES.index("midday_zero_share")] > PV_ZERO_SHARE


def _pv_offset(X: np.ndarray) -> np.ndarray | None:
    """Median PV-home features minus median other-home features, 0 on the PV traits themselves."""
    pv = _has_pv(X)
    if pv.sum() < 10 or (~pv).sum() < 10:
        return None
    offset = np.median(X[pv], axis=0) - np.median(X[~pv], axis=0)
    offset[_PV_TRAITS] = 0.0
    return offset


@dataclass
class SegmentationModel:
    center: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    centroids: np.ndarray  # (12, features) in weighted scaled space
    cluster_segment: np.ndarray  # cluster index -> index into archetype_keys()

    # Rooftop PV hides daylight use and bends what is left (evening share, temperature slope...), so
    # PV homes would form clusters of their own. Shifting them by the PV/non-PV difference of the
    # feature medians (learned at fit, no labels) lets a PV home join its segment.
    pv_offset: np.ndarray | None = None

    # Whitening by the pooled within-cluster covariance (features x features): K-means distances
    # become Mahalanobis distances, so correlated features (the 24 hourly values, level and
    # max demand) no longer count several times and noisy ones count less.
    metric: np.ndarray | None = None

    # PV homes (and partial PV) assigned by how each cluster looks behind panels (pv_assignment.py).
    pv_assignment: PvAssignment | None = None

    def scaled(self, X: np.ndarray) -> np.ndarray:
        """Robust-scaled, clipped and weighted features; unknown values (e.g. no weather) neutral."""
        X = np.where(np.isnan(X), self.center, X)
        return np.clip((X - self.center) / self.scale, -6, 6) * self.weights

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The space K-means runs in: PV homes aligned, scaled, whitened."""
        if self.pv_offset is not None:
            X = np.where(np.isnan(X), self.center, X)
            X = X - np.outer(_has_pv(X), self.pv_offset)
        Z = self.scaled(X)
        return Z if self.metric is None else Z @ self.metric

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment index (into archetype_keys()) and a 0-1 confidence per row."""
        Z = self.transform(X).astype(np.float32)
        C = self.centroids.astype(np.float32)
        d2 = (Z**2).sum(1)[:, None] - 2 * Z @ C.T + (C**2).sum(1)[None, :]
        d2 = np.maximum(d2, 0)
        part = np.partition(d2, 1, axis=1)
        cluster = np.argmin(d2, axis=1)
        # Confidence: how much closer the nearest centroid is than the runner-up.
        conf = 1.0 - np.sqrt(part[:, 0] / np.maximum(part[:, 1], 1e-9))
        segment = self.cluster_segment[cluster]
        if self.pv_assignment is not None:
            self.pv_assignment.assign(X, self.scaled(X), segment, conf)
        return segment, conf

    @staticmethod
    def fit(X: np.ndarray, profiles: DailyProfiles | None = None, seed: int = 0,
            max_iter: int = 100) -> "SegmentationModel":
        """K-means on the customers' features X; with their profiles, also learn where PV homes belong."""
        X = X.astype(np.float64)
        known = np.where(np.isnan(X).all(axis=0), 0.0, X)  # a feature never known (no weather at all): 0
        center = np.nanmedian(known, axis=0)
        q10, q90 = np.nanpercentile(known, [10, 90], axis=0)
        scale = np.where(q90 - q10 > 1e-6, q90 - q10, 1.0)
        model = SegmentationModel(center, scale, feature_weights(), np.zeros(0), np.zeros(0, dtype=int),
                                  _pv_offset(np.where(np.isnan(X), center, X)))
        Z = model.transform(X)
        A = model.transform(archetype_features(build_features).astype(np.float64))
        km = KMeans(N_SEGMENTS, init=A, n_init=1, max_iter=max_iter, random_state=seed).fit(Z)
        metric = np.eye(Z.shape[1])
        for _ in range(METRIC_ROUNDS):
            # Refit in the space whitened by the current clusters' pooled spread (K-means with a
            # tied-covariance metric learned from the customers' own clusters; no labels).
            means = np.stack([Z[km.labels_ == c].mean(axis=0) if (km.labels_ == c).any() else A[c]
                              for c in range(N_SEGMENTS)])
            metric = _whitening(Z - means[km.labels_])
            km = KMeans(N_SEGMENTS, init=means @ metric, n_init=1, max_iter=max_iter,
                        random_state=seed).fit(Z @ metric)
        # Name clusters in the unwhitened space, where the archetypes' distances mean what the
        # feature weights say (whitening stretches directions the clusters barely vary in).
        means = np.stack([Z[km.labels_ == c].mean(axis=0) if (km.labels_ == c).any() else A[c]
                          for c in range(N_SEGMENTS)])
        cost = ((means[:, None, :] - A[None, :, :]) ** 2).sum(-1)
        rows, cols = linear_sum_assignment(cost)
        model.metric = metric
        model.centroids = km.cluster_centers_
        model.cluster_segment = cols[np.argsort(rows)]
        if profiles is not None:
            segment = model.cluster_segment[km.labels_]
            model.pv_assignment = PvAssignment.fit(profiles, X, segment, model.scaled)
        return model

    def segment_keys(self) -> tuple[str, ...]:
        return archetype_keys()
