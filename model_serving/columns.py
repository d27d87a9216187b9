"""Request decoding and response encoding shared by both model servers (KServe and BentoML).

Each server reduces a request to *columns*, a mapping from a name to a 1-D array: V2 input
tensors by name, V1 instances pivoted into columns, BentoML's JSON fields. From there on it is
all here: checking the columns (a mistake is a `BadRequest` naming what is wrong, which each
server answers with a 400), building the model's own inputs (ReadingColumns for the anomaly
detector, the feature frame for the failure predictor) and encoding the results as named arrays.

The names are the project's own: meters.readings.COLUMN_NAMES for readings (history rows carry
the prefix `history_`), scoring_svc.models.failure_features.FEATURES for the failure predictor.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from meters.readings import FLOAT_COLUMNS, INT_COLUMNS, ReadingColumns
from scoring_svc.models.failure import TOP_K
from scoring_svc.models.failure_features import FEATURES

if TYPE_CHECKING:  # torch comes with the anomaly model: a client of the servers (scoring_svc/remote_predictors.py) need not load it
    from scoring_svc.models.anomaly import AnomalyScores
    from scoring_svc.models.failure import FailurePredictions

HISTORY_PREFIX = "history_"


class BadRequest(ValueError):
    """The request does not fit the model's inputs; the message says how, for the caller."""


@dataclass(frozen=True)
class Tensor:
    name: str
    datatype: str  # Open Inference Protocol datatype: INT64, FP64, BOOL, UINT8, BYTES
    required: bool = True
    per_row: int = 0  # 0: shape [n]; k: shape [n, k]

    @property
    def shape(self) -> list[int]:
        return [-1, self.per_row] if self.per_row else [-1]


READING_INPUTS = [Tensor(n, "INT64") for n in INT_COLUMNS] + [Tensor(n, "FP64") for n in FLOAT_COLUMNS]
HISTORY_INPUTS = [Tensor(HISTORY_PREFIX + t.name, t.datatype, required=False) for t in READING_INPUTS]
ANOMALY_INPUTS = READING_INPUTS + HISTORY_INPUTS
ANOMALY_OUTPUTS = [
    Tensor("meter_ids", "INT64"), Tensor("reading_times_unix_s", "INT64"), Tensor("score", "FP64"),
    Tensor("is_anomaly", "BOOL"), Tensor("anomaly_type", "UINT8"), Tensor("anomaly_type_name", "BYTES"),
    Tensor("severity", "UINT8"),
]
FAILURE_INPUTS = ([Tensor("transformer_id", "INT64"), Tensor("hour_end_unix_s", "INT64")]
                  + [Tensor(f, "FP64") for f in FEATURES])
FAILURE_OUTPUTS = [
    Tensor("transformer_id", "INT64"), Tensor("hour_end_unix_s", "INT64"), Tensor("probability", "FP64"),
    Tensor("alarm", "BOOL"), Tensor("top_features", "BYTES", per_row=TOP_K),
    Tensor("top_contributions", "FP64", per_row=TOP_K),
]


# -- decoding ----------------------------------------------------------------------------------
def decode(columns: Mapping[str, object], spec: Sequence[Tensor]) -> dict[str, np.ndarray]:
    """The columns of `spec` as int64 / float64 arrays of one length (None or null is NaN in a
    float column). Optional columns come all together or not at all."""
    known = {t.name: t for t in spec}
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise BadRequest(f"unknown input(s) {', '.join(unknown)}; inputs are {', '.join(known)}")
    missing = [t.name for t in spec if t.required and t.name not in columns]
    if missing:
        raise BadRequest(f"missing input(s) {', '.join(missing)}")
    optional = [t.name for t in spec if not t.required]
    given = [n for n in optional if n in columns]
    if given and len(given) != len(optional):
        raise BadRequest(f"give all of {', '.join(optional)} or none; missing "
                         f"{', '.join(n for n in optional if n not in columns)}")
    out = {name: _array(name, columns[name], known[name].datatype) for name in columns}
    for group in ([t.name for t in spec if t.required], given):
        lengths = {n: len(out[n]) for n in group}
        if len(set(lengths.values())) > 1:
            raise BadRequest("inputs differ in length: " + ", ".join(f"{n} {k}" for n, k in lengths.items()))
    if not len(out[spec[0].name]):
        raise BadRequest("no rows: the inputs are empty")
    return out


def _array(name: str, values: object, datatype: str) -> np.ndarray:
    try:
        raw = np.asarray(values)
    except ValueError:  # ragged nested lists
        raise BadRequest(f"input {name} must be one-dimensional (one value per row)") from None
    if raw.ndim != 1:
        raise BadRequest(f"input {name} must be one-dimensional (one value per row), got shape {list(raw.shape)}")
    if raw.size == 0:  # an empty JSON list is float64 to numpy; the caller says "no rows"
        return np.zeros(0, dtype=_DTYPE[datatype])
    if raw.dtype == object:  # nulls among numbers (NaN in a float column), or integers beyond int64
        fits = _is_integer if datatype == "INT64" else (lambda v: v is None or _is_number(v))
        bad = [v for v in raw if not fits(v)]
        if bad:
            raise BadRequest(f"input {name} must hold {_KIND[datatype]}, got {bad[0]!r}")
        try:
            raw = np.array([np.nan if v is None else v for v in raw], dtype=_DTYPE[datatype])
        except OverflowError:
            raise BadRequest(f"input {name} holds a value beyond {datatype}") from None
    if raw.dtype.kind not in ("iu" if datatype == "INT64" else "iuf"):
        got = {"U": "text", "S": "bytes", "b": "booleans", "f": "fractional numbers"}.get(raw.dtype.kind, str(raw.dtype))
        raise BadRequest(f"input {name} must hold {_KIND[datatype]} ({datatype}), got {got}")
    return raw.astype(_DTYPE[datatype], copy=False)


_KIND = {"INT64": "integers", "FP64": "numbers"}
_DTYPE = {"INT64": np.int64, "FP64": np.float64}


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _is_integer(v: object) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def rows_to_columns(rows: object, what: str = "instances") -> dict[str, list]:
    """V1 `instances` (one object per row, the same keys in each) as columns."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadRequest(f"{what} must be a list of objects, one per row, keyed by input name")
    if not rows:
        raise BadRequest(f"{what} is empty")
    keys = list(rows[0])
    for i, row in enumerate(rows):
        if set(row) != set(keys):
            raise BadRequest(f"{what}[{i}] has keys {sorted(row)}, {what}[0] has {sorted(keys)}")
    return {k: [row[k] for row in rows] for k in keys}


# -- the models' own inputs ------------------------------------------------------------------
def anomaly_inputs(columns: Mapping[str, object]) -> tuple[ReadingColumns | None, ReadingColumns]:
    """(history or None, new readings) for AnomalyDetector.score."""
    c = decode(columns, ANOMALY_INPUTS)
    new = ReadingColumns(*(c[t.name] for t in READING_INPUTS))
    if HISTORY_INPUTS[0].name not in c:
        return None, new
    return ReadingColumns(*(c[t.name] for t in HISTORY_INPUTS)), new


def failure_inputs(columns: Mapping[str, object]) -> pd.DataFrame:
    """The feature frame FailurePredictor.predict takes (transformer_id, hour_end_unix_s, FEATURES)."""
    return pd.DataFrame(decode(columns, FAILURE_INPUTS), columns=[t.name for t in FAILURE_INPUTS])


# -- encoding ----------------------------------------------------------------------------------
def anomaly_outputs(s: "AnomalyScores") -> dict[str, np.ndarray]:
    from scoring_svc.models.anomaly import TYPE_NAMES
    names = np.array([TYPE_NAMES[int(k)] for k in s.anomaly_type], dtype=object)
    return {"meter_ids": s.meter_ids.astype(np.int64), "reading_times_unix_s": s.reading_times_unix_s.astype(np.int64),
            "score": s.score.astype(np.float64), "is_anomaly": s.is_anomaly.astype(bool),
            "anomaly_type": s.anomaly_type.astype(np.uint8), "anomaly_type_name": names,
            "severity": s.severity.astype(np.uint8)}


def failure_outputs(p: "FailurePredictions") -> dict[str, np.ndarray]:
    n = len(p)
    names = np.array([[name for name, _ in row] for row in p.top_features], dtype=object).reshape(n, TOP_K)
    contributions = np.array([[c for _, c in row] for row in p.top_features], dtype=np.float64).reshape(n, TOP_K)
    return {"transformer_id": p.transformer_id.astype(np.int64), "hour_end_unix_s": p.hour_end_unix_s.astype(np.int64),
            "probability": p.probability.astype(np.float64), "alarm": p.alarm.astype(bool),
            "top_features": names, "top_contributions": contributions}


def as_json_columns(outputs: Mapping[str, np.ndarray]) -> dict[str, list]:
    """Outputs as JSON-ready lists, one per output name (NaN becomes None)."""
    return {name: _json(a) for name, a in outputs.items()}


def as_json_rows(outputs: Mapping[str, np.ndarray]) -> list[dict]:
    """Outputs as one JSON-ready object per row (V1 `predictions`)."""
    cols = as_json_columns(outputs)
    n = len(next(iter(cols.values()))) if cols else 0
    return [{name: col[i] for name, col in cols.items()} for i in range(n)]


def _json(a: np.ndarray) -> list:
    if a.dtype.kind == "f" and np.isnan(a).any():
        return np.where(np.isnan(a), None, a.astype(object)).tolist()
    return a.tolist()


# -- the client's side: a V2 request from columns, a V2 reply's outputs as arrays -------------
def v2_request(columns: Mapping[str, np.ndarray], spec: Sequence[Tensor]) -> dict:
    """An Open Inference Protocol V2 REST request body: one tensor of shape [n] per column, in `spec`'s
    order and with its datatypes (NaN as null); columns `spec` does not name are an error here."""
    known = {t.name: t for t in spec}
    unknown = sorted(set(columns) - set(known))
    if unknown:
        raise ValueError(f"not inputs of this model: {', '.join(unknown)}")
    data = as_json_columns({t.name: np.asarray(columns[t.name]) for t in spec if t.name in columns})
    return {"inputs": [{"name": t.name, "shape": [len(data[t.name])], "datatype": t.datatype, "data": data[t.name]}
                       for t in spec if t.name in data]}


def v2_outputs(reply: Mapping[str, object], spec: Sequence[Tensor]) -> dict[str, np.ndarray]:
    """The output tensors of a V2 REST reply as arrays of their shapes (BYTES as str objects); every
    tensor of `spec` must be there."""
    by_name = {o["name"]: o for o in reply.get("outputs") or []}
    missing = [t.name for t in spec if t.name not in by_name]
    if missing:
        raise ValueError(f"the reply lacks output(s) {', '.join(missing)}")
    dtypes = {"INT64": np.int64, "FP64": np.float64, "BOOL": bool, "UINT8": np.uint8, "BYTES": object}
    out = {}
    for t in spec:
        o = by_name[t.name]
        data = [np.nan if v is None else v for v in o["data"]] if t.datatype == "FP64" else o["data"]
        out[t.name] = np.asarray(data, dtype=dtypes[t.datatype]).reshape(o["shape"])
    return out
