"""The models both servers host: the registry's promoted versions, each behind `infer(columns)`.

`infer` is the whole prediction path of either server once the transport is peeled off:
columns in (model_serving.columns decodes them), the very loader and predict call the
scoring service uses in-process (scoring_svc.models), named output arrays out. So a KServe
or BentoML answer equals the in-process one by construction.
"""

import gc
from collections.abc import Mapping

import numpy as np
from threadpoolctl import threadpool_limits

from meters.model_registry import ModelRegistry
from model_serving import columns
from scoring_svc.models.anomaly import AnomalyDetector
from scoring_svc.models.failure import FailurePredictor


class _Served:
    """One promoted model of `model_class` (loaded from the registry, settled for serving)."""

    model_class: type

    def __init__(self, model):
        self.model = model
        self.version = model.version

    @classmethod
    def load(cls, registry: ModelRegistry):
        return cls(settled(cls.model_class.load(registry)))


class ServedAnomaly(_Served):
    """scoring_svc's AnomalyDetector: readings (and optionally each meter's last 24 h) in,
    score, is_anomaly, type and severity per reading out."""

    name, model_class = "anomaly", AnomalyDetector
    inputs, outputs = columns.ANOMALY_INPUTS, columns.ANOMALY_OUTPUTS

    def infer(self, request: Mapping[str, object]) -> dict[str, np.ndarray]:
        history, new = columns.anomaly_inputs(request)
        return columns.anomaly_outputs(self.model.score(history, new))


class ServedFailure(_Served):
    """scoring_svc's FailurePredictor: one row of transformer features in, the probability of
    failure within 72 h, the alarm and the top contributing features out."""

    name, model_class = "failure", FailurePredictor
    inputs, outputs = columns.FAILURE_INPUTS, columns.FAILURE_OUTPUTS

    def infer(self, request: Mapping[str, object]) -> dict[str, np.ndarray]:
        return columns.failure_outputs(self.model.predict(columns.failure_inputs(request)))


SERVED = (ServedAnomaly, ServedFailure)


def settled(model):
    """What scoring_svc learned for a 2-core box, for any process that hosts `model`: one thread in
    each native pool (idle OpenBLAS/OpenMP threads spin after a call and take the core the next
    call needs; torch is set to one thread by scoring_svc.models.anomaly), and the model's ~300k
    long-lived objects frozen out of later garbage collections (a full one walked them in 0.7 s)."""
    threadpool_limits(limits=1)
    gc.collect()
    gc.freeze()
    return model
