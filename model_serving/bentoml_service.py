"""A BentoML service hosting the registry's promoted anomaly and failure models.

    bentoml serve model_serving.bentoml_service:MeterModels --port 3000

POST /anomaly and POST /failure take a JSON object with one list per input column, the same names
as the KServe V2 tensors (model_serving.columns: `meter_ids`, ..., `history_meter_ids`, ...;
`transformer_id`, `hour_end_unix_s` and the failure features; null is a missing float value).
They answer `{"model": ..., "model_version": ..., "outputs": {name: list}}`. An unknown or missing
field, or a value of the wrong type, is a 400 from BentoML's validation; a request that validates
but does not fit (columns of unequal length, no rows) is a 400 naming what is wrong.
The registry is METERS_MODEL_REGISTRY (else ./models); the models load once per worker. A model
with no promoted version is left out (503 on its route); with neither, the service does not start.
"""

from model_serving.native_threads import one_thread_per_pool

one_thread_per_pool()  # before torch loads (model_serving/native_threads.py says why)

import logging
from collections.abc import Sequence

import bentoml
from pydantic import BaseModel, ConfigDict, create_model

from meters.model_registry import DEFAULT_ROOT, ModelNotFound, ModelRegistry
from model_serving.columns import BadRequest, Tensor, as_json_columns
from model_serving.served import SERVED, ServedAnomaly, ServedFailure

log = logging.getLogger(__name__)


def _input_model(name: str, spec: Sequence[Tensor]) -> type[BaseModel]:
    """A pydantic model with one list field per input column (what BentoML validates and documents)."""
    def field(t: Tensor):
        values = list[int] if t.datatype == "INT64" else list[float | None]
        return (values, ...) if t.required else (values | None, None)
    return create_model(name, __config__=ConfigDict(extra="forbid"), **{t.name: field(t) for t in spec})


AnomalyInput = _input_model("AnomalyInput", ServedAnomaly.inputs)
FailureInput = _input_model("FailureInput", ServedFailure.inputs)


@bentoml.service(name="meter_models", traffic={"timeout": 30})
class MeterModels:
    def __init__(self) -> None:
        registry = ModelRegistry(DEFAULT_ROOT)
        self.served: dict[str, ServedAnomaly | ServedFailure] = {}
        for served in SERVED:
            try:
                self.served[served.name] = served.load(registry)
            except ModelNotFound as err:  # served without it, as KServe's server is: 503 on its route
                log.warning("%s not served: %s", served.name, err)
        if not self.served:
            raise ModelNotFound(f"no promoted anomaly or failure model in {registry.root}: run `meters train`")

    @bentoml.api(input_spec=AnomalyInput)
    def anomaly(self, ctx: bentoml.Context, **columns) -> dict:
        """Anomaly score, type and severity of each reading (history: each meter's 24 h before)."""
        return self._infer("anomaly", columns, ctx)

    @bentoml.api(input_spec=FailureInput)
    def failure(self, ctx: bentoml.Context, **columns) -> dict:
        """Probability that each transformer fails within 72 h, the alarm and the top 3 features."""
        return self._infer("failure", columns, ctx)

    def _infer(self, name: str, columns: dict, ctx: bentoml.Context) -> dict:
        served = self.served.get(name)
        if served is None:
            ctx.response.status_code = 503
            return {"error": f"no promoted {name} model in the registry; run `meters train` and restart"}
        try:
            outputs = served.infer({k: v for k, v in columns.items() if v is not None})
        except BadRequest as err:
            ctx.response.status_code = 400  # the same {"error": ...} body as BentoML's own validation
            return {"error": str(err)}
        return {"model": name, "model_version": served.version, "outputs": as_json_columns(outputs)}
