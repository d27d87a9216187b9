"""Homes with rooftop PV joined to the clusters their habits belong to.

Panels zero the import through the day, so a PV home's profile lacks exactly the daylight habits
that tell retired and weekend-shift homes from evening-peak ones, and partial PV lowers a
business's midday until it resembles a battery home. K-means on the features cannot undo that.
Instead, at fit time every customer without PV is rendered again with a rooftop system of its own
(`rooftop_pv.py`) and keeps the cluster K-means gave it; a segment with (almost) no members without
PV (solar + battery) is represented by its PV members as assigned. A linear discriminant learned on
these renderings then assigns real PV homes: it sees how each cluster looks behind panels, and
which directions (early-morning and evening shape, dark-hours weekend use) still tell the clusters
apart. The labels are the model's own clusters; no planted segment is read.

Two bands of the midday zero share, each with its own discriminant: PV homes (> PV_ZERO_SHARE,
whose daylight hours the features replace by the typical shape) and partial PV (large loads with
a small system, midday zeros on a few percent of intervals; their daylight hours stay as measured).
"""

from dataclasses import dataclass, replace

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

from customer_svc.features import FEATURE_NAMES, PV_ZERO_SHARE, build_features
from customer_svc.profiles import DailyProfiles
from customer_svc.rooftop_pv import with_rooftop_pv

PARTIAL_ZERO_SHARE = 0.05  # below: no PV worth the name (a stray zero read now and then)
RENDERINGS = 2  # PV systems per customer without PV (other sizes and clouds)
MIN_EXAMPLES = 5  # a cluster with fewer renderings in a band is not offered in that band
SHRINKAGE = 0.1  # of the pooled covariance towards its diagonal: renderings of one customer correlate
_ZERO_SHARE = FEATURE_NAMES.index("midday_zero_share")


def pv_band(X: np.ndarray) -> np.ndarray:
    """0: no PV, 1: partial PV, 2: PV, per row of features."""
    z = X[:, _ZERO_SHARE]
    return (z > PARTIAL_ZERO_SHARE).astype(np.int8) + (z > PV_ZERO_SHARE)


@dataclass
class PvAssignment:
    # Per band (1: partial PV, 2: PV), a discriminant over segment indices; a band without one keeps
    # the clusters' answer.
    discriminants: dict[int, LinearDiscriminantAnalysis]

    @staticmethod
    def fit(p: DailyProfiles, X: np.ndarray, segment: np.ndarray, scaled) -> "PvAssignment":
        """p: the training profiles, X their features, segment: the segment each one's cluster is named
        as; scaled: features -> the model's scaled, weighted space (the discriminants work there)."""
        band = pv_band(X)
        without = np.flatnonzero(band == 0)
        rendered = [features_behind_panels(p, without, seed) for seed in range(RENDERINGS)]
        Xr = np.concatenate(rendered)
        sr = np.tile(segment[without], RENDERINGS)
        br = pv_band(Xr)
        discriminants = {}
        for b in (1, 2):
            examples, labels = [scaled(Xr[br == b])], [sr[br == b]]
            if b == 2:  # segments that hardly exist without PV (solar + battery) learn from their PV members
                for s in np.unique(segment[band == b]):
                    if (segment[without] == s).sum() < MIN_EXAMPLES:
                        members = (band == b) & (segment == s)
                        examples.append(scaled(X[members]))
                        labels.append(segment[members])
            Zb, yb = np.concatenate(examples), np.concatenate(labels)
            counts = np.bincount(yb, minlength=segment.max() + 1)
            keep = counts[yb] >= MIN_EXAMPLES
            classes = np.unique(yb[keep])
            if len(classes) >= 2:
                discriminants[b] = LinearDiscriminantAnalysis(
                    solver="lsqr", shrinkage=SHRINKAGE, priors=np.full(len(classes), 1 / len(classes)),
                ).fit(Zb[keep], yb[keep])
        return PvAssignment(discriminants)

    def assign(self, X: np.ndarray, Z: np.ndarray, segment: np.ndarray, confidence: np.ndarray) -> None:
        """Overwrite segment and confidence (posterior probability) of the PV rows of features X
        (Z: the same rows scaled), in place."""
        band = pv_band(X)
        for b, lda in self.discriminants.items():
            rows = np.flatnonzero(band == b)
            if len(rows):
                posterior = lda.predict_proba(Z[rows])
                segment[rows] = lda.classes_[posterior.argmax(axis=1)]
                confidence[rows] = posterior.max(axis=1)


def features_behind_panels(p: DailyProfiles, customers: np.ndarray, seed: int) -> np.ndarray:
    """Features of `customers` of p with a PV system each, computed beside all of p (PV homes'
    daylight shape is the typical one of the window's homes without PV, so the window matters)."""
    a = with_rooftop_pv(p, customers, seed)
    both = replace(p, kwh=np.concatenate([p.kwh, a.kwh]), max_kw=np.concatenate([p.max_kw, a.max_kw]),
                   region=np.concatenate([p.region, a.region]),
                   weekend=p.weekend if p.weekend.ndim == 1 else np.concatenate([p.weekend, a.weekend]))
    return build_features(both)[len(p):]
