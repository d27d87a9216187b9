"""The anomaly detector and failure predictor of scoring_svc answered by a KServe V2 endpoint.

With METERS_ANOMALY_PREDICTOR_URL / METERS_FAILURE_PREDICTOR_URL set (scoring_svc/config.py),
`Models` serves these thin clients instead of in-process models: they send
`POST <url>/v2/models/<name>/infer` with the tensors of model_serving/columns.py (the server
model_serving/kserve_server.py decodes them with the same module) and turn the reply into the
AnomalyScores / FailureRisk the in-process models return, so the rest of the service does not
know the difference.

Where the scorer's metadata comes from:
- `version`: the `model_version` of every infer reply (what actually scored, even if the server
  was rolled to another version meanwhile); before the first reply, the registry's promoted one.
- anomaly `threshold` (0.85) and `history_s` (24 h), failure `horizon_h` and `lookback_h`: code
  constants of scoring_svc.models, the same in every version and in both processes.
- failure `threshold` and thermal baseline (per version, the baseline is needed to build the
  features the server takes): that version's manifest in the model registry (manifest.json only;
  no artifact is loaded). KServe's V2 metadata endpoint carries only tensor names and shapes.

Failures: connection errors, timeouts and 5xx are retried (3 attempts, 50 ms then 100 ms apart);
then the server being unreachable or answering 502/503/504 is UNAVAILABLE (reason
PREDICTOR_UNAVAILABLE), a 404 is FAILED_PRECONDITION NO_PROMOTED_MODEL (the server serves no such
model), anything else (a 400: our request is wrong, a 500) an error the interceptor makes INTERNAL.
In the Kafka consumer any of these fails the poll, which is then not committed and is replayed.
"""

import logging
from collections.abc import Mapping

import httpx
import numpy as np
from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential

from meters.errors import DomainError, unavailable
from meters.model_registry import ModelNotFound, ModelRegistry
from meters.readings import ReadingColumns
from model_serving import columns as wire
from scoring_svc.models.anomaly_features import ALERT_THRESHOLD, HISTORY_S
from scoring_svc.predictors import (
    ANOMALY_MODEL, FAILURE_MODEL, AnomalyScores, FailureRisk, TransformerInputs, no_model,
)

log = logging.getLogger(__name__)
ATTEMPTS = 3
CONNECT_TIMEOUT_S = 1.0
# Readings (new + history) in one request: a poll of many meters is split by meter, so a body
# stays a few MB (~20 bytes of JSON a value, 7 values a row); scores do not depend on the split
# (measured: equal to 3e-9, the Isolation Forest batching).
MAX_ROWS = 20_000
_UNAVAILABLE = (502, 503, 504)


class _Retryable(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(f"HTTP {status}: {text[:300]}")
        self.status = status


def _retryable(err: BaseException) -> bool:
    return isinstance(err, (httpx.TransportError, _Retryable))


class V2Client:
    """One model of a KServe V2 REST endpoint, over a kept-alive connection pool (httpx is thread-safe:
    the consumer's worker thread and gRPC calls share it)."""

    def __init__(self, base_url: str, model: str, timeout_s: float = 10.0):
        self.url = f"{base_url.rstrip('/')}/v2/models/{model}"
        self.model = model
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
                                  limits=httpx.Limits(max_connections=8, max_keepalive_connections=4))

    def metadata(self) -> dict:
        reply = self._call("GET", self.url)
        return reply.json()

    def infer(self, inputs: Mapping[str, np.ndarray], spec, outputs) -> tuple[str, dict[str, np.ndarray]]:
        """(the model version that answered, output arrays by name)."""
        reply = self._call("POST", self.url + "/infer", json=wire.v2_request(inputs, spec)).json()
        return str(reply.get("model_version") or ""), wire.v2_outputs(reply, outputs)

    def _call(self, method: str, url: str, **kwargs) -> httpx.Response:
        try:
            reply = self._send(method, url, **kwargs)
        except (httpx.TransportError, _Retryable) as err:
            if isinstance(err, _Retryable) and err.status not in _UNAVAILABLE:
                raise RuntimeError(f"{self.model} predictor at {url} failed: {err}") from None
            down = unavailable(f"the {self.model} predictor at {url} is unavailable after {ATTEMPTS} attempts: "
                               f"{type(err).__name__}: {err}", reason="PREDICTOR_UNAVAILABLE")
            down.metadata.update(model=self.model, url=url)
            raise down from None
        if reply.status_code == 404:
            raise no_model(self.model)
        if reply.status_code != 200:
            raise RuntimeError(f"{self.model} predictor at {url} answered {reply.status_code}: {reply.text[:500]}")
        return reply

    @retry(retry=retry_if_exception(_retryable), stop=stop_after_attempt(ATTEMPTS),
           wait=wait_exponential(multiplier=0.05, max=0.5), reraise=True)
    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        reply = self._http.request(method, url, **kwargs)
        if reply.status_code >= 500:
            raise _Retryable(reply.status_code, reply.text)
        return reply

    def check_inputs(self, spec) -> None:
        """If the server is reachable now, make sure it takes the inputs we send (a server of another
        release would fail every call); an unreachable server is only logged: calls say UNAVAILABLE."""
        try:
            meta = self.metadata()
        except DomainError as err:
            if err.reason == "PREDICTOR_UNAVAILABLE":
                log.warning("remote predictor not reachable yet", extra={"fields": {"url": self.url}})
                return
            raise
        theirs = [i["name"] for i in meta.get("inputs") or []]
        if theirs != [t.name for t in spec]:
            raise ValueError(f"{self.url} takes inputs {theirs}, not those of model_serving.columns")


def _promoted_version(registry: ModelRegistry, name: str) -> str:
    try:
        return registry.promoted(name).manifest.version
    except ModelNotFound:
        return ""


def load_anomaly(url: str, registry: ModelRegistry, timeout_s: float = 10.0) -> "RemoteAnomaly":
    client = V2Client(url, ANOMALY_MODEL, timeout_s)
    client.check_inputs(wire.ANOMALY_INPUTS)
    return RemoteAnomaly(client, _promoted_version(registry, ANOMALY_MODEL))


class RemoteAnomaly:
    """scoring_svc.predictors.AnomalyDetector over KServe V2."""

    def __init__(self, client: V2Client, version: str = ""):
        self._client = client
        self.version = version
        self.threshold = ALERT_THRESHOLD
        self.history_s = HISTORY_S
        self.url = client.url

    def score(self, readings: ReadingColumns, history: ReadingColumns) -> AnomalyScores:
        if not len(readings):
            return AnomalyScores(np.zeros(0), np.zeros(0, dtype=np.int64))
        scores = np.empty(len(readings))
        types = np.empty(len(readings), dtype=np.int64)
        for rows, past in _by_meter(readings, history):
            cols = {t.name: getattr(readings, t.name)[rows] for t in wire.READING_INPUTS}
            if len(past):  # none at all: the server scores without history, as the in-process adapter does
                cols.update({wire.HISTORY_PREFIX + t.name: getattr(past, t.name) for t in wire.READING_INPUTS})
            version, out = self._client.infer(cols, wire.ANOMALY_INPUTS, wire.ANOMALY_OUTPUTS)
            scores[rows] = out["score"]
            types[rows] = out["anomaly_type"]
        self.version = version or self.version
        return AnomalyScores(scores, types)


def _by_meter(readings: ReadingColumns, history: ReadingColumns):
    """(row indices of `readings`, their meters' history) in pieces of about MAX_ROWS rows, whole meters each."""
    if len(readings) + len(history) <= MAX_ROWS:
        yield np.arange(len(readings)), history
        return
    meters, counts = np.unique(np.r_[readings.meter_ids, history.meter_ids], return_counts=True)
    group = np.cumsum(counts) // MAX_ROWS  # a meter with more rows than MAX_ROWS still goes whole
    for g in np.unique(group):
        chosen = meters[group == g]
        rows = np.flatnonzero(np.isin(readings.meter_ids, chosen))
        if len(rows):
            yield rows, history.take(np.isin(history.meter_ids, chosen))


def load_failure(url: str, registry: ModelRegistry, timeout_s: float = 10.0) -> "RemoteFailure":
    client = V2Client(url, FAILURE_MODEL, timeout_s)
    client.check_inputs(wire.FAILURE_INPUTS)
    return RemoteFailure(client, registry)


class RemoteFailure:
    """scoring_svc.predictors.FailurePredictor over KServe V2: the features are built here (with the
    thermal baseline of the version the server serves), the prediction there."""

    def __init__(self, client: V2Client, registry: ModelRegistry):
        from scoring_svc.models.failure import HORIZON_H
        from scoring_svc.models.failure_features import WEEK_H, transformer_features
        self._client = client
        self._registry = registry
        self._features = transformer_features
        self._params: dict[str, tuple[float, object]] = {}
        self.version = registry.promoted(FAILURE_MODEL).manifest.version  # ModelNotFound: not served
        self.threshold = self._version_params(self.version)[0]
        self.horizon_h = float(HORIZON_H)
        self.lookback_h = WEEK_H + 24
        self.url = client.url

    def _version_params(self, version: str):
        """(threshold, thermal baseline) of one version, from its manifest."""
        if version not in self._params:
            from scoring_svc.models.failure_features import ThermalBaseline
            p = self._registry.get(FAILURE_MODEL, version).manifest.params
            self._params[version] = (float(p["threshold"]), ThermalBaseline.from_dict(p["thermal_baseline"]))
        return self._params[version]

    def predict(self, inputs: TransformerInputs, top: int) -> FailureRisk:
        version = self.version
        for _ in range(2):  # once more if the server answered from another version than the features assumed
            feats = self._features(inputs.telemetry, inputs.anomaly_counts, [inputs.at_unix_s], inputs.transformer,
                                   self._version_params(version)[1])
            cols = {t.name: feats[t.name].to_numpy() for t in wire.FAILURE_INPUTS}
            served, out = self._client.infer(cols, wire.FAILURE_INPUTS, wire.FAILURE_OUTPUTS)
            if not served or served == version:
                break
            log.info("remote failure model is another version; features rebuilt with its baseline",
                     extra={"fields": {"assumed": version, "served": served}})
            version = served
        self.version, self.threshold = version, self._version_params(version)[0]
        row = feats.iloc[0]
        names, contributions = out["top_features"][0], out["top_contributions"][0]
        return FailureRisk(float(out["probability"][0]), bool(out["alarm"][0]),
                           [(str(n), float(row[n]), float(c)) for n, c in list(zip(names, contributions))[:top]])
