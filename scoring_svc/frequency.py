"""Power frequency excursions in the reading stream: system-wide events, one prediction and one alert each.

Frequency is one value for the whole synchronous NEM mainland, so an excursion is not a meter's: per
reading time, the median frequency of the meters reporting it (at least MIN_METERS, so one faulty
meter decides nothing) outside the Frequency Operating Standard's normal operating band (49.85-50.15
Hz, the band validation flags; ingest_svc/validation.py) is one excursion. It is stored as an
ml.predictions row of asset `network` 0, unique on its reading time: the six partitions (and any
replica) that see the same interval end insert it once, and only a new row queues its alert
(dedup key `frequency_excursion:<unix s>`), so an excursion raises one alert, not one per meter.
Outside the 49.5-50.5 Hz band a generation or load event may reach, it is critical.

Domain code: no gRPC.
"""

import datetime as dt

import numpy as np
from prometheus_client import Counter

from meters.alert.v1 import alert_pb2, alert_service_pb2
from meters.readings import ReadingColumns
from meters.timestamps import from_unix
from scoring_svc.store import PredictionRow

NOMINAL_HZ = 50.0
NORMAL_BAND_HZ = (49.85, 50.15)
CONTINGENCY_BAND_HZ = (49.5, 50.5)
MIN_METERS = 3
EXCURSION_VALID_S = 3_600
PREDICTION_TYPE = "frequency_excursion"
FREQUENCY_EXCURSIONS = Counter("meters_scoring_frequency_excursions_total",
                               "System frequency excursions found in the stream (new ones), by direction.",
                               ["direction"])


def frequency_excursions(cols: ReadingColumns) -> list[PredictionRow]:
    """One prediction per reading time whose median reported frequency is outside the normal band."""
    f = cols.frequency_hz
    ok = np.isfinite(f)
    if not ok.any():
        return []
    times, f = cols.reading_times_unix_s[ok], f[ok]
    order = np.argsort(times, kind="stable")
    times, f = times[order], f[order]
    starts = np.flatnonzero(np.r_[True, times[1:] != times[:-1]])
    rows = []
    for a, b in zip(starts, np.r_[starts[1:], len(times)]):
        if b - a < MIN_METERS:
            continue
        median = float(np.median(f[a:b]))
        if NORMAL_BAND_HZ[0] <= median <= NORMAL_BAND_HZ[1]:
            continue
        t = int(times[a])
        critical = not CONTINGENCY_BAND_HZ[0] <= median <= CONTINGENCY_BAND_HZ[1]
        rows.append(PredictionRow(
            asset_type="network", asset_id=0, prediction_type=PREDICTION_TYPE, probability=1.0, confidence=1.0,
            at_risk=True, predicted_at=from_unix(t), valid_until=from_unix(t + EXCURSION_VALID_S),
            anomaly_type="frequency_low" if median < NOMINAL_HZ else "frequency_high",
            severity="critical" if critical else "warning",
            details={"median_hz": median, "min_hz": float(f[a:b].min()), "max_hz": float(f[a:b].max()),
                     "meters": int(b - a)},
            model_version="rule/fos-normal-band"))
    return rows


def frequency_alert(p: PredictionRow) -> tuple[str, bytes]:
    """(dedup_key, CreateAlertRequest bytes) for a stored frequency excursion."""
    t = int(p.predicted_at.timestamp())
    key = f"{PREDICTION_TYPE}:{t}"
    d = p.details
    alert = alert_pb2.Alert(
        title=f"System frequency excursion: {d['median_hz']:.2f} Hz",
        description=f"Power frequency {d['median_hz']:.3f} Hz (median of {d['meters']} meters, "
                    f"{d['min_hz']:.2f}-{d['max_hz']:.2f} Hz) at {p.predicted_at.isoformat()}, outside the normal "
                    f"operating band {NORMAL_BAND_HZ[0]}-{NORMAL_BAND_HZ[1]} Hz",
        severity=alert_pb2.SEVERITY_CRITICAL if p.severity == "critical" else alert_pb2.SEVERITY_WARNING,
        source=alert_pb2.ALERT_SOURCE_ANOMALY_DETECTION, confidence=p.confidence,
        asset_type=alert_pb2.ASSET_TYPE_NETWORK, asset_id=0, dedup_key=key,
        labels={"anomaly_type": p.anomaly_type, "prediction": f"predictions/{p.id}"},
    )
    alert.detected_at.FromDatetime(p.predicted_at.astimezone(dt.timezone.utc).replace(tzinfo=None))
    return key, alert_service_pb2.CreateAlertRequest(alert=alert).SerializeToString()


def count_new(rows: list[PredictionRow]) -> None:
    for p in rows:
        FREQUENCY_EXCURSIONS.labels(p.anomaly_type.removeprefix("frequency_")).inc()
